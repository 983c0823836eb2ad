//! Shared pieces of the end-to-end tests: the control plane, an operator per scenario, and
//! helpers to drive and observe objects the way users do.

pub mod control_plane;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eip_api::ElasticIP;
use eip_cloud::registry::DEFAULT_DESCRIBE_WINDOW;
use eip_operator::controller::{self, Settings, Timing};
use eip_operator::telemetry::metrics::Metrics;
use eip_simulator::{Latencies, Simulator, SimulatorConfig, SimulatorFactory};
use k8s_openapi::api::events::v1::Event;
use kube::api::{DeleteParams, ListParams};
use kube::{Api, Client};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use control_plane::ControlPlane;

/// The operator's identity: its ServiceAccount from `config/rbac/`.
pub const OPERATOR_USER: &str = "system:serviceaccount:eip-operator:eip-operator";

/// Every `spec.binding.instanceType`, as users write them.
pub const INSTANCE_TYPES: [&str; 8] = [
    "EcsInstance",
    "NetworkInterface",
    "Nat",
    "SlbInstance",
    "HaVip",
    "IpAddress",
    "Port",
    "Vpn",
];

/// One scenario's world: its own namespace, simulated cloud, ProviderConfig and operator (scoped
/// to the namespace), on the shared control plane. Scenarios run in parallel.
pub struct Scenario<'a> {
    pub cp: &'a ControlPlane,
    pub ns: String,
    /// Name of the scenario's ProviderConfig (type simulator, region cn-hangzhou).
    pub provider_config: String,
    pub sim: Simulator,
    pub admin: Client,
    /// The metrics of the operator started last.
    pub metrics: Arc<Metrics>,
    /// The operator's requeue timing, when not the fast e2e one.
    timing: Option<Timing>,
    /// How often the operator scans the leak ledger (never, unless a scenario asks).
    audit_interval: Option<Duration>,
    operator: Option<Operator>,
}

pub const REGION: &str = "cn-hangzhou";

/// Latencies long enough that requeues while Associating/Unassociating/Releasing really happen.
pub fn e2e_latencies() -> Latencies {
    Latencies {
        allocate: Duration::ZERO,
        associate: Duration::from_secs(1),
        unassociate: Duration::from_secs(2),
        release: Duration::from_secs(2),
    }
}

/// A simulated cloud with the [`e2e_latencies`], its randomness seeded with `seed`.
pub fn e2e_simulator(seed: u64) -> Simulator {
    Simulator::new(
        SimulatorConfig {
            latencies: e2e_latencies(),
            ..SimulatorConfig::instant()
        }
        .with_seed(seed),
    )
}

