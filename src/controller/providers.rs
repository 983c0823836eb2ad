//! Which cloud account an ElasticIP lives in: resolves spec.providerConfigRef (or the default
//! ProviderConfig) to a provider client, built once per ProviderConfig identity: its UID (a
//! ProviderConfig deleted and created again under the same name is another account) and its
//! generation (a changed spec is a new client).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};

use super::secrets::{KubeSecretSource, SecretCache};
use crate::api::{ElasticIPSpec, ProviderConfig, ProviderType, RateLimits};
use crate::cloud::alibaba::AlibabaProvider;
use crate::cloud::batch::DescribeBatcher;
use crate::cloud::rate_limit::RateLimited;
use crate::cloud::simulator::Simulator;
use crate::cloud::{CloudProvider, SecretSource};
use crate::telemetry::metrics::{Instrumented, Metrics};

/// How long a Describe waits, by default, for others to share its wire call.
pub const DEFAULT_DESCRIBE_WINDOW: std::time::Duration = std::time::Duration::from_millis(250);

/// Name reported for the implicit simulator account of `run --provider simulator`.
pub const IMPLICIT_SIMULATOR: &str = "(implicit simulator)";

/// A provider client and the ProviderConfig it came from.
#[derive(Clone)]
pub struct Resolved {
    pub config_name: String,
    pub provider: Arc<dyn CloudProvider>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("ProviderConfig {0:?} does not exist")]
    NotFound(String),
    #[error("spec.providerConfigRef is unset and no ProviderConfig is marked default: true")]
    NoDefault,
    #[error("spec.providerConfigRef is unset and several ProviderConfigs are marked default: {0:?}; mark only one")]
    AmbiguousDefault(Vec<String>),
    #[error("ProviderConfig {name:?}: {message}")]
    Invalid { name: String, message: String },
}

impl ResolveError {
    /// CamelCase reason for the Stalled condition.
    pub fn reason(&self) -> &'static str {
        match self {
            ResolveError::NotFound(_) => "ProviderConfigNotFound",
            ResolveError::NoDefault => "NoDefaultProviderConfig",
            ResolveError::AmbiguousDefault(_) => "AmbiguousDefaultProviderConfig",
            ResolveError::Invalid { .. } => "InvalidProviderConfig",
        }
    }
}

/// Which version of a ProviderConfig a client was built from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigIdentity {
    pub uid: Option<String>,
    pub generation: Option<i64>,
}

impl ConfigIdentity {
    pub fn of(config: &ProviderConfig) -> Self {
        ConfigIdentity {
            uid: config.metadata.uid.clone(),
            generation: config.metadata.generation,
        }
    }
}

/// A provider client and the ProviderConfig version it was built from.
type CachedProvider = (ConfigIdentity, Arc<dyn CloudProvider>);

/// Resolves ElasticIPs to provider clients. Clones share the clients and the credentials cache.
#[derive(Clone)]
pub struct Providers {
    configs: Store<ProviderConfig>,
    /// Reads credentials Secrets (absent in unit tests, where no provider needs one).
    client: Option<kube::Client>,
    metrics: Option<Arc<Metrics>>,
    /// How long a Describe waits for others to share its wire call.
    describe_window: std::time::Duration,
    simulator: Option<Simulator>,
    /// Region of the implicit default simulator account (`run --provider simulator`), used when
    /// no ProviderConfig is marked default.
    implicit_simulator_region: Option<String>,
    /// Clients by ProviderConfig name, with the version they were built from.
    cache: Arc<Mutex<HashMap<String, CachedProvider>>>,
    /// Credentials as read, shared by the clients and dropped by the Secret watches.
    secret_cache: SecretCache,
}

impl Providers {
    pub fn new(configs: Store<ProviderConfig>, simulator: Option<Simulator>, implicit_simulator_region: Option<String>) -> Self {
        Providers {
            configs,
            client: None,
            metrics: None,
            describe_window: DEFAULT_DESCRIBE_WINDOW,
            simulator,
            implicit_simulator_region,
            cache: Arc::default(),
            secret_cache: SecretCache::default(),
        }
    }

