//! EIP records of the v1 and v3 APIs mapped onto [`CloudEip`]; states; tag key/value mapping.
//!
//! Every record is typed: a required field that is missing, `null` or of another type makes the
//! whole answer malformed (never a record quietly left out). Objects are read only from JSON
//! objects ([`Obj`]): serde would otherwise fill a struct from an array, field by field.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use eip_cloud::{BindTarget, ChargeType, CloudEip, EipPhase, InstanceType, OWNER_NAME_TAG, OWNER_TAG, Transition};

/// Longest identifier accepted (real ones are UUIDs or 32 hex digits).
pub const MAX_ID: usize = 128;

/// `T`, read from a JSON object only (an array, a string or `null` is an error).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Obj<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer.deserialize_map(ObjectVisitor(PhantomData)).map(Obj)
    }
}

/// An identifier: a non-empty string of printable characters, at most [`MAX_ID`] bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(pub String);

impl Id {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.trim().is_empty() {
            return Err(de::Error::custom("an empty identifier"));
        }
        if text.len() > MAX_ID || text.chars().any(char::is_control) {
            return Err(de::Error::custom("an identifier that is too long or holds control characters"));
        }
        Ok(Id(text))
    }
}

/// Prefix of the bandwidth name of EIPs this operator creates for an owner: `eip-operator-<uid>`.
/// Set in the create call itself, so an allocation can be found again even when the process
/// died before it tagged the EIP (see the module docs of `otc`).
pub const OWNER_MARKER_PREFIX: &str = "eip-operator-";

/// Tag keys on the wire: OTC/Huawei tag keys allow only `A-Za-z0-9_-` (36 characters).
pub const WIRE_OWNER_TAG: &str = "eip-operator_owner-uid";
pub const WIRE_OWNER_NAME_TAG: &str = "eip-operator_owner";
const TAG_KEY_MAX: usize = 36;
const TAG_VALUE_MAX: usize = 43;

/// Bandwidth name that marks an allocation for `owner_uid` (≤ 64 characters of `A-Za-z0-9_.-`).
pub fn owner_marker(owner_uid: &str) -> String {
    let clean: String = owner_uid
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(64 - OWNER_MARKER_PREFIX.len())
        .collect();
    format!("{OWNER_MARKER_PREFIX}{clean}")
}

fn clean(text: &str, max: usize, allowed: impl Fn(char) -> bool) -> String {
    text.chars().map(|c| if allowed(c) { c } else { '_' }).take(max).collect()
}

