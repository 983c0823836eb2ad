//! The kustomize bases: `config/default` as users apply it, and the same bases renamed.

use std::fs;
use std::path::Path;

use serde_json::Value;

use super::*;

/// `config/default` renders and is accepted by the API server; the same bases applied for real
/// into a renamed namespace give the operator exactly the access it needs; and the kustomize
/// install has the chart's default settings.
pub async fn kustomize_default_install(cp: &ControlPlane) {
    let default = root().join("config/default");
    let default = default.to_str().expect("path");
    let rendered = cp.kubectl_ok(&["kustomize", default]);
    let docs = documents(&rendered);
    for (kind, name) in [
        ("Namespace", "eip-operator"),
        ("CustomResourceDefinition", "elasticips.eip-operator.dev"),
        ("CustomResourceDefinition", "elasticippools.eip-operator.dev"),
        ("CustomResourceDefinition", "providerconfigs.eip-operator.dev"),
        ("ServiceAccount", "eip-operator"),
        ("ClusterRole", "eip-operator"),
        ("ClusterRoleBinding", "eip-operator"),
        ("Role", "eip-operator-leader-election"),
        ("RoleBinding", "eip-operator-leader-election"),
        ("Role", "eip-operator-credentials"),
        ("RoleBinding", "eip-operator-credentials"),
        ("Deployment", "eip-operator"),
        ("Service", "eip-operator-metrics"),
        ("PodDisruptionBudget", "eip-operator"),
    ] {
        find(&docs, kind, name);
    }
    let deployment = find(&docs, "Deployment", "eip-operator");
    assert_hardened_deployment(deployment, 2);
    assert_eq!(
        rules(find(&docs, "ClusterRole", "eip-operator")),
        cluster_role_rules_of_config_rbac()
    );

    // The same settings as the chart's defaults (release eip-operator in namespace eip-operator).
    let helm = Helm::new(cp);
    let chart_docs = documents(&helm.template("eip-operator", "eip-operator", &[]));
    let chart_deployment = find(&chart_docs, "Deployment", "eip-operator");
    let pod = |d: &Value| d["spec"]["template"]["spec"].clone();
    let (k, h) = (pod(deployment), pod(chart_deployment));
    for field in [
        "securityContext",
        "terminationGracePeriodSeconds",
        "serviceAccountName",
        "topologySpreadConstraints",
    ] {
        assert_eq!(k[field], h[field], "config/manager and the chart differ in pod {field}");
    }
    for field in [
        "image",
        "args",
        "env",
        "ports",
        "livenessProbe",
        "readinessProbe",
        "resources",
        "securityContext",
    ] {
        assert_eq!(
            k["containers"][0][field], h["containers"][0][field],
            "config/manager and the chart differ in container {field}"
        );
    }
    assert_eq!(deployment["spec"]["replicas"], chart_deployment["spec"]["replicas"]);
    for role in ["eip-operator-leader-election", "eip-operator-credentials"] {
        assert_eq!(rules(find(&docs, "Role", role)), rules(find(&chart_docs, "Role", role)), "{role}");
    }
    assert_eq!(
        find(&docs, "PodDisruptionBudget", "eip-operator")["spec"]["minAvailable"],
        find(&chart_docs, "PodDisruptionBudget", "eip-operator")["spec"]["minAvailable"]
    );

    // The API server accepts the whole install (dry run: the harness owns namespace eip-operator).
    let out = cp.kubectl(&["apply", "-k", default, "--dry-run=server"]);
    assert!(
        out.status.success(),
        "kubectl apply -k config/default --dry-run=server: {}",
        text(&out.stderr)
    );

    // For real, through an overlay that renames the namespace and the cluster-scoped objects.
    let ns = unique("pkg-kust");
    let suffix = format!("-{ns}");
    let overlay = tempfile::Builder::new().prefix("eip-e2e-kustomize-").tempdir().expect("temp dir");
    let config = relative(overlay.path(), &root().join("config"));
    fs::write(
        overlay.path().join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: {ns}\nnameSuffix: {suffix}\nresources:\n  - {config}/rbac\n  - {config}/manager\n"
        ),
    )
    .expect("overlay");
    let overlay_path = overlay.path().to_str().expect("path");
    cp.kubectl_ok(&["apply", "-k", overlay_path]);
    let sa = format!("eip-operator{suffix}");
    let deployment = get_json(cp, &["-n", &ns, "deployment", &format!("eip-operator{suffix}")]);
    assert_hardened_deployment(&deployment, 2);
    assert_eq!(deployment["spec"]["template"]["spec"]["serviceAccountName"], sa.as_str());
    assert_operator_identity(cp, &ns, &sa, &[&ns]);
    cp.kubectl_ok(&["delete", "-k", overlay_path, "--wait=false"]);
}

/// A relative path from `from` to `to` (kustomize refuses absolute paths to bases).
fn relative(from: &Path, to: &Path) -> String {
    let from = from.canonicalize().expect("canonicalize");
    let to = to.canonicalize().expect("canonicalize");
    let common = from.components().zip(to.components()).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); from.components().count() - common];
    parts.extend(to.components().skip(common).map(|c| c.as_os_str().to_string_lossy().into_owned()));
    parts.join("/")
}
