//! The simulator's own errors (not cloud errors, which are [`eip_cloud::CloudError`]s): those of
//! its admin and inspection methods, and an unknown region asked for a provider.

use crate::limits::LimitError;

/// Errors of the simulator's admin and inspection methods.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    #[error("unknown region {0:?}")]
    UnknownRegion(String),
    #[error("unknown EIP {0:?}")]
    UnknownEip(String),
    #[error("unknown instance {0:?}")]
    UnknownInstance(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("invalid request: {0}")]
    Invalid(String),
}

impl From<LimitError> for AdminError {
    fn from(error: LimitError) -> Self {
        AdminError::Invalid(error.to_string())
    }
}

/// [`Simulator::provider`](crate::Simulator::provider) for a region the simulator does not have;
/// names the ones it has.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown simulator region {region:?} (known: {})", .known.join(", "))]
pub struct UnknownRegion {
    pub region: String,
    /// The simulator's regions, in name order.
    pub known: Vec<String>,
}
