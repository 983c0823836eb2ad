//! Leader election with a Lease (kube-lease-manager): only the holder reconciles; a standby
//! takes over within a lease duration when the leader dies, at once when it steps down.
//!
//! A leader that cannot renew steps down at once, abandoning its reconciles in flight: the
//! lease manager alone would keep reporting "leader" through an API server outage, while the
//! lease it can no longer renew expires and a standby takes it, so both would reconcile (and, on
//! a cloud without idempotent allocation, both allocate for one object). Renewal starts a third
//! of the lease before it expires, so the old leader stops well before another can start.

use std::time::Duration;

use kube::Client;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::sync::watch;
use tracing::{error, info, warn};

use super::{MANAGER, Settings};
use eip_cloud::Registry;

/// Which Lease to hold, and as whom.
#[derive(Clone, Debug)]
pub struct LeaderElection {
    pub lease_name: String,
    pub namespace: String,
    /// Unique per replica (the pod name).
    pub identity: String,
    /// How long a lease lasts without renewal; the leader renews a third of it before expiry.
    pub lease_duration_seconds: u64,
}

/// Attempts to set up the lease manager before giving up (about a minute).
const BUILD_ATTEMPTS: u32 = 60;

/// Why [`run_elected`] returned without being asked to stop. Each message says it all (the
/// lease manager's error included), so a caller may log or wrap it as it is.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// The lease manager could not be set up (retried for about a minute).
    #[error("leader election: {0}")]
    Setup(kube_lease_manager::LeaseManagerError),
    /// The lease manager stopped reporting before this replica became the leader.
    #[error("leader election stopped")]
    Stopped,
    /// Another replica holds the lease now.
    #[error("lost the leader lease; exiting so that a restart campaigns again")]
    Lost,
}

type LeaseTask = tokio::task::JoinHandle<()>;

/// Watches the lease like `LeaseManager::watch`, but reports "not leader" as soon as a renewal
/// (or any look at the lease) fails: what the lease manager cannot confirm, this replica must
/// not assume.
fn watch_lease(manager: LeaseManager) -> (watch::Receiver<bool>, LeaseTask) {
    let (sender, receiver) = watch::channel(false);
    let task = tokio::spawn(async move {
        let mut backoff = Duration::from_millis(500);
        loop {
            tokio::select! {
                biased;
                _ = sender.closed() => break,
                result = manager.changed() => match result {
                    Ok(leader) => {
                        backoff = Duration::from_millis(500);
                        if sender.send(leader).is_err() {
                            break;
                        }
                    }
                    Err(err) => {
                        if *sender.borrow() {
                            error!(%err, "cannot renew the leader lease; stepping down");
                            let _ = sender.send(false);
                        } else {
                            warn!(%err, "cannot read the leader lease; retrying");
                        }
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                },
            }
        }
        if let Err(err) = manager.release().await {
            warn!(%err, "could not release the leader lease (it expires by itself)");
        }
    });
    (receiver, task)
}

/// Waits for the Lease, then runs the controller while holding it. `lease_client` is for the
/// Lease alone: its timeouts must be short enough that a stuck renewal fails (and the leader
/// steps down) before the lease expires. Returns `Ok` when `stop` is
/// set, and an error when the lease was lost (the process should exit and campaign again).
pub async fn run_elected(
    client: Client,
    lease_client: Client,
    election: LeaderElection,
    settings: Settings,
    registry: Registry,
    stop: watch::Receiver<bool>,
) -> Result<(), LeaderError> {
    let health = settings.health.clone();
    let duration = election.lease_duration_seconds.max(3);
    // Replicas starting together race to create the Lease; the loser retries (bounded).
    let mut attempt = 0;
    let manager = loop {
        let built = LeaseManagerBuilder::new(lease_client.clone(), &election.lease_name)
            .with_namespace(&election.namespace)
            .with_identity(&election.identity)
            .with_duration(duration)
            .with_grace((duration / 3).max(1))
            // One field manager per identity, as kube-lease-manager requires: the lock is a
            // server-side apply, and with one manager for every replica the second apply simply
            // overwrote the first, so replicas starting together both "acquired" the Lease.
            .with_field_manager(format!("{MANAGER}-lease-{}", election.identity))
            .build()
            .await;
        match built {
            Ok(manager) => break manager,
            Err(err) if attempt < BUILD_ATTEMPTS => {
                attempt += 1;
                warn!(%err, attempt, "cannot set up leader election yet; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(err) => return Err(LeaderError::Setup(err)),
        }
    };
    let (mut leader, lease_task) = watch_lease(manager);
    // A standby is healthy and ready: it serves its purpose by waiting.
    health.set_ready(true);
    info!(
        identity = election.identity,
        lease = election.lease_name,
        namespace = election.namespace,
        "waiting for the leader lease"
    );
    let mut stop_watch = stop.clone();
    while !*leader.borrow_and_update() {
        tokio::select! {
            changed = leader.changed() => changed.map_err(|_| LeaderError::Stopped)?,
            _ = stop_watch.changed() => {
                release(leader, lease_task).await;
                return Ok(());
            }
        }
    }
    info!(identity = election.identity, "acquired the leader lease");
    health.set_leader(true);
    health.set_ready(false);
    let mut lost = leader.clone();
    // A stop (SIGTERM) lets reconciles in flight finish; a lost lease abandons them at once,
    // like a SIGKILL would: another replica may be reconciling the same objects already.
    tokio::select! {
        _ = super::run(client, settings, registry, stopped(stop.clone())) => {}
        _ = async { while lost.changed().await.is_ok() && *lost.borrow() {} } => {
            warn!("lost the leader lease: abandoning the reconciles in flight");
        }
    }
    let still_leader = *leader.borrow();
    health.set_leader(false);
    release(leader, lease_task).await;
    if still_leader || *stop.borrow() {
        Ok(())
    } else {
        Err(LeaderError::Lost)
    }
}

/// Gives up the Lease (so a standby takes over at once) and waits, briefly, for that.
async fn release(leader: watch::Receiver<bool>, lease_task: LeaseTask) {
    drop(leader);
    if tokio::time::timeout(Duration::from_secs(5), lease_task).await.is_err() {
        error!("timed out releasing the leader lease");
    }
}

/// Completes once the stop flag is set (or its sender is gone).
pub async fn stopped(mut stop: watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}
