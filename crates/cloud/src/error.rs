//! A failed cloud call, classified once by the provider that made it: retryable, terminal (with
//! what blocks progress) or gone.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::redact;
use crate::types::Operation;

/// The code of a call that got no answer in time.
pub const TIMEOUT_CODE: &str = "RequestTimeout";

/// How the reconciler must treat a failed call, with what each answer carries. Decided once, by
/// the provider, from the cloud's error code and HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Failure {
    /// Try again later: throttling, task conflict, transitional state, 5xx, timeouts.
    Retryable {
        /// When the cloud said to come back (already capped by [`crate::http::MAX_RETRY_AFTER`]).
        retry_after: Option<Duration>,
        /// The cloud refused the call for its rate (counted apart in the metrics).
        throttled: bool,
    },
    /// A human must act: prepaid, forbidden, locked, invalid target, NAT entries.
    Terminal(Blocker),
    /// The EIP does not exist. On unbind or release the goal is reached.
    Gone,
}

impl Failure {
    /// Retryable, at the reconciler's own pace.
    pub const RETRY: Failure = Failure::Retryable {
        retry_after: None,
        throttled: false,
    };
}

/// The three classes of [`Failure`], without what they carry (for labels and tables).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum ErrorClass {
    Retryable,
    Terminal,
    Gone,
}

impl ErrorClass {
    /// Lower-case label (`retryable`, `terminal`, `gone`) for metrics.
    pub fn label(self) -> &'static str {
        self.into()
    }
}

/// Why a terminal error blocks progress; becomes the `Stalled` condition's reason (the variant's
/// name unless it says otherwise).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr)]
pub enum Blocker {
    PrepaidCannotRelease,
    Forbidden,
    Locked,
    DeletionProtection,
    InvalidBindingTarget,
    NatEntriesBlockUnbind,
    QuotaExceeded,
    InvalidRequest,
    #[strum(serialize = "AuthenticationFailed")]
    Authentication,
    /// The credentials Secret is missing a key or holds an unusable value.
    InvalidCredentials,
    #[strum(serialize = "CloudRefused")]
    Other,
}

impl Blocker {
    /// CamelCase reason for conditions and Events.
    pub fn reason(self) -> &'static str {
        self.into()
    }
}

/// A failed cloud call: its [`Failure`] and the context a human needs (the operation, the
/// cloud's code and message, its request ID).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {code}: {message}")]
pub struct CloudError {
    pub operation: Operation,
    pub failure: Failure,
    /// The provider's error code (`TaskConflict`, `VPC.0512`, ...).
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

impl CloudError {
    fn new(operation: Operation, failure: Failure, code: String, message: String) -> Self {
        CloudError {
            operation,
            failure,
            code: redact::clean(&code, 4 * redact::MAX_CODE),
            // Bounded here already; the provider's Redactor removes secrets and cuts it shorter.
            message: redact::clean(&message, 4 * redact::MAX_MESSAGE),
            request_id: None,
        }
    }

    pub fn retryable(operation: Operation, code: impl Into<String>, message: impl Into<String>) -> Self {
        let failure = Failure::Retryable {
            retry_after: None,
            throttled: false,
        };
        CloudError::new(operation, failure, code.into(), message.into())
    }

    pub fn throttled(operation: Operation, code: impl Into<String>, message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        let failure = Failure::Retryable {
            retry_after,
            throttled: true,
        };
        CloudError::new(operation, failure, code.into(), message.into())
    }

    pub fn terminal(operation: Operation, blocker: Blocker, code: impl Into<String>, message: impl Into<String>) -> Self {
        CloudError::new(operation, Failure::Terminal(blocker), code.into(), message.into())
    }

    pub fn gone(operation: Operation, code: impl Into<String>, message: impl Into<String>) -> Self {
        CloudError::new(operation, Failure::Gone, code.into(), message.into())
    }

    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// The same context with another failure (a provider reclassifying a cloud's answer).
    pub fn reclassified(self, failure: Failure) -> Self {
        CloudError { failure, ..self }
    }

    pub fn class(&self) -> ErrorClass {
        match self.failure {
            Failure::Retryable { .. } => ErrorClass::Retryable,
            Failure::Terminal(_) => ErrorClass::Terminal,
            Failure::Gone => ErrorClass::Gone,
        }
    }

    /// What blocks progress, for terminal errors.
    pub fn blocker(&self) -> Option<Blocker> {
        match self.failure {
            Failure::Terminal(blocker) => Some(blocker),
            _ => None,
        }
    }

    /// When the cloud said to come back, for retryable errors.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.failure {
            Failure::Retryable { retry_after, .. } => retry_after,
            _ => None,
        }
    }

    /// Whether the cloud refused the call for its rate.
    pub fn is_throttled(&self) -> bool {
        matches!(self.failure, Failure::Retryable { throttled: true, .. })
    }

    /// Whether the call got no answer in time: the client's own timeout
    /// ([`crate::http::transport_error`]) or a cloud's `RequestTimeout` answer.
    pub fn is_timeout(&self) -> bool {
        self.code == TIMEOUT_CODE
    }

    /// Sets (or clears) when to come back; no effect on terminal and gone errors.
    pub fn with_retry_after(mut self, wait: Option<Duration>) -> Self {
        if let Failure::Retryable { retry_after, .. } = &mut self.failure {
            *retry_after = wait;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_class_follows_the_failure_and_only_retryable_errors_carry_a_wait() {
        let wait = Some(Duration::from_secs(3));
        let throttled = CloudError::throttled(Operation::Describe, "Throttling", "slow down", wait);
        assert_eq!(
            (throttled.class(), throttled.retry_after(), throttled.is_throttled()),
            (ErrorClass::Retryable, wait, true)
        );
        let terminal = CloudError::terminal(Operation::Release, Blocker::Locked, "Locked", "locked").with_retry_after(wait);
        assert_eq!(
            (terminal.class(), terminal.blocker(), terminal.retry_after()),
            (ErrorClass::Terminal, Some(Blocker::Locked), None)
        );
        let gone = CloudError::gone(Operation::Release, "NotFound", "gone");
        assert_eq!((gone.class(), gone.blocker(), gone.is_throttled()), (ErrorClass::Gone, None, false));
        assert_eq!(gone.reclassified(Failure::Terminal(Blocker::Other)).class(), ErrorClass::Terminal);
    }
}
