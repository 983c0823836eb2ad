//! The checker: once the lifecycles are done and the driver has stopped, it reads the
//! simulator's counters and call log, the last snapshot, the watchdog and the process logs, and
//! fills in the [`Report`]'s counts and misses.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::super::driver::strings;
use super::OWNER_TAG;
use super::lifecycle::Outcome;
use super::plan::Plan;
use super::report::Report;
use super::watchdog::{Shared, Snapshot, status_line};

/// The simulator's counters: calls per lifecycle, faults by kind.
pub(super) fn count_calls(report: &mut Report, counters: &[Value], n: usize) {
    let mut errors = 0u64;
    for row in counters {
        let count = row["count"].as_u64().unwrap_or(0);
        let op = row["operation"].as_str().unwrap_or("?").to_string();
        *report.calls_per_lifecycle.entry(op).or_default() += count as f64 / n as f64;
        let failed = row["outcome"] == "Error";
        if failed {
            errors += count;
        }
        // An injected fault by its kind (those after the model answered Ok to the cloud's
        // books); any other refusal by its code.
        let key = match (row["fault"].as_str(), failed) {
            (Some(kind), _) => kind.to_string(),
            (None, true) => format!("other {}", row["code"].as_str().unwrap_or("?")),
            (None, false) => continue,
        };
        *report.faults_by_kind.entry(key).or_default() += count;
    }
    report.errors_per_lifecycle = errors as f64 / n as f64;
}

