//! A real etcd + kube-apiserver on loopback, built from pinned Go modules by `tools/build.sh`.
//!
//! Started once per test binary; stopped on drop (and, should the test process die, by the
//! kernel: children get SIGKILL when their parent thread exits). The chaos soak uses this file
//! too (`benches/chaos/cluster.rs` includes it with `#[path]`), so it depends on nothing else of
//! the e2e support, and it can restart the API server in place.

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use kube::config::{KubeConfigOptions, Kubeconfig};

pub struct ControlPlane {
    pub bin: PathBuf,
    pub server: String,
    pub token: String,
    pub kubeconfig: PathBuf,
    port: u16,
    etcd_url: String,
    etcd: Child,
    apiserver: Option<Child>,
    dir: tempfile::TempDir,
}

/// The directory with the pinned binaries: `$EIP_TOOLS_BIN`, else what `tools/build.sh` builds
/// (a no-op when cached). Fails loudly: end-to-end tests are never skipped.
pub fn tools_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("EIP_TOOLS_BIN") {
        return PathBuf::from(bin);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/build.sh");
    let output = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        output.status.success(),
        "tools/build.sh failed ({}): the end-to-end tests need kube-apiserver, etcd and kubectl",
        output.status
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    PathBuf::from(stdout.lines().last().expect("tools/build.sh prints the bin dir").trim())
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free loopback port")
}

/// Spawns a child that the kernel kills when the spawning thread dies (never call this from a
/// `spawn_blocking` thread: those exit when idle).
pub fn spawn(command: &mut Command) -> Child {
    // SAFETY: prctl is async-signal-safe and touches only the child's own state.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", command.get_program()))
}

fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

impl ControlPlane {
    pub fn start(bin: PathBuf) -> ControlPlane {
        for tool in ["etcd", "kube-apiserver", "kubectl"] {
            assert!(bin.join(tool).is_file(), "missing {}: run tools/build.sh", bin.join(tool).display());
        }
        let dir = tempfile::Builder::new().prefix("eip-e2e-").tempdir().expect("temp dir");
        let path = dir.path().to_path_buf();

        let etcd_log = fs::File::create(path.join("etcd.log")).expect("etcd log");
        let mut etcd = spawn(
            Command::new(bin.join("etcd"))
                .args(["--data-dir", &path.join("etcd").to_string_lossy()])
                .args([
                    "--listen-client-urls",
                    "http://127.0.0.1:0",
                    "--listen-peer-urls",
                    "http://127.0.0.1:0",
                ])
                .args(["--unsafe-no-fsync", "--log-level", "warn"])
                .stdout(Stdio::piped())
                .stderr(etcd_log),
        );
        let mut ready_line = String::new();
        BufReader::new(etcd.stdout.take().expect("etcd stdout"))
            .read_line(&mut ready_line)
            .expect("etcd output");
        let etcd_url = ready_line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("client="))
            .unwrap_or_else(|| panic!("etcd did not start: {ready_line:?}\n{}", tail(&path.join("etcd.log"))))
            .to_string();

        let key = path.join("sa.key");
        let status = Command::new("openssl")
            .args(["genrsa", "-out"])
            .arg(&key)
            .arg("2048")
            .stderr(Stdio::null())
            .status()
            .expect("openssl is needed to make the service-account key");
        assert!(status.success(), "openssl genrsa failed");
        let token = format!("admin-{:032x}", rand::random::<u128>());
        fs::write(path.join("tokens.csv"), format!("{token},admin,admin,\"system:masters\"\n")).expect("token file");

