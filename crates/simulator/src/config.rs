//! Simulator configuration: regions and their flavour, latencies, rate limits, faults.
//!
//! Durations travel as integer milliseconds in JSON/YAML (`associateMs: 1000`). Latencies are
//! at most [`MAX_LATENCY`]: the admin API refuses longer ones, the model clamps them.
//!
//! Secrets (access key secrets, IAM passwords) never leave through `Debug` or
//! [`SimulatorConfig::redacted`] (what `GET /admin/config` shows).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::faults::FaultMix;
use super::limits::{LimitError, MAX_LATENCY, check_latency};

/// What replaces a secret in `Debug` output and in the admin API.
pub const REDACTED: &str = "<redacted>";

/// Which real cloud a region imitates: decides raw state strings, ID formats and error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Flavor {
    /// Alibaba Cloud VPC API (`Available`, `InUse`, `TaskConflict`, `eip-…` IDs).
    Alibaba,
    /// Open Telekom Cloud / Huawei Cloud v1 API (`DOWN`, `ACTIVE`, `VPC.05xx`, UUID IDs).
    Otc,
    /// Amazon EC2 Query API (`associated`/`unassociated`, `InvalidAllocationID.NotFound`,
    /// `eipalloc-…` IDs); every call completes within it, as on EC2.
    Aws,
}

impl Flavor {
    pub fn as_str(self) -> &'static str {
        match self {
            Flavor::Alibaba => "Alibaba",
            Flavor::Otc => "Otc",
            Flavor::Aws => "Aws",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionConfig {
    pub name: String,
    pub flavor: Flavor,
    /// This region's (account's) own quotas, instead of the simulator-wide ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<RateLimits>,
}

impl RegionConfig {
    pub fn new(name: impl Into<String>, flavor: Flavor) -> Self {
        RegionConfig {
            name: name.into(),
            flavor,
            rate_limits: None,
        }
    }

    pub fn with_rate_limits(mut self, rate_limits: RateLimits) -> Self {
        self.rate_limits = Some(rate_limits);
        self
    }
}

/// How long each asynchronous operation stays in its transitional state. Zero means the
/// operation completes within the call. Alibaba allocates synchronously and ignores `allocate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Latencies {
    #[serde(rename = "allocateMs", with = "duration_ms")]
    pub allocate: Duration,
    #[serde(rename = "associateMs", with = "duration_ms")]
    pub associate: Duration,
    #[serde(rename = "unassociateMs", with = "duration_ms")]
    pub unassociate: Duration,
    #[serde(rename = "releaseMs", with = "duration_ms")]
    pub release: Duration,
}

impl Latencies {
    /// The same latency for every operation.
    pub fn uniform(latency: Duration) -> Self {
        Latencies {
            allocate: latency,
            associate: latency,
            unassociate: latency,
            release: latency,
        }
    }

    /// Every latency cut to [`MAX_LATENCY`].
    pub fn clamped(self) -> Self {
        Latencies {
            allocate: self.allocate.min(MAX_LATENCY),
            associate: self.associate.min(MAX_LATENCY),
            unassociate: self.unassociate.min(MAX_LATENCY),
            release: self.release.min(MAX_LATENCY),
        }
    }

    /// An error naming the first latency above [`MAX_LATENCY`].
    pub fn check(&self) -> Result<(), LimitError> {
        for (name, value) in [
            ("allocateMs", self.allocate),
            ("associateMs", self.associate),
            ("unassociateMs", self.unassociate),
            ("releaseMs", self.release),
        ] {
            check_latency(name, value)?;
        }
        Ok(())
    }
}

/// Token buckets per region and operation; the burst is one second's worth of calls.
/// `None` is unlimited; `Some(0)` throttles every call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RateLimits {
    /// Allocate, Associate, Unassociate, Release (one bucket each).
    pub mutating_per_second: Option<u32>,
    /// `Describe` and `FindByOwner` (one bucket each).
    pub describe_per_second: Option<u32>,
    /// Release's own quota, when it differs from the other mutating APIs' (Alibaba publishes
    /// 600 calls a minute for ReleaseEipAddress, 120 for the others).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_per_second: Option<u32>,
}

