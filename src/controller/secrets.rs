//! Credentials from the Secret a ProviderConfig names. A read Secret is reused for a short TTL
//! and dropped at once when the Secret changes: the controller watches every Secret a
//! ProviderConfig references ([`watch`], by name, with the `watch` verb only) and requeues the
//! ElasticIPs of those ProviderConfigs, so a rotated or corrected Secret takes effect within
//! seconds, without a restart.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{WatchEvent, WatchParams};
use kube::{Api, Client, ResourceExt};
use tracing::{debug, info, warn};

use eip_cloud::{Blocker, CloudError, Operation, SecretData, SecretSource};

/// How long a read Secret is reused (unless its watch reports a change sooner).
const TTL: Duration = Duration::from_secs(30);

/// A Secret's namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretKey {
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

#[derive(Default)]
struct Entry {
    /// Bumped by every invalidation: a read that started before one does not fill the cache.
    epoch: u64,
    /// The validated data and when it was read.
    value: Option<(Instant, SecretData)>,
    /// The version the operator last acted on: `None` before the first read, `Some(None)` when
    /// the Secret did not exist, else its resourceVersion.
    read_version: Option<Option<String>>,
}

/// Secrets as last read, shared by every ProviderConfig naming the same Secret.
#[derive(Clone, Default)]
pub struct SecretCache {
    entries: Arc<Mutex<HashMap<SecretKey, Entry>>>,
}

impl SecretCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<SecretKey, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached data if still fresh; otherwise the epoch a new read starts in.
    fn lookup(&self, key: &SecretKey) -> Result<SecretData, u64> {
        let mut entries = self.entries();
        let entry = entries.entry(key.clone()).or_default();
        match &entry.value {
            Some((read_at, data)) if read_at.elapsed() < TTL => Ok(data.clone()),
            _ => Err(entry.epoch),
        }
    }

    /// Records a read that started in `epoch`: the version seen, and the data if it was valid.
    /// Dropped if the Secret was reported changed meanwhile (the read may predate the change).
    fn store(&self, key: &SecretKey, epoch: u64, version: Option<String>, data: Option<SecretData>) {
        let mut entries = self.entries();
        let entry = entries.entry(key.clone()).or_default();
        if entry.epoch != epoch {
            return;
        }
        entry.read_version = Some(version);
        entry.value = data.map(|data| (Instant::now(), data));
    }

    /// The watch saw the Secret at `version` (`None`: deleted). Drops what was read of it and
    /// returns whether the operator has acted on another version (its ElasticIPs should look
    /// again); a Secret nobody has read yet, or read at this very version, needs nothing.
    pub fn observed(&self, key: &SecretKey, version: Option<&str>) -> bool {
        let mut entries = self.entries();
        let entry = entries.entry(key.clone()).or_default();
        let changed = match &entry.read_version {
            None => false,
            Some(read) => read.as_deref() != version,
        };
        if changed || entry.read_version.is_none() {
            entry.epoch = entry.epoch.wrapping_add(1);
            entry.value = None;
        }
        changed
    }

    /// No ProviderConfig names this Secret any more.
    pub fn forget(&self, key: &SecretKey) {
        self.entries().remove(key);
    }
}

pub struct KubeSecretSource {
    api: Api<Secret>,
    key: SecretKey,
    cache: SecretCache,
}

impl KubeSecretSource {
    /// A source with a cache of its own.
    pub fn new(client: Client, namespace: &str, name: &str) -> Self {
        Self::with_cache(client, namespace, name, SecretCache::default())
    }

    /// A source sharing `cache` (which the Secret watches invalidate).
    pub fn with_cache(client: Client, namespace: &str, name: &str, cache: SecretCache) -> Self {
        KubeSecretSource {
            api: Api::namespaced(client, namespace),
            key: SecretKey {
                namespace: namespace.to_string(),
                name: name.to_string(),
            },
            cache,
        }
    }
}

