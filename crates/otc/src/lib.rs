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
//! | tag | `POST /v2.0/{project_id}/publicips/{id}/tags/action` `{"action":"create","tags":[{"key","value"}]}` (204) |
//! | untag | the same with `{"action":"delete","tags":[{"key"}]}` (204) |
//!
//! # What an answer proves
//! Absence is a fact only when proven: by a well-formed list that honoured the `id` filter, or a
//! 404 with the cloud's own NotFound code (`VPC.0504`). Every answer is read into typed records
//! (`answers.rs`); an answer that is not the documented shape (not JSON, a missing or `null` list,
//! a record without an ID, an error code inside a 2xx, a show about another EIP, a mutating 2xx
//! without its success body) is a retryable `InvalidResponse`, never an empty result or a
//! success. An HTML, empty or gateway 404 is never `Gone`. See [`errors`] for classification.
//!
//! Every call goes through the shared [`eip_cloud::http`] layer: redirects are never followed
//! (a security token, an IAM password or a token goes only to the endpoint it is meant for),
//! every request (VPC, batch, tag and IAM calls) is shown to the [`WireObserver`] given with
//! [`OtcProvider::with_wire_observer`] (one batch request for several logical calls), and
//! every error passes through a [`Redactor`] holding the credentials in use (secret key, security
//! token, password, the IAM token, each request's signature).
//!
//! Describing by a list call per batch costs one call for up to 50 EIPs, where a show per ID
//! costs 50; the `id` filter is documented for Huawei Cloud. Should a cloud ignore it (a page
//! holding IDs that were not asked for), the provider notices, shows the missing IDs one by one
//! and keeps doing so.
//!
//! Open Telekom Cloud and Huawei Cloud bind EIPs to Neutron ports, not to servers. `Port` takes
//! the port ID; `EcsInstance` takes a server ID and binds its primary port, looked up with
//! `GET /v1/{project_id}/ports?device_id=<server>` ([`ports`]; `resolve_target`, which the
//! reconciler calls to know which port to expect bound); `NetworkInterface`, `HaVip` and
//! `IpAddress` targets are refused (terminal, `InvalidBindingTarget`). Where the
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
//! is no longer recognised as the operator's. `find_by_owner` lists the whole project (at most
//! 200 pages; a longer walk is a retryable error, as a partial list would claim the rest does
//! not exist), which is fine for the rare crash recovery it serves.
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
//! Once any key of a set is present, the set's other required keys must be too (a terminal
//! `InvalidCredentials` naming the missing key); a value that cannot be sent (control
//! characters; for `accessKey` and `securityToken`, which go in headers, anything but printable
//! ASCII) is the same terminal error naming its key.

mod answers;
mod batch;
pub mod client;
mod describe;
pub mod errors;
mod factory;
#[doc(hidden)]
pub mod fuzzing;
mod mutations;
pub mod ports;
pub mod records;
mod settings;
pub mod signing;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::Value;
use tokio::time::Instant;

pub use self::settings::{BATCH_MAX, BATCH_WINDOW, OtcCloud, OtcSettings};
pub use factory::OtcFactory;

use self::batch::Coalescer;
use self::client::{Auth, Call, Credentials, Scope, Token};
use eip_cloud::http::{Answer, Wire, WireObserver};
use eip_cloud::redact::Redactor;
use eip_cloud::{
    AllocateRequest, Allocated, BindTarget, BuildError, Capabilities, CloudEip, CloudError, CloudProvider, DESCRIBE_BATCH, InstanceType,
    Operation, Receipt, SecretSource, UnbindRequest, in_batches,
};

/// A [`CloudProvider`] for one Open Telekom Cloud / Huawei Cloud project (region).
#[derive(Clone)]
pub struct OtcProvider {
    inner: Arc<Inner>,
}

struct Inner {
    settings: OtcSettings,
    name: &'static str,
    /// The HTTP client; every request goes through [`Wire::send`], shown to its observer.
    wire: Wire,
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

/// The provider's name, for logs, metrics and the wire observer.
fn provider_name(cloud: OtcCloud) -> &'static str {
    match cloud {
        OtcCloud::OpenTelekomCloud => "otc",
        OtcCloud::HuaweiCloud => "huawei",
    }
}