    /// The credentials cache the Secret watches invalidate.
    pub fn secret_cache(&self) -> SecretCache {
        self.secret_cache.clone()
    }

    /// Drops the client of a ProviderConfig that changed or is gone (the next resolve builds
    /// one from the ProviderConfig as it is then).
    pub fn forget(&self, name: &str) {
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(name);
    }

    /// How long a Describe waits for others to share its wire call (longer: fewer calls, slower
    /// reactions).
    pub fn with_describe_window(mut self, window: std::time::Duration) -> Self {
        self.describe_window = window;
        self
    }

    /// Counts every cloud call in these metrics.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Lets providers read the credentials Secrets that ProviderConfigs name.
    pub fn with_client(mut self, client: kube::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// The credentials of a ProviderConfig, from the Secret it names.
    fn secrets(&self, name: &str, config: &ProviderConfig) -> Result<Arc<dyn SecretSource>, ResolveError> {
        let reference = config.spec.credentials_secret_ref.as_ref().ok_or_else(|| ResolveError::Invalid {
            name: name.into(),
            message: "credentialsSecretRef is required".into(),
        })?;
        let client = self.client.clone().ok_or_else(|| ResolveError::Invalid {
            name: name.into(),
            message: "no Kubernetes client to read credentials with".into(),
        })?;
        Ok(Arc::new(KubeSecretSource::with_cache(
            client,
            &reference.namespace,
            &reference.name,
            self.secret_cache.clone(),
        )))
    }

    pub fn resolve(&self, spec: &ElasticIPSpec) -> Result<Resolved, ResolveError> {
        let config = match &spec.provider_config_ref {
            Some(reference) => self
                .configs
                .get(&ObjectRef::new(&reference.name))
                .ok_or_else(|| ResolveError::NotFound(reference.name.clone()))?,
            None => {
                let mut defaults: Vec<_> = self.configs.state().into_iter().filter(|c| c.spec.default).collect();
                match defaults.len() {
                    1 => defaults.remove(0),
                    0 => return self.implicit_simulator(),
                    _ => {
                        let mut names: Vec<String> = defaults.iter().map(|c| c.name_any()).collect();
                        names.sort();
                        return Err(ResolveError::AmbiguousDefault(names));
                    }
                }
            }
        };
        let name = config.name_any();
        let identity = ConfigIdentity::of(&config);
        let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((built_from, provider)) = cache.get(&name)
            && *built_from == identity
        {
            return Ok(Resolved {
                config_name: name,
                provider: provider.clone(),
            });
        }
        let provider = self.wrap(self.build(&name, &config)?, config.spec.rate_limits);
        cache.insert(name.clone(), (identity, provider.clone()));
        Ok(Resolved {
            config_name: name,
            provider,
        })
    }

    fn implicit_simulator(&self) -> Result<Resolved, ResolveError> {
        let (Some(simulator), Some(region)) = (&self.simulator, &self.implicit_simulator_region) else {
            return Err(ResolveError::NoDefault);
        };
        // One client per process for the implicit account, cached like the others.
        let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, provider)) = cache.get(IMPLICIT_SIMULATOR) {
            return Ok(Resolved {
                config_name: IMPLICIT_SIMULATOR.into(),
                provider: provider.clone(),
            });
        }
        let provider = simulator.provider(region).map_err(|message| ResolveError::Invalid {
            name: IMPLICIT_SIMULATOR.into(),
            message,
        })?;
        let provider = self.wrap(Arc::new(provider), None);
        cache.insert(IMPLICIT_SIMULATOR.to_string(), (ConfigIdentity::default(), provider.clone()));
        Ok(Resolved {
            config_name: IMPLICIT_SIMULATOR.into(),
            provider,
        })
    }

    /// Metrics innermost (they count wire calls), then the account's rate limits, then the
    /// Describe batching that feeds them.
    fn wrap(&self, mut provider: Arc<dyn CloudProvider>, limits: Option<RateLimits>) -> Arc<dyn CloudProvider> {
        if let Some(metrics) = &self.metrics {
            provider = Arc::new(Instrumented::new(provider, metrics.clone()));
        }
        if let Some(limits) = limits {
            provider = Arc::new(RateLimited::new(provider, limits.mutating_per_second, limits.describe_per_second));
        }
        Arc::new(DescribeBatcher::new(provider, self.describe_window))
    }

    fn build(&self, name: &str, config: &ProviderConfig) -> Result<Arc<dyn CloudProvider>, ResolveError> {
        match config.spec.provider {
            ProviderType::Simulator => {
                let simulator = self.simulator.as_ref().ok_or_else(|| ResolveError::Invalid {
                    name: name.into(),
                    message: "provider simulator needs the operator started with the built-in simulator (run --provider simulator)".into(),
                })?;
                let provider = simulator.provider(&config.spec.region).map_err(|message| ResolveError::Invalid {
                    name: name.into(),
                    message,
                })?;
                Ok(Arc::new(provider))
            }
            ProviderType::Alibaba => {
                let secrets = self.secrets(name, config)?;
                let spec = &config.spec;
                let provider =
                    AlibabaProvider::new(&spec.region, spec.endpoint.as_deref(), spec.alibaba.as_ref(), secrets).map_err(|message| {
                        ResolveError::Invalid {
                            name: name.into(),
                            message,
                        }
                    })?;
                Ok(Arc::new(provider))
            }
            ProviderType::Otc | ProviderType::Huawei => {
                let cloud = match config.spec.provider {
                    ProviderType::Huawei => crate::cloud::otc::OtcCloud::HuaweiCloud,
                    _ => crate::cloud::otc::OtcCloud::OpenTelekomCloud,
                };
                let settings = crate::cloud::otc::OtcSettings::new(
                    cloud,
                    &config.spec.region,
                    config.spec.endpoint.as_deref(),
                    config.spec.otc.as_ref(),
                );
                let provider = crate::cloud::otc::OtcProvider::new(settings, self.secrets(name, config)?).map_err(|message| {
                    ResolveError::Invalid {
                        name: name.into(),
                        message,
                    }
                })?;
                Ok(Arc::new(provider))
            } // Every provider type has an arm today; kept for types added later.
        }
    }
}

