//! Open Telekom Cloud and Huawei Cloud: one provider for both (they share the VPC EIP API).
//!
//! # Calls
//! | operation | call |
//! | --- | --- |
//! | allocate | `POST /v1/{project_id}/publicips`, then tags: `POST /v2.0/{project_id}/publicips/{id}/tags/action` |
//! | describe | one list call per batch of ≤ 50 IDs: `GET /v1/{project_id}/publicips?id=…&id=…` (v3 regions: `GET /v3/{project_id}/eip/publicips?id=…`, whose records name NAT gateways and load balancers); `GET …/publicips/{id}` per ID if the list ignores the `id` filter |
//! | find_by_owner | every page of the same list (`marker` paging), filtered here |
//! | associate | `Port`: `PUT /v1/{project_id}/publicips/{id}` `{"publicip":{"port_id":…}}`; `Nat`, `SlbInstance`, `Vpn`: v3 `associate-instance` (`NATGW`, `ELB`, `VPN`) |
//! | unassociate | ports: the v1 `PUT` with a blank `port_id`; NAT gateways, load balancers (state `ELB`, no port) and VPNs: v3 `disassociate-instance`; batched: `PATCH /v2/{project_id}/batchpublicips` |
//! | release | `DELETE /v1/{project_id}/publicips/{id}` (204; 404 `VPC.0504` = gone); batched: `DELETE /v2/{project_id}/batchpublicips` |
//!
//! Describing by a list call per batch costs one call for up to 50 EIPs, where a show per ID
//! costs 50; the `id` filter is documented for Huawei Cloud. Should a cloud ignore it (a page
//! holding IDs that were not asked for), the provider notices, shows the missing IDs one by one
//! and keeps doing so.
//!
//! Open Telekom Cloud and Huawei Cloud bind EIPs to Neutron ports, not to servers. `Port` takes
//! the port ID; `EcsInstance`, `NetworkInterface`, `HaVip` and `IpAddress` targets are refused
//! (terminal, `InvalidBindingTarget`) with a message naming the port to use instead. Where the
//! v3 API is off (`spec.otc.v3Bindings: false`; the default in OTC `eu-nl`), binding to NAT
//! gateways, load balancers and VPNs and unbinding them is refused the same way, as the v1 API
//! cannot do it. `force` (NAT gateways with SNAT/DNAT rules) is not supported: the rules must be
//! deleted in the NAT gateway first (`VPC.0513`-style refusals stay terminal).
//!
//! # Crash-safe allocation
//! The create call has no idempotency token. The owner is therefore written into the create
//! call itself: the bandwidth of an EIP allocated for owner `uid` is named `eip-operator-<uid>`,
//! and `find_by_owner` matches that name as well as the owner tag, so an allocation whose answer
//! was lost, or after which the process died, is found again. Tags are set right after the
//! create call (`POST /v2.0/{project_id}/publicips/{id}/tags/action`); if that call fails the
//! allocation still succeeds (logged), the owner stays recorded in the bandwidth name and in
//! [`CloudEip::tags`], and only the console shows no tags. Residual window: an EIP that was
//! created, not tagged, and whose bandwidth someone renamed before the operator looked again
//! is no longer recognised as the operator's. `find_by_owner` lists the whole project (bounded
//! to 200 pages), which is fine for the rare crash recovery it serves.
//! Tags keep to the clouds' rules (keys `A-Za-z0-9_-`, ≤ 36 characters; values `A-Za-z0-9_.-`,
//! ≤ 43): the owner tags are written as `eip-operator_owner-uid` and `eip-operator_owner`
//! (`namespace_name`) and read back under their usual keys.
//!
//! # Credentials (Secret keys)
//! `accessKey` + `secretKey` (+ `securityToken` for temporary credentials): AK/SK signing
//! (`SDK-HMAC-SHA256`). Or `username` + `password` + `domainName`: IAM password tokens
//! (`POST {iam}/v3/auth/tokens`, cached, renewed an hour before they expire, fetched again once
//! on a 401). The project is `spec.otc.projectId`, or the project named `projectName` (default:
//! the region's name), resolved once through IAM. Secret values never appear in logs, Events,
//! errors or status. IAM is `spec.otc.iamEndpoint`; without it, next to an overridden `endpoint`
//! (`https://vpc.X` → `https://iam.X`; an endpoint without a `vpc.` label serves IAM itself, like
//! the simulator), else `https://iam.<region>.otc.t-systems.com` / `.myhuaweicloud.com`.

mod batch;
pub mod client;
pub mod errors;
pub mod records;
pub mod signing;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::time::Instant;

use self::batch::{Coalescer, Joined, Waiter, distinct_ids};
use self::client::{Answer, Auth, Call, Credentials, Scope, Token};
use self::records::{V1Publicip, V3Publicip, owner_marker, tag_to_wire, v3_instance_type};
use crate::api::OtcOptions;
use crate::cloud::{
    AllocateRequest, Allocated, BindTarget, Blocker, ChargeType, CloudEip, CloudError, CloudProvider, DESCRIBE_BATCH, ErrorClass,
    InstanceType, OWNER_TAG, Operation, Receipt, SecretSource,
};

