//! Keeping secrets out of what the cloud says back.
//!
//! A cloud's error message ends up in `status`, conditions and Events, which many people can
//! read. A server that echoes the request (a misbehaving gateway, a proxy, a hostile endpoint)
//! would put the security token, the OIDC token or the IAM password there. Every [`CloudError`]
//! a provider returns goes through a [`Redactor`] that knows the credentials in use.

use super::CloudError;

/// Longest error message kept (status conditions and Events are for humans).
pub const MAX_MESSAGE: usize = 512;
/// Longest error code kept; real codes are short identifiers.
pub const MAX_CODE: usize = 64;
/// What replaces a secret.
pub const REDACTED: &str = "[REDACTED]";
/// Query or form parameters and headers whose values are credentials or signatures, wherever
/// they are echoed (`Name=value`, `"Name":"value"`, `Name: value`).
const SENSITIVE_NAMES: &[&str] = &[
    "Signature",
    "SecurityToken",
    "x-acs-security-token",
    "X-Security-Token",
    "X-Auth-Token",
    "X-Subject-Token",
    "Authorization",
    "OIDCToken",
    "password",
    "AccessKeySecret",
    "secretKey",
];
/// RFC 3986 unreserved characters stay as they are; everything else is encoded.
const RFC3986: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// Secrets shorter than this are not searched for (they would match ordinary words); real
/// credentials are far longer.
const MIN_SECRET_LEN: usize = 4;

/// Removes the values of the credentials in use from text that came from the cloud.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    pub fn new<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut redactor = Redactor::default();
        redactor.extend(secrets);
        redactor
    }

    /// Adds more secrets (a fetched token, rotated keys).
    pub fn extend<I, S>(&mut self, secrets: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for secret in secrets {
            let secret = secret.as_ref();
            if secret.len() >= MIN_SECRET_LEN && !self.secrets.iter().any(|s| s == secret) {
                self.secrets.push(secret.to_owned());
            }
        }
        // Longest first, so a secret containing another is removed whole.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// `text` without the secrets, the values of sensitive parameters, or control characters,
    /// and at most [`MAX_MESSAGE`] characters long.
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
            // Echoes are often URL-encoded: strictly, or as RFC 3986 (which keeps `-_.~`).
            for set in [percent_encoding::NON_ALPHANUMERIC, RFC3986] {
                let encoded = percent_encoding::utf8_percent_encode(secret, set).to_string();
                if encoded != *secret && out.contains(encoded.as_str()) {
                    out = out.replace(encoded.as_str(), REDACTED);
                }
            }
        }
        clean(&redact_sensitive_values(&out), MAX_MESSAGE)
    }

    /// The error with its message, code and request ID made safe to show.
    pub fn error(&self, mut error: CloudError) -> CloudError {
        error.message = self.text(&error.message);
        error.code = code(&self.text(&error.code));
        error.request_id = error
            .request_id
            .as_deref()
            .map(|id| self.text(id))
            .and_then(|id| super::http::clean_request_id(&id));
        error
    }
}

/// An error code as shown: printable identifier characters only, bounded.
fn code(raw: &str) -> String {
    let kept: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'))
        .take(MAX_CODE)
        .collect();
    if kept.is_empty() { "Unknown".to_owned() } else { kept }
}

/// `message; hint`, the message cut so that the whole fits in [`MAX_MESSAGE`] (the
/// provider's redactor cuts longer messages, and the hint is the part that must survive).
pub fn with_hint(message: &str, hint: &str) -> String {
    let budget = MAX_MESSAGE.saturating_sub(hint.chars().count() + 3);
    let message = match message.char_indices().nth(budget) {
        Some((at, _)) => format!("{}…", &message[..at]),
        None => message.to_owned(),
    };
    let message = message.trim_end().trim_end_matches(['.', ':', ',', ';']).trim_end();
    if message.is_empty() {
        hint.to_owned()
    } else {
        // Not `: `, which the redactor would read as `Name: value` after a message ending with a
        // sensitive name (`... SecurityToken`).
        format!("{message}; {hint}")
    }
}

