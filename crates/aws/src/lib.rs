//! Amazon EC2: Elastic IP addresses through the EC2 Query API (version 2016-11-15).
//!
//! | trait call | API |
//! | --- | --- |
//! | `describe` | `DescribeAddresses` with `Filter.1.Name=allocation-id` and up to 50 values (a filter, not `AllocationId.N`: EC2 refuses a whole `AllocationId.N` call when one ID is unknown) |
//! | `find_by_owner` | `DescribeAddresses` with `Filter.1.Name=tag:eip-operator.dev/owner-uid`, `Filter.1.Value.1=<uid>` |
//! | `allocate` | `AllocateAddress` (`Domain=vpc`, `TagSpecification.1` with the owner tags, `PublicIpv4Pool` from the ProviderConfig) |
//! | `associate` | `AssociateAddress` (`InstanceId` or `NetworkInterfaceId`, `PrivateIpAddress`, `AllowReassociation=false`) |
//! | `unassociate` | `DisassociateAddress` (`AssociationId`, the [`BindingHandle`] the Describe reported; without one, a Describe first) |
//! | `release` | `ReleaseAddress` (`AllocationId`) |
//! | `tag` / `untag` | `CreateTags` / `DeleteTags` (`ResourceId.1`, `Tag.N.Key/Value`) |
//! | `list_page` | `DescribeAddresses` without a filter: the account's addresses in the region, one page |
//!
//! DescribeAddresses is not paged by EC2 (it takes no `MaxResults`/`NextToken`): an answer is
//! one complete listing, believed only when it holds nothing but what was asked for (the IDs
//! of the batch, or addresses carrying the owner tag). Answers are XML ([`records`]); errors are
//! classified once ([`errors`]); requests are signed with SigV4 ([`signing`], the `aws-sigv4`
//! crate) and sent through one [`Wire`] (no redirects: credentials go only to the endpoint they
//! are signed for); credentials come from the ProviderConfig's Secret or a web identity
//! ([`credentials`]).
//!
//! Allocation is crash-safe without an idempotency token: `AllocateAddress` takes no
//! `ClientToken`, so the provider declares `idempotent_allocation: false` and the reconciler
//! looks for an address tagged with the object's UID before allocating; the tags are part of
//! the `AllocateAddress` call itself (`TagSpecification`), so an address that exists is always
//! findable by its owner tag, even when the operator crashed before recording it.
//!
//! EC2 completes these calls synchronously: there are no transitional states; the raw state
//! is `associated` or `unassociated` (EC2 reports none; the operator names the two cases).

pub mod client;
pub mod credentials;
pub mod errors;
mod factory;
pub mod records;
pub mod signing;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;

use eip_api::AwsOptions;
use eip_cloud::http::{Wire, WireObserver, invalid_response};
use eip_cloud::{
    AllocateRequest, Allocated, BindTarget, BindingHandle, Blocker, BuildError, Capabilities, CloudEip, CloudError, CloudProvider,
    DESCRIBE_BATCH, EipPhase, InstanceType, ListPage, OWNER_TAG, Operation, Receipt, SecretSource, UnbindRequest, in_batches,
};

use client::{EC2_VERSION, Endpoint, EndpointError, QueryClient, STS_VERSION};
use credentials::{CredentialSource, Session};
pub use factory::AwsFactory;

/// The provider's name, in logs, metrics and the wire observer's calls.
pub const NAME: &str = "aws";

/// The binding target kinds EC2 has: an instance (its primary or a named private IP) or a
/// network interface.
pub const BINDING_TYPES: &[InstanceType] = &[InstanceType::EcsInstance, InstanceType::NetworkInterface];

/// Why no [`AwsProvider`] could be built from a configuration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("region is required")]
    NoRegion,
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    #[error("stsEndpoint: {0}")]
    StsEndpoint(EndpointError),
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

/// An AWS account in one region.
pub struct AwsProvider {
    region: String,
    ec2: QueryClient,
    credentials: CredentialSource,
    public_ipv4_pool: Option<String>,
}