impl RateLimits {
    pub fn for_operation(&self, operation: eip_cloud::Operation) -> Option<u32> {
        match operation {
            eip_cloud::Operation::Release => self.release_per_second.or(self.mutating_per_second),
            op if op.is_mutating() => self.mutating_per_second,
            _ => self.describe_per_second,
        }
    }
}

/// Injected failures: every counted call first sleeps `extra_latency`, then, with probability
/// `error_rate` (seeded, so reproducible), suffers a fault of a kind drawn from `mix` (see
/// [`FaultKind`]; by default a retryable "service unavailable").
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Faults {
    pub error_rate: f64,
    #[serde(rename = "extraLatencyMs", with = "duration_ms")]
    pub extra_latency: Duration,
    pub mix: FaultMix,
    /// How late a `slow` answer comes.
    #[serde(rename = "slowMs", with = "duration_ms")]
    pub slow: Duration,
    /// How long a `timeout` answer is held back (past the clients' request timeout).
    #[serde(rename = "hangMs", with = "duration_ms")]
    pub hang: Duration,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            error_rate: 0.0,
            extra_latency: Duration::ZERO,
            mix: FaultMix::default(),
            slow: Duration::from_secs(3),
            // The providers' HTTP clients give up after 30 s.
            hang: Duration::from_secs(35),
        }
    }
}

impl Faults {
    /// `error_rate` clamped to `[0, 1]` (NaN counts as 0).
    pub fn effective_error_rate(&self) -> f64 {
        if self.error_rate.is_nan() {
            0.0
        } else {
            self.error_rate.clamp(0.0, 1.0)
        }
    }

    /// `error_rate` clamped to `[0, 1]` and the durations to [`MAX_LATENCY`].
    pub fn clamped(self) -> Self {
        Faults {
            error_rate: self.effective_error_rate(),
            extra_latency: self.extra_latency.min(MAX_LATENCY),
            slow: self.slow.min(MAX_LATENCY),
            hang: self.hang.min(MAX_LATENCY),
            ..self
        }
    }

    /// An error when `error_rate` is outside `[0, 1]` or a duration above [`MAX_LATENCY`].
    pub fn check(&self) -> Result<(), LimitError> {
        if self.error_rate.is_nan() || !(0.0..=1.0).contains(&self.error_rate) {
            return Err(LimitError::ErrorRate);
        }
        check_latency("extraLatencyMs", self.extra_latency)?;
        check_latency("slowMs", self.slow)?;
        check_latency("hangMs", self.hang)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SimulatorConfig {
    /// Seeds IDs, addresses, request IDs and fault injection.
    pub seed: u64,
    pub latencies: Latencies,
    pub rate_limits: RateLimits,
    pub faults: Faults,
    pub regions: Vec<RegionConfig>,
    pub eip_quota_per_region: u32,
    /// When false, binding to an instance the simulator does not know fails like the real cloud.
    pub auto_create_instances: bool,
    /// Who the wire protocols accept (access keys, IAM users, projects).
    pub auth: SimAuth,
}

/// Credentials the simulator's wire protocols accept. Defaults are fixed, well-known test values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SimAuth {
    /// Access key pairs (Alibaba AccessKeyId/AccessKeySecret, OTC/Huawei AK/SK).
    pub access_keys: Vec<AccessKey>,
    /// IAM users for password tokens (OTC/Huawei `POST /v3/auth/tokens`).
    pub iam_users: Vec<IamUser>,
    /// OTC/Huawei projects: the project ID in a URL selects the region.
    pub projects: Vec<Project>,
}

/// An access key pair. `Debug` shows the ID only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("secret", &REDACTED)
            .finish()
    }
}

/// An IAM user with a password. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IamUser {
    pub domain: String,
    pub name: String,
    pub password: String,
}

impl fmt::Debug for IamUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IamUser")
            .field("domain", &self.domain)
            .field("name", &self.name)
            .field("password", &REDACTED)
            .finish()
    }
}

