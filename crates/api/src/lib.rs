//! The custom resources: `ElasticIP` and `ElasticIPPool` (namespaced), `ProviderConfig`
//! (cluster-scoped).

mod elastic_ip;
mod pool;
mod provider_config;
pub mod schema;

pub use elastic_ip::*;
pub use pool::*;
pub use provider_config::*;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// Every CRD this operator serves, with the schema descriptions `kubectl explain` shows made
/// clean prose ([`schema::ProseDescriptions`]).
pub fn crds() -> Vec<CustomResourceDefinition> {
    [ElasticIP::crd(), ElasticIPPool::crd(), ProviderConfig::crd()]
        .into_iter()
        .map(|crd| schema::transform_crd(crd, &mut schema::ProseDescriptions))
        .collect()
}

/// Every CRD this operator serves, as multi-document YAML (what `eip-operator crd` prints and
/// `crds/` holds).
pub fn crds_yaml() -> Result<String, serde_yaml::Error> {
    let mut out = String::new();
    for crd in crds() {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&crd)?);
    }
    Ok(out)
}
