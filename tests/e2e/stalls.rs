//! Stalls clear when their cause does: a corrected credentials Secret, a ProviderConfig deleted
//! and created again, are acted on at once, not at the next stalled resync. These scenarios run
//! the operator with its default timing (`Timing::default()`: the next look at a stalled object
//! after 30 s, then 60 s, ... up to 10 min), so only the watches can make them fast.

use std::time::{Duration, Instant};

use eip_simulator::{SIM_ACCESS_KEY_ID, SIM_ACCESS_KEY_SECRET};

use crate::support::{ControlPlane, OPERATOR_USER, Scenario, alibaba_config, condition, e2e_simulator, is_true, serve_simulator};

/// How soon after its cause is fixed a stalled object must be Ready: well under the default
/// stalled resync (30 s), which would otherwise be the first chance to notice.
const AFTER_FIX: Duration = Duration::from_secs(15);

fn unbound_eip(name: &str, config: &str) -> String {
    format!(
        "apiVersion: eip-operator.dev/v1alpha1\nkind: ElasticIP\nmetadata:\n  name: {name}\nspec:\n  providerConfigRef:\n    name: {config}\n  allocation:\n    bandwidthMbps: 5\n"
    )
}

/// `kubectl auth can-i` as the operator, in the namespace of the credentials Secrets.
fn operator_can(cp: &ControlPlane, verb: &str) -> bool {
    cp.can_i(OPERATOR_USER, verb, "secrets", Some("eip-operator"))
}

/// The chart's restricted form (`credentials.secretNames`: the same rules with `resourceNames`)
/// allows the operator's watch, which names the Secret in a field selector, and nothing wider.
async fn restricted_role_allows_the_watch_by_name(s: &Scenario<'_>, secret: &str) {
    let user = format!("{}-probe", s.ns);
    s.apply(&format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: credentials-by-name\nrules:\n  - apiGroups: [\"\"]\n    resources: [\"secrets\"]\n    verbs: [\"get\"]\n    resourceNames: [\"{secret}\"]\n  - apiGroups: [\"\"]\n    resources: [\"secrets\"]\n    verbs: [\"watch\"]\n    resourceNames: [\"{secret}\"]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: credentials-by-name\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: credentials-by-name\nsubjects:\n  - apiGroup: rbac.authorization.k8s.io\n    kind: User\n    name: {user}\n"
    ));
    let watch = |selector: &str| {
        let path = format!("/api/v1/namespaces/{}/secrets?watch=true&timeoutSeconds=1{selector}", s.ns);
        s.cp.kubectl(&["get", "--raw", &path, "--as", &user]).status.success()
    };
    // RBAC changes take effect asynchronously in the authorizer's cache.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !watch(&format!("&fieldSelector=metadata.name%3D{secret}")) {
        assert!(
            Instant::now() < deadline,
            "a watch of {secret} by name is refused with resourceNames"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!watch(""), "a watch of every Secret must be refused");
    assert!(
        !watch("&fieldSelector=metadata.name%3Danother"),
        "a watch of another Secret must be refused"
    );
}

/// A wrong `accessKeySecret` stalls the ElasticIP (the cloud refuses the signature); fixing the
/// Secret makes it Ready within seconds, through the Secret watch (which also drops the cached
/// wrong value), although the operator's stalled resync is the default.
pub async fn fixing_the_secret_makes_it_ready_within_seconds(cp: &ControlPlane) {
    // The operator watches the Secret by name: `watch` where ProviderConfigs point, never `list`.
    assert!(
        operator_can(cp, "get") && operator_can(cp, "watch"),
        "get and watch Secrets in eip-operator"
    );
    assert!(!operator_can(cp, "list"), "the operator must not list Secrets");

    let s = Scenario::with_default_timing(cp, "stall-secret").await;
    let endpoint = serve_simulator(s.sim.clone()).await;
    let (secret, config) = ("stall-secret-e2e", "stall-secret-alibaba");
    restricted_role_allows_the_watch_by_name(&s, secret).await;
    cp.secret(
        secret,
        &[("accessKeyId", SIM_ACCESS_KEY_ID), ("accessKeySecret", "not-the-access-key-secret")],
    );
    cp.apply(&alibaba_config(config, "cn-hangzhou", &endpoint, secret));
    s.apply(&unbound_eip("web", config));

    let stalled = s
        .wait_for("web", "Stalled by the wrong secret", Duration::from_secs(60), |o| {
            is_true(o, "Stalled")
        })
        .await;
    let (_, reason) = condition(&stalled, "Stalled").expect("Stalled");
    assert!(
        ["AuthenticationFailed", "InvalidCredentials"].contains(&reason.as_str()),
        "Stalled reason {reason}: {:#?}",
        stalled.status
    );
    assert!(!is_true(&stalled, "Ready"));
    // It stays stalled while the Secret is wrong (no hot loop either: one Warning).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let still = s.get("web").await.expect("web");
    assert!(is_true(&still, "Stalled"), "{:#?}", still.status);

    let fixed_at = Instant::now();
    cp.secret(
        secret,
        &[("accessKeyId", SIM_ACCESS_KEY_ID), ("accessKeySecret", SIM_ACCESS_KEY_SECRET)],
    );
    let ready = s
        .wait_for("web", "Ready once the Secret is fixed", AFTER_FIX, |o| is_true(o, "Ready"))
        .await;
    let elapsed = fixed_at.elapsed();
    eprintln!("stalls: Secret fixed -> ElasticIP Ready in {:.2} s", elapsed.as_secs_f64());
    assert!(!is_true(&ready, "Stalled"), "{:#?}", ready.status);
    let status = ready.status.expect("status");
    let id = status.allocation_id.expect("allocation id");
    assert!(s.sim.eip("cn-hangzhou", &id).is_some(), "{id} allocated in the cloud");
    let warnings = s
        .events("web")
        .await
        .into_iter()
        .filter(|(type_, r, _)| type_ == "Warning" && *r == reason)
        .count();
    assert_eq!(warnings, 1, "one Warning for the stall");

    s.kubectl_ok(&["delete", "eip", "web", "--timeout=90s"]);
    assert!(s.sim.eip("cn-hangzhou", &id).is_none(), "{id} released");
    cp.kubectl_ok(&["delete", "providerconfig", config]);
    cp.kubectl_ok(&["-n", "eip-operator", "delete", "secret", secret]);
    s.finish().await;
}

