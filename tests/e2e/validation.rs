//! Invalid manifests are refused by the API server (OpenAPI schema and CEL rules in the CRD),
//! with a message that says what is wrong.

use crate::support::{ControlPlane, Scenario};

/// (case, spec lines under `spec:`, a piece of the expected error message).
const INVALID_ELASTIC_IPS: &[(&str, &str, &str)] = &[
    (
        "unknown instance type",
        "binding:\n  instanceType: Toaster\n  instanceId: i-1",
        "Unsupported value: \"Toaster\"",
    ),
    (
        "missing instance ID",
        "binding:\n  instanceType: EcsInstance",
        "instanceType is required with instanceId, and only with it",
    ),
    (
        "instance ID without its type",
        "binding:\n  instanceId: i-1",
        "instanceType is required with instanceId",
    ),
    ("an empty binding", "binding: {}", "spec.binding names exactly one of"),
    (
        "an instance and a node",
        "binding:\n  instanceType: EcsInstance\n  instanceId: i-1\n  nodeRef:\n    name: n1",
        "spec.binding names exactly one of",
    ),
    (
        "a node and a service",
        "binding:\n  nodeRef:\n    name: n1\n  serviceRef:\n    name: web",
        "spec.binding names exactly one of",
    ),
    (
        "a node with an instance type",
        "binding:\n  instanceType: EcsInstance\n  nodeRef:\n    name: n1",
        "instanceType is required with instanceId, and only with it",
    ),
    (
        "a node name that is no name",
        "binding:\n  nodeRef:\n    name: Node_1",
        "spec.binding.nodeRef.name",
    ),
    (
        "a private IP on a service's load balancer",
        "binding:\n  serviceRef:\n    name: web\n  privateIpAddress: 10.0.0.1",
        "privateIpAddress is only used with",
    ),
    (
        "empty instance ID",
        "binding:\n  instanceType: EcsInstance\n  instanceId: \"\"",
        "spec.binding.instanceId",
    ),
    (
        "instance ID with spaces",
        "binding:\n  instanceType: EcsInstance\n  instanceId: \"i 1\"",
        "spec.binding.instanceId",
    ),
    (
        "malformed private IP",
        "binding:\n  instanceType: NetworkInterface\n  instanceId: eni-1\n  privateIpAddress: 10.0.0",
        "privateIpAddress must be an IPv4 address",
    ),
    (
        "IpAddress target that is not an IP",
        "binding:\n  instanceType: IpAddress\n  instanceId: not-an-ip\n  vpcId: vpc-1",
        "instanceId must be an IP address",
    ),
    (
        "IpAddress target without a VPC",
        "binding:\n  instanceType: IpAddress\n  instanceId: 10.0.0.7",
        "instanceType IpAddress needs vpcId",
    ),
    (
        "vpcId on an ECS binding",
        "binding:\n  instanceType: EcsInstance\n  instanceId: i-1\n  vpcId: vpc-1",
        "vpcId is only used with instanceType IpAddress",
    ),
    (
        "mode on an ECS binding",
        "binding:\n  instanceType: EcsInstance\n  instanceId: i-1\n  mode: NAT",
        "mode is only used with instanceType NetworkInterface",
    ),
    (
        "unknown mode",
        "binding:\n  instanceType: NetworkInterface\n  instanceId: eni-1\n  mode: TUNNEL",
        "Unsupported value: \"TUNNEL\"",
    ),
    (
        "private IP on a NAT gateway",
        "binding:\n  instanceType: Nat\n  instanceId: ngw-1\n  privateIpAddress: 10.0.0.1",
        "privateIpAddress is only used with",
    ),
    (
        "negative bandwidth",
        "allocation:\n  bandwidthMbps: -5",
        "spec.allocation.bandwidthMbps",
    ),
    ("zero bandwidth", "allocation:\n  bandwidthMbps: 0", "greater than or equal to 1"),
    (
        "bandwidth over the limit",
        "allocation:\n  bandwidthMbps: 20000",
        "less than or equal to 10000",
    ),
    (
        "unknown charge type",
        "allocation:\n  chargeType: Free",
        "Unsupported value: \"Free\"",
    ),
    (
        "unknown internet charge type",
        "allocation:\n  internetChargeType: PayByMood",
        "Unsupported value: \"PayByMood\"",
    ),
    (
        "description too short",
        "allocation:\n  description: x",
        "spec.allocation.description",
    ),
    (
        "reserved tag key",
        "allocation:\n  tags:\n    eip-operator.dev/owner-uid: stolen",
        "reserved for the operator",
    ),
    (
        "unknown deletion policy",
        "deletionPolicy: Destroy",
        "Unsupported value: \"Destroy\"",
    ),
    (
        "adopt and allocate at once",
        "allocationId: eip-abc\nallocation:\n  bandwidthMbps: 5",
        "mutually exclusive",
    ),
    ("malformed allocation ID", "allocationId: \"eip abc!\"", "spec.allocationId"),
    ("unknown field", "bandwith: 5", "unknown field \"spec.bandwith\""),
    (
        "providerConfigRef without a name",
        "providerConfigRef: {}",
        "spec.providerConfigRef.name: Required value",
    ),
];

