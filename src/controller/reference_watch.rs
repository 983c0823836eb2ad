//! The watches behind bindings by reference: a Node whose `spec.providerID` changed, that
//! appeared or that went away, and a Service whose type or load balancer annotation changed,
//! requeue the ElasticIPs that name it. Other changes (a kubelet's status updates, a Service's
//! endpoints) change nothing an ElasticIP reads, and are dropped here.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Node, Service};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};

use super::references::load_balancer_of;
use eip_api::{BindingSubject, ElasticIP};

/// What an ElasticIP reads of a Node: its providerID.
pub fn node_fingerprint(node: &Node) -> u64 {
    digest(&node.spec.as_ref().and_then(|s| s.provider_id.as_deref()))
}

/// What an ElasticIP reads of a Service: its type and load balancer.
pub fn service_fingerprint(service: &Service) -> u64 {
    digest(&(service.spec.as_ref().and_then(|s| s.type_.as_deref()), load_balancer_of(service)))
}

fn digest(value: &impl Hash) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

/// Keeps the objects of `events` whose `fingerprint` changed, that appeared, or that went away
/// (deleted, or missing from a relist: then an object carrying only its name and namespace).
pub fn changes<K>(
    events: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
    fingerprint: impl Fn(&K) -> u64 + Send + 'static,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static
where
    K: Resource + Clone + Default + Send + 'static,
{
    let mut seen: HashMap<(Option<String>, String), u64> = HashMap::new();
    let mut relisted: Option<HashSet<(Option<String>, String)>> = None;
    events
        .map(move |event| {
            let key = |object: &K| (object.namespace(), object.name_any());
            let out: Vec<Result<K, watcher::Error>> = match event {
                Err(err) => vec![Err(err)],
                Ok(watcher::Event::Init) => {
                    relisted = Some(HashSet::new());
                    Vec::new()
                }
                Ok(watcher::Event::InitApply(object)) | Ok(watcher::Event::Apply(object)) => {
                    let key = key(&object);
                    if let Some(relisted) = relisted.as_mut() {
                        relisted.insert(key.clone());
                    }
                    let print = fingerprint(&object);
                    if seen.insert(key, print) == Some(print) {
                        Vec::new()
                    } else {
                        vec![Ok(object)]
                    }
                }
                Ok(watcher::Event::Delete(object)) => {
                    seen.remove(&key(&object));
                    vec![Ok(object)]
                }
                Ok(watcher::Event::InitDone) => {
                    let relisted = relisted.take().unwrap_or_default();
                    let gone: Vec<_> = seen.keys().filter(|k| !relisted.contains(*k)).cloned().collect();
                    gone.into_iter()
                        .map(|key| {
                            seen.remove(&key);
                            let mut object = K::default();
                            object.meta_mut().namespace = key.0;
                            object.meta_mut().name = Some(key.1);
                            Ok(object)
                        })
                        .collect()
                }
            };
            futures::stream::iter(out)
        })
        .flatten()
}

/// Nodes whose providerID changed, appeared or went away.
pub fn node_changes(client: Client) -> impl Stream<Item = Result<Node, watcher::Error>> + Send + 'static {
    changes(
        watcher(Api::<Node>::all(client), watcher::Config::default()).default_backoff(),
        node_fingerprint,
    )
}

/// Services (of `namespace`, or all) whose type or load balancer changed, appeared or went away.
pub fn service_changes(client: Client, namespace: Option<&str>) -> impl Stream<Item = Result<Service, watcher::Error>> + Send + 'static {
    let api: Api<Service> = match namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    };
    changes(watcher(api, watcher::Config::default()).default_backoff(), service_fingerprint)
}

/// The ElasticIPs whose nodeRef names `node`.
pub fn referencing_node(eips: &Store<ElasticIP>, node: &str) -> Vec<ObjectRef<ElasticIP>> {
    referencing(&eips.state(), |eip| binds(eip, |s| s == BindingSubject::Node(node)))
}

/// The ElasticIPs of the Service's namespace whose serviceRef names it.
pub fn referencing_service(eips: &Store<ElasticIP>, namespace: Option<&str>, service: &str) -> Vec<ObjectRef<ElasticIP>> {
    referencing(&eips.state(), |eip| {
        eip.namespace().as_deref() == namespace && binds(eip, |s| s == BindingSubject::Service(service))
    })
}

fn binds(eip: &ElasticIP, matches: impl Fn(BindingSubject<'_>) -> bool) -> bool {
    eip.spec.binding.as_ref().and_then(|b| b.subject()).is_some_and(matches)
}

fn referencing(eips: &[Arc<ElasticIP>], wanted: impl Fn(&ElasticIP) -> bool) -> Vec<ObjectRef<ElasticIP>> {
    eips.iter()
        .filter(|eip| wanted(eip))
        .map(|eip| ObjectRef::from_obj(eip.as_ref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::NodeSpec;

    fn node(name: &str, provider_id: Option<&str>, label: &str) -> Node {
        Node {
            metadata: kube::api::ObjectMeta {
                name: Some(name.into()),
                labels: Some([("l".to_string(), label.to_string())].into()),
                ..Default::default()
            },
            spec: Some(NodeSpec {
                provider_id: provider_id.map(str::to_string),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn only_changes_an_elasticip_reads_pass() {
        use watcher::Event::*;
        let events = vec![
            Init,
            InitApply(node("a", Some("i-1"), "x")),
            InitApply(node("b", None, "x")),
            InitDone,
            // a label or status change: nothing an ElasticIP reads
            Apply(node("a", Some("i-1"), "y")),
            // the instance behind the node changed
            Apply(node("a", Some("i-2"), "y")),
            Apply(node("b", Some("i-3"), "x")),
            Delete(node("b", Some("i-3"), "x")),
            // a relist in which a is gone and c is new
            Init,
            InitApply(node("c", Some("i-4"), "x")),
            InitDone,
        ];
        let passed: Vec<(String, Option<String>)> = changes(futures::stream::iter(events.into_iter().map(Ok)), node_fingerprint)
            .map(|n| {
                let n = n.expect("no error");
                (n.name_any(), n.spec.and_then(|s| s.provider_id))
            })
            .collect()
            .await;
        let want = [
            ("a", Some("i-1")),
            ("b", None),
            ("a", Some("i-2")),
            ("b", Some("i-3")),
            ("b", Some("i-3")),
            ("c", Some("i-4")),
            ("a", None),
        ];
        let want: Vec<(String, Option<String>)> = want.iter().map(|(n, p)| (n.to_string(), p.map(str::to_string))).collect();
        assert_eq!(passed, want);
    }
}
