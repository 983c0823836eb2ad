//! `eip-operator audit` (and `kubectl eip audit`): the leak ledger of every ProviderConfig in the
//! cluster (or one), from outside the cluster, with the user's kubeconfig; and
//! `--release-orphans`, the only thing that ever releases an orphan.

use std::sync::Arc;
use std::time::Duration;

use kube::api::ListParams;
use kube::runtime::{reflector, watcher};
use kube::{Api, Client, ResourceExt};

use super::ledger::{Account, LedgerEip, ObjectView};
use super::render::{or_dash, table};
use super::scan::{Report, cluster_id, naming, scan};
use crate::controller::providers::Providers;
use crate::controller::reconcile::client_token;
use eip_api::{ElasticIP, ProviderConfig};
use eip_cloud::{CloudError, CloudProvider, EipPhase, Registry, UnbindRequest};

/// What to audit.
#[derive(Clone, Debug, Default)]
pub struct AuditOptions {
    /// One ProviderConfig (all of them when unset).
    pub provider_config: Option<String>,
    /// The cluster ID the operator runs with (`--cluster-name`); the kube-system UID when unset.
    pub cluster_name: Option<String>,
}

/// A ledger and the provider client it was read with (to release orphans through).
pub struct Audited {
    pub report: Report,
    pub provider: Arc<dyn CloudProvider>,
}

/// The ProviderConfigs in the cluster (or the one asked for), ready to resolve.
pub async fn providers(client: &Client, registry: Registry, only: Option<&str>) -> anyhow::Result<(Providers, Vec<ProviderConfig>)> {
    let api: Api<ProviderConfig> = Api::all(client.clone());
    let mut configs = api.list(&ListParams::default()).await?.items;
    if let Some(name) = only {
        configs.retain(|c| c.name_any() == name);
        anyhow::ensure!(!configs.is_empty(), "ProviderConfig {name:?} does not exist");
    }
    let (store, mut writer) = reflector::store();
    for config in &configs {
        writer.apply_watcher_event(&watcher::Event::Apply(config.clone()));
    }
    Ok((Providers::new(store, registry).with_client(client.clone()), configs))
}

/// The ledger of each ProviderConfig.
pub async fn audit(client: &Client, registry: Registry, options: &AuditOptions) -> anyhow::Result<Vec<Audited>> {
    let cluster = cluster_id(client, options.cluster_name.as_deref()).await?;
    let (providers, configs) = providers(client, registry, options.provider_config.as_deref()).await?;
    let eips: Api<ElasticIP> = Api::all(client.clone());
    let objects: Vec<ObjectView> = eips
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .filter_map(ObjectView::of)
        .collect();
    let mut audited = Vec::new();
    for config in configs {
        let name = config.name_any();
        let resolved = providers.resolve(&naming(&name))?;
        let account = Account {
            provider_config: &name,
            cluster: &cluster,
            scope: None,
        };
        let ledger = scan(resolved.provider.as_ref(), &objects, account)
            .await
            .map_err(|err| anyhow::anyhow!("ProviderConfig {name}: {err}"))?;
        audited.push(Audited {
            report: Report {
                provider_config: name,
                provider: config.spec.provider.as_str().to_string(),
                region: resolved.region.clone(),
                ledger,
            },
            provider: resolved.provider,
        });
    }
    Ok(audited)
}