/// Control characters become spaces; the text is cut at `max` characters.
pub fn clean(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max + 3));
    for (count, c) in text.chars().enumerate() {
        if count == max {
            out.push('…');
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

/// Replaces the value after each sensitive name (`Name=v`, `Name: v`, `"Name":"v"`).
fn redact_sensitive_values(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    for name in SENSITIVE_NAMES {
        let needle = name.to_ascii_lowercase();
        let mut from = 0;
        while let Some(found) = lower[from..].find(&needle) {
            let after = from + found + needle.len();
            from = after;
            let rest = &text[after..];
            // Skip the separator: optional quote, then `=` or `:`, then spaces and a quote.
            let sep = rest
                .char_indices()
                .take_while(|(_, c)| matches!(c, '"' | '\'' | ' ' | '=' | ':'))
                .last()
                .map(|(i, c)| i + c.len_utf8());
            let Some(sep) = sep.filter(|_| rest.trim_start_matches(['"', '\'']).starts_with(['=', ':'])) else {
                continue;
            };
            let start = after + sep;
            let end = text[start..]
                .char_indices()
                .find(|(_, c)| matches!(c, '&' | '"' | '\'' | ',' | ';' | '}' | ' ' | '\n' | '\r' | '<'))
                .map_or(text.len(), |(i, _)| start + i);
            if end > start {
                cuts.push((start, end));
            }
        }
    }
    if cuts.is_empty() {
        return text.to_owned();
    }
    cuts.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in cuts {
        if start < at {
            continue;
        }
        out.push_str(&text[at..start]);
        out.push_str(REDACTED);
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Operation;

    #[test]
    fn secrets_and_sensitive_parameters_are_removed() {
        let redactor = Redactor::new(["AKIDsecretvalue", "tok+en/1=", "ab", "key-with.dots~x/"]);
        let cases = [
            ("echo: AKIDsecretvalue", "echo: [REDACTED]"),
            ("url-encoded tok%2Ben%2F1%3D here", "url-encoded [REDACTED] here"),
            (
                "?Action=X&Signature=abc%3D&SecurityToken=zzz&Other=1",
                "?Action=X&Signature=[REDACTED]&SecurityToken=[REDACTED]&Other=1",
            ),
            (r#"{"password":"hunter22","user":"u"}"#, r#"{"password":"[REDACTED]","user":"u"}"#),
            ("X-Auth-Token: MIIabc def", "X-Auth-Token: [REDACTED] def"),
            ("short ab stays", "short ab stays"),
            ("rfc3986 key-with.dots~x%2F", "rfc3986 [REDACTED]"),
            ("strict key%2Dwith%2Edots%7Ex%2F", "strict [REDACTED]"),
            ("line\r\nbreak\u{7}", "line  break "),
            ("the signature is invalid", "the signature is invalid"),
        ];
        for (input, want) in cases {
            assert_eq!(redactor.text(input), want, "{input}");
        }
    }

    #[test]
    fn messages_and_codes_are_bounded() {
        let redactor = Redactor::default();
        let long = "é".repeat(10_000);
        let text = redactor.text(&long);
        assert_eq!(text.chars().count(), MAX_MESSAGE + 1);
        let mut err = CloudError::retryable(Operation::Describe, format!("Code<script>{}", "x".repeat(500)), long);
        err.request_id = Some("id with spaces".into());
        let err = redactor.error(err);
        assert!(err.code.len() <= MAX_CODE && err.code.starts_with("Codescript"), "{}", err.code);
        assert_eq!(err.request_id, None);
        assert_eq!(code("<>"), "Unknown");
    }

    #[test]
    fn debug_shows_no_secret() {
        let redactor = Redactor::new(["very-secret-value"]);
        assert_eq!(format!("{redactor:?}"), "Redactor(1 secrets)");
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        fn config() -> ProptestConfig {
            ProptestConfig {
                cases: 3000,
                failure_persistence: None,
                rng_seed: proptest::test_runner::RngSeed::Fixed(0x05EC_2E75),
                ..ProptestConfig::default()
            }
        }

        proptest! {
            #![proptest_config(config())]

            /// A secret echoed anywhere, plainly or URL-encoded, never survives; the result is
            /// bounded and free of control characters.
            #[test]
            fn no_secret_survives(
                before in ".{0,300}",
                after in ".{0,300}",
                secret in "[!-~]{4,64}",
                encoded in any::<bool>(),
            ) {
                let shown = if encoded {
                    percent_encoding::utf8_percent_encode(&secret, percent_encoding::NON_ALPHANUMERIC).to_string()
                } else {
                    secret.clone()
                };
                let redactor = Redactor::new([secret.as_str()]);
                let out = redactor.text(&format!("{before}{shown}{after}"));
                prop_assert!(out.chars().count() <= MAX_MESSAGE + 1);
                prop_assert!(!out.chars().any(char::is_control));
                if !before.contains(REDACTED) && !after.contains(REDACTED) && !REDACTED.contains(secret.as_str()) {
                    prop_assert!(!out.contains(secret.as_str()), "{out}");
                }
            }

            #[test]
            fn codes_are_short_identifiers(raw in any::<String>()) {
                let code = code(&raw);
                prop_assert!(!code.is_empty() && code.len() <= MAX_CODE);
                prop_assert!(code.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':')));
            }
        }
    }
}