impl AwsProvider {
    /// A provider for `region`; `endpoint` overrides the regional EC2 endpoint (`http://` is
    /// allowed, for the simulator and moto); every request is shown to `observer`.
    pub fn new(
        region: &str,
        endpoint: Option<&str>,
        options: Option<&AwsOptions>,
        secrets: Arc<dyn SecretSource>,
        observer: Option<Arc<dyn WireObserver>>,
    ) -> Result<Self, ConfigError> {
        if region.trim().is_empty() {
            return Err(ConfigError::NoRegion);
        }
        let options = options.cloned().unwrap_or_default();
        let ec2_endpoint = match endpoint {
            Some(url) => Endpoint::parse(url)?,
            None => Endpoint::ec2_for_region(region)?,
        };
        let sts_endpoint = match options.sts_endpoint.as_deref() {
            Some(url) => Endpoint::parse(url).map_err(ConfigError::StsEndpoint)?,
            None => Endpoint::sts_for_region(region)?,
        };
        let wire = Wire::new(NAME)?.observed(observer);
        let sts = QueryClient::new(wire.clone(), sts_endpoint, region, "sts", STS_VERSION);
        Ok(AwsProvider {
            region: region.to_owned(),
            ec2: QueryClient::new(wire, ec2_endpoint, region, "ec2", EC2_VERSION),
            credentials: CredentialSource::new(secrets, sts),
            public_ipv4_pool: options.public_ipv4_pool.filter(|p| !p.is_empty()),
        })
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    async fn call(&self, session: &Session, operation: Operation, action: &str, params: &[(String, String)]) -> Result<String, CloudError> {
        let reply = self.ec2.call(operation, action, params, Some(&session.credentials)).await?;
        Ok(reply.body)
    }

    /// One DescribeAddresses with `filter`; every address must pass `asked`.
    async fn list(
        &self,
        session: &Session,
        operation: Operation,
        filter: &[(String, String)],
        asked: impl Fn(&records::Address) -> bool,
    ) -> Result<Vec<CloudEip>, CloudError> {
        let body = self.call(session, operation, "DescribeAddresses", filter).await?;
        let (addresses, _request_id) = records::addresses(operation, &body)?;
        if let Some(stray) = addresses.iter().find(|a| !asked(a)) {
            return Err(invalid_response(
                operation,
                format!("DescribeAddresses listed {}, which was not asked for", stray.allocation_id),
            ));
        }
        let mut seen = HashSet::new();
        Ok(addresses
            .iter()
            .filter(|a| seen.insert(a.allocation_id.clone()))
            .map(records::Address::to_cloud_eip)
            .collect())
    }

    async fn describe_batch(&self, session: &Session, batch: Vec<String>) -> Result<Vec<CloudEip>, CloudError> {
        let mut filter = vec![("Filter.1.Name".to_owned(), "allocation-id".to_owned())];
        filter.extend(
            batch
                .iter()
                .enumerate()
                .map(|(n, id)| (format!("Filter.1.Value.{}", n + 1), id.clone())),
        );
        let wanted: HashSet<&str> = batch.iter().map(String::as_str).collect();
        self.list(session, Operation::Describe, &filter, |a| wanted.contains(a.allocation_id.as_str()))
            .await
    }

    async fn mutate(
        &self,
        session: &Session,
        operation: Operation,
        action: &str,
        params: &[(String, String)],
    ) -> Result<Receipt, CloudError> {
        let body = self.call(session, operation, action, params).await?;
        Ok(Receipt {
            request_id: records::returned_true(operation, action, &body)?,
        })
    }

    async fn disassociate(&self, session: &Session, request: &UnbindRequest) -> Result<Receipt, CloudError> {
        let operation = Operation::Unassociate;
        let association = match &request.handle {
            Some(handle) => handle.clone(),
            // No handle (an older status): the current association, from a Describe.
            None => {
                let found = self.describe_batch(session, vec![request.allocation_id.clone()]).await?;
                let Some(eip) = found.into_iter().next() else {
                    return Err(CloudError::gone(
                        operation,
                        "InvalidAllocationID.NotFound",
                        format!("The allocation ID '{}' does not exist", request.allocation_id),
                    ));
                };
                match (eip.phase, eip.binding_handle) {
                    (EipPhase::Unbound, _) => return Ok(Receipt::default()),
                    (_, Some(handle)) => handle,
                    (_, None) => return Err(invalid_response(operation, "a bound address without an association ID")),
                }
            }
        };
        let params = [("AssociationId".to_owned(), association.as_str().to_owned())];
        self.mutate(session, operation, "DisassociateAddress", &params).await
    }
}

/// `Tag.N.Key` / `Tag.N.Value` under `prefix`.
fn tag_params(prefix: &str, tags: &BTreeMap<String, String>) -> Vec<(String, String)> {
    tags.iter()
        .enumerate()
        .flat_map(|(n, (key, value))| {
            [
                (format!("{prefix}Tag.{}.Key", n + 1), key.clone()),
                (format!("{prefix}Tag.{}.Value", n + 1), value.clone()),
            ]
        })
        .collect()
}

/// The parameters naming `target` in AssociateAddress; other kinds do not exist on EC2.
pub fn target_params(operation: Operation, target: &BindTarget) -> Result<Vec<(String, String)>, CloudError> {
    let id_param = match target.instance_type {
        InstanceType::EcsInstance => "InstanceId",
        InstanceType::NetworkInterface => "NetworkInterfaceId",
        other => {
            return Err(CloudError::terminal(
                operation,
                Blocker::InvalidBindingTarget,
                "InvalidInstanceType.ValueNotSupported",
                format!("instance type {other} does not exist on AWS; use EcsInstance (an EC2 instance) or NetworkInterface (an ENI)"),
            ));
        }
    };
    let mut params = vec![(id_param.to_owned(), target.instance_id.clone())];
    if let Some(ip) = target.private_ip_address.as_ref().filter(|ip| !ip.is_empty()) {
        params.push(("PrivateIpAddress".to_owned(), ip.clone()));
    }
    Ok(params)
}

#[async_trait]
impl CloudProvider for AwsProvider {
    fn name(&self) -> &str {
        NAME
    }