/// The human table of the reports.
pub fn render_table(reports: &[&Report]) -> String {
    let mut out = String::new();
    for (i, report) in reports.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let ledger = &report.ledger;
        out.push_str(&format!(
            "ProviderConfig {} ({}, {}): {} managed, {} orphaned, {} missing, {} unmanaged\n",
            report.provider_config,
            report.provider,
            report.region,
            ledger.managed,
            ledger.orphans.len(),
            ledger.missing.len(),
            ledger.unmanaged.len()
        ));
        section(
            &mut out,
            "ORPHANED: tagged as owned by an ElasticIP of this cluster that no longer exists (release: audit --release-orphans)",
            &ledger.orphans,
            true,
        );
        if !ledger.missing.is_empty() {
            out.push_str("\nMISSING: ElasticIPs whose EIP the cloud no longer has\n");
            let mut rows = vec![vec!["ELASTICIP".to_string(), "ALLOCATION ID".to_string()]];
            rows.extend(
                ledger
                    .missing
                    .iter()
                    .map(|m| vec![format!("{}/{}", m.namespace, m.name), m.allocation_id.clone()]),
            );
            out.push_str(&table(&rows));
        }
        section(
            &mut out,
            "UNMANAGED: no owner tags, named by no ElasticIP (adopt: eip-operator import)",
            &ledger.unmanaged,
            false,
        );
        section(
            &mut out,
            "UNATTRIBUTED: an owner UID but no cluster ID, matching nothing here (never released by the audit)",
            &ledger.unattributed,
            true,
        );
        if ledger.other_clusters > 0 {
            out.push_str(&format!(
                "\n{} EIP(s) carry another cluster's owner tags (not shown).\n",
                ledger.other_clusters
            ));
        }
    }
    out
}

fn section(out: &mut String, title: &str, eips: &[LedgerEip], with_owner: bool) {
    if eips.is_empty() {
        return;
    }
    out.push_str(&format!("\n{title}\n"));
    let mut header = vec!["ADDRESS", "ALLOCATION ID"];
    if with_owner {
        header.push("OWNER");
    }
    header.extend(["BOUND TO", "AGE", "STATE", "TAGS"]);
    let mut rows = vec![header.into_iter().map(String::from).collect::<Vec<_>>()];
    for eip in eips {
        let mut row = vec![eip.address.clone(), eip.allocation_id.clone()];
        if with_owner {
            row.push(or_dash(eip.owner()));
        }
        let tags: Vec<String> = eip
            .tags
            .iter()
            .filter(|(k, _)| !k.starts_with("eip-operator.dev/"))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        row.extend([
            or_dash(eip.bound_to.as_deref()),
            or_dash(eip.age.as_deref()),
            eip.state.clone(),
            or_dash(Some(&tags.join(","))),
        ]);
        rows.push(row);
    }
    out.push_str(&table(&rows));
}

/// Looks at an EIP this often while it unbinds, at most [`UNBIND_LOOKS`] times.
const UNBIND_POLL: Duration = Duration::from_secs(1);
const UNBIND_LOOKS: u32 = 120;

/// Unbinds, then releases, every orphan of `report` that still carries this cluster's owner
/// tags when looked at again. Returns what became of each.
pub async fn release_orphans(provider: &dyn CloudProvider, report: &Report, cluster: &str) -> Vec<(String, Result<(), String>)> {
    let mut results = Vec::new();
    for orphan in &report.ledger.orphans {
        let result = release_one(provider, &orphan.allocation_id, cluster).await;
        results.push((orphan.allocation_id.clone(), result));
    }
    results
}

async fn release_one(provider: &dyn CloudProvider, id: &str, cluster: &str) -> Result<(), String> {
    let describe = || async {
        provider
            .describe(&[id.to_string()])
            .await
            .map(|found| found.into_iter().find(|e| e.allocation_id == id))
            .map_err(|e: CloudError| e.to_string())
    };
    let Some(eip) = describe().await? else {
        return Err("the cloud no longer lists it".into());
    };
    // Only what this cluster's owner tags name is ever released.
    if eip.cluster() != Some(cluster) || eip.owner_uid().is_none_or(str::is_empty) {
        return Err("it no longer carries this cluster's owner tags; left alone".into());
    }
    if let Some(current) = eip.bound_to.clone() {
        let request = UnbindRequest {
            handle: eip.binding_handle.clone(),
            ..UnbindRequest::new(id, current, client_token(&["audit", "unassociate", id]))
        };
        provider.unassociate(&request).await.map_err(|e| format!("unbind: {e}"))?;
    }
    let mut looks = 0;
    loop {
        let Some(eip) = describe().await? else {
            return Ok(());
        };
        match eip.phase {
            EipPhase::Unbound => break,
            EipPhase::Transitional(_) if looks < UNBIND_LOOKS => {
                looks += 1;
                tokio::time::sleep(UNBIND_POLL).await;
            }
            _ => return Err(format!("not unbound (state {}); not released", eip.raw_state)),
        }
    }
    match provider.release(id, &client_token(&["audit", "release", id])).await {
        Ok(_) => Ok(()),
        // Released meanwhile: the goal is reached.
        Err(err) if err.class() == eip_cloud::ErrorClass::Gone => Ok(()),
        Err(err) => Err(format!("release: {err}")),
    }
}