/// Which cloud: decides the default endpoints and defaults of the options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtcCloud {
    OpenTelekomCloud,
    HuaweiCloud,
}

/// How the provider talks to the cloud.
#[derive(Clone, Debug)]
pub struct OtcSettings {
    pub cloud: OtcCloud,
    pub region: String,
    /// VPC endpoint (`https://vpc.<region>.otc.t-systems.com`), no trailing slash.
    pub endpoint: String,
    /// IAM endpoint (`https://iam.<region>.otc.t-systems.com`), no trailing slash.
    pub iam_endpoint: String,
    pub project_id: Option<String>,
    pub project_name: Option<String>,
    pub batch_operations: bool,
    pub v3_bindings: bool,
    /// How long the first unbind/release waits for others to join its batch.
    pub batch_window: Duration,
    /// IDs per batch call.
    pub batch_max: usize,
    /// Entries per list page.
    pub page_size: usize,
}

/// Default batching window and batch size.
pub const BATCH_WINDOW: Duration = Duration::from_millis(100);
pub const BATCH_MAX: usize = 50;
/// Pages read at most by one list walk (× `page_size` EIPs).
const MAX_PAGES: usize = 200;

impl OtcSettings {
    /// Settings from a ProviderConfig's `region`, `endpoint` and `otc` options.
    pub fn new(cloud: OtcCloud, region: &str, endpoint: Option<&str>, options: Option<&OtcOptions>) -> Self {
        let domain = match cloud {
            OtcCloud::OpenTelekomCloud => "otc.t-systems.com",
            OtcCloud::HuaweiCloud => "myhuaweicloud.com",
        };
        let options = options.cloned().unwrap_or_default();
        let trim = |url: &str| url.trim().trim_end_matches('/').to_owned();
        let endpoint_override = endpoint.map(trim);
        // IAM: the override; else, next to an overridden VPC endpoint (`vpc.` → `iam.`, or the
        // same base when it has no `vpc.` label, as the simulator serves both); else the public one.
        let iam_endpoint = match (options.iam_endpoint.as_deref(), &endpoint_override) {
            (Some(iam), _) => trim(iam),
            (None, Some(vpc)) => match vpc.split_once("://vpc.") {
                Some((scheme, rest)) => format!("{scheme}://iam.{rest}"),
                None => vpc.clone(),
            },
            (None, None) => format!("https://iam.{region}.{domain}"),
        };
        OtcSettings {
            cloud,
            region: region.to_owned(),
            endpoint: endpoint_override.unwrap_or_else(|| format!("https://vpc.{region}.{domain}")),
            iam_endpoint,
            project_id: options.project_id.clone(),
            project_name: options.project_name.clone(),
            batch_operations: options.batch_operations.unwrap_or(cloud == OtcCloud::HuaweiCloud),
            v3_bindings: options
                .v3_bindings
                .unwrap_or(!(cloud == OtcCloud::OpenTelekomCloud && region == "eu-nl")),
            batch_window: BATCH_WINDOW,
            batch_max: BATCH_MAX,
            page_size: 1000,
        }
    }
}

/// A [`CloudProvider`] for one Open Telekom Cloud / Huawei Cloud project (region).
#[derive(Clone)]
pub struct OtcProvider {
    inner: Arc<Inner>,
}

struct Inner {
    settings: OtcSettings,
    name: &'static str,
    http: reqwest::Client,
    secrets: Arc<dyn SecretSource>,
    /// Project ID resolved from its name (AK/SK), with the credentials' key it was resolved with.
    project: Mutex<Option<(String, String)>>,
    /// IAM token (password credentials); the async mutex makes concurrent callers share one fetch.
    token: tokio::sync::Mutex<Option<Token>>,
    /// False once a list call ignored the `id` filter.
    id_filter_works: AtomicBool,
    unbinds: Coalescer,
    releases: Coalescer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BatchKind {
    Unbind,
    Release,
}

impl BatchKind {
    fn operation(self) -> Operation {
        match self {
            BatchKind::Unbind => Operation::Unassociate,
            BatchKind::Release => Operation::Release,
        }
    }
}

impl OtcProvider {
    pub fn new(settings: OtcSettings, secrets: Arc<dyn SecretSource>) -> Result<Self, String> {
        let http = client::http_client()?;
        let name = match settings.cloud {
            OtcCloud::OpenTelekomCloud => "otc",
            OtcCloud::HuaweiCloud => "huawei",
        };
        Ok(OtcProvider {
            inner: Arc::new(Inner {
                unbinds: Coalescer::new(settings.batch_window, settings.batch_max),
                releases: Coalescer::new(settings.batch_window, settings.batch_max),
                settings,
                name,
                http,
                secrets,
                project: Mutex::new(None),
                token: tokio::sync::Mutex::new(None),
                id_filter_works: AtomicBool::new(true),
            }),
        })
    }

