//! The real operator binary, run as the chart's Deployment runs it.

use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::*;
use crate::support::{control_plane, http_get};

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
    let mut operator = control_plane::spawn(
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
            if text(&holder.stdout).trim().starts_with(&format!("{pod_name}_")) {
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
    control_plane::terminate(&mut operator);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    helm.ok(&["uninstall", release, "-n", &ns, "--wait", "--timeout", "60s"]);
    let _ = cp.kubectl(&["delete", "namespace", &ns, "--wait=false"]);
}

fn http_status(addr: &str, path: &str) -> Option<u16> {
    http_get(addr, path).map(|(status, _)| status)
}