    /// No client token for AllocateAddress: the owner-tag lookup makes allocation crash-safe.
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            describe_batch: DESCRIBE_BATCH,
            idempotent_allocation: false,
            binding_types: BINDING_TYPES,
            resolved_types: &[],
            force_unbind: false,
        }
    }

    async fn describe(&self, allocation_ids: &[String]) -> Result<Vec<CloudEip>, CloudError> {
        let mut seen = HashSet::new();
        let unique: Vec<String> = allocation_ids
            .iter()
            .filter(|id| !id.is_empty() && seen.insert(id.as_str()))
            .cloned()
            .collect();
        if unique.is_empty() {
            return Ok(Vec::new());
        }
        let session = self.credentials.session(Operation::Describe).await?;
        let result = in_batches(&unique, DESCRIBE_BATCH, |batch| self.describe_batch(&session, batch)).await;
        session.redact(result)
    }

    async fn find_by_owner(&self, owner_uid: &str) -> Result<Vec<CloudEip>, CloudError> {
        let session = self.credentials.session(Operation::FindByOwner).await?;
        let filter = [
            ("Filter.1.Name".to_owned(), format!("tag:{OWNER_TAG}")),
            ("Filter.1.Value.1".to_owned(), owner_uid.to_owned()),
        ];
        let result = self
            .list(&session, Operation::FindByOwner, &filter, |a| {
                a.tags.get(OWNER_TAG).map(String::as_str) == Some(owner_uid)
            })
            .await;
        session.redact(result)
    }

    /// EC2 lists every address of the region in one answer, so there is one page; a cursor is
    /// never handed out, and one that comes back anyway is refused rather than read as "no more".
    async fn list_page(&self, cursor: Option<&str>) -> Result<ListPage, CloudError> {
        if let Some(cursor) = cursor {
            return Err(CloudError::terminal(
                Operation::List,
                Blocker::InvalidRequest,
                "InvalidCursor",
                format!("DescribeAddresses is not paged; no page follows cursor {cursor:?}"),
            ));
        }
        let session = self.credentials.session(Operation::List).await?;
        let result = self.list(&session, Operation::List, &[], |_| true).await;
        session.redact(result).map(|eips| ListPage { eips, next: None })
    }

    async fn allocate(&self, request: &AllocateRequest) -> Result<Allocated, CloudError> {
        let mut params = vec![("Domain".to_owned(), "vpc".to_owned())];
        if let Some(pool) = &self.public_ipv4_pool {
            params.push(("PublicIpv4Pool".to_owned(), pool.clone()));
        }
        if !request.tags.is_empty() {
            params.push(("TagSpecification.1.ResourceType".to_owned(), "elastic-ip".to_owned()));
            params.extend(tag_params("TagSpecification.1.", &request.tags));
        }
        let session = self.credentials.session(Operation::Allocate).await?;
        let result = async {
            let body = self.call(&session, Operation::Allocate, "AllocateAddress", &params).await?;
            let (allocation_id, public_ip, request_id) = records::allocated(&body)?;
            // The answer names the address; the tags are the ones the call set.
            let address = records::Address {
                allocation_id,
                public_ip,
                tags: request.tags.clone(),
                ..records::Address::default()
            };
            Ok(Allocated {
                eip: address.to_cloud_eip(),
                receipt: Receipt { request_id },
            })
        }
        .await;
        session.redact(result)
    }

    async fn associate(&self, allocation_id: &str, target: &BindTarget, _client_token: &str) -> Result<Receipt, CloudError> {
        let mut params = vec![("AllocationId".to_owned(), allocation_id.to_owned())];
        params.extend(target_params(Operation::Associate, target)?);
        params.push(("AllowReassociation".to_owned(), "false".to_owned()));
        let session = self.credentials.session(Operation::Associate).await?;
        let result = async {
            let body = self.call(&session, Operation::Associate, "AssociateAddress", &params).await?;
            let (_association_id, request_id) = records::associated(&body)?;
            Ok(Receipt { request_id })
        }
        .await;
        session.redact(result)
    }

    async fn unassociate(&self, request: &UnbindRequest) -> Result<Receipt, CloudError> {
        let session = self.credentials.session(Operation::Unassociate).await?;
        session.redact(self.disassociate(&session, request).await)
    }

    async fn release(&self, allocation_id: &str, _client_token: &str) -> Result<Receipt, CloudError> {
        let params = [("AllocationId".to_owned(), allocation_id.to_owned())];
        let session = self.credentials.session(Operation::Release).await?;
        session.redact(self.mutate(&session, Operation::Release, "ReleaseAddress", &params).await)
    }

    async fn tag(&self, allocation_id: &str, tags: &BTreeMap<String, String>) -> Result<Receipt, CloudError> {
        let mut params = vec![("ResourceId.1".to_owned(), allocation_id.to_owned())];
        params.extend(tag_params("", tags));
        let session = self.credentials.session(Operation::Tag).await?;
        session.redact(self.mutate(&session, Operation::Tag, "CreateTags", &params).await)
    }

    async fn untag(&self, allocation_id: &str, keys: &[String]) -> Result<Receipt, CloudError> {
        let mut params = vec![("ResourceId.1".to_owned(), allocation_id.to_owned())];
        params.extend(keys.iter().enumerate().map(|(n, key)| (format!("Tag.{}.Key", n + 1), key.clone())));
        let session = self.credentials.session(Operation::Untag).await?;
        session.redact(self.mutate(&session, Operation::Untag, "DeleteTags", &params).await)
    }
}

