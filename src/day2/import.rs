//! `eip-operator import` (and `kubectl eip import`): ElasticIP manifests for EIPs that exist
//! already, ready for Git. The manifests observe (`managementPolicy: Observe`), so that applying
//! them makes no mutating call at all: an adoption under `Manage` claims the address with a tag
//! write first, which is a change in the cloud a reviewer has not seen yet. Switching a manifest
//! to `Manage` (in Git, reviewed) is the moment the operator starts to change anything.

use std::collections::{BTreeMap, HashSet};

use kube::api::ObjectMeta;

use super::ledger::ObjectView;
use eip_api::{Binding, DeletionPolicy, ElasticIP, ElasticIPSpec, InstanceType, ManagementPolicy, ProviderConfigRef};
use eip_cloud::CloudEip;

/// Annotation on an imported ElasticIP: the address it was imported for, for humans.
pub const IMPORTED_ANNOTATION: &str = "eip-operator.dev/imported-address";

/// Which EIPs to import, and how.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    pub provider_config: String,
    /// Only EIPs carrying every one of these tags.
    pub tags: BTreeMap<String, String>,
    /// Only EIPs without any owner tag (never managed by an eip-operator).
    pub unowned: bool,
    pub namespace: String,
    /// Write the current binding as spec.binding (else the manifests name none: observed, a bound
    /// EIP then shows drift; managed, it would be unbound).
    pub bind: bool,
    /// `managementPolicy: Manage` instead of Observe (adoption then claims each EIP with a tag).
    pub manage: bool,
    /// This cluster's ID: EIPs another cluster's owner tags claim are never imported.
    pub cluster: String,
}

/// The manifests for `eips`: one per EIP no ElasticIP manages yet, named after its allocation
/// ID, in allocation-ID order.
pub fn manifests(eips: &[CloudEip], objects: &[ObjectView], options: &ImportOptions) -> Vec<ElasticIP> {
    let uids: HashSet<&str> = objects.iter().map(|o| o.uid.as_str()).collect();
    let named = super::ledger::named_in(objects, &options.provider_config);
    let mut chosen: Vec<&CloudEip> = eips
        .iter()
        .filter(|eip| !named.contains(eip.allocation_id.as_str()))
        .filter(|eip| eip.owner_uid().is_none_or(|uid| !uids.contains(uid)))
        .filter(|eip| eip.cluster().is_none_or(|c| c == options.cluster))
        .filter(|eip| !options.unowned || eip.owner_uid().is_none_or(str::is_empty))
        .filter(|eip| options.tags.iter().all(|(k, v)| eip.tags.get(k) == Some(v)))
        .collect();
    chosen.sort_by(|a, b| a.allocation_id.cmp(&b.allocation_id));
    chosen.into_iter().map(|eip| manifest(eip, options)).collect()
}

fn manifest(eip: &CloudEip, options: &ImportOptions) -> ElasticIP {
    let binding = eip.bound_to.as_ref().filter(|_| options.bind).and_then(|target| {
        // An IpAddress target needs its VPC, which the EIP does not name: left for a human.
        (target.instance_type != InstanceType::IpAddress).then(|| Binding {
            private_ip_address: target.private_ip_address.clone().filter(|_| {
                matches!(
                    target.instance_type,
                    InstanceType::NetworkInterface | InstanceType::EcsInstance | InstanceType::Port
                )
            }),
            ..Binding::to_instance(target.instance_type, target.instance_id.clone())
        })
    });
    let mut object = ElasticIP::new(
        &object_name(&eip.allocation_id),
        ElasticIPSpec {
            provider_config_ref: Some(ProviderConfigRef {
                name: options.provider_config.clone(),
            }),
            allocation_id: Some(eip.allocation_id.clone()),
            binding,
            deletion_policy: Some(DeletionPolicy::Retain),
            management_policy: Some(if options.manage {
                ManagementPolicy::Manage
            } else {
                ManagementPolicy::Observe
            }),
            ..ElasticIPSpec::default()
        },
    );
    object.metadata = ObjectMeta {
        name: object.metadata.name.take(),
        namespace: Some(options.namespace.clone()),
        annotations: Some(BTreeMap::from([(IMPORTED_ANNOTATION.to_string(), eip.ip_address.clone())])),
        ..ObjectMeta::default()
    };
    object
}

