//! One ElasticIP lifecycle, run as its own task: seed an EIP to adopt (some) → create with a
//! binding → Ready → rebind through the spec (some) → an out-of-band change on the cloud side
//! (some) → delete → gone; each step bounded, what it saw kept in an [`Outcome`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::plan::{Oob, OobAt, Plan, Target, manifest};
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
    out.allocation_id = shared.allocation_id(&name);
    let mut nat_gateway = None;

    // Rebind through the spec; an out-of-band change may strike while the operator moves it.
    if ready && let Some(next) = &plan.rebind {
        shared.allowed.lock().expect("allowed")[index].insert(next.clone());
        let patch = json!({ "spec": { "binding": next.json() } });
        let patched = retry!(bound, shared.api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await);
        if patched.is_ok() {
            target = next.clone();
            if plan.oob_at == OobAt::MidRebind {
                tokio::time::sleep(Duration::from_millis(shared_rand(index, 0, 2_000))).await;
                let struck = shared.strike(&plan, index, &mut out, &target).await;
                shared.settle(&mut out, &plan, index, struck, &target, bound, true).await;
            } else {
                record(&mut out, "rebind", shared.converge(bound, &name, &target).await);
            }
        } else {
            out.not_converged.push(("rebind".into(), "patch refused".into()));
        }
        out.allocation_id = shared.allocation_id(&name).or(out.allocation_id.take());
    }

    // Out-of-band change on the cloud side, once settled.
    if plan.oob_at == OobAt::Settled {
        let struck = shared.strike(&plan, index, &mut out, &target).await;
        if struck == Some(Oob::NatEntries) {
            nat_gateway = Some(target.id.clone());
        }
        shared.settle(&mut out, &plan, index, struck, &target, bound, false).await;
    }
    tokio::time::sleep(plan.hold).await;

    // Delete (an out-of-band change may strike while the operator unbinds and releases); NAT
    // entries (if any) go away a few seconds later.
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
    if plan.oob_at == OobAt::MidDelete {
        tokio::time::sleep(Duration::from_millis(shared_rand(index, 0, 2_000))).await;
        let struck = shared.strike(&plan, index, &mut out, &target).await;
        if struck == Some(Oob::LockUnlock) {
            shared.unlock_later(&plan, index, &out).await;
        }
    }
    if let Some(gateway) = nat_gateway {
        tokio::time::sleep(Duration::from_secs(8)).await;
        let path = format!("/admin/regions/{region}/instances/{gateway}/nat-entries");
        shared.admin_until_ok("PUT", path, r#"{"count":0}"#).await;
    }
    record(&mut out, "gone", shared.wait(bound, |s| !s.objects.contains_key(&name)).await);
    out
}

impl Shared {
    /// The EIP the object reports, from the last snapshot.
    fn allocation_id(&self, name: &str) -> Option<String> {
        self.snap()
            .objects
            .get(name)
            .and_then(|o| o["status"]["allocationId"].as_str().map(str::to_string))
    }

    /// Makes the plan's out-of-band change on the object's EIP (bound to `target` by now, or
    /// on its way there); the change made, if the admin API took it.
    async fn strike(&self, plan: &Plan, index: usize, out: &mut Outcome, target: &Target) -> Option<Oob> {
        let (Some((kind, to)), Some(id)) = (&plan.oob, out.allocation_id.clone()) else {
            return None;
        };
        let region = plan.region();
        let base = format!("/admin/regions/{region}/eips/{id}");
        let done = match kind {
            Oob::Unbind => admin(self.sim, "POST", format!("{base}/unbind"), String::new()).await,
            Oob::Rebind => {
                self.allowed.lock().expect("allowed")[index].insert(to.clone());
                self.oob_bound_ids.lock().expect("oob").insert(id.clone());
                admin(self.sim, "POST", format!("{base}/bind"), to.json().to_string()).await
            }
            Oob::Release => admin(self.sim, "POST", format!("{base}/release"), String::new()).await,
            Oob::LockUnlock => admin(self.sim, "POST", format!("{base}/lock"), String::new()).await,
            Oob::NatEntries => {
                let path = format!("/admin/regions/{region}/instances/{}/nat-entries", target.id);
                admin(self.sim, "PUT", path, r#"{"count":3}"#.into()).await
            }
        };
        let applied = matches!(done, Ok((200..=299, _)));
        out.released_by_soak = applied && *kind == Oob::Release;
        if !applied {
            return None;
        }
        *self.oob_done.lock().expect("oob").entry((*kind, plan.oob_at)).or_default() += 1;
        Some(*kind)
    }

    /// Lifts a lock the soak set, 3 to 10 s later.
    async fn unlock_later(&self, plan: &Plan, index: usize, out: &Outcome) {
        let Some(id) = &out.allocation_id else { return };
        tokio::time::sleep(Duration::from_secs(shared_rand(index, 3, 10))).await;
        let path = format!("/admin/regions/{}/eips/{id}/unlock", plan.region());
        self.admin_until_ok("POST", path, "").await;
    }

    /// Waits for what a struck change must end in: `Stalled ReleasedOutOfBand` after a release,
    /// the object converged on `target` again after an unbind, a rebind or a lifted lock. In the
    /// middle of a spec rebind (`mid_rebind`), that rebind must converge whatever was struck.
    #[allow(clippy::too_many_arguments)]
    async fn settle(
        &self,
        out: &mut Outcome,
        plan: &Plan,
        index: usize,
        struck: Option<Oob>,
        target: &Target,
        bound: Duration,
        mid_rebind: bool,
    ) {
        let name = plan.name.as_str();
        let repaired = if mid_rebind { "rebind+oob" } else { "drift-repaired" };
        let (label, result) = match struck {
            Some(Oob::Release) => {
                let result = self.wait(bound, |s| stalled_with(s, name, "ReleasedOutOfBand")).await;
                out.released_out_of_band = result.is_ok();
                ("released-out-of-band", result)
            }
            Some(Oob::LockUnlock) => {
                self.unlock_later(plan, index, out).await;
                (
                    if mid_rebind { repaired } else { "after-unlock" },
                    self.converge(bound, name, target).await,
                )
            }
            Some(Oob::Unbind | Oob::Rebind) => (repaired, self.converge(bound, name, target).await),
            None if mid_rebind => ("rebind", self.converge(bound, name, target).await),
            Some(Oob::NatEntries) | None => return,
        };
        let label = label.to_string();
        match result {
            Ok(took) => out.step_times.push((label, took)),
            Err(snap) => {
                let object = snap.objects.get(name);
                let eip = object
                    .and_then(|o| o["status"]["allocationId"].as_str())
                    .and_then(|id| snap.eips.get(id));
                out.not_converged.push((label, status_line(object, eip)));
            }
        }
    }
}

/// A deterministic small number per object (seconds in `lo..hi`).
fn shared_rand(index: usize, lo: u64, hi: u64) -> u64 {
    lo + (index as u64).wrapping_mul(2_654_435_761) % (hi - lo)
}
