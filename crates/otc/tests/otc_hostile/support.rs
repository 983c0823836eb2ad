//! A scripted HTTP server for the hostile-endpoint tests, and the providers pointed at it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use eip_cloud::http::INVALID_RESPONSE;
use eip_cloud::{BindTarget, CloudError, ErrorClass, InstanceType, StaticSecret, UnbindRequest};
use eip_otc::{OtcCloud, OtcProvider, OtcSettings};
use serde_json::{Value, json};

pub const PROJECT: &str = "0123456789abcdef0123456789abcdef";
pub const AK: &str = "HOSTILETESTACCESSKEY";
pub const SK: &str = "hostile-secret-key-value-0123456789";
pub const SECURITY_TOKEN: &str = "gQpzZWN1cml0eS10b2tlbi12YWx1ZS0x+/=";
pub const PASSWORD: &str = "hostile-iam-password-42";
pub const ISSUED_TOKEN: &str = "MIIhostileIssuedTokenValue0000000000000000";
pub const ID: &str = "6a1b2c3d-0000-4000-8000-00000000000a";
pub const OTHER: &str = "6a1b2c3d-0000-4000-8000-00000000000b";

// ----- a scripted server -----

/// One request as the server received it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    /// Everything, as a hostile echo would put it in an error message.
    pub fn dump(&self) -> String {
        let mut out = format!("{} {}?{}\n", self.method, self.path, self.query);
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {value}\n"));
        }
        out.push_str(&String::from_utf8_lossy(&self.body));
        out
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub fn canned(status: u16, body: impl Into<Vec<u8>>) -> Canned {
    Canned {
        status,
        headers: Vec::new(),
        body: body.into(),
    }
}

pub fn canned_json(status: u16, body: Value) -> Canned {
    Canned {
        headers: vec![("content-type".into(), "application/json".into())],
        ..canned(status, body.to_string())
    }
}

impl Canned {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

pub type Script = Arc<dyn Fn(&Seen) -> Canned + Send + Sync>;

pub struct Server {
    pub base: String,
    pub log: Arc<Mutex<Vec<Seen>>>,
    pub _stop: tokio::sync::oneshot::Sender<()>,
}

impl Server {
    pub fn seen(&self) -> Vec<Seen> {
        self.log.lock().expect("log").clone()
    }
}

pub async fn serve(host: &str, script: impl Fn(&Seen) -> Canned + Send + Sync + 'static) -> Server {
    let script: Script = Arc::new(script);
    let log = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind(format!("{host}:0")).await.expect("binds");
    let addr: SocketAddr = listener.local_addr().expect("has an address");
    let app = Router::new().fallback({
        let log = log.clone();
        move |request: Request| {
            let log = log.clone();
            let script = script.clone();
            async move {
                let (parts, body) = request.into_parts();
                let body: Bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
                let seen = Seen {
                    method: parts.method.to_string(),
                    path: parts.uri.path().to_owned(),
                    query: parts.uri.query().unwrap_or("").to_owned(),
                    headers: parts
                        .headers
                        .iter()
                        .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                        .collect(),
                    body: body.to_vec(),
                };
                log.lock().expect("log").push(seen.clone());
                let answer = script(&seen);
                let mut response: Response = (StatusCode::from_u16(answer.status).expect("status"), answer.body).into_response();
                for (name, value) in answer.headers {
                    if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
                        response.headers_mut().insert(name, value);
                    }
                }
                response
            }
        }
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
    });
    Server {
        base: format!("http://{addr}"),
        log,
        _stop: stop,
    }
}

// ----- providers -----

pub fn secret(pairs: &[(&str, &str)]) -> Arc<StaticSecret> {
    // Unvalidated on purpose: the provider must check what it is given.
    Arc::new(StaticSecret(
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
    ))
}

pub fn aksk() -> Arc<StaticSecret> {
    secret(&[("accessKey", AK), ("secretKey", SK), ("securityToken", SECURITY_TOKEN)])
}

pub fn password() -> Arc<StaticSecret> {
    secret(&[
        ("username", "hostile-user"),
        ("password", PASSWORD),
        ("domainName", "hostile-domain"),
    ])
}

pub fn settings(vpc: &str, iam: &str, v3: bool) -> OtcSettings {
    let mut settings = OtcSettings::new(OtcCloud::OpenTelekomCloud, "eu-de", Some(vpc), None);
    settings.iam_endpoint = iam.to_owned();
    settings.project_id = Some(PROJECT.to_owned());
    settings.v3_bindings = v3;
    settings.batch_operations = false;
    settings
}

pub fn otc(settings: OtcSettings, secret: Arc<StaticSecret>) -> OtcProvider {
    OtcProvider::new(settings, secret).expect("builds")
}

/// The provider of the OTC eu-de project, AK/SK with a security token, at `server` (VPC and
/// IAM alike).
pub fn otc_at(server: &Server, v3: bool) -> OtcProvider {
    otc(settings(&server.base, &server.base, v3), aksk())
}

/// Unbinds [`ID`] from `port-1`.
pub fn unbind_port() -> UnbindRequest {
    UnbindRequest::new(ID.to_owned(), port("port-1"), "")
}

pub fn port(id: &str) -> BindTarget {
    BindTarget {
        instance_type: InstanceType::Port,
        instance_id: id.to_owned(),
        private_ip_address: None,
    }
}

pub fn v1_record(id: &str) -> Value {
    json!({ "id": id, "status": "DOWN", "public_ip_address": "80.158.0.1", "bandwidth_size": 5, "tenant_id": PROJECT })
}

pub fn v3_record(id: &str) -> Value {
    json!({ "id": id, "status": "DOWN", "public_ip_address": "80.158.0.1", "bandwidth": { "size": 5, "name": "bw" } })
}

pub fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[track_caller]
pub fn assert_invalid(result: Result<impl std::fmt::Debug, CloudError>, what: &str) {
    let err = result.expect_err(what);
    assert_eq!(
        (err.class(), err.code.as_str()),
        (ErrorClass::Retryable, INVALID_RESPONSE),
        "{what}: {err:?}"
    );
}

pub async fn timeout<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), future)
        .await
        .expect("finishes in time")
}

/// A server giving every request the same answer.
pub async fn serve_always(answer: Canned) -> Server {
    serve("127.0.0.1", move |_| answer.clone()).await
}
