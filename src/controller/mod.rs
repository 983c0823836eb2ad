//! The ElasticIP controller: watches ElasticIPs and reconciles each with [`reconcile::reconcile`];
//! beside it, in the same process and under the same leader election, the ElasticIPPool
//! controller ([`pool`]), which manages ElasticIPs of its own.
//!
//! It also watches what the ElasticIPs depend on outside themselves: the ProviderConfigs and the
//! credentials Secrets they name. A ProviderConfig created, changed, deleted or re-created (a new
//! UID), or a Secret changed from the version the operator read, requeues at once the ElasticIPs
//! that resolve to that ProviderConfig, so a stall whose cause was fixed there clears within
//! seconds instead of at the next stalled resync.

mod cloud_calls;
pub mod decide;
pub mod events;
mod finalizer;
pub mod leader;
mod paused;
pub mod pool;
pub mod pool_plan;
pub mod pool_status;
pub mod providers;
pub mod reconcile;
pub mod reference_watch;
pub mod references;
pub mod secrets;
pub mod status;
pub mod timing;
mod writes;

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use futures::channel::mpsc;
use futures::{FutureExt, StreamExt};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, controller, reflector, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use tracing::{debug, info, warn};

use crate::telemetry::metrics::Metrics;
use crate::telemetry::server::Health;
use eip_api::{ElasticIP, ProviderConfig};
use eip_cloud::Registry;
use events::EventPublisher;
use providers::ConfigIdentity;
pub use providers::Providers;
pub use reconcile::{Context, Error, MANAGER, error_policy, reconcile};
use secrets::{SecretCache, SecretKey};
pub use timing::Timing;

/// How the controller runs.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Reconciles running at once.
    pub concurrency: u16,
    pub timing: Timing,
    /// Name in Events' reportingController.
    pub reporter: String,
    /// Instance in Events' reportingInstance (pod name).
    pub instance: Option<String>,
    /// Only watch ElasticIPs in this namespace (all namespaces when unset).
    pub namespace: Option<String>,
    pub metrics: Arc<Metrics>,
    /// Set ready once the caches are filled.
    pub health: Arc<Health>,
    /// This cluster's ID for the owner tags and the leak ledger (`--cluster-name`); the UID of
    /// the `kube-system` namespace when unset.
    pub cluster_id: Option<String>,
    /// How often the leak ledger is scanned (`None`: never).
    pub audit_interval: Option<std::time::Duration>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            concurrency: 16,
            timing: Timing::default(),
            reporter: MANAGER.into(),
            instance: None,
            namespace: None,
            metrics: Arc::new(Metrics::new()),
            health: Arc::new(Health::default()),
            cluster_id: None,
            audit_interval: Some(crate::day2::scan::DEFAULT_AUDIT_INTERVAL),
        }
    }
}

/// Triggers a reconcile when the object's spec (generation) changes or its deletion starts, but
/// not for the operator's own status and finalizer writes: the reconciler requeues itself.
fn spec_or_deletion(eip: &ElasticIP) -> Option<u64> {
    let mut hasher = DefaultHasher::new();
    eip.meta().generation.hash(&mut hasher);
    eip.meta().deletion_timestamp.is_some().hash(&mut hasher);
    // Pausing and resuming change only an annotation.
    reconcile::is_paused(eip).hash(&mut hasher);
    Some(hasher.finish())
}

/// The cluster ID of the owner tags, read until the API server answers: a transient error must
/// not change the tags of an allocation being retried ([`crate::day2::scan::cluster_id_is_unavailable`]).
async fn read_cluster_id(client: &Client, cluster_name: Option<&str>, timing: &Timing) -> Option<String> {
    let mut failures = 0u32;
    loop {
        match crate::day2::scan::cluster_id(client, cluster_name).await {
            Ok(id) => return Some(id).filter(|id| !id.is_empty()),
            Err(err) if crate::day2::scan::cluster_id_is_unavailable(&err) => {
                warn!(%err, "cannot read the kube-system namespace for the cluster ID (give --cluster-name): EIPs are tagged without it and the leak ledger is not scanned");
                return None;
            }
            Err(err) => {
                let retry = timing.kube_backoff(failures);
                warn!(%err, ?retry, "reading the cluster ID (kube-system namespace); no reconcile before it is known");
                tokio::time::sleep(retry).await;
                failures = failures.saturating_add(1);
            }
        }
    }
}