/// The manifests `import` prints: every EIP of the ProviderConfig that `options` selects.
pub async fn import(client: &Client, registry: Registry, options: &super::import::ImportOptions) -> anyhow::Result<Vec<ElasticIP>> {
    let (providers, _) = providers(client, registry, Some(&options.provider_config)).await?;
    let resolved = providers.resolve(&naming(&options.provider_config))?;
    let eips = eip_cloud::list_all(resolved.provider.as_ref())
        .await
        .map_err(|err| anyhow::anyhow!("ProviderConfig {}: {err}", options.provider_config))?;
    let objects: Vec<ObjectView> = Api::<ElasticIP>::all(client.clone())
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .filter_map(ObjectView::of)
        .collect();
    Ok(super::import::manifests(&eips, &objects, options))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::day2::ledger::{Ledger, LedgerEip};
    use eip_cloud::{BindTarget, CLUSTER_TAG, InstanceType, OWNER_TAG};
    use eip_simulator::{SeedEip, Simulator, SimulatorConfig};

    fn entry(id: &str) -> LedgerEip {
        LedgerEip {
            allocation_id: id.into(),
            address: String::new(),
            state: String::new(),
            bound_to: None,
            created_at: None,
            age: None,
            tags: BTreeMap::new(),
        }
    }

    #[tokio::test]
    async fn only_this_clusters_orphans_are_released_and_bound_ones_are_unbound_first() {
        let sim = Simulator::new(SimulatorConfig::instant());
        let provider = sim.provider("cn-hangzhou").expect("region");
        let tagged = |cluster: &str, bound: bool| SeedEip {
            tags: BTreeMap::from([
                (OWNER_TAG.to_string(), "gone".to_string()),
                (CLUSTER_TAG.to_string(), cluster.to_string()),
            ]),
            bound_to: bound.then(|| BindTarget {
                instance_type: InstanceType::EcsInstance,
                instance_id: "i-sim-0001".into(),
                private_ip_address: None,
            }),
            ..SeedEip::default()
        };
        let ours = sim.seed_eip("cn-hangzhou", tagged("here", true)).expect("seed").allocation_id;
        // Listed as an orphan, but its tags changed since: left alone.
        let retagged = sim.seed_eip("cn-hangzhou", tagged("there", false)).expect("seed").allocation_id;
        let report = Report {
            provider_config: "prod".into(),
            provider: "simulator".into(),
            region: "cn-hangzhou".into(),
            ledger: Ledger {
                orphans: vec![entry(&ours), entry(&retagged)],
                ..Ledger::default()
            },
        };
        let results = release_orphans(&provider, &report, "here").await;
        assert_eq!(results[0], (ours.clone(), Ok(())));
        assert!(results[1].1.as_ref().is_err_and(|why| why.contains("left alone")), "{results:?}");
        assert!(sim.eip("cn-hangzhou", &ours).is_none());
        assert!(sim.eip("cn-hangzhou", &retagged).is_some());
        let calls: Vec<String> = sim
            .calls()
            .into_iter()
            .filter(|c| c.operation.is_mutating())
            .map(|c| c.operation.to_string())
            .collect();
        assert_eq!(calls, ["Unassociate", "Release"]);
    }
}
