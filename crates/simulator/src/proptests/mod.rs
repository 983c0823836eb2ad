//! Property tests of the request parsers: arbitrary methods, paths, queries, headers and bodies
//! through the whole router ([`server::exchange`], no sockets). Nothing may panic, no answer may
//! be a 5xx, garbage gets a 4xx, and nothing oversized is kept.
//!
//! Deterministic (fixed seed, no failure files) and on a paused clock; each property runs
//! [`CASES`] cases.
//!
//! The strategies are in `strategies.rs`; the properties by front end in `alibaba.rs`,
//! `otc.rs` and `admin.rs`.

use std::collections::BTreeMap;

use proptest::test_runner::{Config, RngSeed, TestRunner};
use serde_json::json;

use super::limits::{MAX_ID_LEN, MAX_LOGGED_STRING};
use super::server::{self, Exchange};
use super::{SIM_ACCESS_KEY_ID, SIM_ACCESS_KEY_SECRET, Simulator, SimulatorConfig};
use eip_alibaba::signing;

mod admin;
mod alibaba;
mod otc;
mod strategies;

#[path = "../../tests/support/alibaba_v1.rs"]
mod alibaba_v1;

const CASES: u32 = 2000;
const EU_DE_PROJECT: &str = "00000000000000000000000051510000";

fn runner(seed: u64) -> TestRunner {
    TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        ..Config::default()
    })
}

/// A simulator, its router and a paused single-threaded runtime.
struct Harness {
    rt: tokio::runtime::Runtime,
    sim: Simulator,
    router: axum::Router,
}

impl Harness {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("runtime");
        let sim = Simulator::new(SimulatorConfig::instant().with_seed(17));
        let router = server::router(sim.clone());
        Harness { rt, sim, router }
    }

    fn send(&self, method: &[u8], uri: &str, headers: &[(String, Vec<u8>)], body: Vec<u8>) -> Exchange {
        self.rt.block_on(server::exchange(&self.router, method, uri, headers, body))
    }

    /// An IAM token scoped to eu-de.
    fn otc_token(&self) -> String {
        let body = json!({
            "auth": {
                "identity": {"methods": ["password"], "password": {"user": {"name": "sim-user", "password": "sim-password", "domain": {"name": "sim-domain"}}}},
                "scope": {"project": {"id": EU_DE_PROJECT}}
            }
        });
        let answer = self.send(b"POST", "/v3/auth/tokens", &[], body.to_string().into_bytes());
        assert_eq!(answer.status, 201, "{:?}", answer.body);
        answer
            .headers
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .expect("token")
            .to_owned()
    }

    /// Nothing the simulator logged is longer than the limits allow.
    fn assert_bounded_log(&self) {
        for call in self.sim.calls() {
            assert!(call.allocation_ids.iter().all(|id| id.len() <= MAX_LOGGED_STRING));
            assert!(call.client_token.iter().all(|t| t.len() <= MAX_LOGGED_STRING));
        }
        for region in self.sim.regions() {
            for eip in self.sim.eips(&region.name) {
                assert!(eip.tags.iter().all(|(k, v)| k.len() <= 128 && v.len() <= 512), "{eip:?}");
                assert!(eip.bound_to.iter().all(|b| b.instance_id.len() <= MAX_ID_LEN));
            }
        }
    }
}

fn header(name: &str, value: impl Into<Vec<u8>>) -> (String, Vec<u8>) {
    (name.to_owned(), value.into())
}

fn form(params: &BTreeMap<String, String>) -> String {
    signing::canonical_query(params)
}

/// `params` signed with V1 by the simulator's access key (fresh nonce, current timestamp).
fn sign_v1(method: &str, params: BTreeMap<String, String>) -> BTreeMap<String, String> {
    alibaba_v1::sign_v1(method, (SIM_ACCESS_KEY_ID, SIM_ACCESS_KEY_SECRET), params)
}
