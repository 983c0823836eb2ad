//! Events (events.k8s.io/v1) about ElasticIPs.
//!
//! kube-runtime's `Recorder` keeps every event it published for six minutes (to count repeats
//! as a series) and scans that cache on each publish: at 10,000 objects that is tens of MiB and
//! an O(N) walk per event. The operator already emits each Warning once per episode, so it
//! creates plain events instead.
//!
//! Events are best effort, and a failure to publish one is logged in one line: at debug level
//! when it is expected (the namespace is being deleted, or is gone: every object in it fails the
//! same way, on its way out), else as a Warning at most once a minute per publisher, the others
//! at debug level (a broken Event API would otherwise log once per object and reconcile).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client};
use tracing::{debug, warn};

/// Normal or Warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

/// How often, at most, an unexpected publishing failure is logged as a Warning.
pub const FAILURE_WARNING_EVERY: Duration = Duration::from_secs(60);
/// Longest excerpt of the API's message kept in the log line.
const MAX_LOGGED_MESSAGE: usize = 200;

/// Publishes events as one controller instance.
#[derive(Clone)]
pub struct EventPublisher {
    client: Client,
    controller: String,
    instance: String,
    failures: Arc<Mutex<FailureLog>>,
}

/// Why publishing an event failed, as far as logging cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublishFailure {
    /// The namespace is being terminated (403 with the `NamespaceTerminating` cause) or is gone
    /// (404): the object goes with it, nobody will read the event.
    NamespaceGoing,
    /// Anything else (RBAC, an unavailable API server, an invalid event...).
    Unexpected,
}

/// What the API answered a failed publish with: `PublishFailure` and a one-line summary
/// (`403 Forbidden: unable to create new content in namespace ns because it is being
/// terminated`), without the error's Debug dump.
pub fn classify_failure(err: &kube::Error) -> (PublishFailure, String) {
    let kube::Error::Api(status) = err else {
        return (PublishFailure::Unexpected, excerpt(&err.to_string()));
    };
    let terminating = status.code == 403
        && (status
            .details
            .as_ref()
            .is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating"))
            || status.message.contains("because it is being terminated"));
    let kind = if terminating || status.code == 404 || status.reason == "NotFound" {
        PublishFailure::NamespaceGoing
    } else {
        PublishFailure::Unexpected
    };
    let reason = if status.reason.is_empty() {
        "error"
    } else {
        status.reason.as_str()
    };
    let summary = match status.message.trim() {
        "" => format!("{} {reason}", status.code),
        message => format!("{} {reason}: {}", status.code, excerpt(message)),
    };
    (kind, summary)
}

fn excerpt(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(MAX_LOGGED_MESSAGE) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line,
    }
}

/// The level a failure is logged at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureLevel {
    Debug,
    /// A Warning, with how many unexpected failures were logged at debug level since the last one.
    Warn {
        suppressed: u64,
    },
}

/// Rate limit of the Warnings about unexpected failures.
#[derive(Debug, Default)]
pub struct FailureLog {
    last_warning: Option<Instant>,
    suppressed: u64,
}

impl FailureLog {
    /// The level of a failure of kind `failure` at `now`: debug for the expected ones, a Warning
    /// for an unexpected one unless another was logged less than [`FAILURE_WARNING_EVERY`] ago.
    pub fn level(&mut self, failure: PublishFailure, now: Instant) -> FailureLevel {
        if failure == PublishFailure::NamespaceGoing {
            return FailureLevel::Debug;
        }
        match self.last_warning {
            Some(last) if now.saturating_duration_since(last) < FAILURE_WARNING_EVERY => {
                self.suppressed += 1;
                FailureLevel::Debug
            }
            _ => {
                self.last_warning = Some(now);
                FailureLevel::Warn {
                    suppressed: std::mem::take(&mut self.suppressed),
                }
            }
        }
    }
}

impl EventPublisher {
    pub fn new(client: Client, controller: impl Into<String>, instance: Option<String>) -> Self {
        let controller = controller.into();
        let instance = instance.unwrap_or_else(|| controller.clone());
        EventPublisher {
            client,
            controller,
            instance,
            failures: Arc::default(),
        }
    }

    /// Publishes an event; a failure is logged (in one line, see the module docs), not returned:
    /// losing an event must not stop the lifecycle.
    pub async fn publish_best_effort(&self, regarding: ObjectReference, type_: EventType, reason: &str, action: &str, note: String) {
        let object = format!(
            "{}/{}",
            regarding.namespace.as_deref().unwrap_or_default(),
            regarding.name.as_deref().unwrap_or_default()
        );
        if let Err(err) = self.publish(regarding, type_, reason, action, note).await {
            self.log_failure(&object, reason, &err);
        }
    }

    /// Logs a failed publish of a `reason` event about `object` (`namespace/name`).
    pub fn log_failure(&self, object: &str, reason: &str, err: &kube::Error) {
        let (failure, api) = classify_failure(err);
        let level = self
            .failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .level(failure, Instant::now());
        match level {
            FailureLevel::Debug => debug!(object, reason, api, "event not published"),
            FailureLevel::Warn { suppressed } => warn!(
                object,
                reason, api, suppressed, "cannot publish event (further failures within a minute are logged at debug level)"
            ),
        }
    }

