//! Arbitrary requests against the simulator's whole router (admin API and both wire protocols):
//! it must answer every one, never panic, never abort.
#![no_main]

use std::sync::OnceLock;

use eip_simulator::{Simulator, SimulatorConfig, server};
use libfuzzer_sys::fuzz_target;

const PREFIXES: [&str; 8] = [
    "/",
    "/?Action=DescribeEipAddresses&",
    "/admin/",
    "/admin/regions/cn-hangzhou/",
    "/v1/",
    "/v2.0/",
    "/v3/",
    "/v3/auth/",
];
const METHODS: [&[u8]; 5] = [b"GET", b"POST", b"PUT", b"DELETE", b"PATCH"];

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime")
    })
}

fuzz_target!(|input: (u8, u8, String, Vec<(String, Vec<u8>)>, Vec<u8>)| {
    let (method, prefix, rest, headers, body) = input;
    let uri = format!("{}{rest}", PREFIXES[usize::from(prefix) % PREFIXES.len()]);
    let method = METHODS[usize::from(method) % METHODS.len()];
    runtime().block_on(async {
        // A fresh simulator each time: no state carries over between inputs.
        let router = server::router(Simulator::new(SimulatorConfig::instant()));
        let answer = server::exchange(&router, method, &uri, &headers, body).await;
        assert!((100..600).contains(&answer.status));
    });
});
