//! What the simulator-backed test files share: the simulator on a loopback port and its keys.

use std::collections::BTreeMap;
use std::sync::Arc;

use eip_aws::AwsProvider;
use eip_cloud::{SecretData, StaticSecret};
use eip_simulator::{SIM_ACCESS_KEY_ID, SIM_ACCESS_KEY_SECRET, Simulator};

pub const REGION: &str = "us-east-1";

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
        ("secretAccessKey".to_owned(), SIM_ACCESS_KEY_SECRET.to_owned()),
    ]))
}

/// A provider of the simulator's AWS region at `base` (its EC2 front end is at `/aws`).
pub fn provider(base: &str, secret: SecretData) -> AwsProvider {
    AwsProvider::new(REGION, Some(&format!("{base}/aws")), None, Arc::new(StaticSecret(secret)), None).expect("builds")
}
