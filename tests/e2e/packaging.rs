//! The cluster add-on: the Helm chart (`charts/eip-operator/`), the kustomize bases
//! (`config/default`, `config/manager`, `config/rbac`), the samples and the Argo CD / Flux examples,
//! checked with the pinned helm and kubectl against the real API server.
//!
//! No kubelet runs here, so the operator pods never start: these scenarios check what the API
//! server accepts and stores and what the operator's identity may do, and one runs the real
//! binary the way the chart's Deployment would (its args, env and ServiceAccount). Every scenario uses its own
//! namespaces, release names and cluster-scoped names, so they run in parallel with the others.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{ControlPlane, pipe};

const TYPES: [&str; 8] = [
    "EcsInstance",
    "NetworkInterface",
    "Nat",
    "SlbInstance",
    "HaVip",
    "IpAddress",
    "Port",
    "Vpn",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn chart_dir() -> PathBuf {
    root().join("charts/eip-operator")
}

fn all_optional_values() -> PathBuf {
    chart_dir().join("ci/all-optional-values.yaml")
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{:08x}", rand::random::<u32>())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The pinned helm, with its own config/cache/data homes and the control plane's kubeconfig.
struct Helm<'a> {
    cp: &'a ControlPlane,
    home: tempfile::TempDir,
}

impl<'a> Helm<'a> {
    fn new(cp: &'a ControlPlane) -> Helm<'a> {
        let home = tempfile::Builder::new().prefix("eip-e2e-helm-").tempdir().expect("helm home");
        Helm { cp, home }
    }

    fn command(&self, args: &[&str]) -> Command {
        let helm = self.cp.bin.join("helm");
        assert!(helm.is_file(), "missing {}: run tools/build.sh", helm.display());
        let mut command = Command::new(helm);
        command
            .env("KUBECONFIG", &self.cp.kubeconfig)
            .env("HELM_CONFIG_HOME", self.home.path().join("config"))
            .env("HELM_CACHE_HOME", self.home.path().join("cache"))
            .env("HELM_DATA_HOME", self.home.path().join("data"))
            .args(args);
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run helm")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "helm {args:?} failed: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// `helm template` of the chart; returns the rendered manifests.
    fn template(&self, release: &str, namespace: &str, extra: &[&str]) -> String {
        let chart = chart_dir();
        let mut args = vec!["template", release, chart.to_str().expect("path"), "-n", namespace];
        args.extend_from_slice(extra);
        self.ok(&args)
    }
}

/// The YAML documents of a multi-document stream, as JSON values (empty documents dropped).
fn documents(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|doc| {
            let value: serde_yaml::Value = serde::Deserialize::deserialize(doc).expect("valid YAML");
            serde_json::to_value(value).expect("YAML as JSON")
        })
        .filter(|v| !v.is_null())
        .collect()
}

fn find<'v>(docs: &'v [Value], kind: &str, name: &str) -> &'v Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {:?}", kinds(docs)))
}

