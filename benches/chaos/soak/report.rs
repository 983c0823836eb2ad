//! The checker's verdict ([`Report::failures`]) and the table row of a run ([`Report::table`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The checker's verdict and the table's numbers.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub seed: u64,
    pub n: usize,
    pub wall: Duration,
    pub faults_by_kind: BTreeMap<String, u64>,
    pub kills: u32,
    pub failovers: u32,
    pub self_exits: u32,
    pub apiserver_restarts: u32,
    pub latency_spikes: u32,
    pub oob: BTreeMap<String, u32>,
    pub leaked: Vec<String>,
    pub double_allocations: Vec<String>,
    pub releases_while_bound: Vec<String>,
    /// Refused releases right after an out-of-band bind of the same EIP (a race with the console).
    pub releases_while_bound_after_oob_bind: u32,
    pub unnamed_binds: Vec<String>,
    pub stuck_finalizers: Vec<String>,
    pub not_converged: Vec<String>,
    pub panics: Vec<String>,
    /// Policy outcomes that differ from the README (Unbind left it bound, claim not removed...).
    pub policy_violations: Vec<String>,
    pub calls_per_lifecycle: BTreeMap<String, f64>,
    pub errors_per_lifecycle: f64,
    pub p50_ready: Duration,
    pub p99_ready: Duration,
    pub log_dir: PathBuf,
    pub driver_events: Vec<String>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.failures().is_empty()
    }

    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (what, list) in [
            ("leaked EIPs", &self.leaked),
            ("double allocations", &self.double_allocations),
            ("releases while bound", &self.releases_while_bound),
            ("binds to a target the spec never named", &self.unnamed_binds),
            ("stuck finalizers", &self.stuck_finalizers),
            ("objects not converged", &self.not_converged),
            ("operator panics", &self.panics),
            ("deletion-policy outcomes", &self.policy_violations),
        ] {
            if !list.is_empty() {
                out.push(format!("{} {what}: {}", list.len(), list.join("; ")));
            }
        }
        out
    }

    pub fn table(&self) -> String {
        let mut t = String::new();
        t.push_str("| seed | N | faults by kind | kills | failovers | replica self-exits | API server restarts | latency spikes | OOB changes | leaked | double alloc | releases while bound | unnamed binds | stuck finalizers | not converged | panics | policy outcomes | wall | Ready p50 / p99 | cloud calls per lifecycle |\n");
        t.push_str(
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
        );
        t.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} (+{} after OOB bind) | {} | {} | {} | {} | {} | {:.0} s | {:.1} s / {:.1} s | {}; errors {:.2} |\n",
            self.seed,
            self.n,
            join(&self.faults_by_kind, u64::to_string),
            self.kills,
            self.failovers,
            self.self_exits,
            self.apiserver_restarts,
            self.latency_spikes,
            join(&self.oob, u32::to_string),
            self.leaked.len(),
            self.double_allocations.len(),
            self.releases_while_bound.len(),
            self.releases_while_bound_after_oob_bind,
            self.unnamed_binds.len(),
            self.stuck_finalizers.len(),
            self.not_converged.len(),
            self.panics.len(),
            self.policy_violations.len(),
            self.wall.as_secs_f64(),
            self.p50_ready.as_secs_f64(),
            self.p99_ready.as_secs_f64(),
            join(&self.calls_per_lifecycle, |v| format!("{v:.2}")),
            self.errors_per_lifecycle,
        ));
        t
    }
}

/// `key value, key value, ...`, each value shown by `show`.
fn join<V>(map: &BTreeMap<String, V>, show: impl Fn(&V) -> String) -> String {
    map.iter().map(|(k, v)| format!("{k} {}", show(v))).collect::<Vec<_>>().join(", ")
}
