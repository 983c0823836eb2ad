//! Alibaba Cloud: EIPs through the VPC RPC API (version 2016-04-28).
//!
//! | trait call | API |
//! | --- | --- |
//! | `describe` | `DescribeEipAddresses` with up to 50 comma-separated `AllocationId`s, `PageSize=100`, paged |
//! | `find_by_owner` | `DescribeEipAddresses` with `Tag.1.Key=eip-operator.dev/owner-uid`, `Tag.1.Value=<uid>`, paged |
//! | `allocate` | `AllocateEipAddress` (`ClientToken`, `Tag.N`): the answer and the request describe the EIP |
//! | `associate` | `AssociateEipAddress` (`ClientToken`; Port and Vpn are not Alibaba types: refused before any call) |
//! | `unassociate` | `UnassociateEipAddress` (`ClientToken`, `Force=true` when forced) |
//! | `release` | `ReleaseEipAddress` (the API takes no `ClientToken`; a repeat is `InvalidAllocationId.NotFound`, i.e. gone) |
//!
//! Requests are signed with V3 (`ACS3-HMAC-SHA256`, the default) or V1 (`HMAC-SHA1`), see
//! [`signing`]; credentials come from the ProviderConfig's Secret (see [`credentials`]); error
//! codes are classified in [`errors`].
//!
//! Allocation is crash-safe: the reconciler's client token makes a repeated `AllocateEipAddress`
//! return the same EIP, and tagging is idempotent, so a crash between allocation and tagging is
//! repaired by the next attempt.

pub mod client;
pub mod credentials;
pub mod errors;
pub mod signing;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::api::{AlibabaOptions, AlibabaSignatureVersion};
use crate::cloud::{
    AllocateRequest, Allocated, BindTarget, Blocker, ChargeType, CloudEip, CloudError, CloudProvider, DESCRIBE_BATCH, EipPhase,
    InstanceType, OWNER_TAG, Operation, Receipt, SecretSource, Transition,
};

use client::{Endpoint, RpcClient};
use credentials::CredentialSource;

/// Largest `PageSize` of `DescribeEipAddresses`.
pub const PAGE_SIZE: usize = 100;
/// Pages followed per describe before giving up (10 000 EIPs at 100 a page).
const MAX_PAGES: usize = 100;

/// An Alibaba Cloud account in one region.
pub struct AlibabaProvider {
    region: String,
    client: RpcClient,
    credentials: CredentialSource,
}

