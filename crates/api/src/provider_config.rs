//! The cluster-scoped `ProviderConfig` custom resource: one cloud account in one region.
// kube's `printcolumn(...)` attributes repeat the same keys by design.
#![allow(clippy::duplicated_attributes)]

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The cloud account and region, where its credentials are, and how the operator calls the
/// cloud. ElasticIPs reference it in spec.providerConfigRef; the one marked `default: true` serves
/// every ElasticIP that names none.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "eip-operator.dev",
    version = "v1alpha1",
    kind = "ProviderConfig",
    plural = "providerconfigs",
    singular = "providerconfig",
    category = "cloud",
    doc = "A cloud account in one region. ElasticIPs name it in spec.providerConfigRef, or use the one marked default.",
    printcolumn(name = "Provider", type_ = "string", json_path = ".spec.provider"),
    printcolumn(name = "Region", type_ = "string", json_path = ".spec.region"),
    printcolumn(name = "Default", type_ = "boolean", json_path = ".spec.default"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(validation = Rule::new("self.provider == 'simulator' || has(self.credentialsSecretRef)").message("credentialsSecretRef is required for every provider but simulator").field_path(".credentialsSecretRef"))]
#[serde(rename_all = "camelCase")]
pub struct ProviderConfigSpec {
    /// The cloud: `simulator` (the operator's built-in simulated cloud, needs no credentials),
    /// `alibaba` (Alibaba Cloud), `otc` (Open Telekom Cloud), `huawei` (Huawei Cloud) or `aws`
    /// (Amazon EC2 Elastic IP addresses).
    pub provider: ProviderType,

    /// Region ID (`cn-hangzhou`, `eu-de`, ...).
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[a-z0-9][a-z0-9-]*$"))]
    pub region: String,

    /// API endpoint override (`https://vpc.example.com`); the provider's regional endpoint when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("isURL(self) && (self.startsWith('https://') || self.startsWith('http://'))").message("endpoint must be an http(s) URL"))]
    pub endpoint: Option<String>,

    /// Secret holding the cloud credentials (required for every provider but `simulator`). For
    /// `alibaba`: the keys accessKeyId and accessKeySecret (optionally securityToken), or roleArn,
    /// oidcProviderArn and oidcTokenFile for RRSA. For `otc` and `huawei`: accessKey and secretKey
    /// (optionally securityToken), or username, password and domainName. For `aws`:
    /// accessKeyId and secretAccessKey (optionally sessionToken), or roleArn and
    /// webIdentityTokenFile for a web identity (IRSA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretRef>,

    /// Client-side limits on calls to the cloud, shared by every ElasticIP using this account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<RateLimits>,

    /// Alibaba Cloud settings (provider `alibaba`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alibaba: Option<AlibabaOptions>,

    /// Open Telekom Cloud / Huawei Cloud settings (providers `otc` and `huawei`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otc: Option<OtcOptions>,

    /// Amazon EC2 settings (provider `aws`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsOptions>,

    /// Use this ProviderConfig for ElasticIPs that name none. At most one should be default;
    /// with several, the operator reports the ambiguity instead of picking one.
    #[serde(default)]
    pub default: bool,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema, strum::IntoStaticStr)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum ProviderType {
    Simulator,
    Alibaba,
    Otc,
    Huawei,
    Aws,
}

impl ProviderType {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A Secret in a namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the Secret. The operator may read Secrets in its own namespace; for another
    /// one, grant it `get` on Secrets there (the Helm chart's credentials.secretNamespaces does).
    #[schemars(length(min = 1, max = 63))]
    pub namespace: String,
}

/// Client-side call rates. The operator stays under these on its own, so the account's quota is
/// never exhausted by it. Unset, a provider's published quotas apply where it has them (Alibaba
/// Cloud: 2 calls a second to allocate, associate and unassociate, 10 to describe and release).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RateLimits {
    /// Calls per second for each mutating API (allocate, associate, unassociate, release).
    #[schemars(range(min = 1, max = 10000))]
    pub mutating_per_second: u32,
    /// Calls per second for the describe API.
    #[schemars(range(min = 1, max = 10000))]
    pub describe_per_second: u32,
    /// Calls per second for the release API, when it differs from the other mutating APIs
    /// (Alibaba Cloud allows five times more releases than allocations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub release_per_second: Option<u32>,
    /// The share of these rates the operator uses, in percent (default 95): a client paced at
    /// exactly the cloud's quota crosses it on jitter alone. A throttling answer halves an API's
    /// rate for a while, whatever this says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 10, max = 100))]
    pub headroom_percent: Option<u32>,
}

/// Alibaba Cloud settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlibabaOptions {
    /// Request signing: `V3` (ACS3-HMAC-SHA256, the default) or `V1` (HMAC-SHA1, the older
    /// scheme).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_version: Option<AlibabaSignatureVersion>,
    /// STS endpoint for RRSA (AssumeRoleWithOIDC); `https://sts.<region>.aliyuncs.com` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("isURL(self)").message("stsEndpoint must be a URL"))]
    pub sts_endpoint: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum AlibabaSignatureVersion {
    V3,
    V1,
}

/// Open Telekom Cloud / Huawei Cloud settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(has(self.projectId) && has(self.projectName))").message("set projectId or projectName, not both"))]
pub struct OtcOptions {
    /// Project ID (the `{project_id}` of the API paths).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub project_id: Option<String>,
    /// Project name, resolved to its ID through IAM (e.g. `eu-de`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub project_name: Option<String>,
    /// IAM endpoint override (`https://iam.<region>...` when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("isURL(self)").message("iamEndpoint must be a URL"))]
    pub iam_endpoint: Option<String>,
    /// Coalesce unbinds and releases into the batch API (`/v2/{project_id}/batchpublicips`).
    /// Default: on for `huawei`, off for `otc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_operations: Option<bool>,
    /// Bind and unbind through the v3 `associate-instance` API (needed for load balancers).
    /// Default: on, except in OTC region `eu-nl`, which lacks it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v3_bindings: Option<bool>,
}

/// Amazon EC2 settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AwsOptions {
    /// STS endpoint for a web identity (AssumeRoleWithWebIdentity);
    /// `https://sts.<region>.amazonaws.com` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("isURL(self)").message("stsEndpoint must be a URL"))]
    pub sts_endpoint: Option<String>,
    /// The public IPv4 pool new addresses come from (`PublicIpv4Pool`: a BYOIP pool such as
    /// `ipv4pool-ec2-…`); Amazon's own pool when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub public_ipv4_pool: Option<String>,
}
