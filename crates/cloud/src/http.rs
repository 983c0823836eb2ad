//! The HTTP plumbing every provider shares: one client policy, bounded answers, request IDs,
//! retry-after, and the part of error classification that the HTTP status alone decides.
//!
//! The rules, so that no provider has to remember them:
//! - **No redirects.** A 3xx is an error naming the host it points to; signed URLs, security
//!   tokens, IAM passwords and OIDC tokens are only ever sent to the endpoint they were signed
//!   for.
//! - **Bounded time.** Connect, read and whole-request timeouts.
//! - **Bounded answers.** A body larger than [`MAX_ANSWER_BYTES`] is an `InvalidResponse`.
//! - **Bounded waits.** Retry-after (seconds, HTTP date, or Alibaba's milliseconds) is capped at
//!   [`MAX_RETRY_AFTER`].
//! - **Status first.** 429 is throttling and 5xx is retryable, whatever code the body carries
//!   ([`enforce_status`]).

use std::time::Duration;

use reqwest::header::HeaderMap;

use std::sync::Arc;

use crate::error::{Blocker, CloudError, Failure};
use crate::registry::BuildError;
use crate::types::Operation;

/// Whole-request timeout; a slower answer is a retryable `RequestTimeout`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest silence between two reads of one answer.
pub const READ_TIMEOUT: Duration = Duration::from_secs(20);
/// Largest answer read. A Describe of 100 EIPs is far below 1 MiB on either cloud.
pub const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;
/// Longest wait a cloud's retry-after can impose on one object.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);
/// Longest request ID kept (real ones are UUIDs).
pub const MAX_REQUEST_ID: usize = 128;

/// The code of every answer that is not what the API promises (not JSON, wrong shape, an error
/// inside a 2xx, too large). Always retryable: a malformed answer proves nothing.
pub const INVALID_RESPONSE: &str = "InvalidResponse";

/// The HTTP client of a provider: rustls (ring), no redirects, bounded timeouts.
pub fn client() -> Result<reqwest::Client, BuildError> {
    // reqwest is built without a default crypto provider (kube already brings ring); installing
    // it twice is harmless, so the error of a second install is ignored.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .build()
        .map_err(|e| BuildError::Http(e.without_url().to_string()))
}

/// Sees every request a provider puts on the wire (the metrics count them; a provider that
/// batches several logical calls into one request shows here as one).
pub trait WireObserver: Send + Sync + 'static {
    /// `status` is the HTTP status, `None` when no answer came (transport failure).
    fn observe(&self, provider: &str, operation: Operation, status: Option<u16>, took: Duration);
}

/// A provider's HTTP client ([`client`]) and the observer of its wire calls.
#[derive(Clone)]
pub struct Wire {
    client: reqwest::Client,
    provider: String,
    observer: Option<Arc<dyn WireObserver>>,
}

impl std::fmt::Debug for Wire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wire").field("provider", &self.provider).finish_non_exhaustive()
    }
}

impl Wire {
    /// `provider` names the calls for the observer (`alibaba`, `otc`, `huawei`, ...).
    pub fn new(provider: impl Into<String>) -> Result<Self, BuildError> {
        Ok(Wire {
            client: client()?,
            provider: provider.into(),
            observer: None,
        })
    }

    /// Around a client built elsewhere (a caller that already has one, such as a test that
    /// shares it); it should follow [`client`]'s policy.
    pub fn from_client(client: reqwest::Client, provider: impl Into<String>) -> Self {
        Wire {
            client,
            provider: provider.into(),
            observer: None,
        }
    }

    pub fn observed(mut self, observer: Option<Arc<dyn WireObserver>>) -> Self {
        self.observer = observer;
        self
    }

    /// The client to build requests with; send them with [`Wire::send`].
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// [`send`], shown to the observer.
    pub async fn send(&self, operation: Operation, request: reqwest::RequestBuilder) -> Result<Answer, CloudError> {
        let started = tokio::time::Instant::now();
        let answer = send(operation, request).await;
        if let Some(observer) = &self.observer {
            let status = answer.as_ref().ok().map(|a| a.status);
            observer.observe(&self.provider, operation, status, started.elapsed());
        }
        answer
    }
}