    /// Creates one event about `regarding`.
    pub async fn publish(
        &self,
        regarding: ObjectReference,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) -> Result<(), kube::Error> {
        let now = Timestamp::now();
        let namespace = regarding.namespace.clone().unwrap_or_else(|| "default".into());
        let name = format!(
            "{}.{:x}",
            regarding.name.as_deref().unwrap_or(&self.controller),
            now.as_nanosecond()
        );
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            event_time: Some(MicroTime(now)),
            type_: Some(match type_ {
                EventType::Normal => "Normal".into(),
                EventType::Warning => "Warning".into(),
            }),
            reason: Some(reason.into()),
            action: Some(action.into()),
            note: Some(note),
            regarding: Some(regarding),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            ..Event::default()
        };
        Api::<Event>::namespaced(self.client.clone(), &namespace)
            .create(&PostParams::default(), &event)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(json: &str) -> kube::Error {
        kube::Error::Api(Box::new(serde_json::from_str(json).expect("a Status")))
    }

    /// What kube-apiserver answers an event create in a namespace being deleted.
    const TERMINATING: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
        "message":"events.events.k8s.io \"web.18a0\" is forbidden: unable to create new content in namespace shop because it is being terminated",
        "reason":"Forbidden","details":{"name":"web.18a0","group":"events.k8s.io","kind":"events",
        "causes":[{"reason":"NamespaceTerminating","message":"namespace shop is being terminated","field":"metadata.namespace"}]},"code":403}"#;

    #[test]
    fn a_namespace_on_its_way_out_is_expected_and_summarized_in_one_line() {
        let (failure, summary) = classify_failure(&api_error(TERMINATING));
        assert_eq!(failure, PublishFailure::NamespaceGoing);
        assert_eq!(
            summary,
            "403 Forbidden: events.events.k8s.io \"web.18a0\" is forbidden: unable to create new content in namespace shop because it is being terminated"
        );
        assert!(!summary.contains("Status {") && !summary.contains("details"), "{summary}");

        let gone = api_error(r#"{"status":"Failure","message":"namespaces \"shop\" not found","reason":"NotFound","code":404}"#);
        assert_eq!(
            classify_failure(&gone),
            (
                PublishFailure::NamespaceGoing,
                "404 NotFound: namespaces \"shop\" not found".to_string()
            )
        );
        // Without the cause (older servers), the message says it.
        let terminating = api_error(
            r#"{"status":"Failure","message":"unable to create new content in namespace shop because it is being terminated","reason":"Forbidden","code":403}"#,
        );
        assert_eq!(classify_failure(&terminating).0, PublishFailure::NamespaceGoing);
    }

    #[test]
    fn other_failures_are_unexpected() {
        let rbac = api_error(
            r#"{"status":"Failure","message":"events.events.k8s.io is forbidden: User \"system:serviceaccount:eip-operator:eip-operator\" cannot create resource \"events\"","reason":"Forbidden","code":403}"#,
        );
        let (failure, summary) = classify_failure(&rbac);
        assert_eq!(failure, PublishFailure::Unexpected);
        assert!(
            summary.starts_with("403 Forbidden: events.events.k8s.io is forbidden: User"),
            "{summary}"
        );
        let unavailable = api_error(r#"{"status":"Failure","reason":"ServiceUnavailable","code":503}"#);
        assert_eq!(
            classify_failure(&unavailable),
            (PublishFailure::Unexpected, "503 ServiceUnavailable".to_string())
        );
        let long = api_error(&format!(
            r#"{{"status":"Failure","message":"{}\n{}","reason":"Invalid","code":422}}"#,
            "x".repeat(300),
            "y"
        ));
        let (_, summary) = classify_failure(&long);
        assert!(!summary.contains('\n') && summary.chars().count() <= "422 Invalid: ".len() + MAX_LOGGED_MESSAGE + 1);
        let transport = kube::Error::LinesCodecMaxLineLengthExceeded;
        assert_eq!(classify_failure(&transport).0, PublishFailure::Unexpected);
    }

    #[test]
    fn expected_failures_log_at_debug_and_unexpected_ones_warn_once_a_minute() {
        let mut log = FailureLog::default();
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        for secs in 0..5 {
            assert_eq!(log.level(PublishFailure::NamespaceGoing, at(secs)), FailureLevel::Debug);
        }
        assert_eq!(log.level(PublishFailure::Unexpected, at(0)), FailureLevel::Warn { suppressed: 0 });
        assert_eq!(log.level(PublishFailure::Unexpected, at(1)), FailureLevel::Debug);
        assert_eq!(log.level(PublishFailure::Unexpected, at(59)), FailureLevel::Debug);
        assert_eq!(log.level(PublishFailure::NamespaceGoing, at(59)), FailureLevel::Debug);
        assert_eq!(log.level(PublishFailure::Unexpected, at(60)), FailureLevel::Warn { suppressed: 2 });
        assert_eq!(log.level(PublishFailure::Unexpected, at(200)), FailureLevel::Warn { suppressed: 0 });
    }
}
