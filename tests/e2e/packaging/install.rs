//! The chart installed, uninstalled and upgraded for real: what it creates and removes, and the
//! CRD upgrade story of its README.

use std::fs;
use std::path::Path;

use serde_json::Value;

use super::*;

/// `helm install` into a fresh namespace creates what it should; `helm uninstall` removes it.
pub async fn helm_install_and_uninstall(cp: &ControlPlane) {
    let helm = Helm::new(cp);
    let ns = unique("pkg-helm");
    let release = unique("eipop");
    let chart = chart_dir();
    // The harness installed the CRDs already: --skip-crds.
    let out = helm.ok(&[
        "install",
        &release,
        chart.to_str().expect("path"),
        "-n",
        &ns,
        "--create-namespace",
        "--skip-crds",
        "--timeout",
        "60s",
    ]);
    assert!(out.contains("STATUS: deployed"), "{out}");
    assert!(out.contains("kubectl get eip"), "NOTES tell how to check it:\n{out}");
    let status = helm.ok(&["status", &release, "-n", &ns, "-o", "json"]);
    let status: Value = serde_json::from_str(&status).expect("helm status json");
    assert_eq!(status["info"]["status"], "deployed");

    let full = format!("{release}-eip-operator");
    let deployment = get_json(cp, &["-n", &ns, "deployment", &full]);
    assert_hardened_deployment(&deployment, 2);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["serviceAccountName"],
        full.as_str(),
        "runs as the chart's ServiceAccount"
    );
    get_json(cp, &["-n", &ns, "serviceaccount", &full]);
    get_json(cp, &["-n", &ns, "service", &format!("{full}-metrics")]);
    get_json(cp, &["-n", &ns, "poddisruptionbudget", &full]);
    let lease_role = get_json(cp, &["-n", &ns, "role", &format!("{full}-leader-election")]);
    assert_eq!(lease_role["rules"][0]["resources"], serde_json::json!(["leases"]));
    get_json(cp, &["-n", &ns, "rolebinding", &format!("{full}-leader-election")]);
    get_json(cp, &["-n", &ns, "role", &format!("{full}-credentials")]);
    let cluster_role = get_json(cp, &["clusterrole", &full]);
    assert_eq!(
        rules(&cluster_role),
        cluster_role_rules_of_config_rbac(),
        "the same rules as config/rbac"
    );
    get_json(cp, &["clusterrolebinding", &full]);
    assert_operator_identity(cp, &ns, &full, &[&ns]);

    helm.ok(&["uninstall", &release, "-n", &ns, "--wait", "--timeout", "60s"]);
    let gone: [(&str, String, bool); 8] = [
        ("deployment", full.clone(), true),
        ("serviceaccount", full.clone(), true),
        ("service", format!("{full}-metrics"), true),
        ("role", format!("{full}-leader-election"), true),
        ("role", format!("{full}-credentials"), true),
        ("rolebinding", format!("{full}-credentials"), true),
        ("clusterrole", full.clone(), false),
        ("clusterrolebinding", full.clone(), false),
    ];
    for (kind, name, namespaced) in &gone {
        let mut args = vec![*kind, name.as_str()];
        if *namespaced {
            args.extend(["-n", ns.as_str()]);
        }
        assert!(!exists(cp, &args), "{kind} {name} survived helm uninstall");
    }
    // The CRDs (and so everyone's ElasticIPs) are never touched by the chart's uninstall.
    assert!(exists(cp, &["crd", "elasticips.eip-operator.dev"]));
    let _ = cp.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

