//! One ElasticIP lifecycle, run as its own task: seed an EIP to adopt (some) → create with a
//! binding → Ready → rebind through the spec (some) → an out-of-band change on the cloud side
//! (some) → delete → gone; each step bounded, what it saw kept in an [`Outcome`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::plan::{Oob, Plan, Target, manifest};
use super::watchdog::{Shared, Snapshot, admin, cond, is_true, status_line};

/// What one lifecycle saw.
#[derive(Clone, Debug, Default)]
pub(super) struct Outcome {
    pub(super) uid: Option<String>,
    pub(super) allocation_id: Option<String>,
    pub(super) seeded_id: Option<String>,
    /// The soak released the EIP out of band (the admin API said so; a refused release, say of
    /// a bound EIP, leaves it to the deletion policy).
    pub(super) released_by_soak: bool,
    /// Steps that did not finish within the bound: (step, last status seen).
    pub(super) not_converged: Vec<(String, String)>,
    pub(super) released_out_of_band: bool,
    pub(super) gone: bool,
    pub(super) step_times: Vec<(String, Duration)>,
}

/// Retries a kube call (the API server restarts under us) until `bound`.
macro_rules! retry {
    ($bound:expr, $call:expr) => {{
        let deadline = Instant::now() + $bound;
        loop {
            match $call {
                Ok(v) => break Ok(v),
                Err(e) if Instant::now() > deadline => break Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }};
}

/// Converged on `target`: Ready for the current generation and the cloud bound there.
fn converged_on(snap: &Snapshot, name: &str, target: &Target) -> bool {
    let Some(o) = snap.objects.get(name) else { return false };
    let generation = o["metadata"]["generation"].as_i64();
    let observed = o["status"]["observedGeneration"].as_i64();
    let id = o["status"]["allocationId"].as_str();
    generation.is_some()
        && generation == observed
        && is_true(o, "Ready")
        && id.and_then(|id| snap.eips.get(id)).is_some_and(|e| target.matches(&e["boundTo"]))
}

fn stalled_with(snap: &Snapshot, name: &str, reason: &str) -> bool {
    snap.objects
        .get(name)
        .and_then(|o| cond(o, "Stalled"))
        .is_some_and(|(s, r)| s == "True" && r == reason)
}

impl Shared {
    /// Waits until `name` has [converged on](converged_on) `target`.
    async fn converge(&self, bound: Duration, name: &str, target: &Target) -> Result<Duration, Arc<Snapshot>> {
        self.wait(bound, |s| converged_on(s, name, target)).await
    }

    /// An admin call retried for up to 30 s until it answers 200.
    async fn admin_until_ok(&self, method: &'static str, path: String, body: &str) {
        let _ = retry!(
            Duration::from_secs(30),
            match admin(self.sim, method, path.clone(), body.to_string()).await {
                Ok((200, _)) => Ok(()),
                other => Err(other),
            }
        );
    }
}

/// Runs lifecycle `index` after its arrival delay, each step bounded by `bound`.
pub(super) async fn lifecycle(shared: Arc<Shared>, index: usize, plan: Plan, bound: Duration) -> Outcome {
    let mut out = Outcome::default();
    tokio::time::sleep(plan.arrival).await;
    let name = plan.name.clone();
    let region = plan.region();
    shared.allowed.lock().expect("allowed")[index].insert(plan.target.clone());
    let record = |out: &mut Outcome, step: &str, result: Result<Duration, Arc<Snapshot>>| match result {
        Ok(took) => {
            out.step_times.push((step.to_string(), took));
            true
        }
        Err(snap) => {
            let object = snap.objects.get(&name);
            let eip = object
                .and_then(|o| o["status"]["allocationId"].as_str())
                .and_then(|id| snap.eips.get(id));
            out.not_converged.push((step.to_string(), status_line(object, eip)));
            false
        }
    };

    // Adopted: the EIP exists before the object (console, Terraform).
    if plan.adopt {
        let body = json!({ "bandwidthMbps": 5 }).to_string();
        let seeded = retry!(
            Duration::from_secs(30),
            match admin(shared.sim, "POST", format!("/admin/regions/{region}/eips"), body.clone()).await {
                Ok((201, text)) => serde_json::from_str::<Value>(&text).map_err(|e| e.to_string()),
                other => Err(format!("{other:?}")),
            }
        )
        .expect("seed an EIP");
        let id = seeded["allocationId"].as_str().expect("seeded id").to_string();
        shared.seeds.lock().expect("seeds").insert(id.clone(), index);
        out.seeded_id = Some(id);
    }

    // Create.
    let object = manifest(&plan, out.seeded_id.as_deref());
    let created = retry!(
        bound,
        match shared.api.create(&PostParams::default(), &object).await {
            Ok(o) => Ok(o),
            Err(kube::Error::Api(e)) if e.code == 409 => shared.api.get(&name).await,
            Err(e) => Err(e),
        }
    );
    let Ok(created) = created else {
        out.not_converged
            .push(("create".into(), "the API server refused the create".into()));
        return out;
    };
    let uid = created.metadata.uid.clone().expect("uid");
    shared.uids.lock().expect("uids").insert(uid.clone(), index);
    out.uid = Some(uid);
    let ready = record(&mut out, "ready", shared.converge(bound, &name, &plan.target).await);
    let mut target = plan.target.clone();

    // Rebind through the spec.
    if ready && let Some(next) = &plan.rebind {
        shared.allowed.lock().expect("allowed")[index].insert(next.clone());
        let patch = json!({ "spec": { "binding": next.json() } });
        let patched = retry!(bound, shared.api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await);
        if patched.is_ok() {
            target = next.clone();
            record(&mut out, "rebind", shared.converge(bound, &name, &target).await);
        } else {
            out.not_converged.push(("rebind".into(), "patch refused".into()));
        }
    }
    out.allocation_id = shared
        .snap()
        .objects
        .get(&name)
        .and_then(|o| o["status"]["allocationId"].as_str().map(str::to_string));

    // Out-of-band change on the cloud side.
    let mut nat_gateway = None;
    if let (Some((kind, to)), Some(id)) = (&plan.oob, out.allocation_id.clone()) {
        let base = format!("/admin/regions/{region}/eips/{id}");
        let done = match kind {
            Oob::Unbind => admin(shared.sim, "POST", format!("{base}/unbind"), String::new()).await,
            Oob::Rebind => {
                shared.allowed.lock().expect("allowed")[index].insert(to.clone());
                shared.oob_bound_ids.lock().expect("oob").insert(id.clone());
                admin(shared.sim, "POST", format!("{base}/bind"), to.json().to_string()).await
            }
            Oob::Release => admin(shared.sim, "POST", format!("{base}/release"), String::new()).await,
            Oob::LockUnlock => admin(shared.sim, "POST", format!("{base}/lock"), String::new()).await,
            Oob::NatEntries => {
                let path = format!("/admin/regions/{region}/instances/{}/nat-entries", target.id);
                nat_gateway = Some(target.id.clone());
                admin(shared.sim, "PUT", path, r#"{"count":3}"#.into()).await
            }
        };
        let applied = matches!(done, Ok((200..=299, _)));
        out.released_by_soak = applied && *kind == Oob::Release;
        if applied {
            *shared.oob_done.lock().expect("oob").entry(*kind).or_default() += 1;
        }
        match kind {
            Oob::Release if applied => {
                let result = shared.wait(bound, |s| stalled_with(s, &name, "ReleasedOutOfBand")).await;
                out.released_out_of_band = record(&mut out, "released-out-of-band", result);
            }
            Oob::LockUnlock if applied => {
                tokio::time::sleep(Duration::from_secs(shared_rand(index, 3, 10))).await;
                shared.admin_until_ok("POST", format!("{base}/unlock"), "").await;
                record(&mut out, "after-unlock", shared.converge(bound, &name, &target).await);
            }
            Oob::Unbind | Oob::Rebind if applied => {
                record(&mut out, "drift-repaired", shared.converge(bound, &name, &target).await);
            }
            _ => {}
        }
    }
    tokio::time::sleep(plan.hold).await;

    // Delete; NAT entries (if any) go away a few seconds later.
    let deleted = retry!(
        bound,
        match shared.api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(e) => Err(e),
        }
    );
    if deleted.is_err() {
        out.not_converged.push(("delete".into(), "delete refused".into()));
    }
    if let Some(gateway) = nat_gateway {
        tokio::time::sleep(Duration::from_secs(8)).await;
        let path = format!("/admin/regions/{region}/instances/{gateway}/nat-entries");
        shared.admin_until_ok("PUT", path, r#"{"count":0}"#).await;
    }
    out.gone = record(&mut out, "gone", shared.wait(bound, |s| !s.objects.contains_key(&name)).await);
    out
}

/// A deterministic small number per object (seconds in `lo..hi`).
fn shared_rand(index: usize, lo: u64, hi: u64) -> u64 {
    lo + (index as u64).wrapping_mul(2_654_435_761) % (hi - lo)
}
