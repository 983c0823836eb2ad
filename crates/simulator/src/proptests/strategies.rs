//! The strategies: strings parsers meet, parameters, JSON bodies, garbage, methods, headers.

use std::collections::BTreeMap;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::{Value, json};

use eip_alibaba::signing;

/// Strings that parsers meet: empty, short, long, unicode, control characters, numbers.
pub(super) fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9_.-]{0,12}",
        2 => "\\PC{0,24}",
        1 => "[\\x00-\\x7f]{0,16}",
        1 => Just(String::new()),
        1 => (129usize..300).prop_map(|n| "x".repeat(n)),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => Just("18446744073709551616".to_owned()),
    ]
}

pub(super) fn alibaba_param_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "Action",
            "Version",
            "RegionId",
            "AllocationId",
            "InstanceId",
            "InstanceType",
            "PrivateIpAddress",
            "ClientToken",
            "Bandwidth",
            "InstanceChargeType",
            "InternetChargeType",
            "ISP",
            "Name",
            "Description",
            "Tag.1.Key",
            "Tag.1.Value",
            "Tag.21.Key",
            "Tag.0.Key",
            "Tag.x.Key",
            "Tag.99999999999999999999.Key",
            "Force",
            "PageNumber",
            "PageSize",
            "EipAddress",
            "Status",
            "ResourceType",
            "ResourceId.1",
            "ResourceId.2",
            "RoleArn",
            "OIDCProviderArn",
            "OIDCToken",
            "DurationSeconds",
            "RoleSessionName",
            "SecurityToken",
            "Signature",
            "SignatureNonce",
            "Timestamp",
            "AccessKeyId",
            "SignatureMethod",
        ])
        .prop_map(str::to_owned),
        text(),
    ]
}

pub(super) fn alibaba_action() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "AllocateEipAddress", "AssociateEipAddress", "UnassociateEipAddress", "ReleaseEipAddress", "DescribeEipAddresses",
            "TagResources", "UnTagResources", "AssumeRoleWithOIDC",
        ])
        .prop_map(str::to_owned),
        1 => text(),
    ]
}

pub(super) fn alibaba_params() -> impl Strategy<Value = BTreeMap<String, String>> {
    (alibaba_action(), btree_map(alibaba_param_name(), text(), 0..10)).prop_map(|(action, mut params)| {
        params.insert("Action".into(), action);
        params
    })
}

/// Parameters with plausible values for the EIP actions (known EIPs and instances, valid
/// types) mixed with arbitrary ones, so that signed requests get past the mandatory checks.
pub(super) fn plausible_alibaba_params(eips: Vec<String>) -> impl Strategy<Value = BTreeMap<String, String>> {
    fn maybe<S: Strategy<Value = String>>(s: S) -> impl Strategy<Value = Option<String>> {
        prop::option::weighted(0.7, s)
    }
    let allocation_id = prop_oneof![3 => prop::sample::select(eips), 1 => text()];
    let instance_id = prop_oneof![3 => "i-sim-00(0[1-9]|1[0-9])", 1 => "ngw-sim-000[1-3]", 1 => text()];
    let instance_type = prop_oneof![
        3 => prop::sample::select(vec!["EcsInstance", "Nat", "HaVip", "IpAddress", "SlbInstance", "NetworkInterface"]).prop_map(str::to_owned),
        1 => text(),
    ];
    let token = prop_oneof![3 => "[a-z0-9-]{1,64}", 1 => text()];
    (
        alibaba_params(),
        maybe(allocation_id),
        maybe(instance_id),
        maybe(instance_type),
        maybe(token),
        maybe(prop_oneof!["[a-z]{1,8}", text()]),
    )
        .prop_map(|(mut params, allocation_id, instance_id, instance_type, token, tag)| {
            for (name, value) in [
                ("AllocationId", allocation_id),
                ("InstanceId", instance_id),
                ("InstanceType", instance_type),
                ("ClientToken", token),
                ("Tag.1.Key", tag.clone()),
                ("Tag.1.Value", tag),
            ] {
                if let Some(value) = value {
                    params.insert(name.to_owned(), value);
                }
            }
            params
        })
}

