//! Typed records of what the Alibaba Cloud APIs answer, and nothing else: a body either
//! deserializes into one of these (required fields present, every field of the documented type)
//! or it is not an answer at all.
//!
//! | record | answer |
//! | --- | --- |
//! | [`SuccessHead`] | every 2xx: a non-empty `RequestId` and no `Code` (an error inside a 2xx is no success) |
//! | [`DescribeAnswer`] | `DescribeEipAddresses`: `RequestId`, `TotalCount`, `EipAddresses.EipAddress[]` |
//! | [`AllocateAnswer`] | `AllocateEipAddress`: `RequestId`, `AllocationId`, `EipAddress` |
//! | [`MutatingAnswer`] | `AssociateEipAddress`, `UnassociateEipAddress`, `ReleaseEipAddress`: `RequestId` |
//! | [`ErrorBody`] | every error: `RequestId`, `Code`, `Message` (`HostId`, `Recommend` optional) |
//! | [`StsAnswer`] | STS `AssumeRoleWithOIDC`: `RequestId`, `Credentials {AccessKeyId, AccessKeySecret, SecurityToken, Expiration}` |
//!
//! Fields the operator does not read are ignored (the cloud adds fields over time); fields it
//! reads are typed, so a wrong type is a malformed answer, never a default.

use serde::{Deserialize, Deserializer};

/// A string that is not empty (or only whitespace): IDs, codes, keys.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct NonEmpty(pub String);

impl TryFrom<String> for NonEmpty {
    type Error = &'static str;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        if value.trim().is_empty() {
            Err("an empty string where a value is required")
        } else {
            Ok(NonEmpty(value))
        }
    }
}

impl NonEmpty {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `true` when the field is there at all, whatever its value (`null` included).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer).map(|_| true)
}

/// What every successful answer has: a request ID, and no error code.
#[derive(Debug, Deserialize)]
pub struct SuccessHead {
    #[serde(rename = "RequestId")]
    pub request_id: NonEmpty,
    #[serde(rename = "Code", default, deserialize_with = "present")]
    pub code: bool,
    /// Gateways that answer in lower camel case.
    #[serde(rename = "code", default, deserialize_with = "present")]
    pub lower_code: bool,
}

/// The error body of the VPC and STS APIs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorBody {
    pub request_id: NonEmpty,
    pub code: NonEmpty,
    pub message: String,
    #[serde(default)]
    pub host_id: Option<String>,
    #[serde(default)]
    pub recommend: Option<String>,
}

/// `DescribeEipAddresses`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAnswer {
    pub request_id: NonEmpty,
    pub total_count: u64,
    #[serde(default)]
    pub page_number: Option<u64>,
    #[serde(default)]
    pub page_size: Option<u64>,
    pub eip_addresses: EipAddresses,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EipAddresses {
    pub eip_address: Vec<EipItem>,
}

/// One `EipAddresses.EipAddress[]` item: the fields the operator reads.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EipItem {
    pub allocation_id: NonEmpty,
    pub ip_address: String,
    pub status: String,
    #[serde(default)]
    pub instance_id: Option<String>,
    #[serde(default)]
    pub instance_type: Option<String>,
    #[serde(default)]
    pub private_ip_address: Option<String>,
    #[serde(default)]
    pub charge_type: Option<String>,
    #[serde(default)]
    pub bandwidth: Option<Bandwidth>,
    #[serde(default)]
    pub business_status: Option<String>,
    #[serde(default)]
    pub operation_locks: Option<OperationLocks>,
    /// Absent on an EIP without tags; when present, `Tag` must be a list of `{Key, Value}`.
    #[serde(default)]
    pub tags: Option<Tags>,
    /// `2021-04-23T01:37:38Z`; anything but a string is ignored (it decides nothing).
    #[serde(default)]
    pub allocation_time: Option<serde_json::Value>,
}

/// `Bandwidth`: a string of digits in the SDK model, a number in some answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "BandwidthRaw")]
pub struct Bandwidth(pub u32);

#[derive(Deserialize)]
#[serde(untagged)]
enum BandwidthRaw {
    Number(u64),
    Text(String),
}

