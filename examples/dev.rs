//! `make dev`: a local control plane (real etcd + kube-apiserver), the CRDs, a default simulator
//! ProviderConfig, the operator (the real binary, against the built-in simulator) and the
//! samples. Prints how to reach it; Ctrl-C stops everything.

#[path = "../tests/e2e/support/control_plane.rs"]
#[allow(dead_code)]
mod control_plane;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use control_plane::ControlPlane;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let operator = std::env::var_os("EIP_OPERATOR_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/debug/eip-operator"));
    assert!(
        operator.is_file(),
        "{} not found: build it first (cargo build --bin eip-operator)",
        operator.display()
    );

    eprintln!("starting etcd and kube-apiserver...");
    let cp = ControlPlane::start(control_plane::tools_bin());
    cp.install_crds();

    let admin = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let mut child = control_plane::spawn(
        Command::new(&operator)
            .args(["run", "--simulator", "--simulator-profile", "dev", "--resync-seconds", "30"])
            .arg(format!("--simulator-admin-addr={admin}"))
            // Loopback only: a dev machine's metrics are nobody else's business.
            .arg("--metrics-addr=127.0.0.1:8080")
            .env("KUBECONFIG", &cp.kubeconfig)
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit()),
    );
    // Ctrl-C reaches the whole process group; this process outlives the others to clean up.
    // SAFETY: setting a signal disposition to SIG_IGN has no preconditions.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
    }
    cp.kubectl_ok(&["apply", "-k", &root.join("config/samples").to_string_lossy()]);

    let kubeconfig = cp.kubeconfig.display();
    println!();
    println!("The operator runs against the simulated cloud (admin API: http://{admin}/admin/regions/cn-hangzhou/eips).");
    println!("In another terminal:");
    println!();
    println!("  export KUBECONFIG={kubeconfig}");
    println!("  export PATH={}:$PATH", cp.bin.display());
    println!("  kubectl get eip -w");
    println!("  kubectl describe eip web");
    println!("  kubectl delete eip web");
    println!();
    println!("Ctrl-C stops the operator and the control plane.");

    // The operator shuts down gracefully on Ctrl-C; then the control plane stops when `cp` drops.
    let status = loop {
        if let Some(status) = child.try_wait().expect("operator status") {
            break status;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!("operator exited ({status}); stopping the control plane");
    drop(cp);
}
