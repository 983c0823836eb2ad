//! The chaos soak's short version, in the test command: N = 100 lifecycles through every kind of
//! injected cloud fault, replica kills, a leader failover, a kube-apiserver restart and
//! out-of-band changes, checked for leaks, double allocations, releases while bound, stuck
//! finalizers, missed convergence and panics. `cargo bench --bench chaos -- --n 1000` is the
//! full soak (RELIABILITY.md). `EIP_CHAOS_SEED` picks another seed.

#[path = "../benches/chaos/mod.rs"]
mod chaos;

use std::path::PathBuf;

#[test]
fn a_hundred_lifecycles_through_chaos_lose_nothing() {
    let seed = std::env::var("EIP_CHAOS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let opts = chaos::soak::Options::short(seed, PathBuf::from(env!("CARGO_BIN_EXE_eip-operator")));
    let report = chaos::soak::run_blocking(opts);
    println!("{}", report.table());
    for event in &report.driver_events {
        println!("chaos event: {event}");
    }
    let failures = report.failures();
    assert!(
        report.passed(),
        "the short chaos soak (seed {seed}) missed its targets; logs in {}:\n{}",
        report.log_dir.display(),
        failures.join("\n")
    );
}