/// A tag as OTC/Huawei accept it: keys `A-Za-z0-9_-` (≤ 36), values `A-Za-z0-9_.-` (≤ 43).
/// `namespace/name` values become `namespace_name` (Kubernetes names never contain `_`).
pub fn tag_to_wire(key: &str, value: &str) -> Option<(String, String)> {
    let wire_key = match key {
        OWNER_TAG => WIRE_OWNER_TAG.to_owned(),
        OWNER_NAME_TAG => WIRE_OWNER_NAME_TAG.to_owned(),
        other => clean(other, TAG_KEY_MAX, |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-')),
    };
    if wire_key.is_empty() {
        return None;
    }
    let wire_value = clean(value, TAG_VALUE_MAX, |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    Some((wire_key, wire_value))
}

/// Inverse of [`tag_to_wire`] for the operator's own keys; other tags are kept as they are.
pub fn tag_from_wire(key: &str, value: &str) -> (String, String) {
    match key {
        WIRE_OWNER_TAG => (OWNER_TAG.to_owned(), value.to_owned()),
        WIRE_OWNER_NAME_TAG => (OWNER_NAME_TAG.to_owned(), value.replacen('_', "/", 1)),
        _ => (key.to_owned(), value.to_owned()),
    }
}

/// A tag as the v1/v3 records list it: `"key=value"` (or a `{key, value}` object).
#[derive(Deserialize)]
#[serde(untagged)]
enum WireTag {
    Text(String),
    Pair(Obj<TagPair>),
}

#[derive(Deserialize)]
struct TagPair {
    key: String,
    #[serde(default)]
    value: Option<String>,
}

fn parse_tags(tags: Option<Vec<WireTag>>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for tag in tags.into_iter().flatten() {
        let (key, value) = match tag {
            WireTag::Text(s) => match s.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (s, String::new()),
            },
            WireTag::Pair(Obj(pair)) => (pair.key, pair.value.unwrap_or_default()),
        };
        if !key.is_empty() {
            let (key, value) = tag_from_wire(&key, &value);
            out.insert(key, value);
        }
    }
    out
}

/// The phase of a raw OTC/Huawei status.
pub fn phase_of(status: &str) -> EipPhase {
    match status {
        "DOWN" => EipPhase::Unbound,
        "ACTIVE" | "ELB" | "VPN" => EipPhase::Bound,
        "PENDING_CREATE" => EipPhase::Transitional(Transition::Allocating),
        "PENDING_DELETE" | "NOTIFY_DELETE" => EipPhase::Transitional(Transition::Releasing),
        "BINDING" => EipPhase::Transitional(Transition::Associating),
        "PENDING_UPDATE" | "NOTIFYING" => EipPhase::Transitional(Transition::Updating),
        "FREEZED" => EipPhase::Locked,
        // BIND_ERROR, ERROR, and anything this operator does not know.
        _ => EipPhase::Failed,
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Profile {
    order_id: Option<String>,
}

/// `GET /v1/{project_id}/publicips[/{id}]` record (also the create and update answers).
#[derive(Deserialize)]
pub struct V1Publicip {
    pub id: Id,
    status: String,
    #[serde(default)]
    public_ip_address: Option<String>,
    #[serde(default)]
    private_ip_address: Option<String>,
    #[serde(default)]
    port_id: Option<String>,
    #[serde(default)]
    bandwidth_size: Option<u32>,
    #[serde(default)]
    bandwidth_name: Option<String>,
    #[serde(default)]
    profile: Option<Obj<Profile>>,
    #[serde(default)]
    tags: Option<Vec<WireTag>>,
    /// `2015-07-16 04:32:50` (UTC); anything but a string is ignored (it decides nothing).
    #[serde(default)]
    create_time: Option<serde_json::Value>,
}

/// A timestamp field the cloud sends as a string, when it does.
fn text(value: Option<serde_json::Value>) -> Option<String> {
    value.and_then(|v| v.as_str().map(str::to_owned)).filter(|v| !v.is_empty())
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

fn with_marker(mut tags: BTreeMap<String, String>, bandwidth_name: Option<&str>) -> BTreeMap<String, String> {
    if let Some(uid) = bandwidth_name.and_then(|name| name.strip_prefix(OWNER_MARKER_PREFIX))
        && !uid.is_empty()
    {
        tags.entry(OWNER_TAG.to_owned()).or_insert_with(|| uid.to_owned());
    }
    tags
}

fn bound_without_port(status: &str) -> Option<BindTarget> {
    // A binding the v1 record cannot name (no v3 here): an ELB or VPN binding of unknown ID.
    let instance_type = match status {
        "ELB" => InstanceType::SlbInstance,
        "VPN" => InstanceType::Vpn,
        _ => return None,
    };
    Some(BindTarget {
        instance_type,
        instance_id: String::new(),
        private_ip_address: None,
    })
}

impl V1Publicip {
    pub fn into_cloud_eip(self) -> CloudEip {
        let raw = self.status;
        let bound_to = match non_empty(self.port_id) {
            Some(port) => Some(BindTarget {
                instance_type: InstanceType::Port,
                instance_id: port,
                private_ip_address: non_empty(self.private_ip_address),
            }),
            None => bound_without_port(&raw),
        };
        let prepaid = self.profile.and_then(|p| non_empty(p.0.order_id)).is_some();
        CloudEip {
            allocation_id: self.id.0,
            ip_address: self.public_ip_address.unwrap_or_default(),
            phase: phase_of(&raw),
            locks: if raw == "FREEZED" { vec!["FREEZED".to_owned()] } else { Vec::new() },
            raw_state: raw,
            bound_to,
            charge_type: if prepaid { ChargeType::PrePaid } else { ChargeType::PostPaid },
            tags: with_marker(parse_tags(self.tags), self.bandwidth_name.as_deref()),
            created_at: text(self.create_time),
            bandwidth_mbps: self.bandwidth_size,
            binding_handle: None,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Vnic {
    private_ip_address: Option<String>,
    port_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct V3Bandwidth {
    size: Option<u32>,
    name: Option<String>,
}

/// `GET /v3/{project_id}/eip/publicips[/{id}]` record (also the associate/disassociate answers).
#[derive(Deserialize)]
pub struct V3Publicip {
    pub id: Id,
    status: String,
    #[serde(default)]
    public_ip_address: Option<String>,
    #[serde(default)]
    vnic: Option<Obj<Vnic>>,
    #[serde(default)]
    bandwidth: Option<Obj<V3Bandwidth>>,
    #[serde(default)]
    billing_info: Option<String>,
    #[serde(default)]
    lock_status: Option<String>,
    #[serde(default)]
    associate_instance_type: Option<String>,
    #[serde(default)]
    associate_instance_id: Option<String>,
    #[serde(default)]
    tags: Option<Vec<WireTag>>,
    /// `2019-06-12T01:25:47Z`; anything but a string is ignored.
    #[serde(default)]
    created_at: Option<serde_json::Value>,
}

/// The v3 `associate_instance_type` of an instance type, if OTC/Huawei can bind it.
pub fn v3_instance_type(instance_type: InstanceType) -> Option<&'static str> {
    match instance_type {
        InstanceType::Port => Some("PORT"),
        InstanceType::Nat => Some("NATGW"),
        InstanceType::SlbInstance => Some("ELB"),
        InstanceType::Vpn => Some("VPN"),
        _ => None,
    }
}

impl V3Publicip {
    pub fn into_cloud_eip(self) -> CloudEip {
        let raw = self.status;
        let vnic = self.vnic.map(|v| v.0).unwrap_or_default();
        let associated = non_empty(self.associate_instance_id);
        let bound_to = match self.associate_instance_type.as_deref() {
            Some("NATGW") => associated.map(|id| (InstanceType::Nat, id)),
            Some("ELB" | "ELBV1") => associated.map(|id| (InstanceType::SlbInstance, id)),
            Some("VPN") => associated.map(|id| (InstanceType::Vpn, id)),
            _ => non_empty(vnic.port_id).or(associated).map(|id| (InstanceType::Port, id)),
        }
        .map(|(instance_type, instance_id)| BindTarget {
            instance_type,
            private_ip_address: if instance_type == InstanceType::Port {
                non_empty(vnic.private_ip_address.clone())
            } else {
                None
            },
            instance_id,
        })
        .or_else(|| bound_without_port(&raw));
        let lock = non_empty(self.lock_status);
        let bandwidth = self.bandwidth.map(|b| b.0).unwrap_or_default();
        let mut phase = phase_of(&raw);
        if lock.is_some() {
            phase = EipPhase::Locked;
        }
        let mut locks: Vec<String> = lock.into_iter().collect();
        if raw == "FREEZED" && locks.is_empty() {
            locks.push("FREEZED".to_owned());
        }
        CloudEip {
            allocation_id: self.id.0,
            ip_address: self.public_ip_address.unwrap_or_default(),
            raw_state: raw,
            phase,
            bound_to,
            charge_type: if non_empty(self.billing_info).is_some() {
                ChargeType::PrePaid
            } else {
                ChargeType::PostPaid
            },
            locks,
            tags: with_marker(parse_tags(self.tags), bandwidth.name.as_deref()),
            bandwidth_mbps: bandwidth.size,
            binding_handle: None,
            created_at: text(self.created_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn states() {
        assert_eq!(phase_of("DOWN"), EipPhase::Unbound);
        for bound in ["ACTIVE", "ELB", "VPN"] {
            assert_eq!(phase_of(bound), EipPhase::Bound);
        }
        assert_eq!(phase_of("PENDING_CREATE"), EipPhase::Transitional(Transition::Allocating));
        assert_eq!(phase_of("PENDING_UPDATE"), EipPhase::Transitional(Transition::Updating));
        assert_eq!(phase_of("NOTIFYING"), EipPhase::Transitional(Transition::Updating));
        assert_eq!(phase_of("BINDING"), EipPhase::Transitional(Transition::Associating));
        assert_eq!(phase_of("PENDING_DELETE"), EipPhase::Transitional(Transition::Releasing));
        assert_eq!(phase_of("NOTIFY_DELETE"), EipPhase::Transitional(Transition::Releasing));
        assert_eq!(phase_of("BIND_ERROR"), EipPhase::Failed);
        assert_eq!(phase_of("ERROR"), EipPhase::Failed);
        assert_eq!(phase_of("FREEZED"), EipPhase::Locked);
    }

    #[test]
    fn tags_round_trip_through_the_wire_rules() {
        assert_eq!(
            tag_to_wire(OWNER_TAG, "0b9d5a4e-2f7c-4f43-9e6c-2a1b3c4d5e6f"),
            Some((WIRE_OWNER_TAG.into(), "0b9d5a4e-2f7c-4f43-9e6c-2a1b3c4d5e6f".into()))
        );
        let (key, value) = tag_to_wire(OWNER_NAME_TAG, "team-a/web").expect("valid");
        assert_eq!((key.as_str(), value.as_str()), (WIRE_OWNER_NAME_TAG, "team-a_web"));
        assert_eq!(tag_from_wire(&key, &value), (OWNER_NAME_TAG.into(), "team-a/web".into()));
        assert_eq!(
            tag_to_wire("app.kubernetes.io/name", "a b"),
            Some(("app_kubernetes_io_name".into(), "a_b".into()))
        );
        assert_eq!(tag_to_wire("", "x"), None);
        assert_eq!(
            tag_to_wire(&"k".repeat(50), &"v".repeat(50)).map(|(k, v)| (k.len(), v.len())),
            Some((36, 43))
        );
        assert_eq!(owner_marker("uid-1"), "eip-operator-uid-1");
        assert!(owner_marker(&"x".repeat(100)).len() <= 64);
    }

    #[test]
    fn v1_records() {
        let bound: V1Publicip = serde_json::from_value(json!({
            "id": "e1", "status": "ACTIVE", "public_ip_address": "80.158.1.2", "port_id": "port-1",
            "private_ip_address": "10.0.0.5", "bandwidth_size": 5, "bandwidth_name": "eip-operator-uid-9",
            "profile": {"order_id": null}, "tags": ["team=a", "eip-operator_owner=ns_web"]
        }))
        .expect("parses");
        let eip = bound.into_cloud_eip();
        assert_eq!(eip.phase, EipPhase::Bound);
        assert_eq!(
            eip.bound_to,
            Some(BindTarget {
                instance_type: InstanceType::Port,
                instance_id: "port-1".into(),
                private_ip_address: Some("10.0.0.5".into())
            })
        );
        assert_eq!(eip.owner_uid(), Some("uid-9"));
        assert_eq!(eip.tags.get(OWNER_NAME_TAG).map(String::as_str), Some("ns/web"));
        assert_eq!(eip.tags.get("team").map(String::as_str), Some("a"));
        assert_eq!((eip.bandwidth_mbps, eip.charge_type), (Some(5), ChargeType::PostPaid));

        let elb: V1Publicip =
            serde_json::from_value(json!({"id": "e2", "status": "ELB", "port_id": null, "profile": {"order_id": "o-1"}})).expect("parses");
        let eip = elb.into_cloud_eip();
        assert_eq!(eip.bound_to.map(|b| b.instance_type), Some(InstanceType::SlbInstance));
        assert_eq!(eip.charge_type, ChargeType::PrePaid);

        let frozen: V1Publicip = serde_json::from_value(json!({"id": "e3", "status": "FREEZED"})).expect("parses");
        let eip = frozen.into_cloud_eip();
        assert_eq!((eip.phase, eip.locks.len()), (EipPhase::Locked, 1));
    }

    #[test]
    fn v3_records() {
        let elb: V3Publicip = serde_json::from_value(json!({
            "id": "e1", "status": "ELB", "public_ip_address": "80.158.1.3", "vnic": null,
            "bandwidth": {"size": 10, "name": "bw"}, "associate_instance_type": "ELB", "associate_instance_id": "lb-1",
            "billing_info": "", "lock_status": null, "tags": []
        }))
        .expect("parses");
        let eip = elb.into_cloud_eip();
        assert_eq!(
            eip.bound_to,
            Some(BindTarget {
                instance_type: InstanceType::SlbInstance,
                instance_id: "lb-1".into(),
                private_ip_address: None
            })
        );
        assert_eq!((eip.phase, eip.bandwidth_mbps), (EipPhase::Bound, Some(10)));

        let port: V3Publicip = serde_json::from_value(json!({
            "id": "e2", "status": "ACTIVE", "associate_instance_type": "PORT", "associate_instance_id": "port-2",
            "vnic": {"port_id": "port-2", "private_ip_address": "10.1.1.1"}, "lock_status": "police"
        }))
        .expect("parses");
        let eip = port.into_cloud_eip();
        assert_eq!(
            eip.bound_to.as_ref().and_then(|b| b.private_ip_address.as_deref()),
            Some("10.1.1.1")
        );
        assert_eq!((eip.phase, eip.locks), (EipPhase::Locked, vec!["police".to_owned()]));

        let nat: V3Publicip = serde_json::from_value(json!({
            "id": "e3", "status": "ACTIVE", "associate_instance_type": "NATGW", "associate_instance_id": "ngw-1", "billing_info": "order"
        }))
        .expect("parses");
        let eip = nat.into_cloud_eip();
        assert_eq!(eip.bound_to.map(|b| b.instance_type), Some(InstanceType::Nat));
        assert_eq!(eip.charge_type, ChargeType::PrePaid);
    }
}