#[cfg(test)]
mod tests {
    use kube::runtime::{reflector, watcher};

    use super::*;
    use crate::cloud::simulator::SimulatorConfig;

    fn config(uid: &str, generation: i64, region: &str) -> ProviderConfig {
        let spec = serde_json::json!({ "provider": "simulator", "region": region });
        let mut config = ProviderConfig::new("acct", serde_json::from_value(spec).expect("spec"));
        config.metadata.uid = Some(uid.into());
        config.metadata.generation = Some(generation);
        config
    }

    fn spec() -> ElasticIPSpec {
        serde_json::from_value(serde_json::json!({ "providerConfigRef": { "name": "acct" } })).expect("spec")
    }

    #[tokio::test]
    async fn a_client_is_built_once_per_uid_and_generation() {
        let (store, mut writer) = reflector::store();
        let providers = Providers::new(store, Some(Simulator::new(SimulatorConfig::instant())), None);
        let resolve = || providers.resolve(&spec()).expect("resolves").provider;

        writer.apply_watcher_event(&watcher::Event::Apply(config("uid-1", 1, "cn-hangzhou")));
        let first = resolve();
        assert!(Arc::ptr_eq(&first, &resolve()), "cached");

        // Deleted and created again under the same name: generation 1 again, another UID.
        writer.apply_watcher_event(&watcher::Event::Delete(config("uid-1", 1, "cn-hangzhou")));
        writer.apply_watcher_event(&watcher::Event::Apply(config("uid-2", 1, "cn-shanghai")));
        let recreated = resolve();
        assert!(!Arc::ptr_eq(&first, &recreated), "a new UID is a new account");

        // Edited: a new generation.
        writer.apply_watcher_event(&watcher::Event::Apply(config("uid-2", 2, "cn-hangzhou")));
        let edited = resolve();
        assert!(!Arc::ptr_eq(&recreated, &edited), "a new generation is a new client");

        // Forgotten (the controller saw it change): built again.
        providers.forget("acct");
        assert!(!Arc::ptr_eq(&edited, &resolve()));
    }
}