fn kinds(docs: &[Value]) -> Vec<String> {
    docs.iter()
        .map(|d| {
            format!(
                "{}/{}",
                d["kind"].as_str().unwrap_or("?"),
                d["metadata"]["name"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

fn kubectl_stdin(cp: &ControlPlane, args: &[&str], input: &str) -> Output {
    pipe(cp.kubectl_command(args), input)
}

/// `kubectl apply --dry-run=server` of a manifest stream: the API server validates and admits it.
fn server_dry_run(cp: &ControlPlane, manifests: &str, what: &str) {
    let out = kubectl_stdin(cp, &["apply", "--dry-run=server", "-f", "-"], manifests);
    assert!(
        out.status.success(),
        "the API server rejected {what}: {}\n{}",
        text(&out.stderr),
        text(&out.stdout)
    );
}

fn get_json(cp: &ControlPlane, args: &[&str]) -> Value {
    let mut full = vec!["get", "-o", "json"];
    full.extend_from_slice(args);
    serde_json::from_str(&cp.kubectl_ok(&full)).expect("kubectl -o json")
}

fn exists(cp: &ControlPlane, args: &[&str]) -> bool {
    let mut full = vec!["get", "--ignore-not-found", "-o", "name"];
    full.extend_from_slice(args);
    !cp.kubectl_ok(&full).trim().is_empty()
}

/// `kubectl auth can-i` as a ServiceAccount (`resource/subresource` for a subresource).
fn can_i(cp: &ControlPlane, sa: &str, verb: &str, resource: &str, namespace: Option<&str>) -> bool {
    let (resource, subresource) = match resource.split_once('/') {
        Some((resource, sub)) => (resource, Some(format!("--subresource={sub}"))),
        None => (resource, None),
    };
    let mut args = vec!["auth", "can-i", verb, resource, "--as", sa];
    if let Some(sub) = &subresource {
        args.push(sub);
    }
    match namespace {
        Some(ns) => args.extend(["-n", ns]),
        None => args.push("--all-namespaces"),
    }
    let out = cp.kubectl(&args);
    let answer = text(&out.stdout).trim().to_string();
    assert!(
        answer == "yes" || answer == "no",
        "kubectl {args:?}: {answer} {}",
        text(&out.stderr)
    );
    answer == "yes"
}

/// What the operator's identity must and must not be able to do, wherever it is installed.
fn assert_operator_identity(cp: &ControlPlane, namespace: &str, sa_name: &str, secret_namespaces: &[&str]) {
    let sa = format!("system:serviceaccount:{namespace}:{sa_name}");
    let needed: &[(&str, &str, Option<&str>)] = &[
        ("watch", "elasticips.eip-operator.dev", None),
        ("patch", "elasticips.eip-operator.dev/status", Some("default")),
        ("update", "elasticips.eip-operator.dev/finalizers", Some("default")),
        ("list", "providerconfigs.eip-operator.dev", None),
        ("create", "events.events.k8s.io", Some("default")),
        ("create", "leases.coordination.k8s.io", Some(namespace)),
        ("patch", "leases.coordination.k8s.io", Some(namespace)),
        ("watch", "leases.coordination.k8s.io", Some(namespace)),
    ];
    for (verb, resource, ns) in needed {
        assert!(can_i(cp, &sa, verb, resource, *ns), "{sa} needs {verb} {resource} in {ns:?}");
    }
    for ns in secret_namespaces {
        assert!(can_i(cp, &sa, "get", "secrets", Some(ns)), "{sa} needs get secrets in {ns}");
        assert!(!can_i(cp, &sa, "list", "secrets", Some(ns)), "{sa} must not list secrets in {ns}");
    }
    let not_needed: &[(&str, &str, Option<&str>)] = &[
        ("list", "secrets", None),
        ("get", "secrets", Some("default")),
        ("watch", "secrets", None),
        ("create", "leases.coordination.k8s.io", Some("default")),
        ("update", "elasticips.eip-operator.dev", Some("default")),
        ("delete", "elasticips.eip-operator.dev", Some("default")),
        ("patch", "providerconfigs.eip-operator.dev", None),
        ("create", "pods", Some(namespace)),
    ];
    for (verb, resource, ns) in not_needed {
        assert!(
            !can_i(cp, &sa, verb, resource, *ns),
            "{sa} must not be able to {verb} {resource} in {ns:?}"
        );
    }
}

/// The settings every install of the operator must have (chart defaults, config/manager).
fn assert_hardened_deployment(deployment: &Value, replicas: i64) {
    let name = deployment["metadata"]["name"].as_str().unwrap_or("?");
    assert_eq!(deployment["spec"]["replicas"], replicas, "{name}: replicas");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{name}: pod runAsNonRoot");
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
        "{name}: pod seccomp"
    );
    let containers = pod["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1, "{name}: one container");
    let c = &containers[0];
    let sc = &c["securityContext"];
    assert_eq!(sc["runAsNonRoot"], true, "{name}: runAsNonRoot");
    assert_eq!(sc["readOnlyRootFilesystem"], true, "{name}: readOnlyRootFilesystem");
    assert_eq!(sc["allowPrivilegeEscalation"], false, "{name}: allowPrivilegeEscalation");
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]), "{name}: capabilities");
    assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault", "{name}: seccomp");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz", "{name}: liveness");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz", "{name}: readiness");
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], "metrics");
    assert_eq!(c["readinessProbe"]["httpGet"]["port"], "metrics");
    assert_eq!(c["ports"][0]["name"], "metrics");
    assert_eq!(c["ports"][0]["containerPort"], 8080);
    assert!(c["resources"]["requests"]["memory"].is_string(), "{name}: resource requests");
    assert!(c["resources"]["limits"]["memory"].is_string(), "{name}: memory limit");
    let args: Vec<&str> = c["args"].as_array().expect("args").iter().filter_map(Value::as_str).collect();
    assert_eq!(args.first(), Some(&"run"), "{name}: {args:?}");
    for flag in ["--metrics-addr=0.0.0.0:8080", "--leader-election"] {
        assert!(args.contains(&flag), "{name}: {flag} missing from {args:?}");
    }
    assert!(args.iter().any(|a| a.starts_with("--lease-name=")), "{name}: {args:?}");
    let env = c["env"].as_array().expect("env");
    let field_ref = |var: &str| {
        env.iter()
            .find(|e| e["name"] == var)
            .map(|e| e["valueFrom"]["fieldRef"]["fieldPath"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(field_ref("POD_NAME"), "metadata.name", "{name}: POD_NAME");
    assert_eq!(field_ref("POD_NAMESPACE"), "metadata.namespace", "{name}: POD_NAMESPACE");
    let log_format = env
        .iter()
        .find(|e| e["name"] == "EIP_OPERATOR_LOG_FORMAT")
        .map(|e| e["value"].clone());
    assert_eq!(log_format, Some(Value::from("json")), "{name}: JSON logs");
    assert!(
        c["image"]
            .as_str()
            .is_some_and(|i| i.starts_with("ghcr.io/eip-operator/eip-operator")),
        "{name}: image {}",
        c["image"]
    );
}

/// The value with every number as a float (`maximum: 10000.0` and `10000` are the same schema).
fn numbers_as_f64(value: &Value) -> Value {
    match value {
        Value::Number(n) => Value::from(n.as_f64().expect("number")),
        Value::Array(items) => Value::Array(items.iter().map(numbers_as_f64).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), numbers_as_f64(v))).collect()),
        other => other.clone(),
    }
}