/// A received answer, body read in full (and bounded).
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first of `names` that carries a plausible request ID.
    pub fn request_id(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|name| self.header(name).and_then(clean_request_id))
    }

    /// How long the cloud asked us to wait, capped.
    pub fn retry_after(&self) -> Option<Duration> {
        retry_after(&self.headers)
    }
}

/// A request ID as the cloud sent it, if it looks like one (printable, short).
pub fn clean_request_id(raw: &str) -> Option<String> {
    let raw = raw.trim();
    (!raw.is_empty() && raw.len() <= MAX_REQUEST_ID && raw.bytes().all(|b| b.is_ascii_graphic())).then(|| raw.to_owned())
}

/// Sends `request` and reads the answer. Transport failures, redirects and oversized answers are
/// classified errors; any other HTTP answer is returned for the provider to interpret.
pub async fn send(operation: Operation, request: reqwest::RequestBuilder) -> Result<Answer, CloudError> {
    let mut response = request.send().await.map_err(|e| transport_error(operation, &e))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    if (300..400).contains(&status) {
        return Err(redirect_error(operation, status, &headers));
    }
    if response.content_length().is_some_and(|len| len > MAX_ANSWER_BYTES as u64) {
        return Err(too_large(operation));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport_error(operation, &e))? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(too_large(operation));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer { status, headers, body })
}

fn too_large(operation: Operation) -> CloudError {
    invalid_response(operation, format!("the answer is larger than {MAX_ANSWER_BYTES} bytes"))
}

/// A 3xx: never followed. Names only the host it points to (a Location may carry a signed query).
fn redirect_error(operation: Operation, status: u16, headers: &HeaderMap) -> CloudError {
    let target = headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|location| reqwest::Url::parse(location).ok())
        .and_then(|url| url.host_str().map(str::to_owned))
        .map_or_else(|| "a location without a host".to_owned(), |host| format!("host {host}"));
    CloudError::terminal(
        operation,
        Blocker::InvalidRequest,
        "UnexpectedRedirect",
        format!(
            "the endpoint answered HTTP {status} redirecting to {target}; redirects are never followed \
             (credentials go only to the endpoint they are signed for): set the endpoint to the final URL"
        ),
    )
}

/// A transport failure: always retryable, never with the URL (signed URLs carry credentials).
pub fn transport_error(operation: Operation, error: &reqwest::Error) -> CloudError {
    let code = if error.is_timeout() {
        crate::error::TIMEOUT_CODE
    } else {
        "ConnectionError"
    };
    let mut text = String::from("request failed");
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(cause) = source {
        // reqwest's own Display names the URL; `without_url` needs ownership, so strip it here.
        let part = cause.to_string();
        let part = match part.find(" for url (") {
            Some(at) => part[..at].to_owned(),
            None => part,
        };
        text.push_str(": ");
        text.push_str(&part);
        source = cause.source();
    }
    CloudError::retryable(operation, code, text)
}

/// A retryable `InvalidResponse`: the answer is not what the API promises.
pub fn invalid_response(operation: Operation, what: impl std::fmt::Display) -> CloudError {
    CloudError::retryable(operation, INVALID_RESPONSE, format!("malformed answer: {what}"))
}

/// How long the cloud asked us to wait: Alibaba's `x-acs-retry-after` (milliseconds, as the Tea
/// SDK reads it) or the standard `Retry-After` (seconds or an HTTP date), capped at
/// [`MAX_RETRY_AFTER`]. Zero, negative and unparsable values count as absent.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let read = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let millis = read("x-acs-retry-after")
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis);
    let standard = || {
        let value = read("retry-after")?;
        match value.parse::<u64>() {
            Ok(0) => None,
            Ok(seconds) => Some(Duration::from_secs(seconds.min(MAX_RETRY_AFTER.as_secs()))),
            Err(_) => http_date_from_now(value),
        }
    };
    millis.or_else(standard).map(|d| d.min(MAX_RETRY_AFTER))
}

fn http_date_from_now(value: &str) -> Option<Duration> {
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let wait = at.duration_since(jiff::Timestamp::now());
    Duration::try_from(wait).ok().filter(|d| !d.is_zero())
}