#[async_trait]
impl SecretSource for KubeSecretSource {
    async fn read(&self) -> Result<SecretData, CloudError> {
        let epoch = match self.cache.lookup(&self.key) {
            Ok(data) => return Ok(data),
            Err(epoch) => epoch,
        };
        let name = &self.key.name;
        let secret = self.api.get_opt(name).await.map_err(|e| {
            CloudError::retryable(
                Operation::Describe,
                "CredentialsUnavailable",
                format!("cannot read Secret {name}: {e}"),
            )
        })?;
        let Some(secret) = secret else {
            self.cache.store(&self.key, epoch, None, None);
            return Err(CloudError::terminal(
                Operation::Describe,
                Blocker::Authentication,
                "CredentialsNotFound",
                format!("Secret {name} does not exist"),
            ));
        };
        let version = secret.resource_version();
        // Validated once, here: a bad value is a terminal error naming the key, not a retry loop
        // that ends in an unexplained signature mismatch.
        let mut raw: std::collections::BTreeMap<String, Vec<u8>> = secret
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(key, value)| (key, value.0))
            .collect();
        for (key, value) in secret.string_data.unwrap_or_default() {
            raw.insert(key, value.into_bytes());
        }
        match SecretData::from_bytes(raw) {
            Ok(data) => {
                self.cache.store(&self.key, epoch, version, Some(data.clone()));
                Ok(data)
            }
            Err(err) => {
                self.cache.store(&self.key, epoch, version, None);
                Err(CloudError {
                    message: format!("Secret {name}: {}", err.message),
                    ..err
                })
            }
        }
    }
}

/// How long a Secret watch waits before reconnecting after an error (doubling, at most a minute).
const WATCH_RETRY_MIN: Duration = Duration::from_secs(1);
const WATCH_RETRY_MAX: Duration = Duration::from_secs(60);