/// Runs the controller until `shutdown` completes, with the providers `registry` serves.
pub async fn run(client: Client, settings: Settings, registry: Registry, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    // Both controllers stop on the same signal.
    let shutdown = shutdown.shared();
    let configs_api: Api<ProviderConfig> = Api::all(client.clone());
    let (configs, configs_writer) = reflector::store();
    let config_events = watcher(configs_api, watcher::Config::default())
        .default_backoff()
        .reflect(configs_writer);

    let eips: Api<ElasticIP> = match &settings.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let (reader, writer) = reflector::store();
    settings.metrics.count_elastic_ips_with(elastic_ips_by_phase(reader.clone()));
    let trigger = watcher(eips, watcher::Config::default().any_semantic())
        .default_backoff()
        // The cache keeps what the reconciler reads: managedFields and the last-applied
        // annotation can be larger than the rest of an object together.
        .modify(|eip: &mut ElasticIP| {
            eip.meta_mut().managed_fields = None;
            if let Some(annotations) = eip.meta_mut().annotations.as_mut() {
                annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
            }
        })
        .reflect(writer)
        .applied_objects()
        .predicate_filter(spec_or_deletion, Default::default());

    let recorder = EventPublisher::new(client.clone(), settings.reporter.clone(), settings.instance.clone());
    let providers = Providers::new(configs.clone(), registry).with_client(client.clone());
    let (requeue_tx, requeue_rx) = mpsc::unbounded::<ObjectRef<ElasticIP>>();
    let dependencies = watch_dependencies(
        client.clone(),
        config_events,
        configs.clone(),
        reader.clone(),
        providers.clone(),
        requeue_tx,
    );
    let references_client = client.clone();
    let pool_ctx = Arc::new(pool::PoolContext::new(client.clone(), recorder.clone(), settings.timing.clone()));
    let pools = pool::run(
        client.clone(),
        settings.namespace.clone(),
        settings.concurrency,
        pool_ctx,
        shutdown.clone(),
    );
    let cluster_id = tokio::select! {
        id = read_cluster_id(&client, settings.cluster_id.as_deref(), &settings.timing) => id,
        () = shutdown.clone() => return,
    };
    let scanner = match (&cluster_id, settings.audit_interval) {
        (Some(cluster), Some(interval)) if !interval.is_zero() => Some(crate::day2::scan::Scanner {
            providers: providers.clone(),
            configs: configs.clone(),
            eips: reader.clone(),
            recorder: recorder.clone(),
            metrics: settings.metrics.clone(),
            cluster: cluster.clone(),
            scope: settings.namespace.clone(),
            interval,
        }),
        _ => None,
    };
    let scans = {
        let shutdown = shutdown.clone();
        async move {
            if let Some(scanner) = scanner {
                futures::future::select(Box::pin(scanner.run()), shutdown).await;
            }
        }
    };
    let ctx = Arc::new(
        Context::new(client, providers, recorder, settings.timing.clone(), settings.metrics.clone())
            .with_concurrency(settings.concurrency)
            .with_cluster_id(cluster_id),
    );

    let controller = async move {
        // Resolve no ElasticIP before the ProviderConfigs are known.
        if configs.wait_until_ready().await.is_err() {
            warn!("ProviderConfig cache never became ready");
            return;
        }
        info!(concurrency = settings.concurrency, "controller starting");
        settings.health.set_ready(true);
        let (by_node, by_service) = (reader.clone(), reader.clone());
        Controller::for_stream(trigger, reader)
            // Unbounded here: the Context's fair semaphore limits the reconciles that run.
            .with_config(controller::Config::default().concurrency(0))
            // Bindings by reference: a Node's instance, a Service's load balancer.
            .watches_stream(reference_watch::node_changes(references_client.clone()), move |node| {
                reference_watch::referencing_node(&by_node, &node.name_any())
            })
            .watches_stream(
                reference_watch::service_changes(references_client, settings.namespace.as_deref()),
                move |service| reference_watch::referencing_service(&by_service, service.namespace().as_deref(), &service.name_any()),
            )
            .reconcile_on(requeue_rx)
            .graceful_shutdown_on(shutdown)
            .run(reconcile, error_policy, ctx)
            .for_each(|result| writes::log_failure("controller", result))
            .await;
    };
    let controller = futures::future::join3(controller, pools, scans);
    // The watches of ProviderConfigs and Secrets never end on their own: they live (and are
    // dropped, Secret watches aborted) with the controllers.
    futures::pin_mut!(controller, dependencies);
    futures::future::select(controller, dependencies).await;
    info!("controller stopped");
}