    pub fn settings(&self) -> &OtcSettings {
        &self.inner.settings
    }
}

fn receipt(answer: &Answer) -> Receipt {
    let request_id = answer
        .request_id()
        .or_else(|| {
            answer
                .json()
                .ok()
                .and_then(|v| v["job_ids"].get(0).and_then(Value::as_str).map(str::to_owned))
        })
        .unwrap_or_default();
    Receipt { request_id }
}

fn unexpected(operation: Operation, what: &str, error: impl std::fmt::Display) -> CloudError {
    CloudError::retryable(operation, "UnexpectedResponse", format!("cannot read the {what} answer: {error}"))
}

/// `{"publicip": {...}}` or `{"publicips": [...]}` of a v1 or v3 answer.
fn eips_of(operation: Operation, answer: &Answer, v3: bool, key: &str) -> Result<Vec<CloudEip>, CloudError> {
    let body = answer.json().map_err(|e| unexpected(operation, key, e))?;
    let records: Vec<Value> = match &body[key] {
        Value::Array(items) => items.clone(),
        Value::Object(_) => vec![body[key].clone()],
        _ => Vec::new(),
    };
    records
        .into_iter()
        .map(|record| {
            if v3 {
                V3Publicip::deserialize(record).map(V3Publicip::into_cloud_eip)
            } else {
                V1Publicip::deserialize(record).map(V1Publicip::into_cloud_eip)
            }
            .map_err(|e| unexpected(operation, key, e))
        })
        .collect()
}

impl Inner {
    async fn credentials(&self, operation: Operation) -> Result<Credentials, CloudError> {
        let data = self.secrets.read().await.map_err(|mut e| {
            e.operation = operation;
            e
        })?;
        Credentials::from_secret(operation, &data)
    }

    fn project_name(&self) -> &str {
        self.settings.project_name.as_deref().unwrap_or(&self.settings.region)
    }

    /// The project ID for AK/SK credentials: configured, or resolved by name (cached).
    async fn project_id(&self, operation: Operation, credentials: &Credentials) -> Result<String, CloudError> {
        if let Some(id) = &self.settings.project_id {
            return Ok(id.clone());
        }
        let key = client::token_key(credentials, self.project_name());
        if let Some((cached_key, id)) = self.project.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_ref()
            && *cached_key == key
        {
            return Ok(id.clone());
        }
        let id = client::resolve_project(&self.http, &self.settings.iam_endpoint, operation, credentials, self.project_name()).await?;
        *self.project.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some((key, id.clone()));
        Ok(id)
    }

    /// A valid token for password credentials (fetched, or renewed, when needed).
    async fn token(&self, operation: Operation, credentials: &Credentials, renew: bool) -> Result<Token, CloudError> {
        let scope = match &self.settings.project_id {
            Some(id) => Scope::Id(id),
            None => Scope::Name(self.project_name()),
        };
        let scope_text = match &scope {
            Scope::Id(id) => format!("id:{id}"),
            Scope::Name(name) => format!("name:{name}"),
        };
        let key = client::token_key(credentials, &scope_text);
        let mut cached = self.token.lock().await;
        if !renew
            && let Some(token) = cached.as_ref()
            && token.key == key
            && Instant::now() < token.refresh_at
        {
            return Ok(token.clone());
        }
        let mut token = client::fetch_token(&self.http, &self.settings.iam_endpoint, operation, credentials, &scope).await?;
        token.key = key;
        *cached = Some(token.clone());
        Ok(token)
    }

    /// Sends a VPC/EIP call (`{project}` in `path` is replaced) with the Secret's credentials.
    async fn call(
        &self,
        operation: Operation,
        method: Method,
        path: &str,
        query: Vec<(String, String)>,
        body: Option<Value>,
    ) -> Result<Answer, CloudError> {
        let credentials = self.credentials(operation).await?;
        match &credentials {
            Credentials::AkSk {
                access_key,
                secret_key,
                security_token,
            } => {
                let project = self.project_id(operation, &credentials).await?;
                let call = Call {
                    operation,
                    method,
                    base: &self.settings.endpoint,
                    path: path.replace("{project}", &project),
                    query,
                    body,
                };
                let auth = Auth::Signed {
                    access_key,
                    secret_key,
                    security_token: security_token.as_deref(),
                    project_id: Some(&project),
                };
                client::send(&self.http, &call, &auth).await
            }
            Credentials::Password { .. } => {
                let mut token = self.token(operation, &credentials, false).await?;
                let mut call = Call {
                    operation,
                    method,
                    base: &self.settings.endpoint,
                    path: path.replace("{project}", &token.project_id),
                    query,
                    body,
                };
                let answer = client::send(&self.http, &call, &Auth::Token(&token.value)).await?;
                if answer.status != 401 {
                    return Ok(answer);
                }
                // Revoked or expired early: one more try with a fresh token.
                tracing::debug!(provider = self.name, %operation, "token refused (401); fetching a new one");
                token = self.token(operation, &credentials, true).await?;
                call.path = path.replace("{project}", &token.project_id);
                client::send(&self.http, &call, &Auth::Token(&token.value)).await
            }
        }
    }

