//! The leak-ledger scan of one account, and the operator's periodic scan of every account.
//!
//! A scan lists every EIP of the account ([`eip_cloud::list_all`]: one call a page, each through
//! the account's rate limit) and sorts them ([`classify`]); the ElasticIPs whose EIP the list
//! lacks are described once more (batched, 50 IDs a call) before they are reported missing: one
//! answer never proves an address gone. The periodic scan only reports: it sets
//! `eip_operator_orphaned_eips{provider_config}` and publishes one Warning Event on the
//! ProviderConfig per orphan it has not reported before. It never releases anything.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::reflector::Store;
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use tracing::{debug, info, warn};

use super::ledger::{Account, Ledger, ObjectView, classify};
use crate::controller::events::{EventPublisher, EventType};
use crate::controller::providers::Providers;
use crate::telemetry::metrics::Metrics;
use eip_api::{ElasticIP, ElasticIPSpec, ProviderConfig, ProviderConfigRef};
use eip_cloud::{CloudError, CloudProvider, list_all};

/// How often the operator scans by default (`--audit-interval-seconds`).
pub const DEFAULT_AUDIT_INTERVAL: Duration = Duration::from_secs(3600);

/// The ledger of one ProviderConfig, as `audit` prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub provider_config: String,
    pub provider: String,
    pub region: String,
    #[serde(flatten)]
    pub ledger: Ledger,
}

/// Lists and sorts the EIPs of `provider` (the account `account` names).
pub async fn scan(provider: &dyn CloudProvider, objects: &[ObjectView], account: Account<'_>) -> Result<Ledger, CloudError> {
    let eips = list_all(provider).await?;
    let mut ledger = classify(&eips, objects, account, Timestamp::now());
    if !ledger.missing.is_empty() {
        let ids: Vec<String> = ledger.missing.iter().map(|m| m.allocation_id.clone()).collect();
        let found: HashSet<String> = provider.describe(&ids).await?.into_iter().map(|e| e.allocation_id).collect();
        ledger.missing.retain(|m| !found.contains(&m.allocation_id));
    }
    Ok(ledger)
}

/// This cluster's ID: `--cluster-name` when given, else the UID of the `kube-system` namespace
/// (every cluster has one, created with the cluster and never recreated).
pub async fn cluster_id(client: &Client, cluster_name: Option<&str>) -> Result<String, kube::Error> {
    if let Some(name) = cluster_name {
        return Ok(name.to_string());
    }
    let namespace = Api::<Namespace>::all(client.clone()).get("kube-system").await?;
    Ok(namespace.uid().unwrap_or_default())
}

/// Whether a failed [`cluster_id`] read is the cluster's answer (forbidden, or no `kube-system`):
/// then the operator goes on without a cluster ID. Anything else (the API server down or
/// restarting, a timeout) says nothing, and the read is tried again: the ID is part of every
/// allocation's owner tags, and a replica that started while the API server restarted tagged
/// its retries without it, which the cloud refused as another request under the same client
/// token (`IdempotentParameterMismatch`), leaving the EIP of the first attempt unrecorded (the
/// chaos soak, seed 1: five leaks).
pub fn cluster_id_is_unavailable(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.is_forbidden() || status.is_not_found())
}

/// What ElasticIPs name a ProviderConfig by.
pub fn naming(config: &str) -> ElasticIPSpec {
    ElasticIPSpec {
        provider_config_ref: Some(ProviderConfigRef { name: config.into() }),
        ..ElasticIPSpec::default()
    }
}

/// Everything the periodic scan works with.
pub struct Scanner {
    pub providers: Providers,
    pub configs: Store<ProviderConfig>,
    pub eips: Store<ElasticIP>,
    pub recorder: EventPublisher,
    pub metrics: Arc<Metrics>,
    pub cluster: String,
    pub scope: Option<String>,
    pub interval: Duration,
}

impl Scanner {
    /// Scans every ProviderConfig, then waits `interval`, for ever.
    pub async fn run(self) {
        if self.configs.wait_until_ready().await.is_err() || self.eips.wait_until_ready().await.is_err() {
            return;
        }
        info!(interval_s = self.interval.as_secs(), cluster = %self.cluster, "leak-ledger scans starting");
        // Orphans already reported, by ProviderConfig: one Event per new orphan.
        let mut reported: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        loop {
            self.scan_all(&mut reported).await;
            tokio::time::sleep(self.interval).await;
        }
    }

    async fn scan_all(&self, reported: &mut BTreeMap<String, BTreeSet<String>>) {
        let objects: Vec<ObjectView> = self.eips.state().iter().filter_map(|e| ObjectView::of(e)).collect();
        for config in self.configs.state() {
            let name = config.name_any();
            let resolved = match self.providers.resolve(&naming(&name)) {
                Ok(resolved) => resolved,
                Err(err) => {
                    debug!(provider_config = %name, %err, "not scanned");
                    continue;
                }
            };
            let account = Account {
                provider_config: &name,
                cluster: &self.cluster,
                scope: self.scope.as_deref(),
            };
            let ledger = match scan(resolved.provider.as_ref(), &objects, account).await {
                Ok(ledger) => ledger,
                Err(err) => {
                    warn!(provider_config = %name, %err, "leak-ledger scan failed; the next one tries again");
                    continue;
                }
            };
            self.metrics.set_orphaned(&name, ledger.orphans.len());
            let seen = reported.entry(name.clone()).or_default();
            let now: BTreeSet<String> = ledger.orphans.iter().map(|o| o.allocation_id.clone()).collect();
            for orphan in ledger.orphans.iter().filter(|o| !seen.contains(&o.allocation_id)) {
                let owner = orphan.owner().unwrap_or("an object");
                let note = format!(
                    "EIP {} ({}) is tagged as owned by ElasticIP {owner} of this cluster, which no longer exists; it is not released by the operator. Adopt it (spec.allocationId) or release it with `eip-operator audit --provider-config {name} --release-orphans`.",
                    orphan.address, orphan.allocation_id
                );
                self.recorder
                    .publish_best_effort(config.object_ref(&()), EventType::Warning, "OrphanedEIP", "Audit", note)
                    .await;
            }
            *seen = now;
            info!(
                provider_config = %name,
                orphans = ledger.orphans.len(),
                missing = ledger.missing.len(),
                unmanaged = ledger.unmanaged.len(),
                "leak-ledger scan"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    #[test]
    fn only_the_clusters_own_answer_ends_the_cluster_id_read() {
        let api = |code: u16, reason: &str| kube::Error::Api(Box::new(Status::failure("kube-system", reason).with_code(code)));
        let cases = [
            (api(403, "Forbidden"), true),
            (api(404, "NotFound"), true),
            (api(500, "InternalError"), false),
            (api(503, "ServiceUnavailable"), false),
            (api(429, "TooManyRequests"), false),
            (api(504, "Timeout"), false),
            (kube::Error::Service("client error (Connect)".into()), false),
            (kube::Error::ReadEvents(std::io::Error::other("connection reset")), false),
        ];
        for (err, unavailable) in cases {
            assert_eq!(cluster_id_is_unavailable(&err), unavailable, "{err}");
        }
    }
}