/// The `elasticips` gauge's source: ElasticIPs in the cache by phase and cloud state, counted at
/// scrape time.
fn elastic_ips_by_phase(store: Store<ElasticIP>) -> impl Fn() -> BTreeMap<(String, String), i64> + Send + Sync + 'static {
    move || {
        let mut counts = BTreeMap::new();
        for eip in store.state() {
            let status = eip.status.as_ref();
            let phase = status
                .and_then(|s| s.phase)
                .map_or_else(|| "Unknown".to_string(), |p| format!("{p:?}"));
            let cloud_state = status.and_then(|s| s.cloud_state.clone()).unwrap_or_default();
            *counts.entry((phase, cloud_state)).or_default() += 1;
        }
        counts
    }
}

/// What ElasticIPs depend on in a ProviderConfig, as last seen.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Account {
    /// UID and generation: a new UID is another account, a new generation a changed one.
    identity: ConfigIdentity,
    default: bool,
    /// The credentials Secret, for the providers that read one.
    secret: Option<SecretKey>,
}

impl Account {
    fn of(config: &ProviderConfig) -> Self {
        let secret = config.spec.credentials_secret_ref.as_ref().map(|r| SecretKey {
            namespace: r.namespace.clone(),
            name: r.name.clone(),
        });
        Account {
            identity: ConfigIdentity::of(config),
            default: config.spec.default,
            secret,
        }
    }
}

/// A ProviderConfig that appeared, changed or went away (or whose Secret changed).
#[derive(Clone, Debug, PartialEq, Eq)]
struct AccountChange {
    name: String,
    /// It is or was marked default: ElasticIPs that name no ProviderConfig may resolve
    /// differently now.
    default_involved: bool,
}

/// Brings `known` up to date with the ProviderConfigs `current`, returning what changed (by name).
fn account_changes(known: &mut BTreeMap<String, Account>, current: &[Arc<ProviderConfig>]) -> Vec<AccountChange> {
    let now: BTreeMap<String, Account> = current.iter().map(|c| (c.name_any(), Account::of(c))).collect();
    let mut changes = Vec::new();
    for (name, before) in known.iter() {
        match now.get(name) {
            Some(after) if after == before => {}
            after => changes.push(AccountChange {
                name: name.clone(),
                default_involved: before.default || after.is_some_and(|a| a.default),
            }),
        }
    }
    for (name, after) in &now {
        if !known.contains_key(name) {
            changes.push(AccountChange {
                name: name.clone(),
                default_involved: after.default,
            });
        }
    }
    changes.sort_by(|a, b| a.name.cmp(&b.name));
    *known = now;
    changes
}

/// Whether `eip` resolves to ProviderConfig `config` (it names it, or names none and `config`
/// is or was the default, or its last reconcile resolved to it).
fn depends_on(eip: &ElasticIP, config: &str, default_involved: bool) -> bool {
    match &eip.spec.provider_config_ref {
        Some(reference) => reference.name == config,
        None => default_involved || eip.status.as_ref().and_then(|s| s.provider_config.as_deref()) == Some(config),
    }
}

