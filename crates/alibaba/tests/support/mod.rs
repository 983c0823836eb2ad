//! What the simulator-backed test files share: the simulator on a loopback port and its keys.

use std::collections::BTreeMap;

use eip_cloud::SecretData;
use eip_simulator::{SIM_ACCESS_KEY_ID, SIM_ACCESS_KEY_SECRET, Simulator};

/// Serves the simulator's router (admin API and wire protocols) on 127.0.0.1; returns its URL.
pub async fn serve(sim: &Simulator) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("has an address");
    let router = eip_simulator::server::router(sim.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

/// The simulator's access key pair, as a credentials Secret holds it.
pub fn keys() -> SecretData {
    SecretData::from(BTreeMap::from([
        ("accessKeyId".to_owned(), SIM_ACCESS_KEY_ID.to_owned()),
        ("accessKeySecret".to_owned(), SIM_ACCESS_KEY_SECRET.to_owned()),
    ]))
}

/// An RRSA Secret, and the OIDC token file it names (kept by the caller: the file goes with it).
#[allow(dead_code)] // not every test file signs in with RRSA
pub fn rrsa_secret() -> (SecretData, tempfile::NamedTempFile) {
    let token = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(token.path(), "eyJhbGciOiJSUzI1NiJ9.sim.token\n").expect("writes");
    let secret = SecretData::from(BTreeMap::from([
        ("roleArn".to_owned(), "acs:ram::1234567890:role/eip-operator".to_owned()),
        (
            "oidcProviderArn".to_owned(),
            "acs:ram::1234567890:oidc-provider/ack-rrsa".to_owned(),
        ),
        ("oidcTokenFile".to_owned(), token.path().to_string_lossy().into_owned()),
    ]));
    (secret, token)
}
