//! The cluster add-on: the Helm chart (`charts/eip-operator/`), the kustomize bases
//! (`config/default`, `config/manager`, `config/rbac`), the samples and the Argo CD / Flux examples,
//! checked with the pinned helm and kubectl against the real API server.
//!
//! No kubelet runs here, so the operator pods never start: these scenarios check what the API
//! server accepts and stores and what the operator's identity may do, and one runs the real
//! binary the way the chart's Deployment would (its args, env and ServiceAccount). Every scenario uses its own
//! namespaces, release names and cluster-scoped names, so they run in parallel with the others.
//!
//! By what they check: the chart as rendered and linted (`chart`), installed, uninstalled and
//! upgraded (`install`), the operator run as the chart's Deployment runs it (`run`), the kustomize
//! bases (`kustomize`), and the samples and GitOps examples (`samples`). Helpers they share are
//! here.

mod chart;
mod install;
mod kustomize;
mod run;
mod samples;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{ControlPlane, pipe};

pub use chart::{helm_chart_lints_clean, helm_template_is_accepted_by_the_api_server, helm_values_schema_rejects_bad_values};
pub use install::{helm_crd_upgrade_story, helm_install_and_uninstall};
pub use kustomize::kustomize_default_install;
pub use run::helm_installed_operator_runs_with_the_charts_args_and_rbac;
pub use samples::samples_and_gitops_examples_are_valid;

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

/// What the operator's identity must and must not be able to do, wherever it is installed.
fn assert_operator_identity(cp: &ControlPlane, namespace: &str, sa_name: &str, secret_namespaces: &[&str]) {
    let sa = format!("system:serviceaccount:{namespace}:{sa_name}");
    let needed: &[(&str, &str, Option<&str>)] = &[
        ("watch", "elasticips.eip-operator.dev", None),
        ("patch", "elasticips.eip-operator.dev/status", Some("default")),
        ("update", "elasticips.eip-operator.dev/finalizers", Some("default")),
        ("create", "elasticips.eip-operator.dev", Some("default")),
        ("delete", "elasticips.eip-operator.dev", Some("default")),
        ("watch", "elasticippools.eip-operator.dev", None),
        ("patch", "elasticippools.eip-operator.dev/status", Some("default")),
        ("update", "elasticippools.eip-operator.dev/finalizers", Some("default")),
        ("list", "providerconfigs.eip-operator.dev", None),
        ("create", "events.events.k8s.io", Some("default")),
        ("create", "leases.coordination.k8s.io", Some(namespace)),
        ("patch", "leases.coordination.k8s.io", Some(namespace)),
        ("watch", "leases.coordination.k8s.io", Some(namespace)),
    ];
    for (verb, resource, ns) in needed {
        assert!(cp.can_i(&sa, verb, resource, *ns), "{sa} needs {verb} {resource} in {ns:?}");
    }
    for ns in secret_namespaces {
        assert!(cp.can_i(&sa, "get", "secrets", Some(ns)), "{sa} needs get secrets in {ns}");
        assert!(!cp.can_i(&sa, "list", "secrets", Some(ns)), "{sa} must not list secrets in {ns}");
    }
    let not_needed: &[(&str, &str, Option<&str>)] = &[
        ("list", "secrets", None),
        ("get", "secrets", Some("default")),
        ("watch", "secrets", None),
        ("create", "leases.coordination.k8s.io", Some("default")),
        ("update", "elasticips.eip-operator.dev", Some("default")),
        ("delete", "elasticippools.eip-operator.dev", Some("default")),
        ("patch", "providerconfigs.eip-operator.dev", None),
        ("create", "pods", Some(namespace)),
    ];
    for (verb, resource, ns) in not_needed {
        assert!(
            !cp.can_i(&sa, verb, resource, *ns),
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

fn rules(object: &Value) -> Value {
    object["rules"].clone()
}

fn cluster_role_rules_of_config_rbac() -> Value {
    let yaml = fs::read_to_string(root().join("config/rbac/cluster_role.yaml")).expect("cluster_role.yaml");
    rules(&documents(&yaml)[0])
}
