//! The boundary between the reconciler and a cloud.
//!
//! Providers translate these calls to wire requests and the cloud's answers back into
//! [`CloudEip`] and classified [`CloudError`]s. They make no lifecycle decisions: the reconciler
//! decides what to call, and when.
//!
//! - [`types`]: what crosses the boundary; [`error`]: how a failure is classified.
//! - [`provider`]: the [`CloudProvider`] trait and a provider's [`Capabilities`].
//! - [`stack`]: the one wrapper (Describe coalescing and [`CallHook`]s); [`rate_limit`]: a hook.
//! - [`registry`]: ProviderConfig spec + credentials → a provider, one factory per provider.
//! - [`http`], [`signing`], [`redact`], [`secrets`]: the plumbing every provider shares.

pub mod error;
pub mod http;
pub mod provider;
pub mod rate_limit;
pub mod redact;
pub mod registry;
pub mod secrets;
pub mod signing;
pub mod slot;
pub mod stack;
pub mod types;

pub use error::{Blocker, CloudError, ErrorClass, Failure};
pub use provider::{Capabilities, CloudProvider, DESCRIBE_BATCH, ListPage, MAX_LIST_PAGES, in_batches, list_all};
pub use registry::{BuildContext, BuildError, ProviderFactory, Registry};
pub use secrets::{SecretData, SecretSource, StaticSecret};
pub use stack::{CallHook, CallReport, Stack};
pub use types::*;