/// The handle of a binding, as [`records::Address::to_cloud_eip`] reports it.
pub fn association_handle(association_id: &str) -> BindingHandle {
    BindingHandle::new(association_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_instances_and_interfaces_are_targets() {
        let target = |instance_type, ip: Option<&str>| BindTarget {
            instance_type,
            instance_id: "x-1".into(),
            private_ip_address: ip.map(str::to_owned),
        };
        assert_eq!(
            target_params(Operation::Associate, &target(InstanceType::EcsInstance, None)).expect("ok"),
            vec![("InstanceId".to_owned(), "x-1".to_owned())]
        );
        assert_eq!(
            target_params(Operation::Associate, &target(InstanceType::NetworkInterface, Some("10.0.0.5"))).expect("ok"),
            vec![
                ("NetworkInterfaceId".to_owned(), "x-1".to_owned()),
                ("PrivateIpAddress".to_owned(), "10.0.0.5".to_owned())
            ]
        );
        for kind in [
            InstanceType::Nat,
            InstanceType::SlbInstance,
            InstanceType::Port,
            InstanceType::HaVip,
        ] {
            let err = target_params(Operation::Associate, &target(kind, None)).expect_err("not EC2");
            assert_eq!(err.blocker(), Some(Blocker::InvalidBindingTarget));
        }
    }

    #[test]
    fn constructor_validates_endpoints() {
        let secrets: Arc<dyn SecretSource> = Arc::new(eip_cloud::StaticSecret(Default::default()));
        assert!(AwsProvider::new("us-east-1", None, None, secrets.clone(), None).is_ok());
        assert!(AwsProvider::new("us-east-1", Some("http://127.0.0.1:1/aws"), None, secrets.clone(), None).is_ok());
        let options = AwsOptions {
            sts_endpoint: Some("nope".into()),
            ..AwsOptions::default()
        };
        assert!(matches!(
            AwsProvider::new("us-east-1", None, Some(&options), secrets.clone(), None).err(),
            Some(ConfigError::StsEndpoint(_))
        ));
        assert_eq!(
            AwsProvider::new(" ", None, None, secrets, None).err().map(BuildError::from),
            Some(BuildError::Invalid("region is required".into()))
        );
    }
}