impl AlibabaProvider {
    /// A provider for `region`. `endpoint` overrides the regional VPC endpoint (`http://` is
    /// allowed, for the simulator); `options` selects the signature version and the STS endpoint
    /// for RRSA; `secrets` is read on every call.
    pub fn new(
        region: &str,
        endpoint: Option<&str>,
        options: Option<&AlibabaOptions>,
        secrets: Arc<dyn SecretSource>,
    ) -> Result<Self, String> {
        if region.trim().is_empty() {
            return Err("region is required".into());
        }
        let endpoint = match endpoint {
            Some(url) => Endpoint::parse(url)?,
            None => Endpoint::vpc_for_region(region)?,
        };
        let options = options.cloned().unwrap_or_default();
        let sts_endpoint = match options.sts_endpoint.as_deref() {
            Some(url) => Endpoint::parse(url).map_err(|e| format!("stsEndpoint: {e}"))?,
            None => Endpoint::sts_for_region(region)?,
        };
        let signature = options.signature_version.unwrap_or(AlibabaSignatureVersion::V3);
        let http = client::http_client()?;
        Ok(AlibabaProvider {
            region: region.to_owned(),
            client: RpcClient::new(http.clone(), endpoint, signature),
            credentials: CredentialSource::new(secrets, http, sts_endpoint),
        })
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    async fn call(&self, operation: Operation, action: &str, mut params: BTreeMap<String, String>) -> Result<Value, CloudError> {
        let credentials = self.credentials.get(operation).await?;
        params.insert("RegionId".into(), self.region.clone());
        self.client.call(operation, action, params, &credentials).await
    }

    /// Every EIP `DescribeEipAddresses` lists for `filter`, following the pages.
    async fn describe_all(&self, operation: Operation, filter: &BTreeMap<String, String>) -> Result<Vec<CloudEip>, CloudError> {
        let mut found = Vec::new();
        for page in 1..=MAX_PAGES {
            let mut params = filter.clone();
            params.insert("PageSize".into(), PAGE_SIZE.to_string());
            params.insert("PageNumber".into(), page.to_string());
            let body = self.call(operation, "DescribeEipAddresses", params).await?;
            let items = eip_items(&body);
            let total = body.get("TotalCount").and_then(as_u64).unwrap_or(0);
            let empty = items.is_empty();
            found.extend(items.iter().filter_map(to_cloud_eip));
            if empty || found.len() as u64 >= total || items.len() < PAGE_SIZE {
                return Ok(found);
            }
        }
        tracing::warn!(pages = MAX_PAGES, "DescribeEipAddresses: stopped following pages");
        Ok(found)
    }

    async fn describe_ids(&self, operation: Operation, allocation_ids: &[String]) -> Result<Vec<CloudEip>, CloudError> {
        let mut seen = HashSet::new();
        let unique: Vec<&String> = allocation_ids
            .iter()
            .filter(|id| !id.is_empty() && seen.insert(id.as_str()))
            .collect();
        let mut found = Vec::new();
        for batch in unique.chunks(DESCRIBE_BATCH) {
            let ids = batch.iter().map(|id| id.as_str()).collect::<Vec<_>>().join(",");
            let filter = BTreeMap::from([("AllocationId".to_owned(), ids)]);
            found.extend(self.describe_all(operation, &filter).await?);
        }
        Ok(found)
    }
}

fn add_tags<'a>(params: &mut BTreeMap<String, String>, tags: impl IntoIterator<Item = (&'a String, &'a String)>) {
    for (n, (key, value)) in tags.into_iter().enumerate() {
        params.insert(format!("Tag.{}.Key", n + 1), key.clone());
        params.insert(format!("Tag.{}.Value", n + 1), value.clone());
    }
}

fn receipt(body: &Value) -> Receipt {
    Receipt {
        request_id: str_field(body, "RequestId").unwrap_or_default(),
    }
}

/// Alibaba's `InstanceType` for a bind target; Port and Vpn exist only on OTC / Huawei Cloud.
pub fn alibaba_instance_type(operation: Operation, instance_type: InstanceType) -> Result<&'static str, CloudError> {
    match instance_type {
        InstanceType::EcsInstance
        | InstanceType::NetworkInterface
        | InstanceType::Nat
        | InstanceType::SlbInstance
        | InstanceType::HaVip
        | InstanceType::IpAddress => Ok(instance_type.as_str()),
        InstanceType::Port | InstanceType::Vpn => Err(CloudError::terminal(
            operation,
            Blocker::InvalidBindingTarget,
            "InvalidInstanceType.ValueNotSupported",
            format!(
                "instance type {instance_type} does not exist on Alibaba Cloud; use EcsInstance, NetworkInterface, Nat, SlbInstance, HaVip or IpAddress"
            ),
        )),
    }
}

#[async_trait]
impl CloudProvider for AlibabaProvider {
    fn name(&self) -> &str {
        "alibaba"
    }

    async fn describe(&self, allocation_ids: &[String]) -> Result<Vec<CloudEip>, CloudError> {
        self.describe_ids(Operation::Describe, allocation_ids).await
    }

    async fn find_by_owner(&self, owner_uid: &str) -> Result<Vec<CloudEip>, CloudError> {
        let filter = BTreeMap::from([
            ("Tag.1.Key".to_owned(), OWNER_TAG.to_owned()),
            ("Tag.1.Value".to_owned(), owner_uid.to_owned()),
        ]);
        let found = self.describe_all(Operation::FindByOwner, &filter).await?;
        // Guard against a cloud that ignores the filter.
        Ok(found.into_iter().filter(|eip| eip.owner_uid() == Some(owner_uid)).collect())
    }

