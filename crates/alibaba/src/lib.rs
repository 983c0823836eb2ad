//! Alibaba Cloud: EIPs through the VPC RPC API (version 2016-04-28).
//!
//! | trait call | API |
//! | --- | --- |
//! | `describe` | `DescribeEipAddresses` with up to 50 comma-separated `AllocationId`s, `PageSize=100`, paged |
//! | `find_by_owner` | `DescribeEipAddresses` with `Tag.1.Key=eip-operator.dev/owner-uid`, `Tag.1.Value=<uid>`, paged |
//! | `list_page` | `DescribeEipAddresses` without a filter, `PageSize=100`, `PageNumber` from the cursor (one page a call) |
//! | `allocate` | `AllocateEipAddress` (`ClientToken`, `Tag.N`): the answer and the request describe the EIP |
//! | `associate` | `AssociateEipAddress` (`ClientToken`; Port and Vpn are not Alibaba types: refused before any call) |
//! | `unassociate` | `UnassociateEipAddress` (`ClientToken`, `Force=true` when forced) |
//! | `release` | `ReleaseEipAddress` (the API takes no `ClientToken`; a repeat is `InvalidAllocationId.NotFound`, i.e. gone) |
//! | `tag` | `TagResources` (`ResourceType=EIP`, `ResourceId.1`, `Tag.N.Key/Value`) |
//! | `untag` | `UnTagResources` (`ResourceType=EIP`, `ResourceId.1`, `TagKey.N`) |
//!
//! The tag APIs answer an unknown resource with `InvalidResourceId.NotFound` (404), which means
//! for them what `InvalidAllocationId.NotFound` means for the EIP calls: gone.
//!
//! Requests are signed with V3 (`ACS3-HMAC-SHA256`, the default) or V1 (`HMAC-SHA1`), see
//! [`signing`], and sent through one [`Wire`] (no redirects: credentials go only to the
//! endpoint they are signed for; every request, VPC and STS, shown to the observer given to
//! [`AlibabaProvider::new_observed`]); credentials come from the ProviderConfig's Secret (see
//! [`credentials`]); error codes are classified in [`errors`].
//!
//! Answers are believed only when well-formed ([`records`], [`answers`], [`describe`]): a 2xx
//! must have the documented shape (a `RequestId`, no `Code`, typed fields), and a Describe is an
//! answer only when its listing is complete and holds only what was asked for. Anything else is
//! a retryable `InvalidResponse` — never "the EIP is gone". `Gone` comes only from the cloud's
//! error body naming `InvalidAllocationId.NotFound`. Every error passes through a
//! [`Redactor`](eip_cloud::redact::Redactor) of the credentials in use.
//!
//! Allocation is crash-safe: the reconciler's client token makes a repeated `AllocateEipAddress`
//! return the same EIP, and tagging is idempotent, so a crash between allocation and tagging is
//! repaired by the next attempt.

pub mod answers;
pub mod client;
pub mod credentials;
pub mod describe;
pub mod errors;
mod factory;
#[doc(hidden)]
pub mod fuzzing;
#[cfg(test)]
mod properties;
pub mod records;
pub mod signing;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;

use eip_api::{AlibabaOptions, AlibabaSignatureVersion};
use eip_cloud::http::{Wire, WireObserver};
use eip_cloud::{
    AllocateRequest, Allocated, BindTarget, Blocker, BuildError, Capabilities, ChargeType, CloudEip, CloudError, CloudProvider,
    DESCRIBE_BATCH, EipPhase, InstanceType, OWNER_TAG, Operation, Receipt, SecretSource, UnbindRequest, in_batches,
};

use answers::Reply;
use client::{Endpoint, EndpointError, RpcClient};
use credentials::{CredentialSource, Session};
use describe::{Asked, Listing, Progress};
pub use describe::{PAGE_SIZE, phase, to_cloud_eip};
pub use factory::AlibabaFactory;
use records::{AllocateAnswer, DescribeAnswer, MutatingAnswer};

/// The provider's name, in logs, metrics and the wire observer's calls.
pub const NAME: &str = "alibaba";

/// Why no [`AlibabaProvider`] could be built from a configuration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("region is required")]
    NoRegion,
    /// The VPC endpoint (`spec.endpoint`, or the one of the region).
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    #[error("stsEndpoint: {0}")]
    StsEndpoint(EndpointError),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Http(#[from] BuildError),
}

