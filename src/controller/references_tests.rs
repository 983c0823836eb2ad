//! The providerID formats and the reference tables.
use super::*;

fn id(region: Option<&str>, instance: &str) -> Option<ProviderId> {
    Some(ProviderId {
        region: region.map(str::to_string),
        instance_id: instance.to_string(),
    })
}

#[test]
fn provider_ids() {
    let uuid = "3f7c6a52-1c4b-4b0e-9d3e-6a0f2b1c9d8e";
    let cases: &[(&str, Option<ProviderId>)] = &[
        // Alibaba ACK
        ("cn-hangzhou.i-bp1abcdefghijklmn", id(Some("cn-hangzhou"), "i-bp1abcdefghijklmn")),
        ("ap-southeast-1.i-t4n0000", id(Some("ap-southeast-1"), "i-t4n0000")),
        // OpenStack: Open Telekom Cloud / Huawei Cloud CCE
        (&format!("openstack:///{uuid}"), id(None, uuid)),
        (&format!("openstack://eu-de/{uuid}"), id(None, uuid)),
        // AWS (EKS, the AWS cloud provider): the region is the zone's
        ("aws:///us-east-1a/i-0abc", id(Some("us-east-1"), "i-0abc")),
        (
            "aws:///eu-central-1b/i-0123456789abcdef0",
            id(Some("eu-central-1"), "i-0123456789abcdef0"),
        ),
        ("aws:////i-0abc", id(None, "i-0abc")),
        ("aws:///us-west-2-lax-1a/i-0abc", id(None, "i-0abc")),
        // bare IDs
        ("i-sim-0001", id(None, "i-sim-0001")),
        (uuid, id(None, uuid)),
        // everything else
        ("", None),
        ("aws://us-east-1a/i-0abc", None),
        ("aws:///us-east-1a/", None),
        ("aws:///us-east-1a/vol-0abc", None),
        ("aws:///us-east-1a/i-0abc/x", None),
        ("aws:///US-EAST-1A/i-0abc", None),
        ("gce://project/zone/name", None),
        ("azure:///subscriptions/x", None),
        ("kind://docker/kind/kind-control-plane", None),
        ("openstack:///", None),
        ("openstack://", None),
        (&format!("openstack:///{uuid}/extra"), None),
        (&format!("openstack://EU_DE/{uuid}"), None),
        ("cn-hangzhou.", None),
        ("cn-hangzhou.i-1.extra", None),
        ("CN-Hangzhou.i-1", None),
        ("hangzhou.i-1", None),
        ("i 1", None),
        ("-i-1", None),
        ("i-1/2", None),
        (&"a".repeat(129), None),
    ];
    for (value, want) in cases {
        assert_eq!(&parse_provider_id(value), want, "{value:?}");
    }
    assert!(parse_provider_id(&"a".repeat(128)).is_some());
}

fn ecs(instance: &str, node: &str) -> Wanted {
    Wanted::Target {
        target: BindTarget {
            instance_type: InstanceType::EcsInstance,
            instance_id: instance.into(),
            private_ip_address: None,
        },
        reference: Some(BoundReference {
            kind: "Node".into(),
            name: node.into(),
            instance_id: instance.into(),
        }),
    }
}

fn reason(wanted: &Wanted) -> &str {
    match wanted {
        Wanted::Unbound => "Unbound",
        Wanted::Target { .. } => "Target",
        Wanted::Awaiting { reason, .. } => reason,
        Wanted::Unresolvable(stall) => stall.reason(),
    }
}

#[test]
fn node_references() {
    let present = |id: &str| NodeView::Present(Some(id.to_string()));
    let cases: Vec<(NodeView, &str, Option<Wanted>)> = vec![
        (present("cn-hangzhou.i-1"), "Target", Some(ecs("i-1", "n1"))),
        (present("i-1"), "Target", Some(ecs("i-1", "n1"))),
        (present("openstack:///srv-1"), "Target", Some(ecs("srv-1", "n1"))),
        (present("cn-shanghai.i-1"), "NodeInAnotherRegion", None),
        (present("gce://p/us-east1-b/n1"), "UnsupportedProviderId", None),
        (NodeView::Present(None), "NodeWithoutProviderId", None),
        (NodeView::Missing, "NodeNotFound", None),
    ];
    for (view, want_reason, want) in cases {
        let got = node_target("n1", &view, None, "cn-hangzhou");
        assert_eq!(reason(&got), want_reason, "{view:?}");
        if let Some(want) = want {
            assert_eq!(got, want, "{view:?}");
        }
    }
    // The stall names the node and the value.
    let got = node_target("n1", &present("gce://p/z/n1"), None, "cn-hangzhou");
    let Wanted::Unresolvable(stall) = got else { panic!("{got:?}") };
    assert!(
        stall.message().contains("n1") && stall.message().contains("gce://p/z/n1"),
        "{}",
        stall.message()
    );
    // privateIpAddress carries over to the instance.
    let ip = "10.0.0.9".to_string();
    let got = node_target("n1", &present("i-1"), Some(&ip), "cn-hangzhou");
    assert_eq!(got.target().and_then(|t| t.private_ip_address.as_deref()), Some("10.0.0.9"));
}

#[test]
fn service_references() {
    let lb = |type_: Option<&str>, id: Option<&str>| ServiceView::Present {
        type_: type_.map(str::to_string),
        load_balancer: id.map(str::to_string),
    };
    let cases = [
        (lb(Some("LoadBalancer"), Some("lb-1")), "Target"),
        (lb(Some("LoadBalancer"), None), "AwaitingLoadBalancer"),
        (lb(Some("ClusterIP"), Some("lb-1")), "InvalidBinding"),
        (lb(None, None), "InvalidBinding"),
        (ServiceView::Missing, "ServiceNotFound"),
    ];
    for (view, want) in cases {
        assert_eq!(reason(&service_target("web", &view)), want, "{view:?}");
    }
    let got = service_target("web", &lb(Some("LoadBalancer"), Some("lb-1")));
    assert_eq!(
        got,
        Wanted::Target {
            target: BindTarget {
                instance_type: InstanceType::SlbInstance,
                instance_id: "lb-1".into(),
                private_ip_address: None,
            },
            reference: Some(BoundReference {
                kind: "Service".into(),
                name: "web".into(),
                instance_id: "lb-1".into(),
            }),
        }
    );
}

#[test]
fn load_balancer_annotations() {
    let service = |annotations: &[(&str, &str)]| Service {
        metadata: kube::api::ObjectMeta {
            annotations: Some(annotations.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(
        load_balancer_of(&service(&[(ALIBABA_LB_ANNOTATION, "lb-a")])).as_deref(),
        Some("lb-a")
    );
    assert_eq!(
        load_balancer_of(&service(&[(CCE_ELB_ANNOTATION, "elb-1")])).as_deref(),
        Some("elb-1")
    );
    assert_eq!(
        load_balancer_of(&service(&[(CCE_ELB_ANNOTATION, "elb-1"), (ALIBABA_LB_ANNOTATION, "lb-a")])).as_deref(),
        Some("lb-a")
    );
    assert_eq!(load_balancer_of(&service(&[(ALIBABA_LB_ANNOTATION, " ")])), None);
    assert_eq!(load_balancer_of(&service(&[("other", "x")])), None);
    assert_eq!(load_balancer_of(&Service::default()), None);
}
