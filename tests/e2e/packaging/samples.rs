//! The samples (`config/samples`) and the Argo CD and Flux examples.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use super::*;
use crate::support::INSTANCE_TYPES;

/// Every sample is accepted by the API server; together they cover every binding type and the
/// ElasticIPPool. The
/// Argo CD ConfigMap patch is a valid ConfigMap; the Flux examples have their health checks.
pub async fn samples_and_gitops_examples_are_valid(cp: &ControlPlane) {
    let samples = root().join("config/samples");
    let mut types = BTreeSet::new();
    let mut providers = BTreeSet::new();
    let mut pools = 0;
    let mut files: Vec<PathBuf> = fs::read_dir(&samples)
        .expect("config/samples")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml") && !p.ends_with("kustomization.yaml"))
        .collect();
    files.sort();
    for file in &files {
        let yaml = fs::read_to_string(file).expect("sample");
        server_dry_run(cp, &yaml, &file.display().to_string());
        for doc in documents(&yaml) {
            match doc["kind"].as_str() {
                Some("ElasticIP") => {
                    for reference in ["nodeRef", "serviceRef"] {
                        if doc["spec"]["binding"][reference]["name"].is_string() {
                            types.insert(reference.to_string());
                        }
                    }
                    if let Some(t) = doc["spec"]["binding"]["instanceType"].as_str() {
                        types.insert(t.to_string());
                        match t {
                            "NetworkInterface" if doc["spec"]["binding"]["mode"].is_string() => {
                                types.insert("NetworkInterface+mode".into());
                            }
                            "IpAddress" => assert!(doc["spec"]["binding"]["vpcId"].is_string(), "{}", file.display()),
                            _ => {}
                        }
                    }
                }
                Some("ElasticIPPool") => {
                    assert!(doc["spec"]["nodeSelector"].is_object(), "{}", file.display());
                    pools += 1;
                }
                Some("ProviderConfig") => {
                    providers.insert(doc["spec"]["provider"].as_str().expect("provider").to_string());
                }
                Some("Secret") => {
                    let keys: BTreeSet<&str> = doc["stringData"]
                        .as_object()
                        .expect("stringData")
                        .keys()
                        .map(String::as_str)
                        .collect();
                    let expected: BTreeSet<&str> = if yaml.contains("provider: alibaba") {
                        BTreeSet::from(["accessKeyId", "accessKeySecret"])
                    } else {
                        BTreeSet::from(["accessKey", "secretKey"])
                    };
                    assert_eq!(keys, expected, "{}: credentials keys", file.display());
                }
                _ => {}
            }
        }
    }
    for t in INSTANCE_TYPES
        .iter()
        .copied()
        .chain(["NetworkInterface+mode", "nodeRef", "serviceRef"])
    {
        assert!(types.contains(t), "no sample binds to {t}; have {types:?}");
    }
    assert!(pools > 0, "no sample ElasticIPPool");
    for p in ["simulator", "alibaba", "otc", "huawei"] {
        assert!(providers.contains(p), "no sample ProviderConfig for {p}");
    }
    let out = cp.kubectl(&["apply", "-k", samples.to_str().expect("path"), "--dry-run=server"]);
    assert!(out.status.success(), "config/samples kustomization: {}", text(&out.stderr));

    // Argo CD: the argocd-cm patch is a ConfigMap the API server takes (in a namespace of ours).
    let ns = unique("pkg-argocd");
    cp.kubectl_ok(&["create", "namespace", &ns]);
    let patch = fs::read_to_string(root().join("config/argocd/argocd-cm-patch.yaml")).expect("argocd-cm patch");
    let lua = fs::read_to_string(root().join("config/argocd/health.lua")).expect("health.lua");
    let cm = documents(&patch).remove(0);
    assert_eq!(cm["metadata"]["name"], "argocd-cm");
    assert_eq!(
        cm["data"]["resource.customizations.health.eip-operator.dev_ElasticIP"]
            .as_str()
            .map(str::trim),
        Some(lua.trim()),
        "argocd-cm-patch.yaml and health.lua differ"
    );
    server_dry_run(
        cp,
        &patch.replace("namespace: argocd", &format!("namespace: {ns}")),
        "the argocd-cm patch",
    );

    // Flux: the operator Kustomization waits; the ElasticIPs' one health-checks ElasticIPs.
    let flux = root().join("config/flux");
    let operator = documents(&fs::read_to_string(flux.join("operator-kustomization.yaml")).expect("flux"));
    let kustomization = find(&operator, "Kustomization", "eip-operator");
    assert_eq!(kustomization["apiVersion"], "kustomize.toolkit.fluxcd.io/v1");
    assert_eq!(kustomization["spec"]["wait"], true);
    assert_eq!(kustomization["spec"]["path"], "./config/default");
    let eips = documents(&fs::read_to_string(flux.join("elasticips-kustomization.yaml")).expect("flux"));
    let eips = find(&eips, "Kustomization", "elastic-ips");
    let checks = eips["spec"]["healthChecks"].as_array().expect("healthChecks");
    assert!(
        !checks.is_empty()
            && checks
                .iter()
                .all(|c| c["kind"] == "ElasticIP" && c["apiVersion"] == "eip-operator.dev/v1alpha1")
    );
    assert_eq!(eips["spec"]["dependsOn"][0]["name"], "eip-operator");
    let release = documents(&fs::read_to_string(flux.join("helmrelease.yaml")).expect("flux"));
    let release = find(&release, "HelmRelease", "eip-operator");
    assert_eq!(release["apiVersion"], "helm.toolkit.fluxcd.io/v2");
    assert_eq!(release["spec"]["upgrade"]["crds"], "CreateReplace");
    // Its values are valid chart values.
    let values = serde_yaml::to_string(&release["spec"]["values"]).expect("values");
    let values_file = tempfile::NamedTempFile::new().expect("temp file");
    fs::write(values_file.path(), values).expect("write values");
    let helm = Helm::new(cp);
    helm.template("eip-operator", "eip-operator", &["-f", values_file.path().to_str().expect("path")]);

    let _ = cp.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}