    /// `ClientToken` makes AllocateEipAddress idempotent.
    fn allocation_is_idempotent(&self) -> bool {
        true
    }

    async fn allocate(&self, request: &AllocateRequest) -> Result<Allocated, CloudError> {
        let mut params = BTreeMap::new();
        let mut put = |key: &str, value: Option<String>| {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                params.insert(key.to_owned(), value);
            }
        };
        put("ClientToken", Some(request.client_token.clone()));
        put("Bandwidth", request.bandwidth_mbps.map(|b| b.to_string()));
        put(
            "InstanceChargeType",
            Some(
                match request.charge_type {
                    ChargeType::PostPaid => "PostPaid",
                    ChargeType::PrePaid => "PrePaid",
                }
                .to_owned(),
            ),
        );
        put("InternetChargeType", request.internet_charge_type.clone());
        put("ISP", request.isp.clone());
        put("Name", request.name.clone());
        put("Description", request.description.clone());
        add_tags(&mut params, request.tags.iter());
        let body = self.call(Operation::Allocate, "AllocateEipAddress", params).await?;
        let receipt = receipt(&body);
        let allocation_id = str_field(&body, "AllocationId").ok_or_else(|| {
            CloudError::retryable(
                Operation::Allocate,
                "InvalidResponse",
                "AllocateEipAddress answered without an AllocationId",
            )
            .with_request_id(receipt.request_id.clone())
        })?;

        // AllocateEipAddress takes the tags (Tag.N) and a replay of the same ClientToken
        // must carry the same parameters, so the answer and the request describe the new EIP:
        // no Describe needed. Alibaba allocates synchronously (Available at once).
        let eip = CloudEip {
            allocation_id: allocation_id.clone(),
            ip_address: str_field(&body, "EipAddress").unwrap_or_default(),
            raw_state: "Available".into(),
            phase: EipPhase::Unbound,
            bound_to: None,
            charge_type: request.charge_type,
            locks: Vec::new(),
            tags: request.tags.clone(),
            bandwidth_mbps: request.bandwidth_mbps,
        };
        Ok(Allocated { eip, receipt })
    }

    async fn associate(&self, allocation_id: &str, target: &BindTarget, client_token: &str) -> Result<Receipt, CloudError> {
        let instance_type = alibaba_instance_type(Operation::Associate, target.instance_type)?;
        let mut params = BTreeMap::from([
            ("AllocationId".to_owned(), allocation_id.to_owned()),
            ("InstanceId".to_owned(), target.instance_id.clone()),
            ("InstanceType".to_owned(), instance_type.to_owned()),
        ]);
        if let Some(ip) = target.private_ip_address.as_ref().filter(|ip| !ip.is_empty()) {
            params.insert("PrivateIpAddress".into(), ip.clone());
        }
        if !client_token.is_empty() {
            params.insert("ClientToken".into(), client_token.to_owned());
        }
        let body = self.call(Operation::Associate, "AssociateEipAddress", params).await?;
        Ok(receipt(&body))
    }

    async fn unassociate(&self, allocation_id: &str, current: &BindTarget, force: bool, client_token: &str) -> Result<Receipt, CloudError> {
        let instance_type = alibaba_instance_type(Operation::Unassociate, current.instance_type)?;
        let mut params = BTreeMap::from([
            ("AllocationId".to_owned(), allocation_id.to_owned()),
            ("InstanceId".to_owned(), current.instance_id.clone()),
            ("InstanceType".to_owned(), instance_type.to_owned()),
        ]);
        // Selects one of an ENI's addresses; for other types the instance ID is enough.
        if current.instance_type == InstanceType::NetworkInterface
            && let Some(ip) = current.private_ip_address.as_ref().filter(|ip| !ip.is_empty())
        {
            params.insert("PrivateIpAddress".into(), ip.clone());
        }
        if force {
            params.insert("Force".into(), "true".into());
        }
        if !client_token.is_empty() {
            params.insert("ClientToken".into(), client_token.to_owned());
        }
        let body = self.call(Operation::Unassociate, "UnassociateEipAddress", params).await?;
        Ok(receipt(&body))
    }

    async fn release(&self, allocation_id: &str, _client_token: &str) -> Result<Receipt, CloudError> {
        let params = BTreeMap::from([("AllocationId".to_owned(), allocation_id.to_owned())]);
        let body = self.call(Operation::Release, "ReleaseEipAddress", params).await?;
        Ok(receipt(&body))
    }
}

