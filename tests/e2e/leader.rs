//! Fencing: a leader that cannot renew its lease stops at once. Found by the chaos soak: through
//! an API server outage the lease manager kept reporting "leader" while the lease expired, the
//! standby took it when the API server came back, and for seconds both reconciled (on OTC, where
//! allocation has no idempotency token, both allocated for one object).

use std::time::{Duration, Instant};

use crate::support::ControlPlane;
use crate::support::control_plane::{self, terminate};

/// On a control plane of its own (the shared one must not go down): the only replica takes the
/// lease; the API server is killed and stays down for three lease durations. The replica must
/// step down and exit while it is down (a restart would campaign again), not keep reconciling
/// as a leader nobody can see.
pub async fn a_leader_that_cannot_renew_steps_down(_shared: &ControlPlane) {
    let mut cp = tokio::task::spawn_blocking(|| {
        let cp = ControlPlane::start(control_plane::tools_bin());
        cp.install_crds();
        cp.apply("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: eip-operator\n");
        cp
    })
    .await
    .expect("control plane");
    let log_path = cp.log_dir().join("fenced-operator.log");
    let mut operator = control_plane::spawn(
        std::process::Command::new(env!("CARGO_BIN_EXE_eip-operator"))
            .args([
                "run",
                "--leader-election",
                "--lease-name",
                "fenced",
                "--lease-namespace",
                "eip-operator",
            ])
            .args(["--lease-duration-seconds", "6", "--instance", "only", "--log-format", "json"])
            .arg("--metrics-addr=none")
            .env("KUBECONFIG", &cp.kubeconfig)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log_path).expect("log")),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let holder = cp.kubectl(&[
            "get",
            "lease",
            "-n",
            "eip-operator",
            "fenced",
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ]);
        if String::from_utf8_lossy(&holder.stdout).trim() == "only" {
            break;
        }
        assert!(Instant::now() < deadline, "the replica never took the lease");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // The API server goes away for 18 s (three leases); the replica is watched meanwhile.
    let went_down = Instant::now();
    let (cp_back, exited) = tokio::task::spawn_blocking(move || {
        let watcher = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                if let Ok(Some(status)) = operator.try_wait() {
                    return (Some(Instant::now()), status.success(), operator);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            (None, false, operator)
        });
        cp.restart_apiserver(true, Duration::from_secs(18));
        let back = Instant::now();
        let exited = watcher.join().expect("watcher");
        ((cp, back), exited)
    })
    .await
    .expect("restart");
    let (cp, back) = cp_back;
    let (exited_at, clean, mut operator) = exited;
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let Some(exited_at) = exited_at else {
        terminate(&mut operator);
        panic!("the replica kept running as the leader through the outage; log:\n{log}");
    };
    assert!(
        exited_at < back,
        "the replica stopped {:.1} s after the outage began, after the API server was back ({:.1} s); log:\n{log}",
        (exited_at - went_down).as_secs_f64(),
        (back - went_down).as_secs_f64()
    );
    // A renewal is due within 4 s of any moment (6 s lease, 2 s grace); giving the lease back
    // on the way out waits at most 5 s more.
    assert!(
        exited_at - went_down < Duration::from_secs(12),
        "it must stop about when its renewal failed, not {:.1} s after the outage began",
        (exited_at - went_down).as_secs_f64()
    );
    assert!(!clean, "a lost lease is an error exit, so that a kubelet restarts the replica");
    assert!(log.contains("cannot renew the leader lease; stepping down"), "log:\n{log}");
    drop(cp);
}