/// The credentials of one provider call, and a redactor for their secrets.
struct Session {
    credentials: Credentials,
    redactor: Redactor,
}

impl OtcProvider {
    /// Fails only when the HTTP client cannot be built ([`BuildError::Http`]).
    pub fn new(settings: OtcSettings, secrets: Arc<dyn SecretSource>) -> Result<Self, BuildError> {
        let wire = Wire::new(provider_name(settings.cloud))?;
        Ok(OtcProvider::from_parts(settings, secrets, wire))
    }

    /// This provider with every wire request (VPC, batch, tag and IAM calls alike) shown to
    /// `observer`: a batch that carries several logical calls shows as one request. Call it
    /// right after [`OtcProvider::new`]: the provider it returns shares the HTTP client but
    /// starts with empty caches (token, project ID).
    pub fn with_wire_observer(self, observer: Option<Arc<dyn WireObserver>>) -> Self {
        let inner = &self.inner;
        OtcProvider::from_parts(inner.settings.clone(), inner.secrets.clone(), inner.wire.clone().observed(observer))
    }

    fn from_parts(settings: OtcSettings, secrets: Arc<dyn SecretSource>, wire: Wire) -> Self {
        OtcProvider {
            inner: Arc::new(Inner {
                unbinds: Coalescer::new(settings.batch_window, settings.batch_max),
                releases: Coalescer::new(settings.batch_window, settings.batch_max),
                name: provider_name(settings.cloud),
                settings,
                wire,
                secrets,
                project: Mutex::new(None),
                token: tokio::sync::Mutex::new(None),
                id_filter_works: AtomicBool::new(true),
            }),
        }
    }

    pub fn settings(&self) -> &OtcSettings {
        &self.inner.settings
    }

    /// Runs `work` with this call's session; every error it returns is redacted.
    async fn with_session<T, F>(&self, operation: Operation, work: impl FnOnce(Arc<Inner>, Arc<Session>) -> F) -> Result<T, CloudError>
    where
        F: Future<Output = Result<T, CloudError>>,
    {
        let session = Arc::new(self.inner.session(operation).await.map_err(|e| Redactor::default().error(e))?);
        work(self.inner.clone(), session.clone())
            .await
            .map_err(|e| session.redactor.error(e))
    }
}

impl Inner {
    /// Reads and checks the credentials.
    async fn session(&self, operation: Operation) -> Result<Session, CloudError> {
        let data = self.secrets.read().await.map_err(|mut e| {
            e.operation = operation;
            e
        })?;
        let credentials = Credentials::from_secret(operation, &data)?;
        Ok(Session {
            redactor: credentials.redactor(),
            credentials,
        })
    }

    fn project_name(&self) -> &str {
        self.settings.project_name.as_deref().unwrap_or(&self.settings.region)
    }

    fn v3(&self) -> bool {
        self.settings.v3_bindings
    }

    /// The project ID for AK/SK credentials: configured, or resolved by name (cached).
    async fn project_id(&self, operation: Operation, credentials: &Credentials, redactor: &mut Redactor) -> Result<String, CloudError> {
        if let Some(id) = &self.settings.project_id {
            return Ok(id.clone());
        }
        let key = client::token_key(credentials, self.project_name());
        if let Some((cached_key, id)) = self.project.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_ref()
            && *cached_key == key
        {
            return Ok(id.clone());
        }
        let id = client::resolve_project(
            &self.wire,
            &self.settings.iam_endpoint,
            operation,
            credentials,
            self.project_name(),
            redactor,
        )
        .await?;
        *self.project.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some((key, id.clone()));
        Ok(id)
    }