impl From<ConfigError> for BuildError {
    fn from(err: ConfigError) -> Self {
        match err {
            ConfigError::Http(err) => err,
            invalid => BuildError::Invalid(invalid.to_string()),
        }
    }
}

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
    ) -> Result<Self, ConfigError> {
        Self::new_observed(region, endpoint, options, secrets, None)
    }

    /// [`Self::new`], with every request it puts on the wire (VPC and STS calls alike) shown
    /// to `observer`.
    pub fn new_observed(
        region: &str,
        endpoint: Option<&str>,
        options: Option<&AlibabaOptions>,
        secrets: Arc<dyn SecretSource>,
        observer: Option<Arc<dyn WireObserver>>,
    ) -> Result<Self, ConfigError> {
        if region.trim().is_empty() {
            return Err(ConfigError::NoRegion);
        }
        let endpoint = match endpoint {
            Some(url) => Endpoint::parse(url)?,
            None => Endpoint::vpc_for_region(region)?,
        };
        let options = options.cloned().unwrap_or_default();
        let sts_endpoint = match options.sts_endpoint.as_deref() {
            Some(url) => Endpoint::parse(url).map_err(ConfigError::StsEndpoint)?,
            None => Endpoint::sts_for_region(region)?,
        };
        let signature = options.signature_version.unwrap_or(AlibabaSignatureVersion::V3);
        // No redirects, bounded timeouts, one observer: VPC and STS calls alike.
        let wire = Wire::new(NAME)?.observed(observer);
        Ok(AlibabaProvider {
            region: region.to_owned(),
            client: RpcClient::with_wire(wire.clone(), endpoint, signature),
            credentials: CredentialSource::new(secrets, wire, sts_endpoint),
        })
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    async fn call(
        &self,
        session: &Session,
        operation: Operation,
        action: &str,
        mut params: BTreeMap<String, String>,
    ) -> Result<Reply, CloudError> {
        params.insert("RegionId".into(), self.region.clone());
        self.client.call(operation, action, params, &session.credentials).await
    }

    /// A mutating call whose answer is just `{RequestId}`.
    async fn mutate(
        &self,
        session: &Session,
        operation: Operation,
        action: &str,
        params: BTreeMap<String, String>,
    ) -> Result<Receipt, CloudError> {
        let reply = self.call(session, operation, action, params).await?;
        reply.parse::<MutatingAnswer>(operation)?;
        Ok(Receipt {
            request_id: reply.request_id,
        })
    }

    /// Every EIP `DescribeEipAddresses` lists for `filter`, following the pages; only a
    /// complete, consistent listing is an answer (see [`describe`]).
    async fn list(
        &self,
        session: &Session,
        operation: Operation,
        filter: &BTreeMap<String, String>,
        asked: Asked,
    ) -> Result<Vec<CloudEip>, CloudError> {
        let mut listing = Listing::new(operation, asked);
        loop {
            let mut params = filter.clone();
            params.insert("PageSize".into(), PAGE_SIZE.to_string());
            params.insert("PageNumber".into(), listing.page().to_string());
            let reply = self.call(session, operation, "DescribeEipAddresses", params).await?;
            let answer: DescribeAnswer = reply.parse(operation)?;
            if listing.add(answer)? == Progress::Done {
                return Ok(listing.into_found());
            }
        }
    }

    /// Each allocation ID once (empty ones skipped), in batches of [`DESCRIBE_BATCH`].
    async fn describe_ids(&self, session: &Session, allocation_ids: &[String]) -> Result<Vec<CloudEip>, CloudError> {
        let mut seen = HashSet::new();
        let unique: Vec<String> = allocation_ids
            .iter()
            .filter(|id| !id.is_empty() && seen.insert(id.as_str()))
            .cloned()
            .collect();
        in_batches(&unique, DESCRIBE_BATCH, |batch| self.describe_batch(session, batch)).await
    }

    /// One `DescribeEipAddresses` listing of at most [`DESCRIBE_BATCH`] allocation IDs.
    async fn describe_batch(&self, session: &Session, batch: Vec<String>) -> Result<Vec<CloudEip>, CloudError> {
        let filter = BTreeMap::from([("AllocationId".to_owned(), batch.join(","))]);
        let asked = Asked::Ids(batch.into_iter().collect());
        self.list(session, Operation::Describe, &filter, asked).await
    }

    async fn allocate_with(&self, session: &Session, request: &AllocateRequest) -> Result<Allocated, CloudError> {
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
        let reply = self.call(session, Operation::Allocate, "AllocateEipAddress", params).await?;
        let answer: AllocateAnswer = reply.parse(Operation::Allocate)?;
        Ok(allocated(request, answer, reply.request_id))
    }
}

