//! The `eip-operator` binary: `run` (the controller), `crd` (prints the CRDs), `simulator`
//! (serves the simulated cloud's admin API), and the day-2 commands `audit`, `import` and
//! `status`. Installed (or linked) as `kubectl-eip`, it is the kubectl plugin `kubectl eip`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use eip_operator::controller::leader::LeaderElection;
use eip_operator::controller::{self, Settings, Timing};
use eip_operator::telemetry::metrics::{self, Metrics};
use eip_operator::telemetry::server::Health;
use eip_operator::telemetry::{self, LogFormat};
#[cfg(feature = "simulator")]
use eip_simulator::{Simulator, SimulatorConfig, SimulatorFactory, server};
use tokio::sync::watch;
use tracing::{error, info};

#[derive(Parser)]
#[command(
    name = "eip-operator",
    version,
    about = "Manages cloud Elastic IP addresses as Kubernetes custom resources"
)]
struct Cli {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value = "text", env = "EIP_OPERATOR_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controller against the cluster of the current kubeconfig (or the in-cluster config).
    Run(RunArgs),
    /// Print the CustomResourceDefinitions as YAML.
    Crd,
    /// Serve the simulated cloud's admin API on a loopback address.
    #[cfg(feature = "simulator")]
    Simulator(SimulatorArgs),
    #[command(flatten)]
    Day2(eip_operator::day2::cli::Day2),
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DefaultProvider {
    /// Use the built-in simulator for ElasticIPs when no ProviderConfig is marked default.
    Simulator,
}

#[cfg(feature = "simulator")]
#[derive(Clone, Copy, ValueEnum)]
enum Profile {
    /// Every operation completes at once.
    Instant,
    /// A few seconds per transition, no rate limits: watch the lifecycle happen.
    Dev,
    /// The benchmark profile: 1-2 s transitions, 20 calls/s per mutating API, 40/s describe.
    Standard,
    /// The standard latencies with Alibaba Cloud's published quotas: 2 calls/s for allocate,
    /// associate and unassociate, 10/s for describe and release.
    Published,
}

#[cfg(feature = "simulator")]
#[derive(clap::Args)]
struct SimulatorOptions {
    /// Host the built-in simulated cloud, for ProviderConfigs of type `simulator`.
    #[arg(long, env = "EIP_OPERATOR_SIMULATOR")]
    simulator: bool,
    /// Latency and rate-limit profile of the simulator.
    #[arg(long, value_enum, default_value = "dev")]
    simulator_profile: Profile,
    /// Seed of the simulator (IDs, addresses, injected faults).
    #[arg(long, default_value_t = 1)]
    simulator_seed: u64,
    /// Serve the simulator's admin API on this address (loopback only).
    #[arg(long)]
    simulator_admin_addr: Option<SocketAddr>,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Built-in default account for ElasticIPs when no ProviderConfig is marked default
    /// (implies --simulator).
    #[arg(long, value_enum)]
    provider: Option<DefaultProvider>,
    /// Region of that default account.
    #[arg(long, default_value = "cn-hangzhou")]
    simulator_region: String,
    #[cfg(feature = "simulator")]
    #[command(flatten)]
    simulator: SimulatorOptions,
    /// Reconciles running at once.
    #[arg(long, default_value_t = 16, env = "EIP_OPERATOR_CONCURRENCY")]
    concurrency: u16,
    /// Seconds between drift checks of a converged ElasticIP.
    #[arg(long, default_value_t = 300)]
    resync_seconds: u64,
    /// Seconds before a Stalled ElasticIP is looked at again, doubling with each consecutive
    /// stalled reconcile of that object up to --stalled-resync-max-seconds (a fixed cause outside
    /// the operator's sight, such as NAT entries removed or a lock lifted, is noticed this late;
    /// a changed ProviderConfig or credentials Secret requeues at once).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    stalled_resync_seconds: u64,
    /// The longest wait between two looks at a Stalled ElasticIP.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
    stalled_resync_max_seconds: u64,
    /// How far apart two well-formed looks that both miss an EIP must be before the operator
    /// believes it is gone (before a finalizer is removed or a release out of band reported).
    #[arg(long, default_value_t = 5)]
    absence_confirmation_seconds: u64,
    /// Only watch this namespace (default: all namespaces).
    #[arg(long, env = "EIP_OPERATOR_NAMESPACE")]
    namespace: Option<String>,
    /// Instance name in Events and the leader lease (the pod name in a cluster). The lease holder
    /// is `<instance>_<random suffix>`, one per process.
    #[arg(long, env = "POD_NAME")]
    instance: Option<String>,
    /// Serve /metrics, /healthz and /readyz here ("none" to disable).
    #[arg(long, default_value = "0.0.0.0:8080", env = "EIP_OPERATOR_METRICS_ADDR")]
    metrics_addr: String,
    /// Reconcile only while holding a Lease, so several replicas can run (one active).
    #[arg(long, env = "EIP_OPERATOR_LEADER_ELECTION")]
    leader_election: bool,
    /// Name of the leader Lease.
    #[arg(long, default_value = "eip-operator")]
    lease_name: String,
    /// Namespace of the leader Lease (the operator's own namespace in a cluster).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    lease_namespace: String,
    /// How long (ms) a Describe waits for others to share one batched call: longer windows
    /// spend fewer calls of the account's quota, shorter ones react faster.
    #[arg(long, default_value_t = 250)]
    describe_batch_window_ms: u64,
    /// Seconds a leader holds the Lease without renewing it; a standby takes over after this.
    #[arg(long, default_value_t = 15)]
    lease_duration_seconds: u64,
    /// This cluster's ID in the owner tags and the leak ledger (default: the UID of the
    /// kube-system namespace). Give `audit` the same.
    #[arg(long, env = "EIP_OPERATOR_CLUSTER_NAME")]
    cluster_name: Option<String>,
    /// Seconds between two leak-ledger scans of every ProviderConfig (0: never).
    #[arg(long, default_value_t = 3600)]
    audit_interval_seconds: u64,
}

#[cfg(feature = "simulator")]
#[derive(clap::Args)]
struct SimulatorArgs {
    /// Address of the admin API (loopback only).
    #[arg(long, default_value = "127.0.0.1:8089")]
    listen: SocketAddr,
    #[arg(long, value_enum, default_value = "dev")]
    profile: Profile,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// A JSON SimulatorConfig (regions with their own quotas, latencies, ...) instead of the
    /// profile; what it leaves out takes the simulator's defaults.
    #[arg(long)]
    config: Option<std::path::PathBuf>,
}

#[cfg(feature = "simulator")]
fn simulator_config(profile: Profile, seed: u64) -> SimulatorConfig {
    let config = match profile {
        Profile::Instant => SimulatorConfig::instant(),
        Profile::Dev => SimulatorConfig::dev(),
        Profile::Standard => SimulatorConfig::standard(),
        Profile::Published => SimulatorConfig::published(),
    };
    config.with_seed(seed)
}

/// The name kubectl runs a plugin by: `kubectl eip …` finds `kubectl-eip` on the PATH.
const PLUGIN_BINARY: &str = "kubectl-eip";

/// The command line, named `kubectl eip` when the binary is the plugin.
fn parse() -> Cli {
    let invoked_as = std::env::args_os()
        .next()
        .and_then(|arg0| std::path::Path::new(&arg0).file_stem().map(|s| s.to_string_lossy().into_owned()));
    let mut command = Cli::command();
    if invoked_as.as_deref() == Some(PLUGIN_BINARY) {
        command = command.name("kubectl eip").bin_name("kubectl eip");
    }
    let matches = command.get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.exit())
}