    /// A valid token for password credentials (fetched, or renewed, when needed); its value is
    /// added to `redactor`.
    async fn token(
        &self,
        operation: Operation,
        credentials: &Credentials,
        renew: bool,
        redactor: &mut Redactor,
    ) -> Result<Token, CloudError> {
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
            redactor.extend([token.value.as_str()]);
            return Ok(token.clone());
        }
        let mut token = client::fetch_token(&self.wire, &self.settings.iam_endpoint, operation, credentials, &scope, redactor).await?;
        token.key = key;
        *cached = Some(token.clone());
        Ok(token)
    }

    /// One VPC/EIP call (`{project}` in `path` is replaced) with the session's credentials,
    /// its answer read by `read`. The only way the provider talks to the cloud: every error it
    /// returns is redacted with the secrets in use, the token and the signature included.
    #[allow(clippy::too_many_arguments)]
    async fn exchange<T>(
        &self,
        session: &Session,
        operation: Operation,
        method: Method,
        path: &str,
        query: Vec<(String, String)>,
        body: Option<Value>,
        read: impl FnOnce(&Answer) -> Result<T, CloudError>,
    ) -> Result<T, CloudError> {
        let mut redactor = session.redactor.clone();
        let answer = self.send(session, &mut redactor, operation, method, path, query, body).await;
        answer.and_then(|answer| read(&answer)).map_err(|e| redactor.error(e))
    }

    #[allow(clippy::too_many_arguments)]
    async fn send(
        &self,
        session: &Session,
        redactor: &mut Redactor,
        operation: Operation,
        method: Method,
        path: &str,
        query: Vec<(String, String)>,
        body: Option<Value>,
    ) -> Result<Answer, CloudError> {
        let credentials = &session.credentials;
        match credentials {
            Credentials::AkSk {
                access_key,
                secret_key,
                security_token,
            } => {
                let project = self.project_id(operation, credentials, redactor).await?;
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
                client::send(&self.wire, &call, &auth, redactor).await
            }
            Credentials::Password { .. } => {
                let mut token = self.token(operation, credentials, false, redactor).await?;
                let mut call = Call {
                    operation,
                    method,
                    base: &self.settings.endpoint,
                    path: path.replace("{project}", &token.project_id),
                    query,
                    body,
                };
                let answer = client::send(&self.wire, &call, &Auth::Token(&token.value), redactor).await?;
                if answer.status != 401 {
                    return Ok(answer);
                }
                // Revoked or expired early: one more try with a fresh token.
                tracing::debug!(provider = self.name, %operation, "token refused (401); fetching a new one");
                token = self.token(operation, credentials, true, redactor).await?;
                call.path = path.replace("{project}", &token.project_id);
                client::send(&self.wire, &call, &Auth::Token(&token.value), redactor).await
            }
        }
    }
}

/// The binding target kinds OTC / Huawei Cloud have: ports (v1), and NAT gateways, load
/// balancers and VPN gateways (v3 associate-instance).
pub const BINDING_TYPES: &[InstanceType] = &[
    InstanceType::EcsInstance,
    InstanceType::Port,
    InstanceType::Nat,
    InstanceType::SlbInstance,
    InstanceType::Vpn,
];

/// The kinds bound through another resource: a server (`EcsInstance`) through its port.
pub const RESOLVED_TYPES: &[InstanceType] = &[InstanceType::EcsInstance];