impl<'a> Scenario<'a> {
    pub async fn new(cp: &'a ControlPlane, name: &str) -> Scenario<'a> {
        Self::with_timing(cp, name, None).await
    }

    /// A scenario whose operator requeues as `run` does by default (`Timing::default()`: stalled
    /// resync 30 s doubling to 10 min, drift resync 300 s) instead of the fast e2e timing.
    pub async fn with_default_timing(cp: &'a ControlPlane, name: &str) -> Scenario<'a> {
        Self::with_timing(cp, name, Some(Timing::default())).await
    }

    /// A scenario whose operator scans the leak ledger every `interval`.
    pub async fn auditing(cp: &'a ControlPlane, name: &str, interval: Duration) -> Scenario<'a> {
        Self::build(cp, name, None, Some(interval)).await
    }

    async fn with_timing(cp: &'a ControlPlane, name: &str, timing: Option<Timing>) -> Scenario<'a> {
        Self::build(cp, name, timing, None).await
    }

    async fn build(cp: &'a ControlPlane, name: &str, timing: Option<Timing>, audit_interval: Option<Duration>) -> Scenario<'a> {
        let ns = format!("e2e-{name}");
        cp.kubectl_ok(&["create", "namespace", &ns]);
        let provider_config = format!("sim-{name}");
        cp.apply(&format!(
            "apiVersion: eip-operator.dev/v1alpha1\nkind: ProviderConfig\nmetadata:\n  name: {provider_config}\nspec:\n  provider: simulator\n  region: {REGION}\n"
        ));
        let sim = e2e_simulator(42);
        let admin = Client::try_from(cp.config(None).await).expect("admin client");
        let mut scenario = Scenario {
            cp,
            ns,
            provider_config,
            sim,
            admin,
            metrics: Arc::default(),
            timing,
            audit_interval,
            operator: None,
        };
        scenario.start_operator().await;
        scenario
    }

    /// The settings an operator of this scenario runs with (fresh metrics and health).
    pub fn settings(&self) -> Settings {
        Settings {
            concurrency: 4,
            namespace: Some(self.ns.clone()),
            instance: Some(format!("e2e-{}", self.ns)),
            timing: self.timing.clone().unwrap_or(Timing {
                resync: Duration::from_secs(5),
                stalled_resync: Duration::from_secs(5),
                stalled_resync_max: Duration::from_secs(5),
                ..Timing::default()
            }),
            audit_interval: self.audit_interval,
            ..Settings::default()
        }
    }

    /// A client acting as the operator's ServiceAccount.
    pub async fn operator_client(&self) -> Client {
        Client::try_from(self.cp.config(Some(OPERATOR_USER)).await).expect("operator client")
    }

    /// Starts the operator (in this process, as its ServiceAccount, watching this namespace).
    pub async fn start_operator(&mut self) {
        assert!(self.operator.is_none(), "operator already running");
        let client = self.operator_client().await;
        let settings = self.settings();
        self.metrics = settings.metrics.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let registry = eip_operator::registry::providers(settings.metrics.clone(), DEFAULT_DESCRIBE_WINDOW)
            .register(Arc::new(SimulatorFactory::new(self.sim.clone())));
        let task = tokio::spawn(controller::run(client, settings, registry, async move {
            let _ = stopped.await;
        }));
        self.operator = Some(Operator { task, stop });
    }

    /// Kills the operator where it stands (between two awaits, like a crashed process).
    pub async fn kill_operator(&mut self) {
        if let Some(operator) = self.operator.take() {
            operator.task.abort();
            let _ = operator.task.await;
            drop(operator.stop);
        }
    }

    pub async fn stop_operator(&mut self) {
        if let Some(operator) = self.operator.take() {
            let _ = operator.stop.send(());
            let _ = tokio::time::timeout(Duration::from_secs(20), operator.task).await;
        }
    }

    pub fn eips(&self) -> Api<ElasticIP> {
        Api::namespaced(self.admin.clone(), &self.ns)
    }

    pub async fn get(&self, name: &str) -> Option<ElasticIP> {
        self.eips().get_opt(name).await.expect("get ElasticIP")
    }

    /// Applies a manifest into this scenario's namespace with the real kubectl.
    pub fn apply(&self, yaml: &str) {
        self.cp.apply_in(&self.ns, yaml);
    }

    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let mut full = vec!["-n", self.ns.as_str()];
        full.extend_from_slice(args);
        self.cp.kubectl_ok(&full)
    }

    /// An ElasticIP manifest using this scenario's ProviderConfig; `spec` is extra YAML lines
    /// indented under `spec:`.
    pub fn manifest(&self, name: &str, spec: &str) -> String {
        let mut yaml = format!(
            "apiVersion: eip-operator.dev/v1alpha1\nkind: ElasticIP\nmetadata:\n  name: {name}\nspec:\n  providerConfigRef:\n    name: {}\n",
            self.provider_config
        );
        for line in spec.lines().filter(|l| !l.trim().is_empty()) {
            yaml.push_str("  ");
            yaml.push_str(line);
            yaml.push('\n');
        }
        yaml
    }

    /// Waits until the object satisfies `done` (bounded), returning it.
    pub async fn wait_for(&self, name: &str, what: &str, timeout: Duration, done: impl Fn(&ElasticIP) -> bool) -> ElasticIP {
        let deadline = Instant::now() + timeout;
        loop {
            let current = self.get(name).await;
            if let Some(object) = &current
                && done(object)
            {
                return object.clone();
            }
            assert!(
                Instant::now() < deadline,
                "{name}: timed out after {timeout:?} waiting for {what}; now: {:#?}",
                current.map(|o| o.status)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until the object is Ready (bounded), returning it.
    pub async fn wait_ready(&self, name: &str, timeout: Duration) -> ElasticIP {
        self.wait_for(name, "Ready", timeout, |o| is_true(o, "Ready")).await
    }

    pub async fn wait_gone(&self, name: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while let Some(object) = self.get(name).await {
            assert!(
                Instant::now() < deadline,
                "{name} still exists after {timeout:?}: {:#?}",
                object.status
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn delete(&self, name: &str) {
        self.eips().delete(name, &DeleteParams::default()).await.expect("delete");
    }

    /// Events about the named object: (type, reason, note).
    pub async fn events(&self, name: &str) -> Vec<(String, String, String)> {
        let events: Api<Event> = Api::namespaced(self.admin.clone(), &self.ns);
        let list = events
            .list(&ListParams::default().fields(&format!("regarding.name={name}")))
            .await
            .expect("list events");
        list.items
            .into_iter()
            .map(|e| {
                (
                    e.type_.unwrap_or_default(),
                    e.reason.unwrap_or_default(),
                    e.note.unwrap_or_default(),
                )
            })
            .collect()
    }

    /// The simulator's mutating calls naming this EIP, in order.
    pub fn mutating_calls(&self, allocation_id: &str) -> Vec<String> {
        self.sim
            .calls()
            .into_iter()
            .filter(|c| c.operation.is_mutating() && c.allocation_ids.iter().any(|id| id == allocation_id))
            .map(|c| format!("{}:{}", c.operation, c.outcome.as_str()))
            .collect()
    }

    pub async fn finish(mut self) {
        self.stop_operator().await;
    }
}

impl Drop for Scenario<'_> {
    fn drop(&mut self) {
        // A failed scenario must not leave its operator running against the shared control plane.
        if let Some(operator) = self.operator.take() {
            operator.task.abort();
        }
    }
}

struct Operator {
    task: JoinHandle<()>,
    stop: oneshot::Sender<()>,
}

impl ControlPlane {
    pub fn apply_in(&self, ns: &str, yaml: &str) {
        let out = pipe(self.kubectl_command(&["-n", ns, "apply", "-f", "-"]), yaml);
        assert!(
            out.status.success(),
            "kubectl apply failed: {}\n{yaml}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A credentials Secret in the operator's namespace (where its Role lets it read Secrets).
    pub fn secret(&self, name: &str, data: &[(&str, &str)]) {
        let mut yaml = format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: eip-operator\nstringData:\n");
        for (key, value) in data {
            yaml.push_str(&format!("  {key}: \"{value}\"\n"));
        }
        self.apply(&yaml);
    }

    /// `kubectl auth can-i` as `user` (`resource/subresource` for a subresource), in `namespace`
    /// or (`None`) in all namespaces.
    pub fn can_i(&self, user: &str, verb: &str, resource: &str, namespace: Option<&str>) -> bool {
        let (resource, subresource) = match resource.split_once('/') {
            Some((resource, sub)) => (resource, Some(format!("--subresource={sub}"))),
            None => (resource, None),
        };
        let mut args = vec!["auth", "can-i", verb, resource, "--as", user];
        if let Some(sub) = &subresource {
            args.push(sub);
        }
        match namespace {
            Some(ns) => args.extend(["-n", ns]),
            None => args.push("--all-namespaces"),
        }
        let out = self.kubectl(&args);
        let answer = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(
            answer == "yes" || answer == "no",
            "kubectl {args:?}: {answer} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        answer == "yes"
    }

    /// `kubectl apply` that is expected to be refused: returns stderr.
    pub fn apply_rejected(&self, ns: &str, yaml: &str) -> String {
        let out = pipe(self.kubectl_command(&["-n", ns, "apply", "-f", "-"]), yaml);
        assert!(!out.status.success(), "expected the API server to reject:\n{yaml}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// Serves the simulator (admin API and wire protocols) on a loopback port; returns its URL.
pub async fn serve_simulator(sim: Simulator) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(eip_simulator::server::serve(sim, listener, std::future::pending()));
    format!("http://{addr}")
}

/// A ProviderConfig `name` of type `alibaba` in `region`, at `endpoint`, with the credentials
/// Secret `secret` of the operator's namespace.
pub fn alibaba_config(name: &str, region: &str, endpoint: &str, secret: &str) -> String {
    format!(
        "apiVersion: eip-operator.dev/v1alpha1\nkind: ProviderConfig\nmetadata:\n  name: {name}\nspec:\n  provider: alibaba\n  region: {region}\n  endpoint: {endpoint}\n  credentialsSecretRef:\n    name: {secret}\n    namespace: eip-operator\n"
    )
}

/// A plain HTTP/1.0 GET on loopback: the status code and the body, or `None` when there is no
/// (complete) answer.
pub fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

pub fn pipe(mut command: Command, input: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("wait")
}

/// The Ready/Stalled/... condition's (status, reason).
pub fn condition(object: &ElasticIP, type_: &str) -> Option<(String, String)> {
    object.condition(type_).map(|c| (c.status.clone(), c.reason.clone()))
}

pub fn is_true(object: &ElasticIP, type_: &str) -> bool {
    object.condition(type_).is_some_and(|c| c.status == "True")
}

/// Where captured status objects go (read by the Argo CD health check test in tests/sdk).
pub fn status_dir() -> PathBuf {
    std::env::var_os("EIP_STATUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/e2e-status"))
}

impl ControlPlane {
    /// Saves a real object for the health-check tests and returns its kstatus verdict, computed
    /// by the Go `sigs.k8s.io/cli-utils` kstatus library (the `kstatus` tool).
    pub fn capture(&self, name: &str, object: &ElasticIP) -> String {
        let dir = status_dir();
        std::fs::create_dir_all(&dir).expect("status dir");
        let mut value = serde_json::to_value(object).expect("serialize");
        value["apiVersion"] = "eip-operator.dev/v1alpha1".into();
        value["kind"] = "ElasticIP".into();
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_vec_pretty(&value).expect("json")).expect("write status");
        let out = Command::new(self.bin.join("kstatus")).arg(&path).output().expect("run kstatus");
        assert!(out.status.success(), "kstatus failed: {}", String::from_utf8_lossy(&out.stderr));
        let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).expect("kstatus json");
        verdict["status"].as_str().unwrap_or_default().to_string()
    }
}