/// The new EIP: AllocateEipAddress takes the tags (Tag.N) and a replay of the same ClientToken
/// must carry the same parameters, so the answer and the request describe it: no Describe
/// needed. Alibaba allocates synchronously (Available at once).
fn allocated(request: &AllocateRequest, answer: AllocateAnswer, request_id: String) -> Allocated {
    let eip = CloudEip {
        allocation_id: answer.allocation_id.0,
        ip_address: answer.eip_address,
        raw_state: "Available".into(),
        phase: EipPhase::Unbound,
        bound_to: None,
        charge_type: request.charge_type,
        locks: Vec::new(),
        tags: request.tags.clone(),
        bandwidth_mbps: request.bandwidth_mbps,
        binding_handle: None,
        created_at: None,
    };
    Allocated {
        eip,
        receipt: Receipt { request_id },
    }
}

fn add_tags<'a>(params: &mut BTreeMap<String, String>, tags: impl IntoIterator<Item = (&'a String, &'a String)>) {
    for (n, (key, value)) in tags.into_iter().enumerate() {
        params.insert(format!("Tag.{}.Key", n + 1), key.clone());
        params.insert(format!("Tag.{}.Value", n + 1), value.clone());
    }
}

/// `<page>:<total>`, as [`AlibabaProvider::list_page`] wrote it.
fn parse_cursor(cursor: &str) -> Result<(u64, Option<u64>), CloudError> {
    cursor
        .split_once(':')
        .and_then(|(page, total)| Some((page.parse().ok()?, Some(total.parse().ok()?))))
        .ok_or_else(|| {
            CloudError::terminal(
                Operation::List,
                Blocker::Other,
                "InvalidCursor",
                format!("{cursor:?} is not a list cursor of this provider"),
            )
        })
}

/// The tag APIs' NotFound (`InvalidResourceId.NotFound`, from the cloud's own error body) is the
/// EIP being gone, as `InvalidAllocationId.NotFound` is for the EIP calls.
fn resource_gone(err: CloudError) -> CloudError {
    if err.code == "InvalidResourceId.NotFound" && err.class() == eip_cloud::ErrorClass::Terminal {
        err.reclassified(eip_cloud::Failure::Gone)
    } else {
        err
    }
}

/// `ResourceType=EIP`, `ResourceId.1` of the tag APIs.
fn tagged_resource(allocation_id: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("ResourceType".to_owned(), "EIP".to_owned()),
        ("ResourceId.1".to_owned(), allocation_id.to_owned()),
    ])
}