#[cfg(feature = "dhat-heap")]
#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

fn main() -> ExitCode {
    // Dropped last, when main returns (a SIGTERM ends `run` cleanly): that writes the profile.
    #[cfg(feature = "dhat-heap")]
    let _profiler = dhat::Profiler::builder()
        .file_name(std::env::var_os("EIP_DHAT_FILE").unwrap_or_else(|| "dhat-heap.json".into()))
        .build();
    let cli = parse();
    telemetry::init(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            error!("{err:#}");
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Crd => {
            let yaml = eip_api::crds_yaml().context("cannot render the CRDs")?;
            print!("{yaml}");
            Ok(())
        }
        #[cfg(feature = "simulator")]
        Command::Simulator(args) => {
            let mut config = simulator_config(args.profile, args.seed);
            if let Some(path) = &args.config {
                let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
                config = serde_json::from_str(&text).with_context(|| format!("{} is no simulator config", path.display()))?;
                config.seed = args.seed;
            }
            let simulator = Simulator::new(config);
            let listener = bind_loopback(args.listen).await?;
            serve_admin(simulator, listener).await
        }
        Command::Run(args) => run(args).await,
        Command::Day2(command) => command.run().await,
    }
}

#[cfg(feature = "simulator")]
async fn bind_loopback(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    if !addr.ip().is_loopback() {
        anyhow::bail!("the simulator's admin API only listens on loopback addresses, not {addr}");
    }
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

#[cfg(feature = "simulator")]
async fn serve_admin(simulator: Simulator, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    info!(%addr, "simulator admin API listening");
    println!("simulator admin API: http://{addr}");
    server::serve(simulator, listener, shutdown_signal())
        .await
        .context("simulator server")
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::new());
    let config = kube::Config::infer()
        .await
        .context("cannot find Kubernetes (KUBECONFIG or in-cluster config)")?;
    // The lease's own client answers within half the renewal grace or fails: a renewal stuck on
    // a slow API server must end in a step-down before the lease can expire under it.
    let mut lease_config = config.clone();
    let grace = Duration::from_secs((args.lease_duration_seconds.max(3) / 3).max(1));
    lease_config.connect_timeout = Some(grace / 2);
    lease_config.read_timeout = Some(grace / 2);
    lease_config.write_timeout = Some(grace / 2);
    let client = metrics::counting_client(config, metrics.clone()).context("cannot build the Kubernetes client")?;
    let health = Arc::new(Health::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    if args.metrics_addr != "none" {
        let addr: SocketAddr = args
            .metrics_addr
            .parse()
            .with_context(|| format!("--metrics-addr {}", args.metrics_addr))?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        info!(addr = %listener.local_addr()?, "metrics and health endpoints listening");
        let (metrics, health, stop) = (metrics.clone(), health.clone(), controller::leader::stopped(stop_rx.clone()));
        tokio::spawn(async move {
            if let Err(err) = telemetry::server::serve(listener, metrics, health, stop).await {
                error!("metrics server: {err}");
            }
        });
    }

    let registry = eip_operator::registry::providers(metrics.clone(), Duration::from_millis(args.describe_batch_window_ms));
    let registry = with_simulator(registry, &args).await?;
    let settings = Settings {
        concurrency: args.concurrency,
        timing: Timing {
            resync: Duration::from_secs(args.resync_seconds),
            stalled_resync: Duration::from_secs(args.stalled_resync_seconds),
            stalled_resync_max: Duration::from_secs(args.stalled_resync_max_seconds),
            absence_confirmation: Duration::from_secs(args.absence_confirmation_seconds),
            ..Timing::default()
        },
        instance: args.instance.clone(),
        namespace: args.namespace,
        metrics,
        health: health.clone(),
        cluster_id: args.cluster_name.clone(),
        audit_interval: Some(Duration::from_secs(args.audit_interval_seconds)).filter(|d| !d.is_zero()),
        ..Settings::default()
    };
    if !args.leader_election {
        health.set_leader(true);
        controller::run(client, settings, registry, controller::leader::stopped(stop_rx)).await;
        return Ok(());
    }

    let election = LeaderElection {
        lease_name: args.lease_name,
        namespace: args.lease_namespace,
        // One identity per process, not per replica: a restarted process must wait out its
        // predecessor's lease (whose requests may still be landing in the cloud) instead of
        // finding its own name on the Lease and leading at once.
        identity: format!(
            "{}_{:08x}",
            args.instance.unwrap_or_else(|| "eip-operator".to_string()),
            rand::random::<u32>()
        ),
        lease_duration_seconds: args.lease_duration_seconds,
    };
    let lease_client = kube::Client::try_from(lease_config).context("cannot build the Kubernetes client for the lease")?;
    controller::leader::run_elected(client, lease_client, election, settings, registry, stop_rx).await?;
    Ok(())
}

/// Hosts the built-in simulator when asked to (`--simulator`, `--provider simulator`): serves
/// ProviderConfigs of type `simulator`, and with `--provider simulator` ElasticIPs that name none.
#[cfg(feature = "simulator")]
async fn with_simulator(registry: eip_cloud::Registry, args: &RunArgs) -> anyhow::Result<eip_cloud::Registry> {
    let implicit = args.provider == Some(DefaultProvider::Simulator);
    if !(args.simulator.simulator || implicit) {
        return Ok(registry);
    }
    let simulator = Simulator::new(simulator_config(args.simulator.simulator_profile, args.simulator.simulator_seed));
    if let Some(addr) = args.simulator.simulator_admin_addr {
        let listener = bind_loopback(addr).await?;
        let simulator = simulator.clone();
        tokio::spawn(async move {
            if let Err(err) = serve_admin(simulator, listener).await {
                error!("{err:#}");
            }
        });
    }
    let registry = registry.register(Arc::new(SimulatorFactory::new(simulator)));
    if !implicit {
        return Ok(registry);
    }
    let spec = serde_json::json!({ "provider": "simulator", "region": args.simulator_region });
    let spec = serde_json::from_value(spec).with_context(|| format!("--simulator-region {}", args.simulator_region))?;
    Ok(registry.implicit_default(spec))
}

/// Without the simulator feature, `--provider simulator` has nothing to host.
#[cfg(not(feature = "simulator"))]
async fn with_simulator(registry: eip_cloud::Registry, args: &RunArgs) -> anyhow::Result<eip_cloud::Registry> {
    match args.provider {
        Some(DefaultProvider::Simulator) => anyhow::bail!("this build has no simulator (built without the `simulator` feature)"),
        None => Ok(registry),
    }
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    info!("shutting down");
}
