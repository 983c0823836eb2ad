//! From a ProviderConfig to a ready provider: each provider exports one [`ProviderFactory`],
//! `main` registers them, and the controller asks the [`Registry`] for the provider of a
//! ProviderConfig, nothing more. The registry puts every provider behind the same [`Stack`]:
//! the account's rate limits, the hooks `main` added (metrics) and Describe coalescing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use eip_api::{ProviderConfigSpec, ProviderType, RateLimits};

use crate::http::WireObserver;
use crate::provider::CloudProvider;
use crate::rate_limit::{RateLimit, RateTable};
use crate::secrets::SecretSource;
use crate::stack::{CallHook, Stack};

/// How long a Describe waits, by default, for others to share its wire call.
pub const DEFAULT_DESCRIBE_WINDOW: Duration = Duration::from_millis(250);

/// What a factory builds a provider from.
#[derive(Clone)]
pub struct BuildContext<'a> {
    /// Name of the ProviderConfig (for messages).
    pub config_name: &'a str,
    pub spec: &'a ProviderConfigSpec,
    /// The credentials of the Secret the ProviderConfig names, read when the provider needs them
    /// (`None` when it names none).
    pub secrets: Option<Arc<dyn SecretSource>>,
    /// Sees every wire call the provider makes ([`crate::http::Wire`]).
    pub wire_observer: Option<Arc<dyn WireObserver>>,
}

impl BuildContext<'_> {
    /// The credentials, or the error that says the ProviderConfig lacks them.
    pub fn secrets(&self) -> Result<Arc<dyn SecretSource>, BuildError> {
        self.secrets.clone().ok_or(BuildError::MissingCredentials)
    }
}

/// Why no provider could be built from a ProviderConfig.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("credentialsSecretRef is required")]
    MissingCredentials,
    /// A setting the provider cannot use (an endpoint that is no URL, an unknown region, ...).
    #[error("{0}")]
    Invalid(String),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
    #[error("provider {provider} {hint}")]
    NotServed { provider: &'static str, hint: String },
}

/// Builds the providers of one or more `spec.provider` types.
pub trait ProviderFactory: Send + Sync + 'static {
    /// The `spec.provider` values this factory serves.
    fn provider_types(&self) -> &'static [ProviderType];

    fn build(&self, context: &BuildContext<'_>) -> Result<Arc<dyn CloudProvider>, BuildError>;

    /// The client-side limits for a ProviderConfig that sets no `rateLimits`: the cloud's
    /// published quotas, where it publishes them.
    fn default_rate_limits(&self) -> Option<RateLimits> {
        None
    }
}

/// The providers this operator serves, and what every provider is wrapped in.
#[derive(Clone)]
pub struct Registry {
    factories: HashMap<ProviderType, Arc<dyn ProviderFactory>>,
    /// Why a type has no factory, when `main` knows (the simulator not hosted).
    declined: HashMap<ProviderType, String>,
    hooks: Vec<Arc<dyn CallHook>>,
    wire_observer: Option<Arc<dyn WireObserver>>,
    describe_window: Duration,
    implicit_default: Option<ProviderConfigSpec>,
    rates: Arc<RateTable>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            factories: HashMap::new(),
            declined: HashMap::new(),
            hooks: Vec::new(),
            wire_observer: None,
            describe_window: DEFAULT_DESCRIBE_WINDOW,
            implicit_default: None,
            rates: Arc::default(),
        }
    }
}

impl Registry {
    /// Serves the factory's provider types (a later registration of a type wins).
    pub fn register(mut self, factory: Arc<dyn ProviderFactory>) -> Self {
        for provider in factory.provider_types() {
            self.declined.remove(provider);
            self.factories.insert(*provider, factory.clone());
        }
        self
    }

    /// Says why `provider` is not served, in the error a ProviderConfig of that type gets.
    pub fn decline(mut self, provider: ProviderType, hint: impl Into<String>) -> Self {
        if !self.factories.contains_key(&provider) {
            self.declined.insert(provider, hint.into());
        }
        self
    }

    /// Runs `hook` around every call of every provider built from now on.
    pub fn hook(mut self, hook: Arc<dyn CallHook>) -> Self {
        self.hooks.push(hook);
        self
    }

    /// Shows every wire call of the providers built from now on to `observer`.
    pub fn observe_wire(mut self, observer: Arc<dyn WireObserver>) -> Self {
        self.wire_observer = Some(observer);
        self
    }

    /// How long a Describe waits for others to share its wire call (longer: fewer calls, slower
    /// reactions).
    pub fn describe_window(mut self, window: Duration) -> Self {
        self.describe_window = window;
        self
    }

    /// The account ElasticIPs use when they name no ProviderConfig and none is marked default
    /// (`run --provider simulator`).
    pub fn implicit_default(mut self, spec: ProviderConfigSpec) -> Self {
        self.implicit_default = Some(spec);
        self
    }

    /// The client-side rate limiters of the providers built so far, for the current-rate metric.
    pub fn rates(&self) -> Arc<RateTable> {
        self.rates.clone()
    }

    pub fn implicit_default_spec(&self) -> Option<&ProviderConfigSpec> {
        self.implicit_default.as_ref()
    }

    /// The provider of a ProviderConfig, behind the account's rate limits, the hooks and
    /// Describe coalescing.
    pub fn build(
        &self,
        config_name: &str,
        spec: &ProviderConfigSpec,
        secrets: Option<Arc<dyn SecretSource>>,
    ) -> Result<Arc<dyn CloudProvider>, BuildError> {
        let Some(factory) = self.factories.get(&spec.provider) else {
            let hint = self
                .declined
                .get(&spec.provider)
                .cloned()
                .unwrap_or_else(|| "is not built into this operator".into());
            return Err(BuildError::NotServed {
                provider: spec.provider.as_str(),
                hint,
            });
        };
        let context = BuildContext {
            config_name,
            spec,
            secrets,
            wire_observer: self.wire_observer.clone(),
        };
        let mut stack = Stack::new(factory.build(&context)?);
        if let Some(limits) = spec.rate_limits.or_else(|| factory.default_rate_limits()) {
            let limit = Arc::new(RateLimit::from_limits(&limits));
            self.rates.insert(config_name, &limit);
            stack = stack.hook(limit);
        }
        for hook in &self.hooks {
            stack = stack.hook(hook.clone());
        }
        Ok(Arc::new(stack.coalesce_describes(self.describe_window)))
    }
}