    /// Like [`Inner::call`], turning an error answer into a classified error.
    async fn call_ok(
        &self,
        operation: Operation,
        method: Method,
        path: &str,
        query: Vec<(String, String)>,
        body: Option<Value>,
    ) -> Result<Answer, CloudError> {
        let answer = self.call(operation, method, path, query, body).await?;
        if answer.ok() {
            Ok(answer)
        } else {
            Err(answer.into_error(operation))
        }
    }

    fn v3(&self) -> bool {
        self.settings.v3_bindings
    }

    fn list_path(&self) -> &'static str {
        if self.v3() {
            "/v3/{project}/eip/publicips"
        } else {
            "/v1/{project}/publicips"
        }
    }

    /// One EIP by ID; `None` when it does not exist.
    async fn show(&self, operation: Operation, id: &str) -> Result<Option<CloudEip>, CloudError> {
        let path = format!("{}/{}", self.list_path(), signing::encode(id));
        match self.call_ok(operation, Method::GET, &path, Vec::new(), None).await {
            Ok(answer) => Ok(eips_of(operation, &answer, self.v3(), "publicip")?.into_iter().next()),
            Err(err) if err.class == ErrorClass::Gone => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// One list page; also returns the next marker, if any.
    async fn list_page(
        &self,
        operation: Operation,
        mut query: Vec<(String, String)>,
        marker: Option<&str>,
    ) -> Result<(Vec<CloudEip>, Option<String>), CloudError> {
        if let Some(marker) = marker {
            query.push(("marker".into(), marker.to_owned()));
        }
        let answer = self.call_ok(operation, Method::GET, self.list_path(), query, None).await?;
        let eips = eips_of(operation, &answer, self.v3(), "publicips")?;
        let next = if self.v3() {
            answer
                .json()
                .ok()
                .and_then(|body| body["page_info"]["next_marker"].as_str().map(str::to_owned))
                .filter(|m| !m.is_empty() && !eips.is_empty())
        } else {
            // v1: the last ID is the next marker; an empty page ends the walk.
            eips.last().map(|eip| eip.allocation_id.clone())
        };
        Ok((eips, next))
    }

    /// Every EIP of the project (bounded walk).
    async fn list_all(&self, operation: Operation) -> Result<Vec<CloudEip>, CloudError> {
        let mut all = Vec::new();
        let mut marker: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let query = vec![("limit".into(), self.settings.page_size.to_string())];
            let (page, next) = self.list_page(operation, query, marker.as_deref()).await?;
            all.extend(page);
            match next {
                Some(next) if marker.as_deref() != Some(next.as_str()) => marker = Some(next),
                _ => return Ok(all),
            }
        }
        tracing::warn!(provider = self.name, pages = MAX_PAGES, "stopped listing EIPs after the page limit");
        Ok(all)
    }

    async fn describe_batch(&self, ids: &[String]) -> Result<Vec<CloudEip>, CloudError> {
        let op = Operation::Describe;
        let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let mut found: Vec<CloudEip> = Vec::new();
        if self.id_filter_works.load(Ordering::Relaxed) {
            let mut query: Vec<(String, String)> = ids.iter().map(|id| ("id".to_owned(), id.clone())).collect();
            query.push(("limit".into(), ids.len().max(1).to_string()));
            let (page, _) = self.list_page(op, query, None).await?;
            if page.iter().any(|eip| !wanted.contains(eip.allocation_id.as_str())) {
                tracing::info!(
                    provider = self.name,
                    "the EIP list ignores the id filter; describing EIPs one by one"
                );
                self.id_filter_works.store(false, Ordering::Relaxed);
            } else {
                return Ok(page);
            }
            found.extend(page.into_iter().filter(|eip| wanted.contains(eip.allocation_id.as_str())));
        }
        for id in ids {
            if found.iter().any(|eip| eip.allocation_id == *id) {
                continue;
            }
            if let Some(eip) = self.show(op, id).await? {
                found.push(eip);
            }
        }
        Ok(found)
    }

    async fn set_tags(&self, id: &str, tags: &BTreeMap<String, String>) -> Result<(), CloudError> {
        let mut wire: Vec<Value> = Vec::new();
        // The owner tags first: the clouds allow 10 (OTC) or 20 tags per EIP.
        let ordered = tags
            .iter()
            .filter(|(k, _)| k.as_str() == OWNER_TAG || k.as_str() == crate::cloud::OWNER_NAME_TAG)
            .chain(
                tags.iter()
                    .filter(|(k, _)| k.as_str() != OWNER_TAG && k.as_str() != crate::cloud::OWNER_NAME_TAG),
            );
        for (key, value) in ordered {
            if let Some((key, value)) = tag_to_wire(key, value)
                && !wire.iter().any(|t| t["key"] == key.as_str())
            {
                wire.push(json!({ "key": key, "value": value }));
            }
        }
        wire.truncate(10);
        if wire.is_empty() {
            return Ok(());
        }
        let path = format!("/v2.0/{{project}}/publicips/{}/tags/action", signing::encode(id));
        self.call_ok(
            Operation::Allocate,
            Method::POST,
            &path,
            Vec::new(),
            Some(json!({ "action": "create", "tags": wire })),
        )
        .await
        .map(|_| ())
    }

    async fn single_unbind(&self, id: &str, current: &BindTarget) -> Result<Receipt, CloudError> {
        let op = Operation::Unassociate;
        let path = format!("/v1/{{project}}/publicips/{}", signing::encode(id));
        let needs_v3 = matches!(
            current.instance_type,
            InstanceType::Nat | InstanceType::SlbInstance | InstanceType::Vpn
        );
        if !needs_v3 {
            let body = json!({ "publicip": { "port_id": "" } });
            return self
                .call_ok(op, Method::PUT, &path, Vec::new(), Some(body))
                .await
                .map(|a| receipt(&a));
        }
        if !self.v3() {
            return Err(CloudError::terminal(
                op,
                Blocker::Other,
                "V3BindingsUnavailable",
                format!(
                    "the EIP is bound to {} ({}); only the v3 disassociate-instance API can unbind it, and it is off for region {} \
                     (spec.otc.v3Bindings). Unbind it in the load balancer / NAT gateway / VPN service, or enable v3Bindings where the region offers it",
                    if current.instance_id.is_empty() {
                        "an instance"
                    } else {
                        current.instance_id.as_str()
                    },
                    current.instance_type,
                    self.settings.region
                ),
            ));
        }
        let path = format!("/v3/{{project}}/eip/publicips/{}/disassociate-instance", signing::encode(id));
        self.call_ok(op, Method::POST, &path, Vec::new(), None).await.map(|a| receipt(&a))
    }

    async fn single_release(&self, id: &str) -> Result<Receipt, CloudError> {
        let path = format!("/v1/{{project}}/publicips/{}", signing::encode(id));
        self.call_ok(Operation::Release, Method::DELETE, &path, Vec::new(), None)
            .await
            .map(|a| receipt(&a))
    }

    /// Joins (or opens) a batch and waits for this ID's result.
    async fn batched(self: &Arc<Self>, kind: BatchKind, id: &str) -> Result<Receipt, CloudError> {
        let coalescer = match kind {
            BatchKind::Unbind => &self.unbinds,
            BatchKind::Release => &self.releases,
        };
        let (tx, rx) = oneshot::channel();
        match coalescer.join(id, tx) {
            Joined::Opened(batch_id) => {
                let inner = self.clone();
                let window = coalescer.window;
                tokio::spawn(async move {
                    tokio::time::sleep(window).await;
                    let coalescer = match kind {
                        BatchKind::Unbind => &inner.unbinds,
                        BatchKind::Release => &inner.releases,
                    };
                    let waiters = coalescer.take(batch_id);
                    inner.send_batch(kind, waiters).await;
                });
            }
            Joined::Added => {}
            Joined::Full(waiters) => {
                let inner = self.clone();
                tokio::spawn(async move { inner.send_batch(kind, waiters).await });
            }
        }
        rx.await.unwrap_or_else(|_| {
            Err(CloudError::retryable(
                kind.operation(),
                "BatchAborted",
                "the batch this call joined was dropped; try again",
            ))
        })
    }

    async fn send_batch(self: Arc<Self>, kind: BatchKind, waiters: Vec<(String, Waiter)>) {
        if waiters.is_empty() {
            return;
        }
        let op = kind.operation();
        let ids = distinct_ids(&waiters);
        let outcome = if ids.len() == 1 {
            None
        } else {
            let method = match kind {
                BatchKind::Unbind => Method::PATCH,
                BatchKind::Release => Method::DELETE,
            };
            let body = json!({ "publicip_ids": ids });
            Some(
                self.call_ok(op, method, "/v2/{project}/batchpublicips", Vec::new(), Some(body))
                    .await,
            )
        };
        match outcome {
            Some(Ok(answer)) => {
                let receipt = receipt(&answer);
                for (_, waiter) in waiters {
                    let _ = waiter.send(Ok(receipt.clone()));
                }
            }
            Some(Err(err)) if err.throttled => {
                for (_, waiter) in waiters {
                    let _ = waiter.send(Err(err.clone()));
                }
            }
            other => {
                if let Some(Err(err)) = &other {
                    tracing::info!(provider = self.name, %op, code = %err.code, ids = ids.len(), "batch call failed; falling back to single calls");
                }
                let results = futures::future::join_all(ids.iter().map(|id| async {
                    let result = match kind {
                        BatchKind::Unbind => self.unbind_any(id).await,
                        BatchKind::Release => self.single_release(id).await,
                    };
                    (id.clone(), result)
                }))
                .await;
                for (id, waiter) in waiters {
                    let result = results
                        .iter()
                        .find(|(rid, _)| *rid == id)
                        .map(|(_, r)| r.clone())
                        .unwrap_or_else(|| Err(CloudError::retryable(op, "BatchAborted", "no result for this ID")));
                    let _ = waiter.send(result);
                }
            }
        }
    }

    /// A single unbind when only the ID is known (batch fallback): looks the binding up first.
    async fn unbind_any(&self, id: &str) -> Result<Receipt, CloudError> {
        let current = match self.show(Operation::Unassociate, id).await? {
            None => {
                return Err(CloudError::gone(
                    Operation::Unassociate,
                    "VPC.0504",
                    format!("EIP {id} does not exist"),
                ));
            }
            Some(eip) => eip.bound_to,
        };
        let current = current.unwrap_or(BindTarget {
            instance_type: InstanceType::Port,
            instance_id: String::new(),
            private_ip_address: None,
        });
        self.single_unbind(id, &current).await
    }
}

#[async_trait]
impl CloudProvider for OtcProvider {
    fn name(&self) -> &str {
        self.inner.name
    }