/// Convergence (steps over the bound, Ready percentiles) and objects left with a finalizer.
pub(super) fn check_convergence(report: &mut Report, plans: &[Plan], outcomes: &[Outcome], final_snap: &Snapshot) {
    let mut ready_times: Vec<Duration> = Vec::new();
    for (plan, out) in plans.iter().zip(outcomes) {
        for (step, took) in &out.step_times {
            if step == "ready" {
                ready_times.push(*took);
            }
        }
        if !out.not_converged.is_empty() {
            let steps: Vec<String> = out.not_converged.iter().map(|(s, l)| format!("{s} [{l}]")).collect();
            report.not_converged.push(format!(
                "{} ({}, {}{}, oob {:?}): {}",
                plan.name,
                plan.region(),
                plan.policy,
                if plan.adopt { ", adopted" } else { "" },
                plan.oob.as_ref().map(|(k, _)| *k),
                steps.join(", ")
            ));
        }
    }
    for (name, object) in &final_snap.objects {
        let finalizers = object["metadata"]["finalizers"].to_string();
        report.stuck_finalizers.push(format!(
            "{name} deletionTimestamp={} finalizers={finalizers} {}",
            object["metadata"]["deletionTimestamp"],
            status_line(Some(object), None)
        ));
    }
    ready_times.sort();
    let pct = |p: f64| {
        ready_times
            .get(((ready_times.len() as f64 * p) as usize).min(ready_times.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    report.p50_ready = pct(0.5);
    report.p99_ready = pct(0.99);
}

/// The cloud at the end and over the run: deletion-policy outcomes, leaks, double allocations,
/// releases while bound, binds to targets nobody named.
pub(super) fn check_cloud(report: &mut Report, plans: &[Plan], outcomes: &[Outcome], shared: &Shared, final_snap: &Snapshot) {
    // What should be left, what is.
    let uids = shared.uids.lock().expect("uids").clone();
    let watchdog = shared.watchdog.lock().expect("watchdog");
    let mut expected_kept: BTreeMap<String, usize> = BTreeMap::new();
    for (i, (plan, out)) in plans.iter().zip(outcomes).enumerate() {
        let id = out.seeded_id.clone().or_else(|| out.allocation_id.clone());
        let Some(id) = id else { continue };
        // An EIP the soak itself released out of band is gone whatever the policy says (also
        // when the object never reported it, having missed its bound). An object still there at
        // the end is a stuck finalizer, counted as such; one that went, late or not, left its
        // EIP as its policy says.
        let released_by_us = out.released_by_soak;
        if out.released_out_of_band || released_by_us || final_snap.objects.contains_key(&plan.name) {
            continue;
        }
        let eip = final_snap.eips.get(&id);
        match (plan.policy, plan.adopt) {
            ("Delete", _) => {}
            (policy, adopted) => {
                expected_kept.insert(id.clone(), i);
                let Some(eip) = eip else {
                    report
                        .policy_violations
                        .push(format!("{} ({policy}): {id} is gone, the policy keeps it", plan.name));
                    continue;
                };
                if policy == "Unbind" && !eip["boundTo"].is_null() {
                    report
                        .policy_violations
                        .push(format!("{} (Unbind): {id} still bound to {}", plan.name, eip["boundTo"]));
                }
                if adopted && eip["tags"].get(OWNER_TAG).is_some() {
                    report
                        .policy_violations
                        .push(format!("{} ({policy}, adopted): {id} still carries its claim", plan.name));
                }
            }
        }
    }
    let seeds = shared.seeds.lock().expect("seeds").clone();
    let calls = shared.calls.lock().expect("calls");
    for (id, eip) in &final_snap.eips {
        if !expected_kept.contains_key(id) {
            let owner = eip["tags"][OWNER_TAG].as_str().unwrap_or("-");
            let object = uids
                .get(owner)
                .or_else(|| seeds.get(id))
                .map(|i| format!("{}{}", plans[*i].name, if seeds.contains_key(id) { " (seeded for it)" } else { "" }))
                .unwrap_or_else(|| "no object".into());
            // What the call log says was done to it, to tell a lost answer from a late one.
            let history: Vec<String> = calls
                .iter()
                .filter(|c| strings(&c["allocationIds"]).iter().any(|i| i == id))
                .map(|c| {
                    format!(
                        "{} {} {} at {} ms",
                        c["operation"],
                        c["outcome"],
                        c["code"].as_str().unwrap_or(""),
                        c["atMs"]
                    )
                })
                .collect();
            report.leaked.push(format!(
                "{id} (owner-uid {owner} = {object}, {}, bound {}; calls: {})",
                eip["rawState"],
                eip["boundTo"],
                history.join(", ")
            ));
        }
    }
    drop(calls);
    // Double allocations: two EIPs tagged with one UID (over the whole run), or two EIPs created
    // with one client token.
    for (uid, ids) in &watchdog.ids_by_uid {
        let Some(index) = uids.get(uid) else { continue };
        let seeded = outcomes[*index].seeded_id.clone();
        let allocated: BTreeSet<&String> = ids.iter().filter(|id| Some(*id) != seeded.as_ref()).collect();
        if allocated.len() > 1 || (seeded.is_some() && !allocated.is_empty()) {
            report
                .double_allocations
                .push(format!("{} (uid {uid}): {allocated:?}", plans[*index].name));
        }
    }
    let calls = shared.calls.lock().expect("calls");
    let mut by_token: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let oob_bound = shared.oob_bound_ids.lock().expect("oob");
    for call in calls.iter() {
        let op = call["operation"].as_str().unwrap_or_default();
        let ids = strings(&call["allocationIds"]);
        if op == "Allocate"
            && call["outcome"] == "Ok"
            && let Some(token) = call["clientToken"].as_str()
        {
            by_token.entry(token.to_string()).or_default().extend(ids.iter().cloned());
        }
        let code = call["code"].as_str().unwrap_or_default();
        if op == "Release" && matches!(code, "IncorrectEipStatus" | "VPC.0516" | "VPC.0517") {
            if ids.iter().any(|id| oob_bound.contains(id)) {
                report.releases_while_bound_after_oob_bind += 1;
            } else {
                report
                    .releases_while_bound
                    .push(format!("seq {} {ids:?} {code} at {} ms", call["seq"], call["atMs"]));
            }
        }
    }
    for (token, ids) in by_token {
        if ids.len() > 1 {
            report.double_allocations.push(format!("client token {token}: {ids:?}"));
        }
    }
    for (who, bound) in &watchdog.unnamed_binds {
        report.unnamed_binds.push(format!("{who} bound to {bound}"));
    }
}

/// Panics in any process's log.
pub(super) fn check_logs(report: &mut Report, log_dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(log_dir) {
        // The operator replicas' and the simulator's logs (not the API server's: Go's
        // "panicked: false" lines are not ours).
        for entry in entries.flatten().filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("chaos-") || name.starts_with("simulator")
        }) {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            for line in text.lines().filter(|l| l.contains("panicked")) {
                report.panics.push(format!(
                    "{}: {}",
                    entry.file_name().to_string_lossy(),
                    line.chars().take(300).collect::<String>()
                ));
            }
        }
    }
}