/// Alibaba's `InstanceType` for a bind target; Port and Vpn exist only on OTC / Huawei Cloud.
/// The binding target kinds Alibaba Cloud has.
pub const BINDING_TYPES: &[InstanceType] = &[
    InstanceType::EcsInstance,
    InstanceType::NetworkInterface,
    InstanceType::Nat,
    InstanceType::SlbInstance,
    InstanceType::HaVip,
    InstanceType::IpAddress,
];

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
        NAME
    }

    async fn describe(&self, allocation_ids: &[String]) -> Result<Vec<CloudEip>, CloudError> {
        if allocation_ids.iter().all(|id| id.is_empty()) {
            return Ok(Vec::new());
        }
        let session = self.credentials.session(Operation::Describe).await?;
        session.redact(self.describe_ids(&session, allocation_ids).await)
    }

    async fn find_by_owner(&self, owner_uid: &str) -> Result<Vec<CloudEip>, CloudError> {
        let session = self.credentials.session(Operation::FindByOwner).await?;
        let filter = BTreeMap::from([
            ("Tag.1.Key".to_owned(), OWNER_TAG.to_owned()),
            ("Tag.1.Value".to_owned(), owner_uid.to_owned()),
        ]);
        // Every item must carry the owner tag: a cloud that ignores the filter gives no answer.
        let asked = Asked::Owner(owner_uid.to_owned());
        session.redact(self.list(&session, Operation::FindByOwner, &filter, asked).await)
    }

    /// `DescribeEipAddresses` without a filter, `PageSize=100`; the cursor is
    /// `<next page>:<TotalCount of the first page>`, so each page is held to the first one's
    /// count (a listing that moved between pages is an error, never a shorter list).
    async fn list_page(&self, cursor: Option<&str>) -> Result<eip_cloud::ListPage, CloudError> {
        let (page, total) = match cursor {
            None => (1, None),
            Some(cursor) => parse_cursor(cursor)?,
        };
        let session = self.credentials.session(Operation::List).await?;
        let result = async {
            let mut listing = Listing::resume(Operation::List, Asked::All, page, total);
            let params = BTreeMap::from([
                ("PageSize".to_owned(), PAGE_SIZE.to_string()),
                ("PageNumber".to_owned(), page.to_string()),
            ]);
            let reply = self.call(&session, Operation::List, "DescribeEipAddresses", params).await?;
            let answer: DescribeAnswer = reply.parse(Operation::List)?;
            let next = match listing.add(answer)? {
                Progress::Done => None,
                Progress::More(_) if listing.read_here() < PAGE_SIZE => {
                    return Err(eip_cloud::http::invalid_response(
                        Operation::List,
                        format!("DescribeEipAddresses: page {page} holds fewer than {PAGE_SIZE} items but is not the last"),
                    ));
                }
                Progress::More(next) => Some(format!("{next}:{}", listing.total().unwrap_or_default())),
            };
            Ok(eip_cloud::ListPage {
                eips: listing.into_found(),
                next,
            })
        }
        .await;
        session.redact(result)
    }

    /// `ClientToken` makes AllocateEipAddress idempotent.
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            idempotent_allocation: true,
            binding_types: BINDING_TYPES,
            ..Capabilities::default()
        }
    }

    async fn allocate(&self, request: &AllocateRequest) -> Result<Allocated, CloudError> {
        let session = self.credentials.session(Operation::Allocate).await?;
        session.redact(self.allocate_with(&session, request).await)
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
        let session = self.credentials.session(Operation::Associate).await?;
        session.redact(self.mutate(&session, Operation::Associate, "AssociateEipAddress", params).await)
    }

    async fn unassociate(&self, request: &UnbindRequest) -> Result<Receipt, CloudError> {
        let (allocation_id, current, force, client_token) =
            (&request.allocation_id, &request.current, request.force, &request.client_token);
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
        let session = self.credentials.session(Operation::Unassociate).await?;
        session.redact(self.mutate(&session, Operation::Unassociate, "UnassociateEipAddress", params).await)
    }

    async fn release(&self, allocation_id: &str, _client_token: &str) -> Result<Receipt, CloudError> {
        let params = BTreeMap::from([("AllocationId".to_owned(), allocation_id.to_owned())]);
        let session = self.credentials.session(Operation::Release).await?;
        session.redact(self.mutate(&session, Operation::Release, "ReleaseEipAddress", params).await)
    }

    async fn tag(&self, allocation_id: &str, tags: &BTreeMap<String, String>) -> Result<Receipt, CloudError> {
        let mut params = tagged_resource(allocation_id);
        add_tags(&mut params, tags.iter());
        let session = self.credentials.session(Operation::Tag).await?;
        let result = self.mutate(&session, Operation::Tag, "TagResources", params).await;
        session.redact(result.map_err(resource_gone))
    }

    async fn untag(&self, allocation_id: &str, keys: &[String]) -> Result<Receipt, CloudError> {
        let mut params = tagged_resource(allocation_id);
        for (n, key) in keys.iter().enumerate() {
            params.insert(format!("TagKey.{}", n + 1), key.clone());
        }
        let session = self.credentials.session(Operation::Untag).await?;
        let result = self.mutate(&session, Operation::Untag, "UnTagResources", params).await;
        session.redact(result.map_err(resource_gone))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_and_vpn_are_refused() {
        for kind in [InstanceType::Port, InstanceType::Vpn] {
            let err = alibaba_instance_type(Operation::Associate, kind).expect_err("not Alibaba");
            assert_eq!(err.blocker(), Some(Blocker::InvalidBindingTarget));
            assert!(err.message.contains(kind.as_str()));
        }
        assert_eq!(
            alibaba_instance_type(Operation::Associate, InstanceType::HaVip).expect("ok"),
            "HaVip"
        );
    }

    #[test]
    fn constructor_validates_endpoints() {
        let secrets: Arc<dyn SecretSource> = Arc::new(eip_cloud::StaticSecret(Default::default()));
        assert!(AlibabaProvider::new("cn-hangzhou", None, None, secrets.clone()).is_ok());
        assert!(AlibabaProvider::new("cn-hangzhou", Some("http://127.0.0.1:1"), None, secrets.clone()).is_ok());
        let err = AlibabaProvider::new("cn-hangzhou", Some("ftp://x"), None, secrets.clone()).err();
        assert_eq!(err, Some(ConfigError::Endpoint(EndpointError::Scheme("ftp://x".into()))));
        let options = AlibabaOptions {
            signature_version: Some(AlibabaSignatureVersion::V1),
            sts_endpoint: Some("not a url".into()),
        };
        let err = AlibabaProvider::new("cn-hangzhou", None, Some(&options), secrets.clone())
            .err()
            .expect("refused");
        assert!(matches!(err, ConfigError::StsEndpoint(EndpointError::NotAUrl { .. })), "{err:?}");
        assert!(
            err.to_string().starts_with(r#"stsEndpoint: invalid endpoint "not a url": "#),
            "{err}"
        );
        let err = AlibabaProvider::new(" ", None, None, secrets).err().expect("refused");
        assert_eq!(BuildError::from(err), BuildError::Invalid("region is required".into()));
    }
}