impl SimAuth {
    /// A copy with every secret and password replaced by [`REDACTED`].
    pub fn redacted(&self) -> SimAuth {
        SimAuth {
            access_keys: self
                .access_keys
                .iter()
                .map(|key| AccessKey {
                    id: key.id.clone(),
                    secret: REDACTED.into(),
                })
                .collect(),
            iam_users: self
                .iam_users
                .iter()
                .map(|user| IamUser {
                    password: REDACTED.into(),
                    ..user.clone()
                })
                .collect(),
            projects: self.projects.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub id: String,
    pub name: String,
    pub region: String,
}

/// The access key the simulator accepts by default.
pub const SIM_ACCESS_KEY_ID: &str = "SIMACCESSKEYID0000001";
pub const SIM_ACCESS_KEY_SECRET: &str = "sim-access-key-secret-0000000000000001";

impl Default for SimAuth {
    fn default() -> Self {
        SimAuth {
            access_keys: vec![AccessKey {
                id: SIM_ACCESS_KEY_ID.into(),
                secret: SIM_ACCESS_KEY_SECRET.into(),
            }],
            iam_users: vec![IamUser {
                domain: "sim-domain".into(),
                name: "sim-user".into(),
                password: "sim-password".into(),
            }],
            projects: ["eu-de", "eu-nl", "ap-southeast-1"]
                .iter()
                .enumerate()
                .map(|(i, region)| Project {
                    id: format!("{:032x}", 0x5151_0000u64 + i as u64),
                    name: (*region).to_string(),
                    region: (*region).to_string(),
                })
                .collect(),
        }
    }
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            seed: 0,
            latencies: Latencies::default(),
            rate_limits: RateLimits::default(),
            faults: Faults::default(),
            regions: default_regions(),
            eip_quota_per_region: 100_000,
            auto_create_instances: false,
            auth: SimAuth::default(),
        }
    }
}

impl SimulatorConfig {
    /// Every operation completes within its call; no rate limits, no faults.
    pub fn instant() -> Self {
        SimulatorConfig::default()
    }

    /// Close to the real clouds: seconds-long transitions and per-API rate limits.
    pub fn standard() -> Self {
        SimulatorConfig {
            latencies: Latencies {
                allocate: Duration::from_secs(1),
                associate: Duration::from_secs(1),
                unassociate: Duration::from_secs(2),
                release: Duration::from_secs(2),
            },
            rate_limits: RateLimits {
                mutating_per_second: Some(20),
                describe_per_second: Some(40),
                release_per_second: None,
            },
            ..SimulatorConfig::default()
        }
    }

    /// The standard latencies with the quotas Alibaba Cloud publishes per region and main
    /// account: 120 calls a minute for AllocateEipAddress, AssociateEipAddress and
    /// UnassociateEipAddress, 600 for DescribeEipAddresses and ReleaseEipAddress.
    pub fn published() -> Self {
        SimulatorConfig {
            rate_limits: PUBLISHED_RATE_LIMITS,
            ..SimulatorConfig::standard()
        }
    }

    /// Slow enough to watch transitions by eye during local development; no rate limits.
    pub fn dev() -> Self {
        SimulatorConfig {
            latencies: Latencies {
                allocate: Duration::from_secs(2),
                associate: Duration::from_secs(2),
                unassociate: Duration::from_secs(3),
                release: Duration::from_secs(3),
            },
            ..SimulatorConfig::default()
        }
    }

    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// A copy without secrets (see [`SimAuth::redacted`]), for showing.
    pub fn redacted(&self) -> SimulatorConfig {
        SimulatorConfig {
            auth: self.auth.redacted(),
            ..self.clone()
        }
    }

    /// Latencies and faults clamped to the simulator's limits (what [`Simulator::new`] keeps).
    ///
    /// [`Simulator::new`]: super::Simulator::new
    pub fn clamped(mut self) -> SimulatorConfig {
        self.latencies = self.latencies.clamped();
        self.faults = self.faults.clamped();
        self
    }
}