/// The ElasticIPs to look at again after `changes`.
fn dependents(eips: &[Arc<ElasticIP>], changes: &[AccountChange]) -> Vec<ObjectRef<ElasticIP>> {
    if changes.is_empty() {
        return Vec::new();
    }
    eips.iter()
        .filter(|eip| changes.iter().any(|c| depends_on(eip, &c.name, c.default_involved)))
        .map(|eip| ObjectRef::from_obj(eip.as_ref()))
        .collect()
}

/// One watch per credentials Secret that some ProviderConfig names; a watch is aborted when no
/// ProviderConfig names its Secret any more, and all of them when the controller stops.
struct SecretWatches {
    client: Client,
    cache: SecretCache,
    changed: mpsc::UnboundedSender<SecretKey>,
    tasks: HashMap<SecretKey, tokio::task::JoinHandle<()>>,
}

impl SecretWatches {
    fn update(&mut self, wanted: BTreeSet<SecretKey>) {
        let cache = &self.cache;
        self.tasks.retain(|key, task| {
            let keep = wanted.contains(key);
            if !keep {
                debug!(secret = %key, "no ProviderConfig names this Secret any more; unwatched");
                task.abort();
                cache.forget(key);
            }
            keep
        });
        for key in wanted {
            if self.tasks.contains_key(&key) {
                continue;
            }
            let changed = self.changed.clone();
            let task = tokio::spawn(secrets::watch(self.client.clone(), key.clone(), self.cache.clone(), move |key| {
                let _ = changed.unbounded_send(key.clone());
            }));
            self.tasks.insert(key, task);
        }
    }
}

impl Drop for SecretWatches {
    fn drop(&mut self) {
        for task in self.tasks.values() {
            task.abort();
        }
    }
}

/// Follows the ProviderConfigs (reflecting them into `configs`) and the Secrets they name, and
/// sends to `requeue` the ElasticIPs that depend on what changed. A changed ProviderConfig's
/// client is dropped (the next reconcile builds one from its current spec); a changed Secret's
/// cached read is dropped by its watch.
async fn watch_dependencies(
    client: Client,
    config_events: impl futures::Stream<Item = Result<watcher::Event<ProviderConfig>, watcher::Error>>,
    configs: Store<ProviderConfig>,
    eips: Store<ElasticIP>,
    providers: Providers,
    requeue: mpsc::UnboundedSender<ObjectRef<ElasticIP>>,
) {
    enum Input {
        Config(Box<Result<watcher::Event<ProviderConfig>, watcher::Error>>),
        Secret(SecretKey),
    }
    let (secret_tx, secret_rx) = mpsc::unbounded::<SecretKey>();
    let mut watches = SecretWatches {
        client,
        cache: providers.secret_cache(),
        changed: secret_tx,
        tasks: HashMap::new(),
    };
    let mut known = BTreeMap::new();
    let mut synced = false;
    let inputs = futures::stream::select(
        config_events.map(|event| Input::Config(Box::new(event))),
        secret_rx.map(Input::Secret),
    );
    futures::pin_mut!(inputs);
    while let Some(input) = inputs.next().await {
        let changes = match input {
            Input::Config(event) => match *event {
                Err(err) => {
                    warn!(%err, "ProviderConfig watch failed");
                    continue;
                }
                // The store changes at InitDone.
                Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => continue,
                Ok(_) => {
                    let changes = account_changes(&mut known, &configs.state());
                    for change in &changes {
                        providers.forget(&change.name);
                    }
                    watches.update(known.values().filter_map(|a| a.secret.clone()).collect());
                    // The first sync precedes the controller, which looks at every ElasticIP anyway.
                    if !std::mem::replace(&mut synced, true) {
                        continue;
                    }
                    changes
                }
            },
            Input::Secret(key) => known
                .iter()
                .filter(|(_, account)| account.secret.as_ref() == Some(&key))
                .map(|(name, account)| AccountChange {
                    name: name.clone(),
                    default_involved: account.default,
                })
                .collect(),
        };
        let refs = dependents(&eips.state(), &changes);
        if !refs.is_empty() {
            let names: Vec<&str> = changes.iter().map(|c| c.name.as_str()).collect();
            info!(providerconfigs = ?names, elasticips = refs.len(), "account changed; looking again at its ElasticIPs");
        }
        for object in refs {
            let _ = requeue.unbounded_send(object);
        }
    }
}

