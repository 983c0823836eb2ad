//! moto, the third-party EC2 emulator, as a foreign oracle: `moto_server` (pinned in
//! tests/sdk/requirements-aws.txt, from the SDK venv) on loopback, behind a counting proxy that
//! records every EC2 call the operator makes (moto lets ReleaseAddress succeed on an associated
//! address, so the unbind-before-release order is proven from the recorded calls).

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;

use eip_aws::client::{EC2_VERSION, Endpoint, QueryClient};
use eip_aws::signing::Credentials;
use eip_cloud::Operation;
use eip_cloud::http::Wire;

/// moto's region and its (unchecked) keys.
pub const REGION: &str = "us-east-1";
pub const KEY: &str = "testing";

/// The venv python with moto, or why there is none.
pub fn moto_python() -> Result<PathBuf, String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let venv = std::env::var_os("EIP_SDK_VENV").map_or_else(|| root.join("target/sdk-venv"), PathBuf::from);
    let python = venv.join("bin/python");
    let ok = Command::new(&python)
        .args(["-c", "import moto.server, flask"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Ok(python)
    } else {
        Err(format!(
            "no python with moto[server] at {} (create it with `bash tests/sdk/run.sh --install-only`)",
            python.display()
        ))
    }
}

/// A `moto_server` process on a loopback port, stopped by PID when dropped.
pub struct Moto {
    child: Child,
    pub url: String,
}

impl Moto {
    pub fn start(python: &PathBuf) -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(python)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not listen within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One EC2 call seen by the proxy: its form parameters, HTTP status and answer.
#[derive(Clone, Debug)]
pub struct Seen {
    pub params: Vec<(String, String)>,
    pub status: u16,
    pub body: String,
}

impl Seen {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn action(&self) -> &str {
        self.get("Action").unwrap_or_default()
    }
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    client: reqwest::Client,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// Serves a counting proxy in front of `upstream` on loopback: its URL and the calls it saw.
pub async fn counting_proxy(upstream: &str) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let proxy = Proxy {
        upstream: upstream.to_owned(),
        // The shared policy (it also installs the TLS crypto provider reqwest needs).
        client: eip_cloud::http::client().expect("client"),
        seen: seen.clone(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("addr");
    let router = axum::Router::new().fallback(forward).with_state(proxy);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{addr}"), seen)
}

async fn forward(State(proxy): State<Proxy>, uri: Uri, headers: HeaderMap, body: Bytes) -> axum::response::Response {
    let mut request = proxy.client.post(format!("{}{}", proxy.upstream, uri.path()));
    // moto does not check signatures, so the changed Host does not matter; the rest goes as sent.
    for name in ["content-type", "authorization", "x-amz-date", "x-amz-security-token"] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value.as_bytes());
        }
    }
    let params: Vec<(String, String)> = url_form(&body);
    let answer = request.body(body.to_vec()).send().await;
    let (status, text) = match answer {
        Ok(answer) => (answer.status().as_u16(), answer.text().await.unwrap_or_default()),
        Err(err) => (502, err.to_string()),
    };
    proxy.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(Seen {
        params,
        status,
        body: text.clone(),
    });
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
        [("content-type", "text/xml")],
        text,
    )
        .into_response()
}

fn url_form(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| {
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .collect()
}

/// A signed EC2 client straight to moto (the test's own calls, not seen by the proxy).
pub fn ec2(url: &str) -> QueryClient {
    let wire = Wire::new("moto-test").expect("client");
    QueryClient::new(wire, Endpoint::parse(url).expect("url"), REGION, "ec2", EC2_VERSION)
}

pub fn keys() -> Credentials {
    Credentials {
        access_key_id: KEY.into(),
        secret_access_key: KEY.into(),
        session_token: None,
    }
}

/// The text of the first element `name` of an XML answer.
pub fn xml_text(body: &str, name: &str) -> Option<String> {
    let doc = roxmltree::Document::parse(body).ok()?;
    doc.descendants()
        .find(|n| n.is_element() && n.tag_name().name() == name)
        .and_then(|n| n.text())
        .map(str::to_owned)
}

/// `action` on moto with `params`: the XML answer (panics on an error: test set-up).
pub async fn call(client: &QueryClient, action: &str, params: &[(&str, &str)]) -> String {
    let params: Vec<(String, String)> = params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    client
        .call(Operation::Describe, action, &params, Some(&keys()))
        .await
        .unwrap_or_else(|e| panic!("{action} on moto: {e}"))
        .body
}

/// A running moto instance's ID.
pub async fn run_instance(client: &QueryClient) -> String {
    let body = call(
        client,
        "RunInstances",
        &[
            ("ImageId", "ami-12c6146b"),
            ("MinCount", "1"),
            ("MaxCount", "1"),
            ("InstanceType", "t3.micro"),
        ],
    )
    .await;
    xml_text(&body, "instanceId").expect("an instance ID")
}
