//! `crds/` holds the CRDs the code generates; regenerate with
//! `cargo run -- crd > crds/eip-operator.dev.yaml`.

#[test]
fn checked_in_crds_match_the_generated_ones() {
    let generated = eip_operator::api::crds_yaml().expect("render CRDs");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/crds/eip-operator.dev.yaml");
    let checked_in = std::fs::read_to_string(path).expect("crds/eip-operator.dev.yaml exists");
    assert!(
        checked_in == generated,
        "crds/eip-operator.dev.yaml is stale: run `cargo run -- crd > crds/eip-operator.dev.yaml`"
    );
}

#[test]
fn crds_carry_the_documented_names_columns_and_rules() {
    let yaml = eip_operator::api::crds_yaml().expect("render CRDs");
    for needle in [
        "shortNames:\n    - eip",
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
