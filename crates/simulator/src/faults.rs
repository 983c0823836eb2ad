//! Injected faults: which kind a faulted call suffers ([`FaultMix`]), and how the wire front
//! ends turn the kinds that live below the API (a dropped connection, an answer that never
//! comes, a garbled answer) into what a client sees on the socket ([`wire_faults`]).
//!
//! | kind | when | the model | the client sees |
//! | --- | --- | --- | --- |
//! | `unavailable` | before the model | not called | `ServiceUnavailable` / `VPC.0500` |
//! | `throttled` | before the model | not called | `Throttling.User` / `APIGW.0308`, retry after 1 s |
//! | `busy` | before the model | not called | `TaskConflict` / `VPC.0512` |
//! | `reset` | before the model | not called | the answer's head, then the connection dropped |
//! | `slow` | after the model | applied | the answer, `slowMs` late |
//! | `timeout` | after the model | applied | nothing for `hangMs` (past the client's timeout), then 504 |
//! | `malformed` | after the model | applied | the answer's status with the first half of its body |
//!
//! The after-the-model kinds are the hard ones for a client: the call took effect, but the
//! client cannot know it. Without a wire (the in-process provider) `reset`, `timeout` and
//! `malformed` surface as the retryable errors a wire client would classify them as.

use std::cell::Cell;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use eip_cloud::{CloudError, Operation};

/// One kind of injected fault (see the [module docs](self)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FaultKind {
    Unavailable,
    Throttled,
    Busy,
    Reset,
    Slow,
    Timeout,
    Malformed,
}

impl FaultKind {
    pub const ALL: [FaultKind; 7] = [
        FaultKind::Unavailable,
        FaultKind::Throttled,
        FaultKind::Busy,
        FaultKind::Reset,
        FaultKind::Slow,
        FaultKind::Timeout,
        FaultKind::Malformed,
    ];

    /// Whether the model runs the call before the fault strikes (the call takes effect).
    pub fn after_the_model(self) -> bool {
        matches!(self, FaultKind::Slow | FaultKind::Timeout | FaultKind::Malformed)
    }
}

/// Relative weights of the kinds a faulted call suffers. The default is every fault
/// `unavailable`; all weights 0 counts as the default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FaultMix {
    pub unavailable: u32,
    pub throttled: u32,
    pub busy: u32,
    pub reset: u32,
    pub slow: u32,
    pub timeout: u32,
    pub malformed: u32,
}

impl Default for FaultMix {
    fn default() -> Self {
        FaultMix {
            unavailable: 1,
            ..FaultMix::none()
        }
    }
}

impl FaultMix {
    const fn none() -> Self {
        FaultMix {
            unavailable: 0,
            throttled: 0,
            busy: 0,
            reset: 0,
            slow: 0,
            timeout: 0,
            malformed: 0,
        }
    }

    /// Every kind with the same weight.
    pub fn even() -> Self {
        FaultMix {
            unavailable: 1,
            throttled: 1,
            busy: 1,
            reset: 1,
            slow: 1,
            timeout: 1,
            malformed: 1,
        }
    }

    /// Every fault of one kind.
    pub fn only(kind: FaultKind) -> Self {
        let weight = |k: FaultKind| u32::from(k == kind);
        FaultMix {
            unavailable: weight(FaultKind::Unavailable),
            throttled: weight(FaultKind::Throttled),
            busy: weight(FaultKind::Busy),
            reset: weight(FaultKind::Reset),
            slow: weight(FaultKind::Slow),
            timeout: weight(FaultKind::Timeout),
            malformed: weight(FaultKind::Malformed),
        }
    }

    pub fn weight(&self, kind: FaultKind) -> u32 {
        match kind {
            FaultKind::Unavailable => self.unavailable,
            FaultKind::Throttled => self.throttled,
            FaultKind::Busy => self.busy,
            FaultKind::Reset => self.reset,
            FaultKind::Slow => self.slow,
            FaultKind::Timeout => self.timeout,
            FaultKind::Malformed => self.malformed,
        }
    }

    /// Whether only one kind can be drawn (no draw is needed to pick it).
    pub(crate) fn single(&self) -> Option<FaultKind> {
        let mut weighted = FaultKind::ALL.into_iter().filter(|k| self.weight(*k) > 0);
        match (weighted.next(), weighted.next()) {
            (Some(kind), None) => Some(kind),
            (None, _) => Some(FaultKind::Unavailable),
            _ => None,
        }
    }

    /// The kind `draw` (in `[0, 1)`) picks, in proportion to the weights.
    pub(crate) fn pick(&self, draw: f64) -> FaultKind {
        if let Some(kind) = self.single() {
            return kind;
        }
        let total: u64 = FaultKind::ALL.iter().map(|k| u64::from(self.weight(*k))).sum();
        // Truncation is the point: a position among `total` equal slots.
        let mut slot = ((draw.clamp(0.0, 1.0) * total as f64) as u64).min(total.saturating_sub(1));
        for kind in FaultKind::ALL {
            let weight = u64::from(self.weight(kind));
            if slot < weight {
                return kind;
            }
            slot -= weight;
        }
        FaultKind::Unavailable
    }
}