pub(super) fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "publicip", "bandwidth", "type", "ip_version", "alias", "name", "size", "share_type", "charge_mode", "port_id",
            "publicip_ids", "tags", "tag", "action", "key", "value", "auth", "identity", "scope", "methods", "password", "user",
            "domain", "project", "id", "associate_instance_type", "associate_instance_id", "instanceType", "instanceId", "ids",
            "prefix", "count", "natEntries", "answers", "errorRate", "extraLatencyMs", "allocateMs", "associateMs", "unassociateMs",
            "releaseMs", "mutatingPerSecond", "describePerSecond", "boundTo", "chargeType", "locked", "deletionProtection",
            "bandwidthMbps", "privateIpAddress",
        ])
        .prop_map(str::to_owned),
        1 => text(),
    ]
}

pub(super) fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        (0u64..30).prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        text().prop_map(Value::String),
        prop::sample::select(vec![
            "PORT",
            "NATGW",
            "ELB",
            "5_bgp",
            "PER",
            "bandwidth",
            "create",
            "delete",
            "EcsInstance",
            "Nat"
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            btree_map(json_key(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A body: JSON (mostly objects), raw bytes, or nothing.
pub(super) fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => btree_map(json_key(), json_value(), 0..6).prop_map(|m| Value::Object(m.into_iter().collect()).to_string().into_bytes()),
        2 => json_value().prop_map(|v| v.to_string().into_bytes()),
        2 => vec(any::<u8>(), 0..256),
        1 => Just(Vec::new()),
    ]
}

/// Bytes that are neither empty nor whitespace nor valid JSON.
pub(super) fn garbage() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 1..256).prop_filter("not JSON", |bytes| {
        !bytes.iter().all(u8::is_ascii_whitespace) && serde_json::from_slice::<Value>(bytes).is_err()
    })
}

pub(super) fn path_segment() -> impl Strategy<Value = String> {
    text().prop_map(|s| signing::percent_encode(&s))
}

pub(super) fn method() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        12 => prop::sample::select(vec!["GET", "POST", "PUT", "PATCH", "DELETE"]).prop_map(|m| m.as_bytes().to_vec()),
        1 => "[A-Z]{1,8}".prop_map(String::into_bytes),
        1 => vec(any::<u8>(), 0..8),
    ]
}

/// Headers a client might send, valid or not.
pub(super) fn headers() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let name = prop_oneof![
        prop::sample::select(vec![
            "authorization",
            "content-type",
            "x-acs-date",
            "x-acs-signature-nonce",
            "x-acs-content-sha256",
            "x-acs-action",
            "x-acs-version",
            "x-acs-security-token",
            "x-sdk-date",
            "x-project-id",
            "x-auth-token",
            "x-subject-token",
            "host",
            "content-length",
        ])
        .prop_map(str::to_owned),
        "[a-z-]{1,12}",
    ];
    let value = prop_oneof![
        text().prop_map(String::into_bytes),
        "ACS3-HMAC-SHA256 Credential=[A-Za-z0-9]{0,24},SignedHeaders=[a-z;-]{0,40},Signature=[0-9a-f]{0,64}".prop_map(String::into_bytes),
        "SDK-HMAC-SHA256 Access=[A-Za-z0-9]{0,24}, SignedHeaders=[a-z;-]{0,40}, Signature=[0-9a-f]{0,64}".prop_map(String::into_bytes),
        Just(b"application/x-www-form-urlencoded".to_vec()),
        Just(b"application/json".to_vec()),
        vec(any::<u8>(), 0..32),
    ]
    // hyper refuses control characters in header values before any handler runs.
    .prop_map(|value: Vec<u8>| {
        value
            .into_iter()
            .map(|b| if (b < 0x20 && b != b'\t') || b == 0x7f { b'?' } else { b })
            .collect::<Vec<u8>>()
    });
    vec((name, value), 0..5)
}
