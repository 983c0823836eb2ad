//! `cargo bench --bench chaos [-- --seed S --n N --append RELIABILITY.md --short]`: the chaos
//! soak of issue #11 on a real kube-apiserver + etcd (the pinned binaries of `tools/`), the
//! simulator as its own process speaking Alibaba's and OTC's wire protocols, and two operator
//! replicas with leader election. Prints one table row per run; exits 1 when a target is
//! missed (leaks, double allocations, releases while bound, stray binds, stuck finalizers,
//! unconverged objects, panics). See `benches/chaos/soak.rs`.
//!
//! Flags (after `--`): `--seed S` (default 1), `--n N` (default 100, or `$EIP_CHAOS_N`),
//! `--short` (the e2e variant: fewer kills), `--kills K`, `--failovers F`, `--restarts R`,
//! `--append FILE` (appends the table to FILE). `$EIP_OPERATOR_BIN` overrides the operator binary
//! (default: the one cargo built for this bench profile).

#[path = "chaos/mod.rs"]
mod chaos;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo test --all-targets` would run this for minutes; cargo bench passes --bench.
    if !args.iter().any(|a| a == "--bench") {
        println!("chaos: a soak; run it with `cargo bench --bench chaos`");
        return ExitCode::SUCCESS;
    }
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let number = |flag: &str| value(flag).map(|v| v.parse::<u64>().unwrap_or_else(|_| panic!("{flag} {v}: not a number")));
    let seed = number("--seed").unwrap_or(1);
    let n = number("--n")
        .or_else(|| std::env::var("EIP_CHAOS_N").ok().and_then(|v| v.parse().ok()))
        .unwrap_or(100) as usize;
    let operator_bin = std::env::var_os("EIP_OPERATOR_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_eip-operator")));
    let mut opts = if args.iter().any(|a| a == "--short") {
        chaos::soak::Options::short(seed, operator_bin)
    } else {
        chaos::soak::Options::full(seed, n, operator_bin)
    };
    if args.iter().any(|a| a == "--short") && value("--n").is_some() {
        opts.n = n;
    }
    if let Some(k) = number("--kills") {
        opts.kills = k as u32;
    }
    if let Some(f) = number("--failovers") {
        opts.failovers = f as u32;
    }
    if let Some(r) = number("--restarts") {
        opts.apiserver_restarts = r as u32;
    }
    let report = chaos::soak::run_blocking(opts);
    let table = report.table();
    println!();
    print!("{table}");
    for failure in report.failures() {
        println!("MISSED: {failure}");
    }
    for event in &report.driver_events {
        eprintln!("chaos event: {event}");
    }
    println!("logs: {}", report.log_dir.display());
    if let Some(file) = value("--append") {
        let mut out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&file)
            .expect("--append file");
        writeln!(out, "\n{table}").expect("append");
        for failure in report.failures() {
            writeln!(out, "- missed: {}", failure.chars().take(2000).collect::<String>()).expect("append");
        }
    }
    if report.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