/// What a wire front end does to the answer of a call that drew a fault below the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WireFault {
    /// The answer comes `delay` late. Held back by the front end, not inside the call: the
    /// handler has recorded everything the call made (an OTC create's bandwidth name) before a
    /// client that gives up or dies can cancel it, as a cloud commits before it answers.
    Slow {
        delay: Duration,
    },
    Reset,
    Timeout {
        hang: Duration,
    },
    Malformed,
}

tokio::task_local! {
    /// Set by a call made while a wire front end serves a request (see [`wire_faults`]).
    static WIRE_FAULT: Cell<Option<WireFault>>;
}

/// Hands `fault` to the wire front end serving this request; without one (the in-process
/// provider), the retryable error a wire client would see instead.
pub(crate) fn strike(fault: WireFault, operation: Operation) -> Result<(), CloudError> {
    if WIRE_FAULT.try_with(|slot| slot.set(Some(fault))).is_ok() {
        return Ok(());
    }
    let (code, message) = match fault {
        // Not struck as an error: see `slow`.
        WireFault::Slow { .. } => return Ok(()),
        WireFault::Reset => ("ConnectionError", "connection reset (injected)"),
        WireFault::Timeout { .. } => ("RequestTimeout", "no answer in time (injected)"),
        WireFault::Malformed => (eip_cloud::http::INVALID_RESPONSE, "a malformed answer (injected)"),
    };
    Err(CloudError::retryable(operation, code, message))
}

/// A slow answer: handed to the wire front end serving this request, or (in process) waited
/// out here.
pub(crate) async fn slow(delay: Duration) {
    if WIRE_FAULT.try_with(|slot| slot.set(Some(WireFault::Slow { delay }))).is_err() {
        tokio::time::sleep(delay).await;
    }
}

/// Middleware of the wire protocols' routes: serves the request, then applies the fault a call
/// made while serving it drew.
pub(crate) async fn wire_faults(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let (response, fault) = WIRE_FAULT
        .scope(Cell::new(None), async move {
            let response = next.run(request).await;
            (response, WIRE_FAULT.with(Cell::take))
        })
        .await;
    match fault {
        None => response,
        Some(WireFault::Slow { delay }) => {
            tokio::time::sleep(delay).await;
            response
        }
        Some(WireFault::Reset) => reset(response),
        Some(WireFault::Timeout { hang }) => {
            tokio::time::sleep(hang).await;
            (StatusCode::GATEWAY_TIMEOUT, "upstream timed out").into_response()
        }
        Some(WireFault::Malformed) => garble(response).await,
    }
}

/// The answer's head promising more body than ever comes: the connection drops mid-answer.
fn reset(response: Response) -> Response {
    let (mut parts, _) = response.into_parts();
    parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("65536"));
    let broken = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "injected reset"))
    });
    Response::from_parts(parts, Body::from_stream(broken))
}

/// The answer's status and headers with the first half of its body (a truncated document).
async fn garble(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, crate::limits::MAX_BODY_BYTES).await.unwrap_or_default();
    let half = bytes.slice(..bytes.len() / 2);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(half))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_mix_is_every_fault_unavailable() {
        let mix = FaultMix::default();
        for draw in [0.0, 0.3, 0.999] {
            assert_eq!(mix.pick(draw), FaultKind::Unavailable);
        }
        assert_eq!(FaultMix::none().pick(0.5), FaultKind::Unavailable);
        for kind in FaultKind::ALL {
            assert_eq!(FaultMix::only(kind).single(), Some(kind));
        }
    }

    #[test]
    fn picks_follow_the_weights() {
        let mix = FaultMix {
            throttled: 1,
            timeout: 3,
            ..FaultMix::none()
        };
        assert_eq!(mix.single(), None);
        let picks: Vec<_> = [0.0, 0.24, 0.25, 0.5, 0.99, 1.0].iter().map(|d| mix.pick(*d)).collect();
        assert_eq!(
            picks,
            [
                FaultKind::Throttled,
                FaultKind::Throttled,
                FaultKind::Timeout,
                FaultKind::Timeout,
                FaultKind::Timeout,
                FaultKind::Timeout
            ]
        );
        let even = FaultMix::even();
        let drawn: std::collections::BTreeSet<_> = (0..70).map(|i| even.pick(f64::from(i) / 70.0)).collect();
        assert_eq!(drawn.len(), FaultKind::ALL.len());
    }

    #[test]
    fn without_a_wire_the_faults_below_the_api_are_retryable_errors() {
        for fault in [WireFault::Reset, WireFault::Timeout { hang: Duration::ZERO }, WireFault::Malformed] {
            let err = strike(fault, Operation::Allocate).expect_err("no wire here");
            assert_eq!(err.class(), eip_cloud::ErrorClass::Retryable, "{fault:?}");
        }
    }
}
