//! The ElasticIPPool controller: it watches pools, the ElasticIPs they own and Nodes (a Node
//! whose labels changed, that appeared or went away requeues the pools whose selector matches
//! it or whose status lists an address on it), and reconciles each pool by executing what
//! [`plan`] decides: create, assign (patch `spec.binding.nodeRef`), unassign (remove the binding)
//! and delete its ElasticIPs. Binding itself is the ElasticIP controller's: it unbinds from the
//! old instance before it binds the new one.
//!
//! Deletion: the pool holds a finalizer and deletes its ElasticIPs itself (no garbage collector
//! is relied on), each with the deletionPolicy reclaimPolicy gives it, and lets go once they are
//! gone.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::core::Selector;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, WatchStreamExt, controller, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use tracing::{info, warn};

use super::events::{EventPublisher, EventType};
use super::pool_plan::{Member, PoolAction, next_names, plan};
use super::pool_status::{PoolInputs, member_deletion_policy, policy_out_of_sync, pool_status, pools_for_node, summary};
use super::reconcile::{Error, MANAGER};
use super::reference_watch::changes;
use super::timing::Timing;
use super::writes::{patch_finalizers, write_status};
use eip_api::{Binding, ElasticIP, ElasticIPPool, ElasticIPSpec, LAST_NODE_ANNOTATION, POOL_FINALIZER, POOL_LABEL};

/// How soon a pool that changed its ElasticIPs, or waits for them to go, looks again (their
/// watch usually brings it back sooner).
const AFTER_CHANGE: Duration = Duration::from_secs(2);

/// How long the pool controller lets triggers of one pool gather before it reconciles it.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// Shared state of the pool reconciles.
pub struct PoolContext {
    pub client: Client,
    pub recorder: EventPublisher,
    pub timing: Timing,
    /// Consecutive failed reconciles per pool UID, for backoff.
    failures: Mutex<HashMap<String, u32>>,
}

