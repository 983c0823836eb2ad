//! The day-2 commands' arguments and what they run (`main` dispatches to them, as
//! `eip-operator <command>` and as the kubectl plugin `kubectl eip <command>`).

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::sync::Arc;

use clap::ValueEnum;
use kube::api::ListParams;
use kube::{Api, Client};

use super::audit::{AuditOptions, audit, import, release_orphans, render_table};
use super::import::{ImportOptions, to_yaml};
use super::scan::{Report, cluster_id};
use crate::telemetry::metrics::Metrics;
use eip_api::ElasticIP;
use eip_cloud::registry::DEFAULT_DESCRIBE_WINDOW;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned columns for humans.
    #[default]
    Table,
    Json,
    Yaml,
}

#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    /// Audit only this ProviderConfig (default: every one in the cluster).
    #[arg(long)]
    pub provider_config: Option<String>,
    /// The cluster ID the operator runs with, if it was given one (`run --cluster-name`);
    /// default: the UID of the kube-system namespace.
    #[arg(long, env = "EIP_OPERATOR_CLUSTER_NAME")]
    pub cluster_name: Option<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: Output,
    /// Unbind, then release every orphan (only EIPs carrying this cluster's owner tags), after a
    /// confirmation.
    #[arg(long)]
    pub release_orphans: bool,
    /// Do not ask for the confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The ProviderConfig whose EIPs to import.
    #[arg(long)]
    pub provider_config: String,
    /// Only EIPs with this tag (`key=value`; repeat for several, all must match).
    #[arg(long = "tag", value_parser = parse_tag)]
    pub tags: Vec<(String, String)>,
    /// Only EIPs without owner tags (never managed by an eip-operator).
    #[arg(long)]
    pub unowned: bool,
    /// Namespace of the ElasticIPs.
    #[arg(long, short = 'n', default_value = "default")]
    pub namespace: String,
    /// Write each EIP's current binding as spec.binding.
    #[arg(long)]
    pub bind: bool,
    /// managementPolicy Manage instead of Observe (adopting then claims each EIP with a tag).
    #[arg(long)]
    pub manage: bool,
    /// The cluster ID the operator runs with (see `audit --cluster-name`).
    #[arg(long, env = "EIP_OPERATOR_CLUSTER_NAME")]
    pub cluster_name: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// Only this namespace (default: all).
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
}

fn parse_tag(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("{text:?} is not key=value")),
    }
}

/// The providers this binary serves, for commands run from outside the cluster.
fn registry() -> eip_cloud::Registry {
    crate::registry::providers(Arc::new(Metrics::new()), DEFAULT_DESCRIBE_WINDOW)
}

/// The kubeconfig's client.
pub async fn client() -> anyhow::Result<Client> {
    Ok(Client::try_default().await?)
}

pub async fn run_audit(
    client: &Client,
    registry: eip_cloud::Registry,
    args: &AuditArgs,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let options = AuditOptions {
        provider_config: args.provider_config.clone(),
        cluster_name: args.cluster_name.clone(),
    };
    let audited = audit(client, registry, &options).await?;
    let reports: Vec<&Report> = audited.iter().map(|a| &a.report).collect();
    match args.output {
        Output::Table => write!(out, "{}", render_table(&reports))?,
        Output::Json => writeln!(out, "{}", serde_json::to_string_pretty(&reports)?)?,
        Output::Yaml => write!(out, "{}", serde_yaml::to_string(&reports)?)?,
    }
    if !args.release_orphans {
        return Ok(());
    }
    let count: usize = reports.iter().map(|r| r.ledger.orphans.len()).sum();
    if count == 0 {
        writeln!(out, "no orphans to release")?;
        return Ok(());
    }
    if !args.yes && !confirm(&format!("Unbind and release {count} orphaned EIP(s)? [y/N] "))? {
        anyhow::bail!("nothing released");
    }
    let cluster = cluster_id(client, args.cluster_name.as_deref()).await?;
    let mut failed = 0;
    for audited in &audited {
        for (id, result) in release_orphans(audited.provider.as_ref(), &audited.report, &cluster).await {
            match result {
                Ok(()) => writeln!(out, "released {id} ({})", audited.report.provider_config)?,
                Err(why) => {
                    failed += 1;
                    writeln!(out, "kept {id} ({}): {why}", audited.report.provider_config)?;
                }
            }
        }
    }
    anyhow::ensure!(failed == 0, "{failed} orphan(s) not released");
    Ok(())
}

/// Asks on the terminal; only `y` or `yes` is a yes.
fn confirm(question: &str) -> anyhow::Result<bool> {
    eprint!("{question}");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}

pub async fn run_import(
    client: &Client,
    registry: eip_cloud::Registry,
    args: &ImportArgs,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let options = ImportOptions {
        provider_config: args.provider_config.clone(),
        tags: args.tags.iter().cloned().collect::<BTreeMap<_, _>>(),
        unowned: args.unowned,
        namespace: args.namespace.clone(),
        bind: args.bind,
        manage: args.manage,
        cluster: cluster_id(client, args.cluster_name.as_deref()).await?,
    };
    let manifests = import(client, registry, &options).await?;
    write!(out, "{}", to_yaml(&manifests)?)?;
    Ok(())
}

pub async fn run_status(client: &Client, args: &StatusArgs, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    let api: Api<ElasticIP> = match &args.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let eips = api.list(&ListParams::default()).await?.items;
    write!(out, "{}", super::status::render(&eips))?;
    Ok(())
}

/// The day-2 commands, from the command line.
#[derive(clap::Subcommand, Debug)]
pub enum Day2 {
    /// The leak ledger: orphaned, missing and unmanaged EIPs of every ProviderConfig.
    Audit(AuditArgs),
    /// Print ElasticIP manifests (managementPolicy Observe, deletionPolicy Retain) for existing EIPs.
    Import(ImportArgs),
    /// Every ElasticIP with what blocks it and the way out.
    Status(StatusArgs),
}

impl Day2 {
    /// Runs the command against the kubeconfig's cluster, printing to stdout.
    pub async fn run(&self) -> anyhow::Result<()> {
        let client = client().await?;
        let mut out = std::io::stdout();
        match self {
            Day2::Audit(args) => run_audit(&client, registry(), args, &mut out).await,
            Day2::Import(args) => run_import(&client, registry(), args, &mut out).await,
            Day2::Status(args) => run_status(&client, args, &mut out).await,
        }
    }
}
