//! The chart as helm renders and lints it: clean, accepted by the API server, the same RBAC and
//! CRDs as the rest of the repository, and a values schema that refuses bad values.

use std::collections::BTreeSet;
use std::fs;

use serde_json::Value;

use super::*;

/// `helm lint` (and `--strict`) is clean with the default values and with every option on.
pub async fn helm_chart_lints_clean(cp: &ControlPlane) {
    let helm = Helm::new(cp);
    let chart = chart_dir();
    let chart = chart.to_str().expect("path");
    let values = all_optional_values();
    let values = values.to_str().expect("path");
    for args in [
        vec!["lint", chart],
        vec!["lint", "--strict", chart],
        vec!["lint", chart, "-f", values],
        vec!["lint", "--strict", chart, "-f", values],
        vec!["lint", "--strict", chart, "--set", "replicaCount=1"],
        vec![
            "lint",
            "--strict",
            chart,
            "--set",
            "replicaCount=1,leaderElection.enabled=false,serviceAccount.create=false,serviceAccount.name=existing",
        ],
    ] {
        let out = helm.run(&args);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(out.status.success(), "helm {args:?}:\n{stdout}{stderr}");
        assert!(stdout.contains("0 chart(s) failed"), "helm {args:?}:\n{stdout}");
        // Lint reports a template's `fail` only as a log line.
        for bad in ["[WARNING]", "[ERROR]", "Fail:"] {
            assert!(!stdout.contains(bad) && !stderr.contains(bad), "helm {args:?}:\n{stdout}{stderr}");
        }
    }
    // The chart ships the same CRDs as crds/ at the repository root.
    assert_eq!(
        fs::read_to_string(chart_dir().join("crds/eip-operator.dev.yaml")).expect("chart CRDs"),
        fs::read_to_string(root().join("crds/eip-operator.dev.yaml")).expect("CRDs"),
        "charts/eip-operator/crds/ is out of date: cp crds/eip-operator.dev.yaml charts/eip-operator/crds/"
    );
    let chart_yaml = documents(&fs::read_to_string(chart_dir().join("Chart.yaml")).expect("Chart.yaml")).remove(0);
    assert_eq!(chart_yaml["apiVersion"], "v2");
    assert_eq!(chart_yaml["appVersion"], env!("CARGO_PKG_VERSION"), "appVersion follows Cargo.toml");
}

/// `helm template` output (defaults, and every option on) is accepted by the API server.
pub async fn helm_template_is_accepted_by_the_api_server(cp: &ControlPlane) {
    let helm = Helm::new(cp);
    let ns = unique("pkg-tmpl");
    cp.kubectl_ok(&["create", "namespace", &ns]);

    // Defaults.
    let rendered = helm.template("eip-operator", &ns, &[]);
    let docs = documents(&rendered);
    let deployment = find(&docs, "Deployment", "eip-operator");
    assert_hardened_deployment(deployment, 2);
    assert_eq!(
        rules(find(&docs, "ClusterRole", "eip-operator")),
        cluster_role_rules_of_config_rbac()
    );
    let secrets_role = find(&docs, "Role", "eip-operator-credentials");
    assert_eq!(
        secrets_role["metadata"]["namespace"],
        ns.as_str(),
        "credentials: the release namespace by default"
    );
    assert_eq!(secrets_role["rules"][0]["verbs"], serde_json::json!(["get"]));
    find(&docs, "Role", "eip-operator-leader-election");
    find(&docs, "PodDisruptionBudget", "eip-operator");
    find(&docs, "Service", "eip-operator-metrics");
    for kind in ["CustomResourceDefinition", "ServiceMonitor", "ProviderConfig"] {
        assert!(!docs.iter().any(|d| d["kind"] == kind), "{kind} is opt-in");
    }
    server_dry_run(cp, &rendered, "the chart with default values");

    // One replica: no PodDisruptionBudget (it would block node drains).
    let single = documents(&helm.template("eip-operator", &ns, &["--set", "replicaCount=1"]));
    assert!(!single.iter().any(|d| d["kind"] == "PodDisruptionBudget"));

    // Every option on. The ServiceMonitor needs its CRD: a minimal one (left installed: harmless).
    cp.apply(MINIMAL_SERVICEMONITOR_CRD);
    cp.kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/servicemonitors.monitoring.coreos.com",
    ]);
    let (creds, work) = (format!("{ns}-creds"), format!("{ns}-work"));
    for namespace in [&creds, &work] {
        cp.kubectl_ok(&["create", "namespace", namespace]);
    }
    let pc = unique("pkg-default-pc");
    let values = all_optional_values();
    let sets = format!(
        "credentials.secretNamespaces={{{creds},{work}}},defaultProviderConfig.credentialsSecretRef.namespace={creds},defaultProviderConfig.name={pc},operator.watchNamespace={work}"
    );
    let rendered = helm.template("all", &ns, &["-f", values.to_str().expect("path"), "--set", &sets]);
    let docs = documents(&rendered);
    let deployment = find(&docs, "Deployment", "all-eip-operator");
    assert_eq!(deployment["spec"]["replicas"], 3);
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert!(
        container["image"].as_str().expect("image").contains("@sha256:"),
        "digest wins over the tag"
    );
    let args = container["args"].to_string();
    for arg in [
        "--namespace=",
        "--lease-name=eip-operator-leader",
        "--simulator-profile=standard",
        "--concurrency=4",
    ] {
        assert!(args.contains(arg), "{arg} missing from {args}");
    }
    let spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
        .as_array()
        .expect("spread");
    assert_eq!(spread.len(), 2);
    assert!(
        spread
            .iter()
            .all(|c| c["labelSelector"]["matchLabels"]["app.kubernetes.io/instance"] == "all"),
        "{spread:?}"
    );
    let secret_roles: BTreeSet<&str> = docs
        .iter()
        .filter(|d| d["kind"] == "Role" && d["metadata"]["name"] == "all-eip-operator-credentials")
        .map(|d| d["metadata"]["namespace"].as_str().expect("namespace"))
        .collect();
    assert_eq!(
        secret_roles,
        BTreeSet::from([creds.as_str(), work.as_str()]),
        "one credentials Role per namespace"
    );
    let provider_config = find(&docs, "ProviderConfig", &pc);
    assert_eq!(provider_config["spec"]["default"], true);
    assert_eq!(provider_config["spec"]["otc"]["projectName"], "eu-de");
    assert_eq!(provider_config["spec"]["credentialsSecretRef"]["namespace"], creds.as_str());
    find(&docs, "ServiceMonitor", "all-eip-operator");
    assert_eq!(find(&docs, "PodDisruptionBudget", "all-eip-operator")["spec"]["maxUnavailable"], 1);
    // The templated CRDs: the same as crds/, kept on uninstall.
    for crd in [
        "elasticips.eip-operator.dev",
        "elasticippools.eip-operator.dev",
        "providerconfigs.eip-operator.dev",
    ] {
        let templated = find(&docs, "CustomResourceDefinition", crd);
        assert_eq!(templated["metadata"]["annotations"]["helm.sh/resource-policy"], "keep", "{crd}");
        let shipped = documents(&fs::read_to_string(root().join("crds/eip-operator.dev.yaml")).expect("CRDs"));
        assert!(
            numbers_as_f64(&templated["spec"]) == numbers_as_f64(&find(&shipped, "CustomResourceDefinition", crd)["spec"]),
            "the templated {crd} differs from crds/"
        );
    }
    server_dry_run(cp, &rendered, "the chart with every option on");
}

