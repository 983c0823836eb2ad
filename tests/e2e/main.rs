//! End-to-end tests on a real kube-apiserver + etcd (built from pinned Go modules by
//! `tools/build.sh`), driven with the real kubectl and a kube client.
//!
//! One control plane serves the whole binary; every scenario gets its own namespace, simulated
//! cloud, ProviderConfig and operator (scoped to its namespace, running as the operator's
//! ServiceAccount from `config/rbac/`), so scenarios run in parallel without seeing each other.
//! The control plane is torn down when the run ends, whether scenarios passed, failed or panicked.

mod adoption;
mod aws;
mod aws_moto;
mod consistency;
mod day2;
mod day2_ledger;
mod explain;
mod leader;
mod lifecycle;
mod operations;
mod packaging;
mod pools;
mod providers;
mod rbac;
mod references;
mod restart;
mod stalls;
mod support;
mod validation;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use libtest_mimic::{Arguments, Trial};
use support::ControlPlane;

type Scenario = fn(Arc<ControlPlane>) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

macro_rules! scenario {
    ($path:path) => {
        (stringify!($path), (|cp| Box::pin(async move { $path(&cp).await })) as Scenario)
    };
}

fn scenarios() -> Vec<(&'static str, Scenario)> {
    vec![
        scenario!(lifecycle::create_bind_ready_and_printer_columns),
        scenario!(day2::observe_never_mutates_through_create_rebind_and_delete),
        scenario!(day2::observe_then_manage_starts_from_the_observed_state),
        scenario!(day2::paused_objects_make_no_call_until_resumed),
        scenario!(day2::kubectl_eip_status_names_each_blocker_and_the_way_out),
        scenario!(day2_ledger::an_orphan_is_found_by_the_scan_and_audit_and_another_clusters_are_not),
        scenario!(day2_ledger::import_of_fifty_eips_adopts_them_without_a_mutating_call),
        scenario!(lifecycle::delete_blocks_until_unbound_then_released),
        scenario!(lifecycle::rebind_and_unbind_follow_the_spec),
        scenario!(lifecycle::unbind_and_retain_policies_keep_the_eip),
        scenario!(lifecycle::adopted_eip_is_kept_by_default),
        scenario!(adoption::two_adopters_one_wins_and_the_claim_is_released),
        scenario!(lifecycle::prepaid_delete_stalls_until_retain),
        scenario!(lifecycle::drift_is_reported_and_repaired),
        scenario!(restart::restarts_mid_operation_converge_without_leaks),
        scenario!(consistency::one_answer_without_the_eip_drops_nothing),
        scenario!(operations::metrics_agree_with_the_cloud),
        scenario!(operations::standby_process_takes_over_from_a_killed_leader),
        scenario!(leader::a_leader_that_cannot_renew_steps_down),
        scenario!(leader::a_restarted_process_waits_out_its_predecessors_lease),
        scenario!(leader::replicas_starting_together_elect_one_leader),
        scenario!(providers::alibaba_lifecycle_through_the_wire),
        scenario!(providers::otc_lifecycle_through_the_wire),
        scenario!(providers::otc_nat_rules_block_the_unbind),
        scenario!(aws::aws_lifecycle_through_the_simulator_wire),
        scenario!(aws::aws_lifecycle_on_moto),
        scenario!(aws::aws_restarts_mid_allocation_make_one_address_each),
        scenario!(stalls::fixing_the_secret_makes_it_ready_within_seconds),
        scenario!(references::node_and_service_references_on_alibaba),
        scenario!(references::node_and_service_references_on_otc),
        scenario!(references::an_unsupported_provider_id_stalls),
        scenario!(pools::pool_retains_and_reuses_addresses_on_alibaba),
        scenario!(pools::pool_releases_beyond_the_spare_on_otc),
        scenario!(pools::invalid_pools_are_rejected),
        scenario!(stalls::recreated_provider_config_is_a_new_account),
        scenario!(providers::an_unusable_secret_value_stalls_naming_the_key),
        scenario!(validation::invalid_manifests_are_rejected),
        scenario!(validation::immutable_fields_cannot_change),
        scenario!(explain::kubectl_explain_reads_cleanly),
        scenario!(rbac::operator_identity_is_sufficient_and_minimal),
        scenario!(packaging::helm_chart_lints_clean),
        scenario!(packaging::helm_template_is_accepted_by_the_api_server),
        scenario!(packaging::helm_install_and_uninstall),
        scenario!(packaging::helm_installed_operator_runs_with_the_charts_args_and_rbac),
        scenario!(packaging::helm_crd_upgrade_story),
        scenario!(packaging::helm_values_schema_rejects_bad_values),
        scenario!(packaging::kustomize_default_install),
        scenario!(packaging::samples_and_gitops_examples_are_valid),
    ]
}

fn main() -> ExitCode {
    let mut args = Arguments::from_args();
    // Scenarios mostly wait on the cloud's simulated latencies: run many at once.
    args.test_threads.get_or_insert(8);
    let names: Vec<_> = scenarios();
    if args.list {
        let trials = names.into_iter().map(|(name, _)| Trial::test(name, || Ok(()))).collect();
        return libtest_mimic::run(&args, trials).exit_code();
    }

    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("tokio runtime"),
    );
    let cp = Arc::new(ControlPlane::start(support::control_plane::tools_bin()));
    install(&cp);

    let trials = names
        .into_iter()
        .map(|(name, scenario)| {
            let (cp, runtime) = (cp.clone(), runtime.clone());
            Trial::test(name, move || {
                runtime.block_on(scenario(cp));
                Ok(())
            })
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    if conclusion.has_failed() {
        eprintln!("control-plane logs were in {}", cp.log_dir().display());
    }
    // Stops the operators' leftovers, then the control plane.
    drop(runtime);
    drop(cp);
    conclusion.exit_code()
}

/// CRDs and the operator's RBAC, as a user installs them.
fn install(cp: &ControlPlane) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    cp.install_crds();
    cp.kubectl_ok(&["create", "namespace", "eip-operator"]);
    cp.kubectl_ok(&["apply", "-k", &root.join("config/rbac").to_string_lossy()]);
}