/// A ProviderConfig deleted and created again under the same name, pointing at another cloud
/// endpoint and region, is another account: its generation starts at 1 again, but its UID is
/// new, so the operator builds a new client (without a restart), and the ElasticIP waiting for
/// it (stalled, ProviderConfigNotFound) is requeued at once.
pub async fn recreated_provider_config_is_a_new_account(cp: &ControlPlane) {
    let s = Scenario::with_default_timing(cp, "stall-recreate").await;
    let first = serve_simulator(s.sim.clone()).await;
    let other = e2e_simulator(7);
    let second = serve_simulator(other.clone()).await;
    let (secret, config) = ("stall-recreate-e2e", "stall-recreate-account");
    cp.secret(
        secret,
        &[("accessKeyId", SIM_ACCESS_KEY_ID), ("accessKeySecret", SIM_ACCESS_KEY_SECRET)],
    );

    // The first account: an address allocated there, then released.
    cp.apply(&alibaba_config(config, "cn-hangzhou", &first, secret));
    s.apply(&unbound_eip("before", config));
    let before = s
        .wait_for("before", "Ready in the first account", Duration::from_secs(60), |o| {
            is_true(o, "Ready")
        })
        .await;
    let first_id = before.status.and_then(|st| st.allocation_id).expect("allocation id");
    assert!(s.sim.eip("cn-hangzhou", &first_id).is_some());
    s.kubectl_ok(&["delete", "eip", "before", "--timeout=90s"]);

    // Deleted; an ElasticIP naming it waits, stalled.
    let deleted_uid = cp.kubectl_ok(&["get", "providerconfig", config, "-o", "jsonpath={.metadata.uid}"]);
    cp.kubectl_ok(&["delete", "providerconfig", config]);
    s.apply(&unbound_eip("after", config));
    let waiting = s
        .wait_for("after", "Stalled without its ProviderConfig", Duration::from_secs(30), |o| {
            is_true(o, "Stalled")
        })
        .await;
    assert_eq!(
        condition(&waiting, "Stalled").map(|(_, r)| r).as_deref(),
        Some("ProviderConfigNotFound")
    );

    // Created again, same name, another endpoint and region: generation 1 again, a new UID.
    cp.apply(&alibaba_config(config, "cn-shanghai", &second, secret));
    let recreated_at = Instant::now();
    let uid = cp.kubectl_ok(&["get", "providerconfig", config, "-o", "jsonpath={.metadata.uid}"]);
    let generation = cp.kubectl_ok(&["get", "providerconfig", config, "-o", "jsonpath={.metadata.generation}"]);
    assert_ne!(uid, deleted_uid);
    assert_eq!(generation.trim(), "1", "the same generation as the deleted one");
    let after = s
        .wait_for("after", "Ready in the new account", AFTER_FIX, |o| is_true(o, "Ready"))
        .await;
    eprintln!(
        "stalls: ProviderConfig re-created -> ElasticIP Ready in {:.2} s",
        recreated_at.elapsed().as_secs_f64()
    );
    let id = after.status.and_then(|st| st.allocation_id).expect("allocation id");
    assert!(other.eip("cn-shanghai", &id).is_some(), "{id} is in the new account");
    assert!(
        s.sim.eip("cn-hangzhou", &id).is_none() && s.sim.eip("cn-shanghai", &id).is_none(),
        "{id} must not come from the deleted account"
    );
    let first_allocations = s.sim.calls().into_iter().filter(|c| c.operation.to_string() == "Allocate").count();
    assert_eq!(first_allocations, 1, "the deleted account allocated only the first address");

    s.kubectl_ok(&["delete", "eip", "after", "--timeout=90s"]);
    assert!(other.eip("cn-shanghai", &id).is_none(), "{id} released in the new account");
    cp.kubectl_ok(&["delete", "providerconfig", config]);
    cp.kubectl_ok(&["-n", "eip-operator", "delete", "secret", secret]);
    s.finish().await;
}