const MINIMAL_SERVICEMONITOR_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: servicemonitors.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  names: {kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors, singular: servicemonitor}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
"#;

/// The value with every number as a float (`maximum: 10000.0` and `10000` are the same schema).
fn numbers_as_f64(value: &Value) -> Value {
    match value {
        Value::Number(n) => Value::from(n.as_f64().expect("number")),
        Value::Array(items) => Value::Array(items.iter().map(numbers_as_f64).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), numbers_as_f64(v))).collect()),
        other => other.clone(),
    }
}

/// `values.schema.json` rejects bad values with helm's schema error; good ones pass.
pub async fn helm_values_schema_rejects_bad_values(cp: &ControlPlane) {
    let helm = Helm::new(cp);
    let chart = chart_dir();
    let chart = chart.to_str().expect("path");
    let bad: &[(&[&str], &str)] = &[
        (&["--set", "replicaCount=-1"], "replicaCount"),
        (&["--set", "image.tag=5"], "image"),
        (&["--set", "operator.logFormat=xml"], "logFormat"),
        (&["--set", "operator.concurrency=0"], "concurrency"),
        (&["--set", "metrics.port=70000"], "port"),
        (&["--set", "credentials.secretNamespaces={Not_A_Namespace}"], "secretNamespaces"),
        (
            &["--set", "defaultProviderConfig.enabled=true,defaultProviderConfig.provider=aws"],
            "provider",
        ),
        (&["--set", "replicas=2"], "replicas"),
        (&["--set", "image.digest=latest"], "digest"),
    ];
    for (args, field) in bad {
        let mut full = vec!["template", "t", chart];
        full.extend_from_slice(args);
        let out = helm.run(&full);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "helm accepted {args:?}");
        assert!(
            stderr.contains("values don't meet the specifications of the schema"),
            "{args:?}: not a schema error: {stderr}"
        );
        assert!(stderr.contains(field), "{args:?}: the error does not name {field}: {stderr}");
    }
    // Several replicas without leader election would all reconcile the same objects.
    let out = helm.run(&["template", "t", chart, "--set", "leaderElection.enabled=false"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("needs leaderElection.enabled"), "{}", text(&out.stderr));
    // A default ProviderConfig needs a region and, except for the simulator, a credentials Secret.
    let out = helm.run(&[
        "template",
        "t",
        chart,
        "--set",
        "defaultProviderConfig.enabled=true,defaultProviderConfig.region=eu-de",
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("credentialsSecretRef.name is required"),
        "{}",
        text(&out.stderr)
    );
    helm.ok(&["template", "t", chart, "--set-string", "image.tag=5"]);
    for good in [
        "replicaCount=0",
        "defaultProviderConfig.enabled=true,defaultProviderConfig.provider=simulator,defaultProviderConfig.region=cn-hangzhou",
    ] {
        helm.ok(&["template", "t", chart, "--set", good]);
    }
}