impl TryFrom<BandwidthRaw> for Bandwidth {
    type Error = &'static str;

    fn try_from(raw: BandwidthRaw) -> Result<Self, Self::Error> {
        let value = match raw {
            BandwidthRaw::Number(n) => u32::try_from(n).ok(),
            BandwidthRaw::Text(text) => text.trim().parse::<u32>().ok(),
        };
        value.map(Bandwidth).ok_or("a Bandwidth that is not a whole number of Mbit/s")
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OperationLocks {
    pub lock_reason: Vec<LockReason>,
}

/// `{"LockReason": "financial"}` as the API documents it, or a bare string.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum LockReason {
    Text(String),
    Object {
        #[serde(rename = "LockReason")]
        lock_reason: String,
    },
}

impl LockReason {
    pub fn into_string(self) -> String {
        match self {
            LockReason::Text(text) | LockReason::Object { lock_reason: text } => text,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tags {
    pub tag: Vec<Tag>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: NonEmpty,
    #[serde(default)]
    pub value: Option<String>,
}

/// `AllocateEipAddress`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocateAnswer {
    pub request_id: NonEmpty,
    pub allocation_id: NonEmpty,
    pub eip_address: String,
}

/// `AssociateEipAddress`, `UnassociateEipAddress`, `ReleaseEipAddress`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MutatingAnswer {
    pub request_id: NonEmpty,
}

/// STS `AssumeRoleWithOIDC`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StsAnswer {
    pub request_id: NonEmpty,
    pub credentials: StsCredentials,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StsCredentials {
    pub access_key_id: NonEmpty,
    pub access_key_secret: NonEmpty,
    pub security_token: NonEmpty,
    pub expiration: NonEmpty,
}

impl std::fmt::Debug for StsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_fields_are_required_and_typed() {
        let ok = br#"{"RequestId":"R","TotalCount":1,"EipAddresses":{"EipAddress":[{"AllocationId":"eip-1","IpAddress":"1.2.3.4","Status":"InUse","Bandwidth":"5"}]}}"#;
        let answer: DescribeAnswer = serde_json::from_slice(ok).expect("well-formed");
        assert_eq!(answer.eip_addresses.eip_address[0].bandwidth, Some(Bandwidth(5)));
        for bad in [
            &br#"{}"#[..],
            br#"[]"#,
            br#"{"RequestId":"R","TotalCount":0}"#,
            br#"{"RequestId":"R","TotalCount":"0","EipAddresses":{"EipAddress":[]}}"#,
            br#"{"RequestId":"","TotalCount":0,"EipAddresses":{"EipAddress":[]}}"#,
            br#"{"RequestId":"R","TotalCount":0,"EipAddresses":{"EipAddress":{}}}"#,
            br#"{"RequestId":"R","TotalCount":1,"EipAddresses":{"EipAddress":[{"AllocationId":5,"IpAddress":"","Status":""}]}}"#,
            br#"{"RequestId":"R","TotalCount":1,"EipAddresses":{"EipAddress":[{"IpAddress":"","Status":""}]}}"#,
            br#"{"RequestId":"R","TotalCount":1,"EipAddresses":{"EipAddress":[{"AllocationId":"e","IpAddress":"","Status":"","Tags":{"Tag":{}}}]}}"#,
            br#"{"RequestId":"R","TotalCount":1,"EipAddresses":{"EipAddress":[{"AllocationId":"e","IpAddress":"","Status":"","Bandwidth":"fast"}]}}"#,
        ] {
            assert!(
                serde_json::from_slice::<DescribeAnswer>(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn the_head_sees_any_code() {
        let head: SuccessHead = serde_json::from_slice(br#"{"RequestId":"R","Code":null}"#).expect("parses");
        assert!(head.code);
        let head: SuccessHead = serde_json::from_slice(br#"{"RequestId":"R","code":"x"}"#).expect("parses");
        assert!(head.lower_code);
        let head: SuccessHead = serde_json::from_slice(br#"{"RequestId":"R"}"#).expect("parses");
        assert!(!head.code && !head.lower_code);
        assert!(serde_json::from_slice::<SuccessHead>(br#"{"Code":"TaskConflict"}"#).is_err());
    }
}
