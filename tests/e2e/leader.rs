//! Fencing: a leader that cannot renew its lease stops at once. Found by the chaos soak: through
//! an API server outage the lease manager kept reporting "leader" while the lease expired, the
//! standby took it when the API server came back, and for seconds both reconciled (on OTC, where
//! allocation has no idempotency token, both allocated for one object).

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Api;

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
        if String::from_utf8_lossy(&holder.stdout).trim().starts_with("only_") {
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

/// The holder of `lease` in namespace `eip-operator` and when its lease runs out
/// (`renewTime` + `leaseDurationSeconds`).
async fn lease_state(cp: &ControlPlane, lease: &str) -> Option<(String, Timestamp)> {
    let client = kube::Client::try_from(cp.config(None).await).ok()?;
    let spec = Api::<Lease>::namespaced(client, "eip-operator").get(lease).await.ok()?.spec?;
    let renewed = spec.renew_time?.0;
    let duration = SignedDuration::from_secs(i64::from(spec.lease_duration_seconds?));
    Some((spec.holder_identity?, renewed.checked_add(duration).ok()?))
}

/// A process restarted under the same instance name (a container restart keeps the pod name)
/// waits until its predecessor's lease has run out: with one identity per replica it found its
/// own name on the Lease and led at once, while the killed process's last cloud requests could
/// still be landing (the soak saw duplicate OTC allocations from exactly this).
pub async fn a_restarted_process_waits_out_its_predecessors_lease(cp: &ControlPlane) {
    cp.apply("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: eip-operator\n");
    let logs = cp.log_dir().to_path_buf();
    let start = |log: &str| {
        control_plane::spawn(
            std::process::Command::new(env!("CARGO_BIN_EXE_eip-operator"))
                .args([
                    "run",
                    "--leader-election",
                    "--lease-name",
                    "restarted",
                    "--lease-namespace",
                    "eip-operator",
                ])
                .args([
                    "--lease-duration-seconds",
                    "8",
                    "--instance",
                    "same",
                    "--namespace",
                    "no-such-namespace",
                ])
                .arg("--metrics-addr=none")
                .env("KUBECONFIG", &cp.kubeconfig)
                .stdout(std::process::Stdio::null())
                .stderr(std::fs::File::create(logs.join(log)).expect("log")),
        )
    };
    let mut first = start("restarted-first.log");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if lease_state(cp, "restarted")
            .await
            .is_some_and(|(holder, _)| holder.starts_with("same"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "the first process never took the lease");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    first.kill().expect("SIGKILL");
    let _ = first.wait();
    let (_, expires) = lease_state(cp, "restarted").await.expect("the lease");
    let mut second = start("restarted-second.log");
    let deadline = Instant::now() + Duration::from_secs(60);
    let taken_at = loop {
        let log = std::fs::read_to_string(logs.join("restarted-second.log")).unwrap_or_default();
        if log.contains("acquired the leader lease") {
            break Timestamp::now();
        }
        assert!(Instant::now() < deadline, "the restarted process never took the lease");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    terminate(&mut second);
    // Polled every 100 ms, one machine's clock: a second of slack.
    assert!(
        taken_at.checked_add(SignedDuration::from_secs(1)).expect("time") >= expires,
        "the restarted process led at {taken_at}, before its predecessor's lease ran out at {expires}"
    );
}

/// Two processes started together on a new Lease: exactly one leads. The Lease is locked by
/// server-side apply; with one field manager for every replica the second apply overwrote the
/// first without a conflict and both led (the soak's first seconds showed two leaders writing
/// one object, and a second allocation for it).
pub async fn replicas_starting_together_elect_one_leader(cp: &ControlPlane) {
    // The Lease exists, unheld (as after a release): every replica sees it free at once.
    cp.apply("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: eip-operator\n---\napiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: twins\n  namespace: eip-operator\nspec: {}\n");
    let logs = cp.log_dir().to_path_buf();
    let mut replicas: Vec<_> = ["twin-a", "twin-b", "twin-c"]
        .into_iter()
        .map(|name| {
            let log = logs.join(format!("{name}.log"));
            let child = control_plane::spawn(
                std::process::Command::new(env!("CARGO_BIN_EXE_eip-operator"))
                    .args([
                        "run",
                        "--leader-election",
                        "--lease-name",
                        "twins",
                        "--lease-namespace",
                        "eip-operator",
                    ])
                    .args([
                        "--lease-duration-seconds",
                        "15",
                        "--instance",
                        name,
                        "--namespace",
                        "no-such-namespace",
                    ])
                    .arg("--metrics-addr=none")
                    .env("KUBECONFIG", &cp.kubeconfig)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::fs::File::create(&log).expect("log")),
            );
            (child, log)
        })
        .collect();
    let leaders = |replicas: &[(std::process::Child, std::path::PathBuf)]| {
        replicas
            .iter()
            .filter(|(_, log)| {
                std::fs::read_to_string(log)
                    .unwrap_or_default()
                    .contains("acquired the leader lease")
            })
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while leaders(&replicas) == 0 {
        assert!(Instant::now() < deadline, "nobody took the lease");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Well within the 15 s lease: nobody may lead beside the first.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let count = leaders(&replicas);
    for (child, _) in &mut replicas {
        terminate(child);
    }
    assert_eq!(count, 1, "{count} replicas acquired one lease; logs in {}", logs.display());
}