        let port = free_port();
        let mut plane = ControlPlane {
            bin,
            server: format!("https://127.0.0.1:{port}"),
            token,
            kubeconfig: path.join("kubeconfig"),
            port,
            etcd_url,
            etcd,
            apiserver: None,
            dir,
        };
        plane.start_apiserver();
        plane.write_kubeconfig();
        plane
    }

    fn start_apiserver(&mut self) {
        let path = self.dir.path().to_path_buf();
        let key = path.join("sa.key");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path.join("kube-apiserver.log"))
            .expect("apiserver log");
        let child = spawn(
            Command::new(self.bin.join("kube-apiserver"))
                .arg(format!("--etcd-servers={}", self.etcd_url))
                .arg(format!("--cert-dir={}", path.join("pki").display()))
                .arg(format!("--secure-port={}", self.port))
                .args([
                    "--bind-address=127.0.0.1",
                    "--advertise-address=127.0.0.1",
                    // The endpoint reconciler refuses loopback addresses; nothing here needs it.
                    "--endpoint-reconciler-type=none",
                    "--service-cluster-ip-range=10.0.0.0/24",
                ])
                .args(["--authorization-mode=RBAC", "--disable-admission-plugins=ServiceAccount"])
                .arg(format!("--token-auth-file={}", path.join("tokens.csv").display()))
                .arg(format!("--service-account-issuer={}/", self.server))
                .arg(format!("--service-account-key-file={}", key.display()))
                .arg(format!("--service-account-signing-key-file={}", key.display()))
                .arg("--v=0")
                .stdout(log.try_clone().expect("log"))
                .stderr(log),
        );
        self.apiserver = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let path = self.dir.path().to_path_buf();
        let deadline = Instant::now() + Duration::from_secs(120);
        let ca = path.join("pki/apiserver.crt");
        loop {
            if let Some(Ok(Some(status))) = self.apiserver.as_mut().map(Child::try_wait) {
                panic!("kube-apiserver exited ({status}):\n{}", tail(&path.join("kube-apiserver.log")));
            }
            if ca.is_file() {
                let out = Command::new(self.bin.join("kubectl"))
                    .args(["--server", &self.server, "--token", &self.token])
                    .arg(format!("--certificate-authority={}", ca.display()))
                    .args(["get", "--raw", "/readyz"])
                    .output()
                    .expect("kubectl");
                if out.status.success() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "kube-apiserver not ready after 120 s:\n{}",
                tail(&path.join("kube-apiserver.log"))
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops the API server (SIGTERM, or SIGKILL when `hard`), leaves it down for `down`, starts
    /// it again on the same port with the same certificates and etcd, and waits until it is
    /// ready: clients and watches have to come back by themselves. Returns how long it was
    /// unavailable.
    #[allow(dead_code)]
    pub fn restart_apiserver(&mut self, hard: bool, down: Duration) -> Duration {
        let started = Instant::now();
        if let Some(mut child) = self.apiserver.take() {
            if hard {
                let _ = child.kill();
                let _ = child.wait();
            } else {
                terminate_within(&mut child, Duration::from_secs(20));
            }
        }
        std::thread::sleep(down);
        self.start_apiserver();
        started.elapsed()
    }

    fn write_kubeconfig(&self) {
        let ca = self.dir.path().join("pki/apiserver.crt");
        let kubeconfig = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "e2e", "cluster": {"server": self.server, "certificate-authority": ca}}],
            "users": [{"name": "admin", "user": {"token": self.token}}],
            "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": "admin", "namespace": "default"}}],
            "current-context": "e2e",
        });
        fs::write(&self.kubeconfig, serde_json::to_vec_pretty(&kubeconfig).expect("json")).expect("kubeconfig");
    }

    /// A client config for the admin, or (with `impersonate`) for another identity.
    #[allow(dead_code)]
    pub async fn config(&self, impersonate: Option<&str>) -> kube::Config {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig).expect("read kubeconfig");
        let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .expect("kube config");
        if let Some(user) = impersonate {
            config.auth_info.impersonate = Some(user.to_string());
            config.auth_info.impersonate_groups = Some(vec!["system:serviceaccounts".into(), "system:authenticated".into()]);
        }
        config
    }

    /// Runs the real kubectl as the admin.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_command(args).output().expect("run kubectl")
    }

    pub fn kubectl_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(self.bin.join("kubectl"));
        command.env("KUBECONFIG", &self.kubeconfig).args(args);
        command
    }

    /// `kubectl apply -f -` of `yaml` (cluster-scoped or default namespace), failing on a
    /// non-zero exit.
    #[allow(dead_code)]
    pub fn apply(&self, yaml: &str) {
        use std::io::Write;
        let mut child = self
            .kubectl_command(&["apply", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl");
        child.stdin.take().expect("stdin").write_all(yaml.as_bytes()).expect("write stdin");
        let out = child.wait_with_output().expect("kubectl");
        assert!(
            out.status.success(),
            "kubectl apply failed: {}\n{yaml}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs kubectl and returns its stdout, failing the test on a non-zero exit.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Applies `crds/` (server-side, as users do) and waits until the API serves them.
    pub fn install_crds(&self) {
        let crds = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds/eip-operator.dev.yaml");
        self.kubectl_ok(&["apply", "--server-side", "-f", &crds.to_string_lossy()]);
        self.kubectl_ok(&[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/elasticips.eip-operator.dev",
            "crd/elasticippools.eip-operator.dev",
            "crd/providerconfigs.eip-operator.dev",
        ]);
    }

    pub fn log_dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Stops a child as a kubelet does: SIGTERM, so it exits cleanly, then (after 10 s) SIGKILL.
#[allow(dead_code)]
pub fn terminate(child: &mut Child) {
    terminate_within(child, Duration::from_secs(10));
}

/// SIGTERM, then SIGKILL after `grace`; always reaps.
pub fn terminate_within(child: &mut Child, grace: Duration) {
    // SAFETY: kill(2) on the id of a child this process has not reaped yet.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if let Some(mut child) = self.apiserver.take() {
            terminate(&mut child);
        }
        terminate(&mut self.etcd);
    }
}
