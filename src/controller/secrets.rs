//! Credentials from the Secret a ProviderConfig names, re-read after a short TTL so a rotated
//! Secret takes effect without a restart.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

use crate::cloud::{Blocker, CloudError, Operation, SecretData, SecretSource};

/// How long a read Secret is reused.
const TTL: Duration = Duration::from_secs(30);

pub struct KubeSecretSource {
    api: Api<Secret>,
    name: String,
    cache: Mutex<Option<(Instant, SecretData)>>,
}

impl KubeSecretSource {
    pub fn new(client: Client, namespace: &str, name: &str) -> Self {
        KubeSecretSource {
            api: Api::namespaced(client, namespace),
            name: name.to_string(),
            cache: Mutex::new(None),
        }
    }
}

#[async_trait]
impl SecretSource for KubeSecretSource {
    async fn read(&self) -> Result<SecretData, CloudError> {
        if let Some((read_at, data)) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
            && read_at.elapsed() < TTL
        {
            return Ok(data.clone());
        }
        let secret = self.api.get_opt(&self.name).await.map_err(|e| {
            CloudError::retryable(
                Operation::Describe,
                "CredentialsUnavailable",
                format!("cannot read Secret {}: {e}", self.name),
            )
        })?;
        let Some(secret) = secret else {
            return Err(CloudError::terminal(
                Operation::Describe,
                Blocker::Authentication,
                "CredentialsNotFound",
                format!("Secret {} does not exist", self.name),
            ));
        };
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
        let data = SecretData::from_bytes(raw).map_err(|err| CloudError {
            message: format!("Secret {}: {}", self.name, err.message),
            ..err
        })?;
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), data.clone()));
        Ok(data)
    }
}