fn rules(object: &Value) -> Value {
    object["rules"].clone()
}

fn cluster_role_rules_of_config_rbac() -> Value {
    let yaml = fs::read_to_string(root().join("config/rbac/cluster_role.yaml")).expect("cluster_role.yaml");
    rules(&documents(&yaml)[0])
}

// ---------------------------------------------------------------------------------------------

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
    for crd in ["elasticips.eip-operator.dev", "providerconfigs.eip-operator.dev"] {
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

/// The real operator binary, run exactly as the chart's Deployment runs it (its args and env, the
/// downward-API values filled in, metrics on loopback) and as the chart's ServiceAccount: it
/// takes the Lease in the release namespace, serves /healthz and /readyz, logs JSON, and brings an
/// ElasticIP to Ready (built-in simulator, `--simulator` through `extraArgs`).
pub async fn helm_installed_operator_runs_with_the_charts_args_and_rbac(cp: &ControlPlane) {
    let helm = Helm::new(cp);
    let ns = unique("pkg-run");
    // A release name of its own: the harness owns ClusterRole eip-operator.
    let release = unique("eipop");
    let release = release.as_str();
    let full = format!("{release}-eip-operator");
    let chart = chart_dir();
    let sets = format!("operator.watchNamespace={ns},extraArgs={{--simulator,--simulator-profile=instant}}");
    helm.ok(&[
        "install",
        release,
        chart.to_str().expect("path"),
        "-n",
        &ns,
        "--create-namespace",
        "--skip-crds",
        "--set",
        &sets,
    ]);
    let deployment = get_json(cp, &["-n", &ns, "deployment", &full]);
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let metrics = format!("127.0.0.1:{port}");
    let args: Vec<String> = container["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("arg").to_string())
        .map(|a| {
            if a.starts_with("--metrics-addr=") {
                format!("--metrics-addr={metrics}")
            } else {
                a
            }
        })
        .collect();
    let pod_name = format!("{full}-7d9f8c6b5-x2x4q");
    let mut env: Vec<(String, String)> = Vec::new();
    for var in container["env"].as_array().expect("env") {
        let name = var["name"].as_str().expect("name").to_string();
        let value = match var["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
            Some("metadata.name") => pod_name.clone(),
            Some("metadata.namespace") => ns.clone(),
            Some(other) => panic!("unexpected fieldRef {other}"),
            None => var["value"].as_str().expect("value").to_string(),
        };
        env.push((name, value));
    }

    // A kubeconfig that acts as the chart's ServiceAccount.
    let work = tempfile::Builder::new().prefix("eip-e2e-run-").tempdir().expect("temp dir");
    let mut kubeconfig: Value = serde_json::from_slice(&fs::read(&cp.kubeconfig).expect("kubeconfig")).expect("json");
    let sa = deployment["spec"]["template"]["spec"]["serviceAccountName"]
        .as_str()
        .expect("sa")
        .to_string();
    kubeconfig["users"][0]["user"]["as"] = Value::from(format!("system:serviceaccount:{ns}:{sa}"));
    kubeconfig["users"][0]["user"]["as-groups"] = serde_json::json!([
        "system:serviceaccounts",
        format!("system:serviceaccounts:{ns}"),
        "system:authenticated"
    ]);
    let kubeconfig_path = work.path().join("kubeconfig");
    fs::write(&kubeconfig_path, serde_json::to_vec(&kubeconfig).expect("json")).expect("write kubeconfig");
    let log_path = work.path().join("operator.log");
    let log = fs::File::create(&log_path).expect("log");
    let mut operator = crate::support::control_plane::spawn(
        Command::new(env!("CARGO_BIN_EXE_eip-operator"))
            .args(&args)
            .env_clear()
            .env("KUBECONFIG", &kubeconfig_path)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(log.try_clone().expect("log"))
            .stderr(log),
    );
    let log_tail = || fs::read_to_string(&log_path).unwrap_or_default();

    let result = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(async {
        // Healthy, ready (leader or standby), and the Lease is ours.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (health, ready) = (http_status(&metrics, "/healthz"), http_status(&metrics, "/readyz"));
            if health == Some(200) && ready == Some(200) {
                break;
            }
            assert!(operator.try_wait().expect("wait").is_none(), "the operator exited:\n{}", log_tail());
            assert!(Instant::now() < deadline, "not healthy and ready after 30 s ({health:?}, {ready:?}):\n{}", log_tail());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let lease_name = args
            .iter()
            .find_map(|a| a.strip_prefix("--lease-name="))
            .expect("--lease-name")
            .to_string();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let holder = cp.kubectl(&["-n", &ns, "get", "lease", &lease_name, "-o", "jsonpath={.spec.holderIdentity}"]);
            if text(&holder.stdout).trim() == pod_name {
                break;
            }
            assert!(Instant::now() < deadline, "the operator did not take Lease {ns}/{lease_name}:\n{}", log_tail());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let metrics_text = http_get(&metrics, "/metrics").map(|(_, body)| body).unwrap_or_default();
        assert!(metrics_text.contains("eip_operator"), "/metrics:\n{metrics_text}");

        // An ElasticIP in the watched namespace goes Ready.
        let pc = unique("pkg-run-sim");
        cp.apply(&format!(
            "apiVersion: eip-operator.dev/v1alpha1\nkind: ProviderConfig\nmetadata:\n  name: {pc}\nspec:\n  provider: simulator\n  region: cn-hangzhou\n"
        ));
        cp.apply_in(
            &ns,
            &format!(
                "apiVersion: eip-operator.dev/v1alpha1\nkind: ElasticIP\nmetadata:\n  name: web\nspec:\n  providerConfigRef:\n    name: {pc}\n  binding:\n    instanceType: EcsInstance\n    instanceId: i-sim-0001\n"
            ),
        );
        let out = cp.kubectl(&["-n", &ns, "wait", "--for=condition=Ready", "--timeout=60s", "elasticip/web"]);
        assert!(out.status.success(), "ElasticIP not Ready: {}\n{}", text(&out.stderr), log_tail());
        cp.kubectl_ok(&["-n", &ns, "delete", "elasticip", "web", "--timeout=60s"]);
        cp.kubectl_ok(&["delete", "providerconfig", &pc]);

        // JSON logs, one object per line.
        let logs = log_tail();
        let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(!lines.is_empty(), "no logs");
        for line in &lines {
            assert!(serde_json::from_str::<Value>(line).is_ok_and(|v| v.is_object()), "not a JSON log line: {line}");
        }
    }))
    .await;
    // SIGTERM (what the kubelet sends), then make sure.
    unsafe {
        libc::kill(operator.id() as i32, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && matches!(operator.try_wait(), Ok(None)) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = operator.kill();
    let _ = operator.wait();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    helm.ok(&["uninstall", release, "-n", &ns, "--wait", "--timeout", "60s"]);
    let _ = cp.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

fn http_status(addr: &str, path: &str) -> Option<u16> {
    http_get(addr, path).map(|(status, _)| status)
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

/// Every sample is accepted by the API server; together they cover every binding type. The
/// Argo CD ConfigMap patch is a valid ConfigMap; the Flux examples have their health checks.
pub async fn samples_and_gitops_examples_are_valid(cp: &ControlPlane) {
    let samples = root().join("config/samples");
    let mut types = BTreeSet::new();
    let mut providers = BTreeSet::new();
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
    for t in TYPES.iter().copied().chain(["NetworkInterface+mode"]) {
        assert!(types.contains(t), "no sample binds to {t}; have {types:?}");
    }
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
