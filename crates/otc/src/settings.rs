//! Settings of the OTC / Huawei Cloud provider: endpoints, project, API variants, batching.

use std::time::Duration;

use eip_api::OtcOptions;

/// Which cloud: decides the default endpoints and defaults of the options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtcCloud {
    OpenTelekomCloud,
    HuaweiCloud,
}

/// How the provider talks to the cloud.
#[derive(Clone, Debug)]
pub struct OtcSettings {
    pub cloud: OtcCloud,
    pub region: String,
    /// VPC endpoint (`https://vpc.<region>.otc.t-systems.com`), no trailing slash.
    pub endpoint: String,
    /// IAM endpoint (`https://iam.<region>.otc.t-systems.com`), no trailing slash.
    pub iam_endpoint: String,
    pub project_id: Option<String>,
    pub project_name: Option<String>,
    pub batch_operations: bool,
    pub v3_bindings: bool,
    /// How long the first unbind/release waits for others to join its batch.
    pub batch_window: Duration,
    /// IDs per batch call.
    pub batch_max: usize,
    /// Entries per list page.
    pub page_size: usize,
}

/// Default batching window and batch size.
pub const BATCH_WINDOW: Duration = Duration::from_millis(100);
pub const BATCH_MAX: usize = 50;
/// Pages read at most by one list walk (× `page_size` EIPs).
pub(crate) const MAX_PAGES: usize = 200;

impl OtcSettings {
    /// Settings from a ProviderConfig's `region`, `endpoint` and `otc` options.
    pub fn new(cloud: OtcCloud, region: &str, endpoint: Option<&str>, options: Option<&OtcOptions>) -> Self {
        let domain = match cloud {
            OtcCloud::OpenTelekomCloud => "otc.t-systems.com",
            OtcCloud::HuaweiCloud => "myhuaweicloud.com",
        };
        let options = options.cloned().unwrap_or_default();
        let trim = |url: &str| url.trim().trim_end_matches('/').to_owned();
        let endpoint_override = endpoint.map(trim);
        // IAM: the override; else, next to an overridden VPC endpoint (`vpc.` → `iam.`, or the
        // same base when it has no `vpc.` label, as the simulator serves both); else the public one.
        let iam_endpoint = match (options.iam_endpoint.as_deref(), &endpoint_override) {
            (Some(iam), _) => trim(iam),
            (None, Some(vpc)) => match vpc.split_once("://vpc.") {
                Some((scheme, rest)) => format!("{scheme}://iam.{rest}"),
                None => vpc.clone(),
            },
            (None, None) => format!("https://iam.{region}.{domain}"),
        };
        OtcSettings {
            cloud,
            region: region.to_owned(),
            endpoint: endpoint_override.unwrap_or_else(|| format!("https://vpc.{region}.{domain}")),
            iam_endpoint,
            project_id: options.project_id.clone(),
            project_name: options.project_name.clone(),
            batch_operations: options.batch_operations.unwrap_or(cloud == OtcCloud::HuaweiCloud),
            v3_bindings: options
                .v3_bindings
                .unwrap_or(!(cloud == OtcCloud::OpenTelekomCloud && region == "eu-nl")),
            batch_window: BATCH_WINDOW,
            batch_max: BATCH_MAX,
            page_size: 1000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_defaults() {
        let otc = OtcSettings::new(OtcCloud::OpenTelekomCloud, "eu-de", None, None);
        assert_eq!(otc.endpoint, "https://vpc.eu-de.otc.t-systems.com");
        assert_eq!(otc.iam_endpoint, "https://iam.eu-de.otc.t-systems.com");
        assert!(otc.v3_bindings && !otc.batch_operations);
        assert!(!OtcSettings::new(OtcCloud::OpenTelekomCloud, "eu-nl", None, None).v3_bindings);
        let huawei = OtcSettings::new(OtcCloud::HuaweiCloud, "ap-southeast-1", Some("http://127.0.0.1:9/"), None);
        assert_eq!(huawei.endpoint, "http://127.0.0.1:9");
        assert_eq!(huawei.iam_endpoint, "http://127.0.0.1:9", "next to the simulator's endpoint");
        let swiss = OtcSettings::new(
            OtcCloud::OpenTelekomCloud,
            "eu-ch2",
            Some("https://vpc.eu-ch2.sc.otc.t-systems.com"),
            None,
        );
        assert_eq!(swiss.iam_endpoint, "https://iam.eu-ch2.sc.otc.t-systems.com");
        assert!(huawei.v3_bindings && huawei.batch_operations);
        let options = OtcOptions {
            project_id: Some("p".into()),
            iam_endpoint: Some("https://iam.example/".into()),
            batch_operations: Some(false),
            v3_bindings: Some(false),
            ..OtcOptions::default()
        };
        let custom = OtcSettings::new(OtcCloud::HuaweiCloud, "eu-west-101", None, Some(&options));
        assert_eq!(custom.iam_endpoint, "https://iam.example");
        assert_eq!(custom.project_id.as_deref(), Some("p"));
        assert!(!custom.batch_operations && !custom.v3_bindings);
    }
}