/// A DNS-1123 name from an allocation ID: lower case, `-` for anything else, at most 63.
pub fn object_name(allocation_id: &str) -> String {
    let name: String = allocation_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .take(63)
        .collect();
    let name = name.trim_matches('-');
    if name.is_empty() {
        "imported".to_string()
    } else {
        name.to_string()
    }
}

/// The manifests as one multi-document YAML stream.
pub fn to_yaml(objects: &[ElasticIP]) -> Result<String, serde_yaml::Error> {
    let mut out = String::new();
    for object in objects {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(object)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::fixtures::{CloudEipFixture, cloud_eip, ecs};
    use eip_cloud::{CLUSTER_TAG, EipPhase, OWNER_TAG};

    fn eip(id: &str) -> CloudEip {
        let mut eip = cloud_eip(EipPhase::Unbound, "Available");
        eip.allocation_id = id.into();
        eip
    }

    fn options() -> ImportOptions {
        ImportOptions {
            provider_config: "prod".into(),
            namespace: "net".into(),
            cluster: "here".into(),
            ..ImportOptions::default()
        }
    }

    #[test]
    fn only_what_nobody_here_manages_and_no_other_cluster_claims() {
        let eips = vec![
            eip("eip-b").tagged("team", "web"),
            eip("eip-a"),
            eip("eip-named"),
            eip("eip-managed").tagged(OWNER_TAG, "u1"),
            eip("eip-orphan").tagged(OWNER_TAG, "gone").tagged(CLUSTER_TAG, "here"),
            eip("eip-theirs").tagged(OWNER_TAG, "x").tagged(CLUSTER_TAG, "there"),
        ];
        let objects = vec![ObjectView {
            namespace: "net".into(),
            name: "n".into(),
            uid: "u1".into(),
            allocation_id: Some("eip-named".into()),
            provider_config: Some("prod".into()),
        }];
        let names = |o: &ImportOptions| -> Vec<String> {
            manifests(&eips, &objects, o)
                .iter()
                .map(|m| m.metadata.name.clone().unwrap_or_default())
                .collect()
        };
        assert_eq!(names(&options()), ["eip-a", "eip-b", "eip-orphan"]);
        assert_eq!(
            names(&ImportOptions {
                unowned: true,
                ..options()
            }),
            ["eip-a", "eip-b"]
        );
        let team = ImportOptions {
            tags: BTreeMap::from([("team".to_string(), "web".to_string())]),
            ..options()
        };
        assert_eq!(names(&team), ["eip-b"]);
    }

    #[test]
    fn manifests_observe_retain_and_carry_the_binding_when_asked() {
        let mut bound = eip("eip-1");
        bound.bound_to = Some(ecs("i-1"));
        let plain = &manifests(std::slice::from_ref(&bound), &[], &options())[0];
        assert_eq!(plain.spec.management_policy, Some(ManagementPolicy::Observe));
        assert_eq!(plain.spec.deletion_policy, Some(DeletionPolicy::Retain));
        assert_eq!(plain.spec.allocation_id.as_deref(), Some("eip-1"));
        assert_eq!(plain.spec.binding, None);
        let with = &manifests(&[bound], &[], &ImportOptions { bind: true, ..options() })[0];
        assert_eq!(with.spec.binding, Some(Binding::to_instance(InstanceType::EcsInstance, "i-1")));
        let yaml = to_yaml(std::slice::from_ref(with)).expect("yaml");
        assert!(
            yaml.starts_with("---\napiVersion: eip-operator.dev/v1alpha1\nkind: ElasticIP\n"),
            "{yaml}"
        );
        assert!(!yaml.contains("status"), "{yaml}");
    }

    #[test]
    fn names_are_dns_labels() {
        assert_eq!(object_name("eip-bp1ABC"), "eip-bp1abc");
        assert_eq!(object_name("3f7c_a1.b"), "3f7c-a1-b");
        assert_eq!(object_name("__"), "imported");
        assert!(object_name(&"a".repeat(100)).len() <= 63);
    }
}
