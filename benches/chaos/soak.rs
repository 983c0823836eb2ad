//! The soak: N ElasticIP lifecycles arriving over time (create with a binding → Ready → rebind
//! some → out-of-band changes on some, once settled or mid-transition → delete), half on an
//! `alibaba` ProviderConfig, a quarter each on `otc` and `huawei`, all pointed at the simulator
//! process; while the [driver](super::driver) injects
//! faults, kills replicas, fails the leader over and restarts the kube-apiserver. Then the
//! checker: see [`Report`].
//!
//! - [`plan`]: the [`Options`] and the seeded plan of every lifecycle;
//! - [`watchdog`]: the state the lifecycles, the poller and the checker share, the snapshot and
//!   the watchdog run on it;
//! - [`lifecycle`]: one lifecycle, its out-of-band change included;
//! - [`checker`]: the verdict from counters, call log, last snapshot, watchdog and logs;
//! - [`report`]: the [`Report`] and its table row.

mod checker;
mod lifecycle;
mod plan;
mod report;
mod watchdog;

use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};
use serde_json::Value;

use super::driver::{self, DriverPlan, NAMESPACE};
use lifecycle::lifecycle;
pub use plan::Options;
use plan::{OobAt, Pools, draw_plans, pool_specs};
pub use report::Report;
use watchdog::{Shared, admin};

/// The tag the operator claims an EIP with.
const OWNER_TAG: &str = "eip-operator.dev/owner-uid";

/// [`run`] on a runtime of its own, for a plain `main` or `#[test]`.
pub fn run_blocking(opts: Options) -> Report {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run(opts))
}

/// Runs the soak and checks it. Starts (and stops) its own etcd, kube-apiserver, simulator and
/// two operator replicas; bounded by the convergence bound per step.
pub async fn run(opts: Options) -> Report {
    let started = Instant::now();
    let _ = std::fs::remove_dir_all(&opts.log_dir);
    let plan = DriverPlan {
        seed: opts.seed,
        operator_bin: opts.operator_bin.clone(),
        log_dir: opts.log_dir.clone(),
        kills: opts.kills,
        failovers: opts.failovers,
        apiserver_restarts: opts.apiserver_restarts,
        latency_spikes: opts.latency_spikes,
        fault_rate: opts.fault_rate,
        chaos_window: opts.arrival_window + Duration::from_secs(30),
        pools: pool_specs(opts.n),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let mut driver = driver::start(plan, tx);
    let ready = loop {
        match rx.try_recv() {
            Ok(ready) => break ready,
            Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                panic!("chaos setup failed: {:?}", driver.shutdown());
            }
            Err(std::sync::mpsc::TryRecvError::Empty) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    eprintln!(
        "chaos: cluster, simulator (http://{}) and replicas up after {:.1} s; logs in {}",
        ready.sim,
        started.elapsed().as_secs_f64(),
        opts.log_dir.display()
    );
    let kubeconfig = Kubeconfig::read_from(&ready.kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kube config");
    let client = Client::try_from(config).expect("client");
    let plans = draw_plans(&opts, &Pools::new(&ready.pools));
    let shared = Arc::new(Shared::new(ready.sim, Api::namespaced(client, NAMESPACE), opts.n));
    let stop_poll = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let (shared, stop) = (shared.clone(), stop_poll.clone());
        tokio::spawn(async move {
            let mut last_call = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let _ = tokio::time::timeout(Duration::from_secs(20), shared.refresh(&mut last_call)).await;
                tokio::time::sleep(Duration::from_millis(700)).await;
            }
            last_call
        })
    };
    let tasks: Vec<_> = plans
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, plan)| tokio::spawn(lifecycle(shared.clone(), i, plan, opts.converge_bound)))
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        if driver.finished() {
            panic!("the chaos driver stopped early: {:?}", driver.shutdown());
        }
        outcomes.push(task.await.expect("lifecycle task"));
    }
    // Faults off; a last look after the dust settles.
    let _ = admin(
        shared.sim,
        "PUT",
        "/admin/faults".into(),
        r#"{"errorRate":0,"extraLatencyMs":0}"#.into(),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop_poll.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut last_call = poller.await.unwrap_or(0);
    shared.refresh(&mut last_call).await;
    let counters: Vec<Value> = admin(shared.sim, "GET", "/admin/counters".into(), String::new())
        .await
        .ok()
        .and_then(|(_, body)| serde_json::from_str(&body).ok())
        .unwrap_or_default();
    let wall = started.elapsed();
    let final_snap = shared.snap();
    let driver_result = driver.shutdown();
    let stats = driver.stats.lock().expect("stats").clone();

    let mut report = Report {
        seed: opts.seed,
        n: opts.n,
        wall,
        kills: stats.kills,
        failovers: stats.failovers,
        self_exits: stats.self_exits,
        apiserver_restarts: stats.apiserver_restarts,
        latency_spikes: stats.latency_spikes,
        log_dir: opts.log_dir.clone(),
        driver_events: stats.events.clone(),
        ..Report::default()
    };
    if let Err(e) = driver_result {
        report.panics.push(format!("chaos driver: {e}"));
    }
    report.oob = shared
        .oob_done
        .lock()
        .expect("oob")
        .iter()
        .map(|((kind, at), v)| {
            let at = match at {
                OobAt::Settled => "",
                OobAt::MidRebind => " mid-rebind",
                OobAt::MidDelete => " mid-delete",
            };
            (format!("{kind:?}{at}"), *v)
        })
        .collect();

    checker::count_calls(&mut report, &counters, opts.n);
    checker::check_convergence(&mut report, &plans, &outcomes, &final_snap);
    checker::check_cloud(&mut report, &plans, &outcomes, &shared, &final_snap);
    checker::check_logs(&mut report, &opts.log_dir);
    report
}