// ----- answers -----

fn str_field(value: &Value, name: &str) -> Option<String> {
    match value.get(name)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn as_u64(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
}

/// `EipAddresses.EipAddress[]` of a `DescribeEipAddresses` answer.
pub fn eip_items(body: &Value) -> Vec<Value> {
    body.get("EipAddresses")
        .and_then(|e| e.get("EipAddress"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The EIP phase of an Alibaba `Status`; locks override it.
pub fn phase(status: &str, locked: bool) -> EipPhase {
    if locked {
        return EipPhase::Locked;
    }
    match status {
        "Available" => EipPhase::Unbound,
        "InUse" => EipPhase::Bound,
        "Associating" => EipPhase::Transitional(Transition::Associating),
        "Unassociating" => EipPhase::Transitional(Transition::Unassociating),
        "Releasing" => EipPhase::Transitional(Transition::Releasing),
        "Allocating" => EipPhase::Transitional(Transition::Allocating),
        // `Modifying` and states this code does not know: wait and look again.
        _ => EipPhase::Transitional(Transition::Updating),
    }
}

fn parse_instance_type(raw: &str) -> Option<InstanceType> {
    match raw {
        "EcsInstance" => Some(InstanceType::EcsInstance),
        "NetworkInterface" => Some(InstanceType::NetworkInterface),
        "Nat" => Some(InstanceType::Nat),
        "SlbInstance" => Some(InstanceType::SlbInstance),
        "HaVip" => Some(InstanceType::HaVip),
        "IpAddress" => Some(InstanceType::IpAddress),
        _ => None,
    }
}

/// One `DescribeEipAddresses` item as a [`CloudEip`]; `None` without an `AllocationId`.
pub fn to_cloud_eip(item: &Value) -> Option<CloudEip> {
    let allocation_id = str_field(item, "AllocationId")?;
    let status = str_field(item, "Status").unwrap_or_default();
    let mut locks: Vec<String> = item
        .get("OperationLocks")
        .and_then(|l| l.get("LockReason"))
        .and_then(Value::as_array)
        .map(|reasons| {
            reasons
                .iter()
                .filter_map(|r| match r {
                    Value::String(s) => Some(s.clone()),
                    other => str_field(other, "LockReason"),
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some(business) = str_field(item, "BusinessStatus")
        && business != "Normal"
        && locks.is_empty()
    {
        locks.push(business);
    }
    let bound_to = match (str_field(item, "InstanceType"), str_field(item, "InstanceId")) {
        (Some(kind), Some(instance_id)) => match parse_instance_type(&kind) {
            Some(instance_type) => Some(BindTarget {
                instance_type,
                instance_id,
                private_ip_address: str_field(item, "PrivateIpAddress"),
            }),
            None => {
                tracing::debug!(%allocation_id, instance_type = %kind, "EIP bound to an instance type the operator does not manage");
                None
            }
        },
        _ => None,
    };
    let tags = item
        .get("Tags")
        .and_then(|t| t.get("Tag"))
        .and_then(Value::as_array)
        .map(|tags| {
            tags.iter()
                .filter_map(|t| Some((str_field(t, "Key")?, str_field(t, "Value").unwrap_or_default())))
                .collect()
        })
        .unwrap_or_default();
    Some(CloudEip {
        ip_address: str_field(item, "IpAddress").unwrap_or_default(),
        phase: phase(&status, !locks.is_empty()),
        raw_state: status,
        bound_to,
        charge_type: match str_field(item, "ChargeType").as_deref() {
            Some("PrePaid") => ChargeType::PrePaid,
            _ => ChargeType::PostPaid,
        },
        locks,
        tags,
        bandwidth_mbps: item.get("Bandwidth").and_then(as_u64).and_then(|b| u32::try_from(b).ok()),
        allocation_id,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn describe_items_map_to_cloud_eips() {
        let item = json!({
            "AllocationId": "eip-1", "IpAddress": "47.1.2.3", "Status": "InUse",
            "InstanceType": "EcsInstance", "InstanceId": "i-1", "PrivateIpAddress": "10.0.0.5",
            "ChargeType": "PrePaid", "Bandwidth": "20", "BusinessStatus": "Normal",
            "OperationLocks": {"LockReason": []},
            "Tags": {"Tag": [{"Key": OWNER_TAG, "Value": "uid-1"}, {"Key": "team", "Value": "a"}]}
        });
        let eip = to_cloud_eip(&item).expect("maps");
        assert_eq!(eip.phase, EipPhase::Bound);
        assert_eq!(eip.raw_state, "InUse");
        assert_eq!(eip.charge_type, ChargeType::PrePaid);
        assert_eq!(eip.bandwidth_mbps, Some(20));
        assert_eq!(eip.owner_uid(), Some("uid-1"));
        let bound = eip.bound_to.expect("bound");
        assert_eq!(
            (bound.instance_type, bound.instance_id.as_str(), bound.private_ip_address.as_deref()),
            (InstanceType::EcsInstance, "i-1", Some("10.0.0.5"))
        );

        let locked = json!({
            "AllocationId": "eip-2", "Status": "Available", "InstanceType": "", "InstanceId": "",
            "BusinessStatus": "FinancialLocked", "OperationLocks": {"LockReason": [{"LockReason": "financial"}]}
        });
        let eip = to_cloud_eip(&locked).expect("maps");
        assert_eq!(
            (eip.phase, eip.locks.clone(), eip.bound_to),
            (EipPhase::Locked, vec!["financial".to_owned()], None)
        );
        let business_only = json!({"AllocationId": "eip-3", "Status": "Available", "BusinessStatus": "FinancialLocked"});
        assert_eq!(
            to_cloud_eip(&business_only).expect("maps").locks,
            vec!["FinancialLocked".to_owned()]
        );

        for (status, expected) in [
            ("Available", EipPhase::Unbound),
            ("Associating", EipPhase::Transitional(Transition::Associating)),
            ("Unassociating", EipPhase::Transitional(Transition::Unassociating)),
            ("Releasing", EipPhase::Transitional(Transition::Releasing)),
            ("Modifying", EipPhase::Transitional(Transition::Updating)),
        ] {
            assert_eq!(phase(status, false), expected, "{status}");
        }
        assert!(to_cloud_eip(&json!({"Status": "InUse"})).is_none());
        assert_eq!(eip_items(&json!({"EipAddresses": {"EipAddress": [item]}})).len(), 1);
    }

    #[test]
    fn port_and_vpn_are_refused() {
        for kind in [InstanceType::Port, InstanceType::Vpn] {
            let err = alibaba_instance_type(Operation::Associate, kind).expect_err("not Alibaba");
            assert_eq!(err.blocker, Some(Blocker::InvalidBindingTarget));
            assert!(err.message.contains(kind.as_str()));
        }
        assert_eq!(
            alibaba_instance_type(Operation::Associate, InstanceType::HaVip).expect("ok"),
            "HaVip"
        );
    }

    #[test]
    fn constructor_validates_endpoints() {
        let secrets: Arc<dyn SecretSource> = Arc::new(crate::cloud::StaticSecret(Default::default()));
        assert!(AlibabaProvider::new("cn-hangzhou", None, None, secrets.clone()).is_ok());
        assert!(AlibabaProvider::new("cn-hangzhou", Some("http://127.0.0.1:1"), None, secrets.clone()).is_ok());
        assert!(AlibabaProvider::new("cn-hangzhou", Some("ftp://x"), None, secrets.clone()).is_err());
        let options = AlibabaOptions {
            signature_version: Some(AlibabaSignatureVersion::V1),
            sts_endpoint: Some("not a url".into()),
        };
        assert!(AlibabaProvider::new("cn-hangzhou", None, Some(&options), secrets).is_err());
    }
}