#[async_trait]
impl CloudProvider for OtcProvider {
    fn name(&self) -> &str {
        self.inner.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            binding_types: BINDING_TYPES,
            resolved_types: RESOLVED_TYPES,
            // The EIP API has no force: SNAT/DNAT rules must be deleted in the NAT gateway first.
            force_unbind: false,
            ..Capabilities::default()
        }
    }

    /// OTC / Huawei Cloud finish creates, binds and unbinds in about two seconds and deletes in
    /// about three (the Terraform providers wait 5 s before their first look at a deletion).
    fn expected_transition(&self, operation: Operation) -> Duration {
        match operation {
            Operation::Release => Duration::from_secs(3),
            Operation::Allocate | Operation::Associate | Operation::Unassociate => Duration::from_secs(2),
            Operation::Describe
            | Operation::FindByOwner
            | Operation::Tag
            | Operation::Untag
            | Operation::ResolveTarget
            | Operation::List => Duration::from_secs(1),
        }
    }

    async fn describe(&self, allocation_ids: &[String]) -> Result<Vec<CloudEip>, CloudError> {
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<String> = allocation_ids.iter().filter(|id| seen.insert(id.as_str())).cloned().collect();
        if unique.is_empty() {
            return Ok(Vec::new());
        }
        self.with_session(Operation::Describe, |inner, session| async move {
            let (inner, session) = (&inner, &session);
            in_batches(&unique, DESCRIBE_BATCH, |batch| async move {
                inner.describe_batch(session, &batch).await
            })
            .await
        })
        .await
    }

    async fn find_by_owner(&self, owner_uid: &str) -> Result<Vec<CloudEip>, CloudError> {
        let owner_uid = owner_uid.to_owned();
        self.with_session(Operation::FindByOwner, |inner, session| async move {
            let all = inner.list_all(&session, Operation::FindByOwner).await?;
            Ok(all.into_iter().filter(|eip| eip.owner_uid() == Some(owner_uid.as_str())).collect())
        })
        .await
    }

    /// One page of the project's EIPs: v1 pages by the last ID (an empty page ends), v3 by
    /// `page_info.next_marker`.
    async fn list_page(&self, cursor: Option<&str>) -> Result<eip_cloud::ListPage, CloudError> {
        let cursor = cursor.map(str::to_owned);
        self.with_session(Operation::List, |inner, session| async move {
            inner.list_one(&session, cursor.as_deref()).await
        })
        .await
    }

    async fn allocate(&self, request: &AllocateRequest) -> Result<Allocated, CloudError> {
        let request = request.clone();
        self.with_session(Operation::Allocate, |inner, session| async move {
            inner.allocate(&session, &request).await
        })
        .await
    }

    async fn associate(&self, allocation_id: &str, target: &BindTarget, _client_token: &str) -> Result<Receipt, CloudError> {
        let (id, target) = (allocation_id.to_owned(), target.clone());
        self.with_session(Operation::Associate, |inner, session| async move {
            inner.associate(&session, &id, &target).await
        })
        .await
    }

    async fn unassociate(&self, request: &UnbindRequest) -> Result<Receipt, CloudError> {
        let (id, current) = (request.allocation_id.clone(), request.current.clone());
        self.with_session(Operation::Unassociate, |inner, session| async move {
            if inner.settings.batch_operations {
                inner.batched(mutations::BatchKind::Unbind, &id).await
            } else {
                inner.single_unbind(&session, &id, &current).await
            }
        })
        .await
    }

    async fn release(&self, allocation_id: &str, _client_token: &str) -> Result<Receipt, CloudError> {
        let id = allocation_id.to_owned();
        self.with_session(Operation::Release, |inner, session| async move {
            if inner.settings.batch_operations {
                inner.batched(mutations::BatchKind::Release, &id).await
            } else {
                inner.single_release(&session, &id).await
            }
        })
        .await
    }

    async fn tag(&self, allocation_id: &str, tags: &std::collections::BTreeMap<String, String>) -> Result<Receipt, CloudError> {
        let (id, tags) = (allocation_id.to_owned(), tags.clone());
        self.with_session(
            Operation::Tag,
            |inner, session| async move { inner.tag(&session, &id, &tags).await },
        )
        .await
    }

    async fn resolve_target(&self, target: &BindTarget) -> Result<BindTarget, CloudError> {
        if target.instance_type != InstanceType::EcsInstance {
            return Ok(target.clone());
        }
        let target = target.clone();
        self.with_session(Operation::ResolveTarget, |inner, session| async move {
            inner.server_port(&session, &target).await
        })
        .await
    }

    async fn untag(&self, allocation_id: &str, keys: &[String]) -> Result<Receipt, CloudError> {
        let (id, keys) = (allocation_id.to_owned(), keys.to_vec());
        self.with_session(
            Operation::Untag,
            |inner, session| async move { inner.untag(&session, &id, &keys).await },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::Router;
    use axum::extract::Path;
    use axum::response::IntoResponse;
    use axum::routing::get;
    use serde_json::json;

    use super::*;
    use eip_cloud::StaticSecret;
    use eip_simulator::{SIM_ACCESS_KEY_ID, SIM_ACCESS_KEY_SECRET, Simulator, SimulatorConfig, server};

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
    fn credentials_debug_hides_secrets() {
        let data: eip_cloud::SecretData = [("accessKey", "AK"), ("secretKey", "very-secret")]
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