/// Alibaba Cloud's published quotas, per second (see [`SimulatorConfig::published`]).
pub const PUBLISHED_RATE_LIMITS: RateLimits = RateLimits {
    mutating_per_second: Some(2),
    describe_per_second: Some(10),
    release_per_second: Some(10),
};

/// cn-hangzhou and cn-shanghai (Alibaba); eu-de, eu-nl and ap-southeast-1 (OTC / Huawei);
/// us-east-1 (AWS).
pub fn default_regions() -> Vec<RegionConfig> {
    vec![
        RegionConfig::new("cn-hangzhou", Flavor::Alibaba),
        RegionConfig::new("cn-shanghai", Flavor::Alibaba),
        RegionConfig::new("eu-de", Flavor::Otc),
        RegionConfig::new("eu-nl", Flavor::Otc),
        RegionConfig::new("ap-southeast-1", Flavor::Otc),
        RegionConfig::new("us-east-1", Flavor::Aws),
    ]
}

/// Serde for `Duration` as whole milliseconds.
pub(crate) mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(value.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip_as_milliseconds() {
        let config = SimulatorConfig::standard();
        let json = serde_json::to_value(&config).expect("serializes");
        assert_eq!(json["latencies"]["associateMs"], 1000);
        assert_eq!(json["rateLimits"]["mutatingPerSecond"], 20);
        let back: SimulatorConfig = serde_json::from_value(json).expect("deserializes");
        assert_eq!(back, config);
    }

    #[test]
    fn partial_config_fills_defaults() {
        let config: SimulatorConfig = serde_json::from_str(r#"{"seed": 7, "latencies": {"releaseMs": 500}}"#).expect("deserializes");
        assert_eq!(config.seed, 7);
        assert_eq!(config.latencies.release, Duration::from_millis(500));
        assert_eq!(config.latencies.associate, Duration::ZERO);
        assert_eq!(config.regions.len(), 6);
        assert_eq!(config.eip_quota_per_region, 100_000);
    }

    #[test]
    fn secrets_are_redacted_in_debug_and_redacted_copies() {
        let config = SimulatorConfig::default();
        for shown in [
            format!("{config:?}"),
            format!("{:#?}", config.auth),
            format!("{:?}", config.redacted()),
        ] {
            assert!(!shown.contains(SIM_ACCESS_KEY_SECRET), "{shown}");
            assert!(!shown.contains("sim-password"), "{shown}");
            assert!(shown.contains(SIM_ACCESS_KEY_ID) && shown.contains(REDACTED), "{shown}");
        }
        let json = serde_json::to_string(&config.redacted()).expect("serializes");
        assert!(!json.contains(SIM_ACCESS_KEY_SECRET) && !json.contains("sim-password"), "{json}");
        assert!(json.contains(SIM_ACCESS_KEY_ID), "{json}");
        // The original keeps its secrets (the wire protocols need them).
        assert_eq!(config.auth.access_keys[0].secret, SIM_ACCESS_KEY_SECRET);
    }

    #[test]
    fn latencies_and_faults_are_bounded() {
        let huge = Duration::from_millis(u64::MAX);
        let latencies = Latencies {
            associate: huge,
            ..Latencies::default()
        };
        assert!(latencies.check().is_err_and(|e| e.to_string().contains("associateMs")));
        assert_eq!(latencies.clamped().associate, MAX_LATENCY);
        assert!(
            Latencies {
                release: MAX_LATENCY,
                ..Latencies::default()
            }
            .check()
            .is_ok()
        );
        let faults = Faults {
            error_rate: f64::NAN,
            extra_latency: huge,
            hang: huge,
            ..Faults::default()
        };
        assert!(faults.check().is_err());
        assert_eq!(
            faults.clamped(),
            Faults {
                error_rate: 0.0,
                extra_latency: MAX_LATENCY,
                hang: MAX_LATENCY,
                ..Faults::default()
            }
        );
        assert!(
            Faults {
                error_rate: 0.5,
                extra_latency: huge,
                ..Faults::default()
            }
            .check()
            .is_err_and(|e| e.to_string().contains("extraLatencyMs"))
        );
    }
}