#[cfg(test)]
mod dependency_tests {
    use super::*;
    use crate::controller::fixtures::{self, ElasticIPFixture, ProviderConfigFixture, provider_config, spec_naming};
    use eip_api::ElasticIPSpec;
    use serde_json::json;

    fn config(name: &str, uid: &str, generation: i64, default: bool, secret: Option<&str>) -> Arc<ProviderConfig> {
        let mut spec = json!({ "provider": "alibaba", "region": "cn-hangzhou", "default": default });
        if let Some(secret) = secret {
            spec["credentialsSecretRef"] = json!({ "name": secret, "namespace": "creds" });
        }
        Arc::new(provider_config(name, spec).version(uid, generation))
    }

    fn eip(name: &str, config: Option<&str>, resolved_to: Option<&str>) -> Arc<ElasticIP> {
        let mut eip = fixtures::elastic_ip(config.map_or_else(ElasticIPSpec::default, spec_naming)).named(name);
        eip.status = resolved_to.map(fixtures::resolved_to);
        Arc::new(eip)
    }

    fn change(name: &str, default_involved: bool) -> AccountChange {
        AccountChange {
            name: name.into(),
            default_involved,
        }
    }

    #[test]
    fn a_recreated_provider_config_is_a_change_though_its_generation_is_the_same() {
        let mut known = BTreeMap::new();
        let first = vec![
            config("acct", "uid-1", 1, false, Some("s")),
            config("other", "uid-o", 3, true, None),
        ];
        assert_eq!(
            account_changes(&mut known, &first),
            vec![change("acct", false), change("other", true)]
        );
        // A relist of the same objects changes nothing.
        assert_eq!(account_changes(&mut known, &first), vec![]);
        // Deleted and created again: same name, same generation, a new UID.
        let recreated = vec![config("acct", "uid-2", 1, false, Some("s")), first[1].clone()];
        assert_eq!(account_changes(&mut known, &recreated), vec![change("acct", false)]);
        // Edited: a new generation.
        let edited = vec![config("acct", "uid-2", 2, false, Some("s")), first[1].clone()];
        assert_eq!(account_changes(&mut known, &edited), vec![change("acct", false)]);
        // The default one deleted: ElasticIPs naming none may resolve differently.
        assert_eq!(account_changes(&mut known, &edited[..1]), vec![change("other", true)]);
        assert_eq!(known.len(), 1);
        assert_eq!(
            known["acct"].secret,
            Some(SecretKey {
                namespace: "creds".into(),
                name: "s".into()
            })
        );
    }

    #[test]
    fn the_elasticips_of_a_changed_account_are_requeued() {
        let eips = vec![
            eip("names-it", Some("acct"), None),
            eip("names-another", Some("other"), Some("other")),
            eip("default-now", None, None),
            eip("resolved-to-it", None, Some("acct")),
        ];
        let names = |refs: Vec<ObjectRef<ElasticIP>>| refs.into_iter().map(|r| r.name).collect::<Vec<_>>();
        assert_eq!(
            names(dependents(&eips, &[change("acct", false)])),
            vec!["names-it", "resolved-to-it"]
        );
        assert_eq!(
            names(dependents(&eips, &[change("acct", true)])),
            vec!["names-it", "default-now", "resolved-to-it"]
        );
        assert!(dependents(&eips, &[]).is_empty());
        let refs = dependents(&eips, &[change("other", false)]);
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].namespace.as_deref(), Some(fixtures::NAMESPACE));
    }
}
