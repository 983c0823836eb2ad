//! The simulator's hard limits: what no request, configuration or client can exceed, so that a
//! hostile or buggy caller can neither abort the process nor grow it without bound.
//!
//! | what | limit | beyond it |
//! | --- | --- | --- |
//! | instances added by one admin request | [`MAX_INSTANCES_PER_REQUEST`] | 400 |
//! | instances per region (admin, auto-created, seeded) | [`MAX_INSTANCES_PER_REGION`] | 400 (admin), unknown instance (provider) |
//! | EIPs per region (the quota is clamped to it; seeding counts) | [`MAX_EIPS_PER_REGION`] | quota exceeded (provider), 400 (admin) |
//! | a latency or the injected extra latency | [`MAX_LATENCY`] | 400 (admin); clamped in the model |
//! | call log | [`CALL_LOG_CAPACITY`](super::CALL_LOG_CAPACITY) records and [`CALL_LOG_MAX_BYTES`] | oldest records dropped |
//! | a string kept in the call log | [`MAX_LOGGED_STRING`] bytes, [`MAX_LOGGED_IDS`] IDs | truncated |
//! | an ID (allocation, instance, resource, port) | [`MAX_ID_LEN`] bytes | 400 in the flavour's style |
//! | a client token | [`MAX_CLIENT_TOKEN_LEN`] bytes (Alibaba: 64 ASCII characters) | 400 |
//! | tags of a seeded EIP | [`MAX_SEED_TAGS`], keys [`MAX_TAG_KEY_LEN`], values [`MAX_TAG_VALUE_LEN`] bytes | 400 |
//! | a request body | [`MAX_BODY_BYTES`] | 413 |
//! | receiving a request head / body | [`HEADER_READ_TIMEOUT`] / [`BODY_READ_TIMEOUT`] | connection closed / 408 |
//! | an idle keep-alive connection | [`IDLE_TIMEOUT`] | connection closed |
//! | a stalled response write | [`WRITE_TIMEOUT`] | connection closed |
//! | open connections ([`serve`](super::server::serve)) | [`MAX_CONNECTIONS`] | further accepts wait |

use std::time::Duration;

/// Instances one admin request may add.
pub const MAX_INSTANCES_PER_REQUEST: usize = 10_000;
/// Instances a region may hold, however they were created.
pub const MAX_INSTANCES_PER_REGION: usize = 100_000;
/// EIPs a region may hold; `eip_quota_per_region` is clamped to it and seeding counts.
pub const MAX_EIPS_PER_REGION: u32 = 100_000;
/// Longest transition latency and longest injected extra latency.
pub const MAX_LATENCY: Duration = Duration::from_secs(60);
/// Estimated bytes the call log may hold (see [`CallRecord`](super::CallRecord)).
pub const CALL_LOG_MAX_BYTES: usize = 8 * 1024 * 1024;
/// Longest string (ID, token, code, region) a call record keeps; longer ones are cut.
pub const MAX_LOGGED_STRING: usize = 256;
/// Most allocation IDs a call record keeps (a batch names at most 1000).
pub const MAX_LOGGED_IDS: usize = 1000;
/// Longest ID (allocation, instance, resource, port, NAT gateway) accepted anywhere.
pub const MAX_ID_LEN: usize = 128;
/// Longest client token the model accepts (the Alibaba front end allows 64, as the cloud does).
pub const MAX_CLIENT_TOKEN_LEN: usize = 128;
/// Longest private IP address given with a bind target.
pub const MAX_IP_LEN: usize = 64;
/// Most tags on one EIP (seeded or allocated through the model).
pub const MAX_SEED_TAGS: usize = 64;
/// Longest tag key, in bytes.
pub const MAX_TAG_KEY_LEN: usize = 128;
/// Longest tag value, in bytes.
pub const MAX_TAG_VALUE_LEN: usize = 512;
/// Largest request body, on every route (admin and wire protocols).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Time a client has to send a request head once it sent its first byte (or, on a new
/// connection, from the accept).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a client has to send a request body once its head was read.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a keep-alive connection may sit idle between requests. Longer than the providers'
/// client pools keep idle connections (90 s), so the client always closes first.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a response write may make no progress (a client that does not read).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections [`serve`](super::server::serve) keeps open at once.
pub const MAX_CONNECTIONS: usize = 1024;

/// `text` cut to at most `max` bytes, on a character boundary.
pub(crate) fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// An owned copy of `text`, cut to [`MAX_LOGGED_STRING`].
pub(crate) fn bounded(text: &str) -> String {
    truncate(text, MAX_LOGGED_STRING).to_owned()
}

/// A value over one of the simulator's limits (a 400 on the admin API, an invalid parameter on
/// the wire protocols).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// A string longer than `max` bytes.
    #[error("{what} is {len} bytes long; at most {max} are allowed")]
    TooLong { what: &'static str, len: usize, max: usize },
    /// More tags than [`MAX_SEED_TAGS`].
    #[error("at most {max} tags are allowed, got {count}", max = MAX_SEED_TAGS)]
    TooManyTags { count: usize },
    /// A latency above [`MAX_LATENCY`].
    #[error("{what} must be at most {} ms, got {} ms", MAX_LATENCY.as_millis(), .value.as_millis())]
    TooSlow { what: &'static str, value: Duration },
    /// An error rate outside `[0, 1]` (or NaN).
    #[error("errorRate must be within [0, 1]")]
    ErrorRate,
}

/// An error naming `what` when `value` is longer than `max` bytes.
pub(crate) fn check_len(what: &'static str, value: &str, max: usize) -> Result<(), LimitError> {
    if value.len() > max {
        Err(LimitError::TooLong {
            what,
            len: value.len(),
            max,
        })
    } else {
        Ok(())
    }
}

/// An error naming `what` when `value` is above [`MAX_LATENCY`].
pub(crate) fn check_latency(what: &'static str, value: Duration) -> Result<(), LimitError> {
    if value > MAX_LATENCY {
        return Err(LimitError::TooSlow { what, value });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("abcdef", 3), "abc");
        // "é" is two bytes: a cut inside it backs off.
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(bounded(&"x".repeat(10_000)).len(), MAX_LOGGED_STRING);
        assert!(check_len("id", "abc", 3).is_ok());
        assert!(check_len("id", "abcd", 3).is_err_and(|e| e.to_string().contains("at most 3")));
    }
}