/// Why a Secret watch ended before the server closed it (and is retried after a pause).
#[derive(Debug, thiserror::Error)]
enum WatchError {
    /// The watch request failed, or the stream of events broke.
    #[error("{0}")]
    Kube(#[from] kube::Error),
    /// The API server ended the watch with an error status.
    #[error("{message} ({code})")]
    Status { message: String, code: u16 },
}

/// Watches one Secret by name until dropped (the caller aborts the task), calling `changed`
/// whenever it changed from what the operator last read ([`SecretCache::observed`]).
///
/// A plain watch with the field selector `metadata.name=<name>` (no list), so the operator needs
/// only `watch` on Secrets where ProviderConfigs point, restricted by `resourceNames` when the
/// chart lists them. It resumes from the last resourceVersion seen and starts over (from the
/// watch cache, `resourceVersion=0`) when that is too old.
pub async fn watch(client: Client, key: SecretKey, cache: SecretCache, mut changed: impl FnMut(&SecretKey) + Send) {
    let api: Api<Secret> = Api::namespaced(client, &key.namespace);
    let params = WatchParams::default().fields(&format!("metadata.name={}", key.name)).timeout(290);
    let mut resume = "0".to_string();
    let mut retry = WATCH_RETRY_MIN;
    let mut failing = false;
    info!(secret = %key, "watching credentials Secret");
    loop {
        let error = match api.watch(&params, &resume).await {
            Ok(stream) => {
                let mut stream = stream.boxed();
                loop {
                    match stream.try_next().await {
                        Ok(Some(WatchEvent::Added(secret) | WatchEvent::Modified(secret))) => {
                            retry = WATCH_RETRY_MIN;
                            failing = false;
                            let version = secret.resource_version();
                            if let Some(version) = &version {
                                resume.clone_from(version);
                            }
                            if cache.observed(&key, version.as_deref()) {
                                info!(secret = %key, "credentials Secret changed");
                                changed(&key);
                            }
                        }
                        Ok(Some(WatchEvent::Deleted(secret))) => {
                            if let Some(version) = secret.resource_version() {
                                resume = version;
                            }
                            if cache.observed(&key, None) {
                                info!(secret = %key, "credentials Secret deleted");
                                changed(&key);
                            }
                        }
                        Ok(Some(WatchEvent::Bookmark(bookmark))) => resume = bookmark.metadata.resource_version,
                        // Too old to resume from: start over from the watch cache; the current
                        // object comes as Added and is compared with what was read.
                        Ok(Some(WatchEvent::Error(status))) if status.code == 410 => {
                            resume = "0".to_string();
                            break None;
                        }
                        Ok(Some(WatchEvent::Error(status))) => {
                            break Some(WatchError::Status {
                                message: status.message,
                                code: status.code,
                            });
                        }
                        // The server ended the watch (its timeout): resume.
                        Ok(None) => break None,
                        Err(err) => break Some(WatchError::from(err)),
                    }
                }
            }
            Err(err) => Some(WatchError::from(err)),
        };
        if let Some(error) = error {
            // Said once per episode; the TTL still re-reads the Secret meanwhile.
            if failing {
                debug!(secret = %key, %error, "credentials Secret watch failed");
            } else {
                warn!(secret = %key, %error, "credentials Secret watch failed; retrying (a change is picked up within the cache TTL meanwhile)");
            }
            failing = true;
            tokio::time::sleep(retry).await;
            retry = (retry * 2).min(WATCH_RETRY_MAX);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretKey {
        SecretKey {
            namespace: "ns".into(),
            name: "creds".into(),
        }
    }

    fn data(secret: &str) -> SecretData {
        SecretData::from_bytes([("accessKeySecret".to_string(), secret.as_bytes().to_vec())]).expect("valid")
    }

    #[test]
    fn a_change_from_the_version_read_drops_the_cache_and_asks_for_a_look() {
        let cache = SecretCache::default();
        let epoch = cache.lookup(&key()).expect_err("empty");
        cache.store(&key(), epoch, Some("7".into()), Some(data("wrong")));
        assert!(cache.lookup(&key()).is_ok(), "cached");
        // The watch's first event shows the version read: nothing to do.
        assert!(!cache.observed(&key(), Some("7")));
        assert!(cache.lookup(&key()).is_ok(), "still cached");
        // A new version: dropped, and the ElasticIPs should look again.
        assert!(cache.observed(&key(), Some("8")));
        let epoch = cache.lookup(&key()).expect_err("dropped");
        cache.store(&key(), epoch, Some("8".into()), Some(data("right")));
        assert_eq!(cache.lookup(&key()).expect("cached"), data("right"));
        // Deleted.
        assert!(cache.observed(&key(), None));
        assert!(cache.lookup(&key()).is_err());
    }

    #[test]
    fn a_read_that_started_before_a_change_does_not_fill_the_cache() {
        let cache = SecretCache::default();
        let epoch = cache.lookup(&key()).expect_err("empty");
        cache.store(&key(), epoch, Some("1".into()), Some(data("old")));
        assert!(cache.observed(&key(), Some("2")));
        let epoch = cache.lookup(&key()).expect_err("dropped");
        // Another change lands while that read is in flight.
        assert!(cache.observed(&key(), Some("3")));
        cache.store(&key(), epoch, Some("2".into()), Some(data("stale")));
        assert!(cache.lookup(&key()).is_err(), "the stale read was not kept");
    }

    #[test]
    fn a_missing_secret_that_appears_asks_for_a_look() {
        let cache = SecretCache::default();
        // Never read: no ElasticIP acted on it.
        assert!(!cache.observed(&key(), Some("1")));
        let epoch = cache.lookup(&key()).expect_err("empty");
        cache.store(&key(), epoch, None, None);
        assert!(!cache.observed(&key(), None), "still absent");
        assert!(cache.observed(&key(), Some("2")), "created");
    }

    #[test]
    fn an_invalid_secret_is_not_cached_but_its_version_is_remembered() {
        let cache = SecretCache::default();
        let epoch = cache.lookup(&key()).expect_err("empty");
        cache.store(&key(), epoch, Some("4".into()), None);
        assert!(cache.lookup(&key()).is_err(), "read again next time");
        assert!(!cache.observed(&key(), Some("4")));
        assert!(cache.observed(&key(), Some("5")));
    }
}