/// The status-level rules: 429 is throttling and 5xx is retryable, whatever class the body's
/// code would give. A retry-after is kept only on retryable errors.
pub fn enforce_status(status: u16, error: CloudError, retry_after: Option<Duration>) -> CloudError {
    let failure = match error.failure {
        _ if status == 429 || (500..600).contains(&status) => Failure::Retryable {
            retry_after: error.retry_after().or(retry_after),
            throttled: error.is_throttled() || status == 429,
        },
        failure => failure,
    };
    let failure = match failure {
        Failure::Retryable { retry_after, throttled } => Failure::Retryable {
            retry_after: retry_after.map(|d| d.min(MAX_RETRY_AFTER)),
            throttled,
        },
        other => other,
    };
    error.reclassified(failure)
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;
    use crate::ErrorClass;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("header"));
        }
        map
    }

    type Headers = &'static [(&'static str, &'static str)];

    #[test]
    fn retry_after_is_parsed_and_capped() {
        let cases: &[(Headers, Option<Duration>)] = &[
            (&[], None),
            (&[("retry-after", "2")], Some(Duration::from_secs(2))),
            (&[("retry-after", "0")], None),
            (&[("retry-after", "-5")], None),
            (&[("retry-after", "soon")], None),
            (&[("retry-after", "99999999999999999999")], None),
            (&[("retry-after", "3153600000")], Some(MAX_RETRY_AFTER)),
            (&[("x-acs-retry-after", "350")], Some(Duration::from_millis(350))),
            (&[("x-acs-retry-after", "18446744073709551615")], Some(MAX_RETRY_AFTER)),
            (&[("x-acs-retry-after", "0"), ("retry-after", "3")], Some(Duration::from_secs(3))),
            (&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")], None),
            (&[("retry-after", "Fri, 31 Dec 2100 23:59:59 GMT")], Some(MAX_RETRY_AFTER)),
        ];
        for (pairs, want) in cases {
            assert_eq!(retry_after(&headers(pairs)), *want, "{pairs:?}");
        }
    }

    #[test]
    fn status_wins_over_the_body_code() {
        let terminal = || CloudError::terminal(Operation::Release, Blocker::Forbidden, "VPC.0502", "m");
        let err = enforce_status(429, terminal(), Some(Duration::from_secs(9)));
        assert_eq!(
            (err.class(), err.is_throttled(), err.retry_after()),
            (ErrorClass::Retryable, true, Some(Duration::from_secs(9)))
        );
        let err = enforce_status(503, CloudError::gone(Operation::Release, "NotFound", "m"), None);
        assert_eq!((err.class(), err.is_throttled()), (ErrorClass::Retryable, false));
        let err = enforce_status(403, terminal(), Some(Duration::from_secs(9)));
        assert_eq!((err.class(), err.retry_after()), (ErrorClass::Terminal, None));
        let long = CloudError::retryable(Operation::Describe, "Throttling", "m").with_retry_after(Some(Duration::from_secs(1 << 40)));
        assert_eq!(enforce_status(400, long, None).retry_after(), Some(MAX_RETRY_AFTER));
    }

    #[test]
    fn request_ids_are_short_and_printable() {
        assert_eq!(clean_request_id(" 5A9C-1 "), Some("5A9C-1".to_owned()));
        assert_eq!(clean_request_id(""), None);
        assert_eq!(clean_request_id("a b"), None);
        assert_eq!(clean_request_id(&"x".repeat(MAX_REQUEST_ID + 1)), None);
    }

    #[test]
    fn redirects_name_only_the_host() {
        let err = redirect_error(
            Operation::Describe,
            307,
            &headers(&[("location", "https://evil.example:8443/steal?Signature=abc&SecurityToken=tok")]),
        );
        assert_eq!((err.class(), err.code.as_str()), (ErrorClass::Terminal, "UnexpectedRedirect"));
        assert!(err.message.contains("evil.example"), "{}", err.message);
        assert!(
            !err.message.contains("Signature") && !err.message.contains("tok"),
            "{}",
            err.message
        );
    }
}