impl PoolContext {
    pub fn new(client: Client, recorder: EventPublisher, timing: Timing) -> Self {
        PoolContext {
            client,
            recorder,
            timing,
            failures: Mutex::default(),
        }
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Runs the pool controller (pools of `namespace`, or all) until `shutdown` completes.
pub async fn run(
    client: Client,
    namespace: Option<String>,
    concurrency: u16,
    ctx: Arc<PoolContext>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let (pools, eips): (Api<ElasticIPPool>, Api<ElasticIP>) = match &namespace {
        Some(ns) => (Api::namespaced(client.clone(), ns), Api::namespaced(client.clone(), ns)),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    let pool_controller = Controller::new(pools, watcher::Config::default().any_semantic());
    let store = pool_controller.store();
    info!("pool controller starting");
    pool_controller
        .with_config(
            controller::Config::default()
                .concurrency(concurrency)
                // A burst of ElasticIP status changes (a scale-up binding) is one reconcile.
                .debounce(DEBOUNCE),
        )
        .owns(eips, watcher::Config::default().labels(POOL_LABEL).any_semantic())
        .watches_stream(node_label_changes(client), move |node| {
            let labels = node.labels().clone();
            let state = store.state();
            pools_for_node(state.iter().map(|p| p.as_ref()), &node.name_any(), &labels)
                .into_iter()
                .map(ObjectRef::from_obj)
                .collect::<Vec<_>>()
        })
        .graceful_shutdown_on(shutdown)
        .run(reconcile_pool, pool_error_policy, ctx)
        .for_each(|result| super::writes::log_failure("pool controller", result))
        .await;
    info!("pool controller stopped");
}

/// Nodes whose labels changed, that appeared or went away (a kubelet's heartbeats are dropped).
fn node_label_changes(client: Client) -> impl Stream<Item = Result<Node, watcher::Error>> + Send + 'static {
    changes(
        watcher(Api::<Node>::all(client), watcher::Config::default()).default_backoff(),
        |node: &Node| {
            let mut hasher = DefaultHasher::new();
            node.labels().hash(&mut hasher);
            hasher.finish()
        },
    )
}

/// Requeue after errors of the Kubernetes API.
pub fn pool_error_policy(pool: Arc<ElasticIPPool>, error: &Error, ctx: Arc<PoolContext>) -> Action {
    let uid = pool.uid().unwrap_or_default();
    let failures = {
        let mut all = ctx.failures();
        let count = all.entry(uid).or_insert(0);
        let before = *count;
        *count = count.saturating_add(1);
        before
    };
    warn!(name = %pool.name_any(), namespace = pool.namespace().unwrap_or_default(), %error, failures, "pool reconcile failed");
    Action::requeue(ctx.timing.kube_backoff(failures))
}

/// Reconciles one pool.
pub async fn reconcile_pool(pool: Arc<ElasticIPPool>, ctx: Arc<PoolContext>) -> Result<Action, Error> {
    let uid = pool.uid().ok_or(Error::MissingField("metadata.uid"))?;
    let namespace = pool.namespace().ok_or(Error::MissingField("metadata.namespace"))?;
    let pools: Api<ElasticIPPool> = Api::namespaced(ctx.client.clone(), &namespace);
    let eips: Api<ElasticIP> = Api::namespaced(ctx.client.clone(), &namespace);
    let deleting = pool.meta().deletion_timestamp.is_some();
    let has_finalizer = pool.finalizers().iter().any(|f| f == POOL_FINALIZER);
    if deleting && !has_finalizer {
        return Ok(Action::await_change());
    }
    if !has_finalizer {
        // Before the first ElasticIP exists, so a deletion always finds them.
        let mut finalizers = pool.finalizers().to_vec();
        finalizers.push(POOL_FINALIZER.into());
        patch_finalizers(&pools, &pool, finalizers).await?;
    }

    // A fresh list, not a cache: the plan and the new names are computed from it.
    let labelled = ListParams::default().labels(&format!("{POOL_LABEL}={}", pool.name_any()));
    let all = eips.list(&labelled).await?.items;
    let mut taken: BTreeSet<String> = all.iter().map(|e| e.name_any()).collect();
    let members: Vec<ElasticIP> = all.into_iter().filter(|e| owned_by(e, &uid)).collect();
    let reclaim = pool.spec.reclaim_policy;
    let policy = member_deletion_policy(reclaim);

    if deleting {
        return delete_pool(&pools, &eips, &pool, &ctx, &members).await;
    }

    let selector = match Selector::try_from(pool.spec.node_selector.clone()) {
        Ok(selector) => selector,
        Err(err) => {
            let inputs = PoolInputs {
                generation: pool.meta().generation,
                nodes: &BTreeSet::new(),
                members: &members,
                spare: pool.spec.spare,
                actions: &[],
                deleting,
                reclaim,
                blocked: Some((
                    "InvalidNodeSelector",
                    format!("spec.nodeSelector is not a valid label selector: {err}"),
                )),
                now: Timestamp::now(),
            };
            write_status(&pools, &pool, pool.status.as_ref(), &pool_status(pool.status.as_ref(), &inputs)).await?;
            return Ok(Action::requeue(ctx.timing.stalled_resync_max));
        }
    };
    let nodes: BTreeSet<String> = Api::<Node>::all(ctx.client.clone())
        .list_metadata(&ListParams::default().labels_from(&selector))
        .await?
        .items
        .iter()
        .map(|n| n.name_any())
        .collect();

    let plan_members: Vec<Member> = members.iter().map(Member::of).collect();
    let actions = plan(&nodes, &plan_members, pool.spec.spare, reclaim);
    for action in &actions {
        match action {
            PoolAction::Create { node } => {
                create_member(&eips, &pool, &namespace, &mut taken, node.as_deref()).await?;
            }
            PoolAction::Assign { member, node } => {
                let binding = json!({
                    "nodeRef": { "name": node },
                    "instanceType": null, "instanceId": null, "serviceRef": null,
                    "privateIpAddress": null, "mode": null, "vpcId": null,
                });
                patch(&eips, member, json!({ "spec": { "binding": binding } })).await?;
            }
            PoolAction::Unassign { member } => {
                let last = plan_members.iter().find(|m| &m.name == member).and_then(|m| m.node.clone());
                let mut body = json!({ "spec": { "binding": null } });
                if let Some(last) = last {
                    body["metadata"] = json!({ "annotations": { LAST_NODE_ANNOTATION: last } });
                }
                patch(&eips, member, body).await?;
            }
            PoolAction::Delete { member } => {
                patch(&eips, member, json!({ "spec": { "deletionPolicy": policy } })).await?;
                delete(&eips, member).await?;
            }
        }
    }
    // reclaimPolicy changed: the ElasticIPs' deletionPolicy follows.
    let deleted: BTreeSet<&str> = actions
        .iter()
        .filter_map(|a| match a {
            PoolAction::Delete { member } => Some(member.as_str()),
            _ => None,
        })
        .collect();
    for name in policy_out_of_sync(&members, reclaim) {
        if !deleted.contains(name.as_str()) {
            patch(&eips, &name, json!({ "spec": { "deletionPolicy": policy } })).await?;
        }
    }
    if !actions.is_empty() {
        info!(name = %pool.name_any(), namespace, changes = summary(&actions), "pool changed its ElasticIPs");
        publish(&ctx, &pool, EventType::Normal, "AddressesChanged", "Scale", summary(&actions)).await;
    }

    let inputs = PoolInputs {
        generation: pool.meta().generation,
        nodes: &nodes,
        members: &members,
        spare: pool.spec.spare,
        actions: &actions,
        deleting,
        reclaim,
        blocked: None,
        now: Timestamp::now(),
    };
    write_status(&pools, &pool, pool.status.as_ref(), &pool_status(pool.status.as_ref(), &inputs)).await?;
    ctx.failures().remove(&uid);
    Ok(Action::requeue(if actions.is_empty() { ctx.timing.resync } else { AFTER_CHANGE }))
}

/// The pool is being deleted: delete its ElasticIPs (each with the deletionPolicy reclaimPolicy
/// gives it: Unbind keeps the address, Delete releases it), and let go once they are all gone.
async fn delete_pool(
    pools: &Api<ElasticIPPool>,
    eips: &Api<ElasticIP>,
    pool: &ElasticIPPool,
    ctx: &PoolContext,
    members: &[ElasticIP],
) -> Result<Action, Error> {
    let reclaim = pool.spec.reclaim_policy;
    let policy = member_deletion_policy(reclaim);
    if members.is_empty() {
        let finalizers = pool.finalizers().iter().filter(|f| *f != POOL_FINALIZER).cloned().collect();
        patch_finalizers(pools, pool, finalizers).await?;
        info!(name = %pool.name_any(), "pool deleted: its ElasticIPs are gone");
        return Ok(Action::await_change());
    }
    let mut started = Vec::new();
    for member in members.iter().filter(|m| m.metadata.deletion_timestamp.is_none()) {
        let name = member.name_any();
        // The policy first, so the ElasticIP's finalizer reads it when the deletion starts.
        if member.spec.deletion_policy != Some(policy) {
            patch(eips, &name, json!({ "spec": { "deletionPolicy": policy } })).await?;
        }
        delete(eips, &name).await?;
        started.push(name);
    }
    if !started.is_empty() {
        let fate = match policy {
            eip_api::DeletionPolicy::Delete => "unbound, then released",
            _ => "unbound and kept allocated in the cloud",
        };
        let note = format!("deleting {} ElasticIPs: their addresses are {fate}", started.len());
        publish(ctx, pool, EventType::Normal, "DeletingAddresses", "Delete", note).await;
    }
    let inputs = PoolInputs {
        generation: pool.meta().generation,
        nodes: &BTreeSet::new(),
        members,
        spare: pool.spec.spare,
        actions: &[],
        deleting: true,
        reclaim,
        blocked: None,
        now: Timestamp::now(),
    };
    write_status(pools, pool, pool.status.as_ref(), &pool_status(pool.status.as_ref(), &inputs)).await?;
    Ok(Action::requeue(AFTER_CHANGE))
}

/// How many names an ElasticIP not of the pool may hold before a creation gives up (and retries
/// with backoff).
const NAME_ATTEMPTS: usize = 16;

/// Creates one ElasticIP of the pool under the first free `<pool>-<n>` name; a name some other
/// object of the namespace holds (not labelled as the pool's, so not listed) is skipped.
async fn create_member(
    eips: &Api<ElasticIP>,
    pool: &ElasticIPPool,
    namespace: &str,
    taken: &mut BTreeSet<String>,
    node: Option<&str>,
) -> Result<(), Error> {
    let params = PostParams {
        field_manager: Some(MANAGER.into()),
        ..Default::default()
    };
    let mut last = None;
    for _ in 0..NAME_ATTEMPTS {
        let Some(name) = next_names(&pool.name_any(), taken, 1).pop() else {
            break;
        };
        taken.insert(name.clone());
        match eips.create(&params, &new_member(pool, namespace, name, node)).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(status)) if status.code == 409 => last = Some(kube::Error::Api(status)),
            Err(err) => return Err(err.into()),
        }
    }
    Err(last.map_or(Error::MissingField("a free ElasticIP name"), Error::from))
}