/// The CRD upgrade story of the chart README, on a copy of the chart whose CRDs have a group of
/// their own (the shared `eip-operator.dev` CRDs of the other scenarios are never touched):
/// crds/ installs once and survives uninstall; switching to `crds.templated=true` with
/// `--take-ownership` adopts them, upgrades them, and keeps them on uninstall.
pub async fn helm_crd_upgrade_story(cp: &ControlPlane) {
    let helm = Helm::new(cp);
    let ns = unique("pkg-crds");
    let group = format!("{}.pkg.test", unique("g"));
    let copy = tempfile::Builder::new().prefix("eip-e2e-chart-").tempdir().expect("temp dir");
    let chart = copy.path().join("eip-operator");
    copy_dir(&chart_dir(), &chart);
    let crds_file = chart.join("crds/eip-operator.dev.yaml");
    let original = fs::read_to_string(&crds_file).expect("CRDs");
    fs::write(&crds_file, original.replace("eip-operator.dev", &group)).expect("write CRDs");
    let chart = chart.to_str().expect("path").to_string();
    let crd = format!("elasticips.{group}");
    let release = unique("crds");

    // 1. Default: helm creates the CRDs from crds/ at install, without owning them.
    helm.ok(&["install", &release, &chart, "-n", &ns, "--create-namespace", "--timeout", "60s"]);
    let installed = get_json(cp, &["crd", &crd]);
    assert!(installed["metadata"]["annotations"]["meta.helm.sh/release-name"].is_null());

    // 2. Switching an existing release to templated CRDs: adopt them.
    let out = helm.run(&["upgrade", &release, &chart, "-n", &ns, "--set", "crds.templated=true"]);
    assert!(
        !out.status.success(),
        "without --take-ownership, helm refuses to adopt the CRDs it did not label"
    );
    helm.ok(&[
        "upgrade",
        &release,
        &chart,
        "-n",
        &ns,
        "--set",
        "crds.templated=true",
        "--take-ownership",
    ]);
    let adopted = get_json(cp, &["crd", &crd]);
    assert_eq!(adopted["metadata"]["annotations"]["meta.helm.sh/release-name"], release.as_str());
    assert_eq!(adopted["metadata"]["annotations"]["helm.sh/resource-policy"], "keep");

    // 3. A chart upgrade now upgrades the CRDs.
    fs::write(
        &crds_file,
        original.replace("eip-operator.dev", &group).replace(
            "Peak bandwidth in Mbit/s (1-10000).",
            "Peak bandwidth in Mbit/s (1-10000), upgraded.",
        ),
    )
    .expect("write CRDs");
    helm.ok(&["upgrade", &release, &chart, "-n", &ns, "--set", "crds.templated=true"]);
    let upgraded = get_json(cp, &["crd", &crd]).to_string();
    assert!(upgraded.contains("upgraded."), "helm upgrade did not upgrade the templated CRD");

    // 4. Uninstall keeps them.
    helm.ok(&["uninstall", &release, "-n", &ns, "--wait", "--timeout", "60s"]);
    assert!(exists(cp, &["crd", &crd]), "helm uninstall deleted a CRD");

    // 5. A fresh templated install (crds/ first, then the templates adopt them).
    let second = unique("crds2");
    let ns2 = unique("pkg-crds2");
    let group2 = format!("{}.pkg.test", unique("g"));
    fs::write(&crds_file, original.replace("eip-operator.dev", &group2)).expect("write CRDs");
    helm.ok(&[
        "install",
        &second,
        &chart,
        "-n",
        &ns2,
        "--create-namespace",
        "--set",
        "crds.templated=true",
        "--take-ownership",
        "--timeout",
        "60s",
    ]);
    let crd2 = format!("providerconfigs.{group2}");
    let owned = get_json(cp, &["crd", &crd2]);
    assert_eq!(owned["metadata"]["annotations"]["meta.helm.sh/release-name"], second.as_str());
    helm.ok(&["uninstall", &second, "-n", &ns2, "--wait", "--timeout", "60s"]);
    assert!(exists(cp, &["crd", &crd2]));

    for g in [&group, &group2] {
        let _ = cp.kubectl(&[
            "delete",
            "crd",
            &format!("elasticips.{g}"),
            &format!("elasticippools.{g}"),
            &format!("providerconfigs.{g}"),
            "--wait=false",
        ]);
    }
    for n in [&ns, &ns2] {
        let _ = cp.kubectl(&["delete", "namespace", n, "--wait=false"]);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for entry in fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy");
        }
    }
}