pub async fn invalid_manifests_are_rejected(cp: &ControlPlane) {
    let s = Scenario::new(cp, "validation").await;
    let mut failures = Vec::new();
    for (case, spec, expected) in INVALID_ELASTIC_IPS {
        let name = format!("bad-{}", case.replace(' ', "-").to_lowercase());
        let out = crate::support::pipe(s.cp.kubectl_command(&["-n", &s.ns, "apply", "-f", "-"]), &s.manifest(&name, spec));
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() || !stderr.contains(expected) {
            failures.push(format!(
                "{case}: expected a refusal containing {expected:?}, got exit {} and {stderr}",
                out.status
            ));
        }
    }
    // ProviderConfigs are validated too.
    let provider_configs = [
        (
            "cloud without credentials",
            "provider: alibaba\n  region: cn-hangzhou",
            "credentialsSecretRef is required",
        ),
        (
            "unknown provider",
            "provider: gcp\n  region: us-east-1",
            "Unsupported value: \"gcp\"",
        ),
        (
            "endpoint that is not a URL",
            "provider: simulator\n  region: cn-hangzhou\n  endpoint: vpc dot example",
            "endpoint must be an http(s) URL",
        ),
        ("missing region", "provider: simulator", "spec.region: Required value"),
    ];
    for (i, (case, spec, expected)) in provider_configs.iter().enumerate() {
        let yaml = format!("apiVersion: eip-operator.dev/v1alpha1\nkind: ProviderConfig\nmetadata:\n  name: bad-{i}\nspec:\n  {spec}\n");
        let out = crate::support::pipe(s.cp.kubectl_command(&["apply", "-f", "-"]), &yaml);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() || !stderr.contains(expected) {
            failures.push(format!(
                "ProviderConfig {case}: expected a refusal containing {expected:?}, got exit {} and {stderr}",
                out.status
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases were not rejected as expected:\n{}",
        failures.len(),
        INVALID_ELASTIC_IPS.len() + provider_configs.len(),
        failures.join("\n")
    );
    assert!(INVALID_ELASTIC_IPS.len() + provider_configs.len() >= 15);
    let left = s.kubectl_ok(&["get", "eip", "-o", "name"]);
    assert!(left.trim().is_empty(), "nothing invalid was stored: {left}");
    s.finish().await;
}

pub async fn immutable_fields_cannot_change(cp: &ControlPlane) {
    let s = Scenario::new(cp, "immutable").await;
    let adopt = |id: &str| s.manifest("adopted", &format!("allocationId: {id}\ndeletionPolicy: Retain"));
    s.apply(&adopt("eip-first0000000000000"));
    let refused = s.cp.apply_rejected(&s.ns, &adopt("eip-second000000000000"));
    assert!(refused.contains("spec.allocationId is immutable"), "{refused}");

    s.apply(&s.manifest("fresh", "allocation:\n  bandwidthMbps: 5"));
    let refused =
        s.cp.apply_rejected(&s.ns, &s.manifest("fresh", "allocationId: eip-late0000000000000"));
    assert!(
        refused.contains("spec.allocationId is immutable"),
        "adding an allocationId later is refused: {refused}"
    );
    let refused = s.cp.apply_rejected(&s.ns, &s.manifest("fresh", "allocation:\n  bandwidthMbps: 50"));
    assert!(refused.contains("spec.allocation is immutable"), "{refused}");
    let moved = s
        .manifest("fresh", "allocation:\n  bandwidthMbps: 5")
        .replace(&s.provider_config, "another-account");
    let refused = s.cp.apply_rejected(&s.ns, &moved);
    assert!(refused.contains("spec.providerConfigRef is immutable"), "{refused}");
    // The binding is not immutable: that is how users rebind.
    s.apply(&s.manifest(
        "fresh",
        "allocation:\n  bandwidthMbps: 5\nbinding:\n  instanceType: EcsInstance\n  instanceId: i-sim-0001",
    ));
    s.finish().await;
}
