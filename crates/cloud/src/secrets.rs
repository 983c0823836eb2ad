//! Credentials as read from a Secret: validated once, when read, and never printed.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;

use super::{Blocker, CloudError, Operation};

/// Largest credential value accepted. Real keys, tokens and passwords are far smaller; an STS
/// security token is about 1–2 KiB.
pub const MAX_SECRET_VALUE: usize = 4 * 1024;
/// The code of every credentials problem a human must fix in the Secret.
pub const INVALID_CREDENTIALS: &str = "InvalidCredentials";

/// The key/value pairs of a credentials Secret, each validated (UTF-8, at most
/// [`MAX_SECRET_VALUE`] bytes, no control characters; surrounding whitespace, such as the newline
/// `echo` leaves, trimmed). Which keys matter is up to each provider (see its module docs).
/// `Debug` shows the key names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretData(BTreeMap<String, String>);

impl fmt::Debug for SecretData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys().map(|k| format!("{k}=<redacted>"))).finish()
    }
}

impl SecretData {
    pub fn new() -> Self {
        SecretData::default()
    }

    /// Validates raw Secret values (`data` is base64-decoded bytes, as the API returns them).
    pub fn from_bytes<I, K>(pairs: I) -> Result<Self, CloudError>
    where
        I: IntoIterator<Item = (K, Vec<u8>)>,
        K: Into<String>,
    {
        let mut data = SecretData::new();
        for (key, value) in pairs {
            let key = key.into();
            let value = validate(&key, &value)?;
            data.0.insert(key, value);
        }
        Ok(data)
    }

    /// Validates text values (tests, `stringData`).
    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Self, CloudError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        SecretData::from_bytes(pairs.into_iter().map(|(k, v)| (k, v.into().into_bytes())))
    }

    /// The value of `key`; `None` when absent or empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// The value of `key`, or a terminal `InvalidCredentials` error naming it.
    pub fn require(&self, operation: Operation, key: &str) -> Result<&str, CloudError> {
        self.get(key)
            .ok_or_else(|| invalid(operation, format!("the credentials Secret has no (or an empty) key {key:?}")))
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Every value, for a [`super::redact::Redactor`].
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.0.values().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sets a value without validation (tests rotating a Secret).
    pub fn insert(&mut self, key: String, value: String) {
        self.0.insert(key, value);
    }
}

/// Unvalidated construction, for fixed values (tests, the simulator's well-known keys).
impl From<BTreeMap<String, String>> for SecretData {
    fn from(map: BTreeMap<String, String>) -> Self {
        SecretData(map)
    }
}

impl FromIterator<(String, String)> for SecretData {
    fn from_iter<T: IntoIterator<Item = (String, String)>>(iter: T) -> Self {
        SecretData(iter.into_iter().collect())
    }
}

/// A terminal `InvalidCredentials` error (the Secret must be fixed; retrying cannot help).
pub fn invalid(operation: Operation, message: impl Into<String>) -> CloudError {
    CloudError::terminal(operation, Blocker::InvalidCredentials, INVALID_CREDENTIALS, message)
}

fn validate(key: &str, raw: &[u8]) -> Result<String, CloudError> {
    let fail = |why: &str| Err(invalid(Operation::Describe, format!("credentials Secret key {key:?}: {why}")));
    if raw.len() > MAX_SECRET_VALUE {
        return fail(&format!(
            "the value is {} bytes, more than the {MAX_SECRET_VALUE} accepted",
            raw.len()
        ));
    }
    let Ok(text) = std::str::from_utf8(raw) else {
        return fail("the value is not UTF-8 text (was it base64-encoded twice?)");
    };
    let text = text.trim();
    if text.chars().any(char::is_control) {
        return fail("the value contains control characters (such as a line break inside it)");
    }
    Ok(text.to_owned())
}

/// Where a provider reads its credentials. The operator's implementation reads the Secret a
/// ProviderConfig names, re-reading it so that a rotated Secret takes effect without a restart.
#[async_trait]
pub trait SecretSource: Send + Sync + 'static {
    async fn read(&self) -> Result<SecretData, CloudError>;
}

/// Fixed credentials (tests, and the simulator).
pub struct StaticSecret(pub SecretData);

#[async_trait]
impl SecretSource for StaticSecret {
    async fn read(&self) -> Result<SecretData, CloudError> {
        Ok(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorClass;

    #[test]
    fn values_are_validated_once_and_name_the_key() {
        let ok = SecretData::from_bytes([("accessKeyId", b"  LTAI5t\n".to_vec())]).expect("valid");
        assert_eq!(ok.get("accessKeyId"), Some("LTAI5t"));
        let cases: [(&str, Vec<u8>, &str); 4] = [
            ("accessKeyId", vec![b'a'; MAX_SECRET_VALUE + 1], "more than"),
            ("accessKeySecret", vec![0xff, 0xfe, b'a'], "not UTF-8"),
            ("securityToken", b"abc\r\ndef".to_vec(), "control characters"),
            ("password", b"a\x00b".to_vec(), "control characters"),
        ];
        for (key, value, why) in cases {
            let err = SecretData::from_bytes([(key, value)]).expect_err(key);
            assert_eq!(
                (err.class(), err.code.as_str()),
                (ErrorClass::Terminal, INVALID_CREDENTIALS),
                "{key}"
            );
            assert!(err.message.contains(key) && err.message.contains(why), "{}", err.message);
        }
    }

    #[test]
    fn missing_or_empty_keys_are_named() {
        let data = SecretData::from_pairs([("accessKeyId", ""), ("other", "x")]).expect("valid");
        let err = data.require(Operation::Release, "accessKeyId").expect_err("empty");
        assert_eq!(err.blocker(), Some(Blocker::InvalidCredentials));
        assert!(err.message.contains("accessKeyId"));
        assert!(data.require(Operation::Release, "other").is_ok());
    }

    #[test]
    fn debug_shows_keys_only() {
        let data = SecretData::from_pairs([("accessKeySecret", "hunter2-secret")]).expect("valid");
        let shown = format!("{data:?}");
        assert!(shown.contains("accessKeySecret") && !shown.contains("hunter2"), "{shown}");
    }
}