/// Whether the pool with UID `uid` is the ElasticIP's controller.
fn owned_by(eip: &ElasticIP, uid: &str) -> bool {
    eip.owner_references()
        .iter()
        .any(|o| o.controller == Some(true) && o.uid == uid && o.kind == "ElasticIPPool")
}

/// A new ElasticIP of `pool`, bound to `node` (a spare for `None`).
fn new_member(pool: &ElasticIPPool, namespace: &str, name: String, node: Option<&str>) -> ElasticIP {
    let mut labels = BTreeMap::new();
    labels.insert(POOL_LABEL.to_string(), pool.name_any());
    let template = &pool.spec.template;
    ElasticIP {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(namespace.to_string()),
            labels: Some(labels),
            // controller = true; blockOwnerDeletion, so a foreground deletion of the pool waits
            // for its ElasticIPs.
            owner_references: pool.controller_owner_ref(&()).map(|owner| {
                vec![OwnerReference {
                    block_owner_deletion: Some(true),
                    ..owner
                }]
            }),
            ..ObjectMeta::default()
        },
        spec: ElasticIPSpec {
            provider_config_ref: template.provider_config_ref.clone(),
            allocation: template.allocation.clone(),
            binding: node.map(Binding::to_node),
            deletion_policy: Some(member_deletion_policy(pool.spec.reclaim_policy)),
            ..ElasticIPSpec::default()
        },
        status: None,
    }
}

/// A JSON merge patch of one ElasticIP (one already gone is fine: nothing is left to change).
async fn patch(eips: &Api<ElasticIP>, name: &str, body: serde_json::Value) -> Result<(), Error> {
    match eips.patch(name, &PatchParams::default(), &Patch::Merge(&body)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(err) => Err(err.into()),
    }
}

async fn delete(eips: &Api<ElasticIP>, name: &str) -> Result<(), Error> {
    match eips.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(err) => Err(err.into()),
    }
}

async fn publish(ctx: &PoolContext, pool: &ElasticIPPool, type_: EventType, reason: &str, action: &str, note: String) {
    let mut note = note;
    if note.len() > 1000 {
        let mut cut = 1000;
        while !note.is_char_boundary(cut) {
            cut -= 1;
        }
        note.truncate(cut);
    }
    ctx.recorder
        .publish_best_effort(pool.object_ref(&()), type_, reason, action, note)
        .await;
}
