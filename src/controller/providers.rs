//! Which cloud account an ElasticIP lives in: resolves spec.providerConfigRef (or the default
//! ProviderConfig) to a provider client from the [`Registry`], built once per ProviderConfig
//! identity: its UID (a ProviderConfig deleted and created again under the same name is another
//! account) and its generation (a changed spec is a new client).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};

use super::secrets::{KubeSecretSource, SecretCache};
use eip_api::{ElasticIPSpec, ProviderConfig, ProviderConfigSpec};
use eip_cloud::{CloudProvider, Registry, SecretSource};

/// A provider client and the ProviderConfig it came from.
#[derive(Clone)]
pub struct Resolved {
    pub config_name: String,
    /// The account's region (ProviderConfig spec.region).
    pub region: String,
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
    #[error("ProviderConfig {name:?}: {source}")]
    Invalid {
        name: String,
        #[source]
        source: eip_cloud::BuildError,
    },
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
    registry: Registry,
    /// Reads credentials Secrets (absent in unit tests, where no provider needs one).
    client: Option<kube::Client>,
    /// Clients by ProviderConfig name, with the version they were built from.
    cache: Arc<Mutex<HashMap<String, CachedProvider>>>,
    /// Credentials as read, shared by the clients and dropped by the Secret watches.
    secret_cache: SecretCache,
}

impl Providers {
    pub fn new(configs: Store<ProviderConfig>, registry: Registry) -> Self {
        Providers {
            configs,
            registry,
            client: None,
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

    /// Lets providers read the credentials Secrets that ProviderConfigs name.
    pub fn with_client(mut self, client: kube::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// The credentials of a ProviderConfig, from the Secret it names (read when the provider
    /// first needs them).
    fn secrets(&self, spec: &ProviderConfigSpec) -> Option<Arc<dyn SecretSource>> {
        let reference = spec.credentials_secret_ref.as_ref()?;
        let client = self.client.clone()?;
        Some(Arc::new(KubeSecretSource::with_cache(
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
                    0 => return self.implicit_default(),
                    _ => {
                        let mut names: Vec<String> = defaults.iter().map(|c| c.name_any()).collect();
                        names.sort();
                        return Err(ResolveError::AmbiguousDefault(names));
                    }
                }
            }
        };
        self.cached_or_built(config.name_any(), ConfigIdentity::of(&config), &config.spec)
    }

    /// The account `main` gave the registry for ElasticIPs that name none (`run --provider
    /// simulator`), reported as `(implicit <provider>)`.
    fn implicit_default(&self) -> Result<Resolved, ResolveError> {
        let spec = self.registry.implicit_default_spec().ok_or(ResolveError::NoDefault)?;
        self.cached_or_built(format!("(implicit {})", spec.provider.as_str()), ConfigIdentity::default(), spec)
    }

    fn cached_or_built(&self, name: String, identity: ConfigIdentity, spec: &ProviderConfigSpec) -> Result<Resolved, ResolveError> {
        let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((built_from, provider)) = cache.get(&name)
            && *built_from == identity
        {
            return Ok(Resolved {
                config_name: name,
                region: spec.region.clone(),
                provider: provider.clone(),
            });
        }
        let provider = self
            .registry
            .build(&name, spec, self.secrets(spec))
            .map_err(|source| ResolveError::Invalid {
                name: name.clone(),
                source,
            })?;
        cache.insert(name.clone(), (identity, provider.clone()));
        Ok(Resolved {
            config_name: name,
            region: spec.region.clone(),
            provider,
        })
    }
}

#[cfg(test)]
mod tests {
    use kube::runtime::{reflector, watcher};

    use super::*;
    use crate::controller::fixtures::{ProviderConfigFixture, provider_config, spec_naming};
    use eip_simulator::{Simulator, SimulatorConfig, SimulatorFactory};

    fn config(uid: &str, generation: i64, region: &str) -> ProviderConfig {
        provider_config("acct", serde_json::json!({ "provider": "simulator", "region": region })).version(uid, generation)
    }

    fn spec() -> ElasticIPSpec {
        spec_naming("acct")
    }

    #[tokio::test]
    async fn a_client_is_built_once_per_uid_and_generation() {
        let (store, mut writer) = reflector::store();
        let registry = Registry::default().register(Arc::new(SimulatorFactory::new(Simulator::new(SimulatorConfig::instant()))));
        let providers = Providers::new(store, registry);
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
