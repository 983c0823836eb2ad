//! `crds/` holds the CRDs the code generates; regenerate with
//! `cargo run -- crd > crds/eip-operator.dev.yaml` (and the same for
//! `config/crd/eip-operator.dev.yaml`, the kustomize base).

#[test]
fn checked_in_crds_match_the_generated_ones() {
    let generated = eip_api::crds_yaml().expect("render CRDs");
    for path in ["crds/eip-operator.dev.yaml", "config/crd/eip-operator.dev.yaml"] {
        let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
        let checked_in = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(checked_in == generated, "{path} is stale: run `cargo run -- crd > {path}`");
    }
}

#[test]
fn crds_carry_the_documented_names_columns_and_rules() {
    let yaml = eip_api::crds_yaml().expect("render CRDs");
    for needle in [
        "shortNames:\n    - eip",
        "shortNames:\n    - eippool",
        "name: Spare",
        "categories:\n    - cloud",
        "scope: Namespaced",
        "scope: Cluster",
        "name: Bound To",
        "x-kubernetes-list-type: map",
        "spec.allocationId is immutable",
        "subresources:\n      status: {}",
    ] {
        assert!(yaml.contains(needle), "CRDs lack {needle:?}");
    }
}
