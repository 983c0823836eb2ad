//! The ElasticIP controller: watches ElasticIPs (and ProviderConfigs) and reconciles each with
//! [`reconcile::reconcile`].

pub mod decide;
pub mod events;
pub mod leader;
pub mod providers;
pub mod reconcile;
pub mod secrets;
pub mod status;
pub mod timing;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use futures::StreamExt;
use kube::runtime::{Controller, WatchStreamExt, controller, reflector, watcher};
use kube::{Api, Client, Resource};
use tracing::{info, warn};

use crate::api::{ElasticIP, ProviderConfig};
use crate::cloud::simulator::Simulator;
use crate::telemetry::metrics::Metrics;
use crate::telemetry::server::Health;
use events::EventPublisher;
pub use providers::Providers;
pub use reconcile::{Context, Error, MANAGER, error_policy, reconcile};
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
    /// How long a Describe waits for others to share its wire call.
    pub describe_window: std::time::Duration,
    /// Set ready once the caches are filled.
    pub health: Arc<Health>,
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
            describe_window: providers::DEFAULT_DESCRIBE_WINDOW,
            health: Arc::new(Health::default()),
        }
    }
}

/// Triggers a reconcile when the object's spec (generation) changes or its deletion starts, but
/// not for the operator's own status and finalizer writes: the reconciler requeues itself.
fn spec_or_deletion(eip: &ElasticIP) -> Option<u64> {
    let mut hasher = DefaultHasher::new();
    eip.meta().generation.hash(&mut hasher);
    eip.meta().deletion_timestamp.is_some().hash(&mut hasher);
    Some(hasher.finish())
}

/// Runs the controller until `shutdown` completes. `simulator` is the in-process cloud that
/// ProviderConfigs of type `simulator` use; with `implicit_simulator_region`, ElasticIPs without
/// a ProviderConfig use it too.
pub async fn run(
    client: Client,
    settings: Settings,
    simulator: Option<Simulator>,
    implicit_simulator_region: Option<String>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let configs_api: Api<ProviderConfig> = Api::all(client.clone());
    let (configs, configs_writer) = reflector::store();
    let (config_changed_tx, config_changed_rx) = futures::channel::mpsc::channel::<()>(16);
    let config_watch = watcher(configs_api, watcher::Config::default())
        .default_backoff()
        .reflect(configs_writer)
        .applied_objects()
        .for_each(move |event| {
            let mut tx = config_changed_tx.clone();
            async move {
                match event {
                    // A new or changed account may unblock stalled ElasticIPs.
                    Ok(_) => {
                        let _ = tx.try_send(());
                    }
                    Err(err) => warn!(%err, "ProviderConfig watch failed"),
                }
            }
        });
    tokio::spawn(config_watch);

    let eips: Api<ElasticIP> = match &settings.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let (reader, writer) = reflector::store();
    settings.metrics.watch_elastic_ips(reader.clone());
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
    let providers = Providers::new(configs.clone(), simulator, implicit_simulator_region)
        .with_client(client.clone())
        .with_metrics(settings.metrics.clone())
        .with_describe_window(settings.describe_window);
    let ctx = Arc::new(Context::new(
        client,
        providers,
        recorder,
        settings.timing.clone(),
        settings.metrics.clone(),
    ));

    // Resolve no ElasticIP before the ProviderConfigs are known.
    if configs.wait_until_ready().await.is_err() {
        warn!("ProviderConfig cache never became ready");
        return;
    }
    info!(concurrency = settings.concurrency, "controller starting");
    settings.health.set_ready(true);
    Controller::for_stream(trigger, reader)
        .with_config(controller::Config::default().concurrency(settings.concurrency))
        .reconcile_all_on(config_changed_rx)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(err) = result {
                match err {
                    controller::Error::ReconcilerFailed(..) => {} // logged by error_policy
                    other => warn!(err = %other, "controller"),
                }
            }
        })
        .await;
    info!("controller stopped");
}