    /// OTC / Huawei Cloud finish creates, binds and unbinds in about two seconds and deletes in
    /// about three (the Terraform providers wait 5 s before their first look at a deletion).
    fn expected_transition(&self, operation: Operation) -> Duration {
        match operation {
            Operation::Release => Duration::from_secs(3),
            Operation::Allocate | Operation::Associate | Operation::Unassociate => Duration::from_secs(2),
            Operation::Describe | Operation::FindByOwner => Duration::from_secs(1),
        }
    }

    async fn describe(&self, allocation_ids: &[String]) -> Result<Vec<CloudEip>, CloudError> {
        let mut found = Vec::new();
        let mut seen = HashSet::new();
        let unique: Vec<String> = allocation_ids.iter().filter(|id| seen.insert(id.as_str())).cloned().collect();
        for batch in unique.chunks(DESCRIBE_BATCH) {
            found.extend(self.inner.describe_batch(batch).await?);
        }
        Ok(found)
    }

    async fn find_by_owner(&self, owner_uid: &str) -> Result<Vec<CloudEip>, CloudError> {
        let all = self.inner.list_all(Operation::FindByOwner).await?;
        Ok(all.into_iter().filter(|eip| eip.owner_uid() == Some(owner_uid)).collect())
    }

    async fn allocate(&self, request: &AllocateRequest) -> Result<Allocated, CloudError> {
        let op = Operation::Allocate;
        if request.charge_type == ChargeType::PrePaid {
            return Err(CloudError::terminal(
                op,
                Blocker::InvalidRequest,
                "PrepaidNotSupported",
                "yearly/monthly (prepaid) EIPs are bought through the billing service, not created by this operator; use PostPaid",
            ));
        }
        let owner = request.tags.get(OWNER_TAG);
        let clean_name = |name: &str| -> String {
            name.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                        c
                    } else {
                        '-'
                    }
                })
                .take(64)
                .collect()
        };
        let bandwidth_name = match (owner, &request.name) {
            (Some(uid), _) => owner_marker(uid),
            (None, Some(name)) if !clean_name(name).is_empty() => clean_name(name),
            (None, _) => "eip-operator".to_owned(),
        };
        let mut publicip = json!({
            "type": request.isp.clone().unwrap_or_else(|| "5_bgp".to_owned()),
            "ip_version": 4,
        });
        if let Some(alias) = request.name.as_deref().map(clean_name).filter(|a| !a.is_empty()) {
            publicip["alias"] = json!(alias);
        }
        let mut bandwidth = json!({
            "name": bandwidth_name,
            "size": request.bandwidth_mbps.unwrap_or(5),
            "share_type": "PER",
        });
        if let Some(mode) = &request.internet_charge_type {
            let mode = match mode.as_str() {
                "PayByTraffic" | "traffic" => "traffic",
                "PayByBandwidth" | "bandwidth" => "bandwidth",
                other => other,
            };
            bandwidth["charge_mode"] = json!(mode);
        }
        let body = json!({ "publicip": publicip, "bandwidth": bandwidth });
        let answer = self
            .inner
            .call_ok(op, Method::POST, "/v1/{project}/publicips", Vec::new(), Some(body))
            .await?;
        let receipt = receipt(&answer);
        let mut eip = eips_of(op, &answer, false, "publicip")?
            .into_iter()
            .next()
            .ok_or_else(|| unexpected(op, "create", "no publicip in the answer"))?;
        if let Some(uid) = owner {
            eip.tags.insert(OWNER_TAG.to_owned(), uid.clone());
        }
        eip.bandwidth_mbps = eip.bandwidth_mbps.or(Some(request.bandwidth_mbps.unwrap_or(5)));
        match self.inner.set_tags(&eip.allocation_id, &request.tags).await {
            Ok(()) => eip.tags.extend(request.tags.clone()),
            Err(err) => tracing::warn!(
                provider = self.inner.name,
                allocation_id = %eip.allocation_id,
                code = %err.code,
                "could not tag the new EIP; its owner stays recorded in its bandwidth name"
            ),
        }
        Ok(Allocated { eip, receipt })
    }

    async fn associate(&self, allocation_id: &str, target: &BindTarget, _client_token: &str) -> Result<Receipt, CloudError> {
        let op = Operation::Associate;
        let inner = &self.inner;
        match target.instance_type {
            InstanceType::Port => {
                let path = format!("/v1/{{project}}/publicips/{}", signing::encode(allocation_id));
                let body = json!({ "publicip": { "port_id": target.instance_id } });
                inner
                    .call_ok(op, Method::PUT, &path, Vec::new(), Some(body))
                    .await
                    .map(|a| receipt(&a))
            }
            InstanceType::Nat | InstanceType::SlbInstance | InstanceType::Vpn => {
                let Some(kind) = v3_instance_type(target.instance_type).filter(|_| inner.v3()) else {
                    return Err(CloudError::terminal(
                        op,
                        Blocker::InvalidBindingTarget,
                        "V3BindingsUnavailable",
                        format!(
                            "binding an EIP to a {} needs the v3 associate-instance API, which is off for region {} (spec.otc.v3Bindings)",
                            target.instance_type, inner.settings.region
                        ),
                    ));
                };
                let path = format!(
                    "/v3/{{project}}/eip/publicips/{}/associate-instance",
                    signing::encode(allocation_id)
                );
                let body = json!({ "publicip": { "associate_instance_type": kind, "associate_instance_id": target.instance_id } });
                inner
                    .call_ok(op, Method::POST, &path, Vec::new(), Some(body))
                    .await
                    .map(|a| receipt(&a))
            }
            other => Err(CloudError::terminal(
                op,
                Blocker::InvalidBindingTarget,
                "UnsupportedInstanceType",
                format!(
                    "Open Telekom Cloud / Huawei Cloud bind EIPs to ports, not to a {other}: use instanceType Port with the port ID \
                     (for a server, the port of its network interface: `openstack port list --server <server-id>`)"
                ),
            )),
        }
    }

    async fn unassociate(
        &self,
        allocation_id: &str,
        current: &BindTarget,
        _force: bool,
        _client_token: &str,
    ) -> Result<Receipt, CloudError> {
        if self.inner.settings.batch_operations {
            return self.inner.batched(BatchKind::Unbind, allocation_id).await;
        }
        self.inner.single_unbind(allocation_id, current).await
    }

    async fn release(&self, allocation_id: &str, _client_token: &str) -> Result<Receipt, CloudError> {
        if self.inner.settings.batch_operations {
            return self.inner.batched(BatchKind::Release, allocation_id).await;
        }
        self.inner.single_release(allocation_id).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use axum::Router;
    use axum::extract::Path;
    use axum::response::IntoResponse;
    use axum::routing::get;

    use super::*;
    use crate::cloud::StaticSecret;
    use crate::cloud::simulator::{SIM_ACCESS_KEY_ID, SIM_ACCESS_KEY_SECRET, Simulator, SimulatorConfig, server};

    async fn serve(app: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let addr = listener.local_addr().expect("has an address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        format!("http://{addr}")
    }

    fn secret(pairs: &[(&str, &str)]) -> Arc<StaticSecret> {
        Arc::new(StaticSecret(
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        ))
    }

    #[test]
    fn settings_defaults() {
        let otc = OtcSettings::new(OtcCloud::OpenTelekomCloud, "eu-de", None, None);
        assert_eq!(otc.endpoint, "https://vpc.eu-de.otc.t-systems.com");
        assert_eq!(otc.iam_endpoint, "https://iam.eu-de.otc.t-systems.com");
        assert!(otc.v3_bindings && !otc.batch_operations);
        assert!(!OtcSettings::new(OtcCloud::OpenTelekomCloud, "eu-nl", None, None).v3_bindings);
        let huawei = OtcSettings::new(OtcCloud::HuaweiCloud, "ap-southeast-1", Some("http://127.0.0.1:9/"), None);
        assert_eq!(huawei.endpoint, "http://127.0.0.1:9");
        assert_eq!(huawei.iam_endpoint, "http://127.0.0.1:9", "next to the simulator's endpoint");
        let swiss = OtcSettings::new(
            OtcCloud::OpenTelekomCloud,
            "eu-ch2",
            Some("https://vpc.eu-ch2.sc.otc.t-systems.com"),
            None,
        );
        assert_eq!(swiss.iam_endpoint, "https://iam.eu-ch2.sc.otc.t-systems.com");
        assert!(huawei.v3_bindings && huawei.batch_operations);
        let options = OtcOptions {
            project_id: Some("p".into()),
            iam_endpoint: Some("https://iam.example/".into()),
            batch_operations: Some(false),
            v3_bindings: Some(false),
            ..OtcOptions::default()
        };
        let custom = OtcSettings::new(OtcCloud::HuaweiCloud, "eu-west-101", None, Some(&options));
        assert_eq!(custom.iam_endpoint, "https://iam.example");
        assert_eq!(custom.project_id.as_deref(), Some("p"));
        assert!(!custom.batch_operations && !custom.v3_bindings);
    }

    #[test]
    fn credentials_debug_hides_secrets() {
        let data: crate::cloud::SecretData = [("accessKey", "AK"), ("secretKey", "very-secret")]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let credentials = Credentials::from_secret(Operation::Describe, &data).expect("AK/SK");
        assert!(!format!("{credentials:?}").contains("very-secret"));
    }

    #[tokio::test]
    async fn tokens_are_cached_and_fetched_again_after_a_401() {
        let sim = Simulator::new(SimulatorConfig::instant());
        let base = serve(server::router(sim.clone())).await;
        let mut settings = OtcSettings::new(OtcCloud::OpenTelekomCloud, "eu-de", Some(&base), None);
        settings.iam_endpoint = base;
        let provider = OtcProvider::new(
            settings,
            secret(&[("username", "sim-user"), ("password", "sim-password"), ("domainName", "sim-domain")]),
        )
        .expect("builds");
        let ids = vec!["00000000-0000-4000-8000-000000000001".to_owned()];
        provider.describe(&ids).await.expect("describes");
        let first = provider.inner.token.lock().await.clone().expect("cached").value;
        provider.describe(&ids).await.expect("describes");
        assert_eq!(provider.inner.token.lock().await.clone().expect("cached").value, first, "reused");

        // The cloud stops accepting the cached token: one 401, a new token, success.
        if let Some(token) = provider.inner.token.lock().await.as_mut() {
            token.value = "revoked".into();
        }
        provider.describe(&ids).await.expect("retried with a new token");
        let renewed = provider.inner.token.lock().await.clone().expect("cached").value;
        assert!(renewed != "revoked" && renewed != first);

        // Due for renewal: fetched again before use.
        if let Some(token) = provider.inner.token.lock().await.as_mut() {
            token.refresh_at = Instant::now();
        }
        provider.describe(&ids).await.expect("describes");
        assert_ne!(provider.inner.token.lock().await.clone().expect("cached").value, renewed);
        assert_eq!(sim.call_count(Operation::Describe), 4, "no failed call reached the model");
    }

    #[tokio::test]
    async fn a_list_that_ignores_the_id_filter_falls_back_to_show() {
        let lists = Arc::new(AtomicUsize::new(0));
        let shows = Arc::new(AtomicUsize::new(0));
        let record = |id: &str| json!({ "id": id, "status": "DOWN", "public_ip_address": "80.158.0.1", "bandwidth_size": 5 });
        let app = Router::new()
            .route(
                "/v1/{project}/publicips",
                get({
                    let lists = lists.clone();
                    move || {
                        lists.fetch_add(1, Ordering::SeqCst);
                        async move { axum::Json(json!({ "publicips": [record("someone-else")] })) }
                    }
                }),
            )
            .route(
                "/v1/{project}/publicips/{id}",
                get({
                    let shows = shows.clone();
                    move |Path((_, id)): Path<(String, String)>| {
                        shows.fetch_add(1, Ordering::SeqCst);
                        async move {
                            if id == "mine" {
                                axum::Json(json!({ "publicip": record("mine") })).into_response()
                            } else {
                                (
                                    axum::http::StatusCode::NOT_FOUND,
                                    axum::Json(json!({ "code": "VPC.0504", "message": "not found" })),
                                )
                                    .into_response()
                            }
                        }
                    }
                }),
            );
        let base = serve(app).await;
        let mut settings = OtcSettings::new(OtcCloud::OpenTelekomCloud, "eu-nl", Some(&base), None);
        settings.project_id = Some("p".into());
        let provider = OtcProvider::new(
            settings,
            secret(&[("accessKey", SIM_ACCESS_KEY_ID), ("secretKey", SIM_ACCESS_KEY_SECRET)]),
        )
        .expect("builds");
        let ids = vec!["mine".to_owned(), "gone".to_owned()];
        let found = provider.describe(&ids).await.expect("describes");
        assert_eq!(found.iter().map(|e| e.allocation_id.as_str()).collect::<Vec<_>>(), vec!["mine"]);
        assert_eq!((lists.load(Ordering::SeqCst), shows.load(Ordering::SeqCst)), (1, 2));
        let found = provider.describe(&ids).await.expect("describes");
        assert_eq!(found.len(), 1);
        assert_eq!(
            (lists.load(Ordering::SeqCst), shows.load(Ordering::SeqCst)),
            (1, 4),
            "no more lists"
        );
    }
}
