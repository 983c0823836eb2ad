//! Mutations: create (and tag), bind, unbind, release, tag and untag, and the batches that
//! coalesce concurrent unbinds and releases. A 2xx counts only with its documented success body
//! ([`answers::mutating_answer`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use reqwest::Method;
use serde_json::json;
use tokio::sync::oneshot;

use super::answers::{self, Mutation};
use super::batch::{Joined, Waiter, distinct_ids};
use super::records::{owner_marker, tag_to_wire, v3_instance_type};
use super::{Inner, Session, signing};
use eip_cloud::{
    AllocateRequest, Allocated, BindTarget, Blocker, ChargeType, CloudError, InstanceType, OWNER_NAME_TAG, OWNER_TAG, Operation, Receipt,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BatchKind {
    Unbind,
    Release,
}

impl BatchKind {
    fn operation(self) -> Operation {
        match self {
            BatchKind::Unbind => Operation::Unassociate,
            BatchKind::Release => Operation::Release,
        }
    }

    fn mutation(self) -> Mutation {
        match self {
            BatchKind::Unbind => Mutation::BatchUnbind,
            BatchKind::Release => Mutation::BatchRelease,
        }
    }
}

/// A name as the clouds accept it (`A-Za-z0-9-_.`, ≤ 64).
fn clean_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect()
}

fn publicip_path(id: &str) -> String {
    format!("/v1/{{project}}/publicips/{}", signing::encode(id))
}

impl Inner {
    pub(super) async fn allocate(&self, session: &Session, request: &AllocateRequest) -> Result<Allocated, CloudError> {
        let op = Operation::Allocate;
        if request.charge_type == ChargeType::PrePaid {
            return Err(CloudError::terminal(
                op,
                Blocker::InvalidRequest,
                "PrepaidNotSupported",
                "yearly/monthly (prepaid) EIPs are bought through the billing service, not created by this operator; use PostPaid",
            ));
        }
        let owner = request.tags.get(OWNER_TAG);
        let bandwidth_name = match (owner, &request.name) {
            (Some(uid), _) => owner_marker(uid),
            (None, Some(name)) if !clean_name(name).is_empty() => clean_name(name),
            (None, _) => "eip-operator".to_owned(),
        };
        let mut publicip = json!({
            "type": request.isp.clone().unwrap_or_else(|| "5_bgp".to_owned()),
            "ip_version": 4,
        });
        if let Some(alias) = request.name.as_deref().map(clean_name).filter(|a| !a.is_empty()) {
            publicip["alias"] = json!(alias);
        }
        let mut bandwidth = json!({
            "name": bandwidth_name,
            "size": request.bandwidth_mbps.unwrap_or(5),
            "share_type": "PER",
        });
        if let Some(mode) = &request.internet_charge_type {
            let mode = match mode.as_str() {
                "PayByTraffic" | "traffic" => "traffic",
                "PayByBandwidth" | "bandwidth" => "bandwidth",
                other => other,
            };
            bandwidth["charge_mode"] = json!(mode);
        }
        let body = json!({ "publicip": publicip, "bandwidth": bandwidth });
        let (mut eip, receipt) = self
            .exchange(
                session,
                op,
                Method::POST,
                "/v1/{project}/publicips",
                Vec::new(),
                Some(body),
                answers::create_answer,
            )
            .await?;
        if let Some(uid) = owner {
            eip.tags.insert(OWNER_TAG.to_owned(), uid.clone());
        }
        eip.bandwidth_mbps = eip.bandwidth_mbps.or(Some(request.bandwidth_mbps.unwrap_or(5)));
        match self.set_tags(session, &eip.allocation_id, &request.tags).await {
            Ok(()) => eip.tags.extend(request.tags.clone()),
            Err(err) => tracing::warn!(
                provider = self.name,
                allocation_id = %eip.allocation_id,
                code = %err.code,
                "could not tag the new EIP; its owner stays recorded in its bandwidth name"
            ),
        }
        Ok(Allocated { eip, receipt })
    }

    async fn set_tags(&self, session: &Session, id: &str, tags: &BTreeMap<String, String>) -> Result<(), CloudError> {
        let mut wire: Vec<(String, String)> = Vec::new();
        // The owner tags first: the clouds allow 10 (OTC) or 20 tags per EIP.
        let owned = |k: &String| k.as_str() == OWNER_TAG || k.as_str() == OWNER_NAME_TAG;
        let ordered = tags.iter().filter(|(k, _)| owned(k)).chain(tags.iter().filter(|(k, _)| !owned(k)));
        for (key, value) in ordered {
            if let Some((key, value)) = tag_to_wire(key, value)
                && !wire.iter().any(|(k, _)| *k == key)
            {
                wire.push((key, value));
            }
        }
        wire.truncate(10);
        if wire.is_empty() {
            return Ok(());
        }
        let tags: Vec<_> = wire.iter().map(|(key, value)| json!({ "key": key, "value": value })).collect();
        let path = format!("/v2.0/{{project}}/publicips/{}/tags/action", signing::encode(id));
        self.exchange(
            session,
            Operation::Allocate,
            Method::POST,
            &path,
            Vec::new(),
            Some(json!({ "action": "create", "tags": tags })),
            |answer| answers::mutating_answer(Mutation::Tags, answer, id),
        )
        .await
        .map(|_| ())
    }

    /// `POST /v2.0/{project_id}/publicips/{id}/tags/action` with `create`: sets the tags (keys and
    /// values in the clouds' charset, the owner keys in their wire form; 204).
    pub(super) async fn tag(&self, session: &Session, id: &str, tags: &BTreeMap<String, String>) -> Result<Receipt, CloudError> {
        let mut wire: BTreeMap<String, String> = BTreeMap::new();
        for (key, value) in tags {
            if let Some((key, value)) = tag_to_wire(key, value) {
                wire.entry(key).or_insert(value);
            }
        }
        let tags: Vec<_> = wire.iter().map(|(key, value)| json!({ "key": key, "value": value })).collect();
        self.tags_action(session, Mutation::Tag, id, json!({ "action": "create", "tags": tags }))
            .await
    }

    /// `POST /v2.0/{project_id}/publicips/{id}/tags/action` with `delete`, by key only (the value is
    /// optional when deleting; 204).
    pub(super) async fn untag(&self, session: &Session, id: &str, keys: &[String]) -> Result<Receipt, CloudError> {
        let mut wire: Vec<String> = keys.iter().filter_map(|key| tag_to_wire(key, "").map(|(k, _)| k)).collect();
        wire.sort();
        wire.dedup();
        let tags: Vec<_> = wire.iter().map(|key| json!({ "key": key })).collect();
        self.tags_action(session, Mutation::Untag, id, json!({ "action": "delete", "tags": tags }))
            .await
    }

    async fn tags_action(&self, session: &Session, mutation: Mutation, id: &str, body: serde_json::Value) -> Result<Receipt, CloudError> {
        let path = format!("/v2.0/{{project}}/publicips/{}/tags/action", signing::encode(id));
        self.exchange(
            session,
            mutation.operation(),
            Method::POST,
            &path,
            Vec::new(),
            Some(body),
            |answer| answers::mutating_answer(mutation, answer, id),
        )
        .await
    }

    pub(super) async fn associate(&self, session: &Session, allocation_id: &str, target: &BindTarget) -> Result<Receipt, CloudError> {
        let op = Operation::Associate;
        let port;
        let target = if target.instance_type == InstanceType::EcsInstance {
            port = self.server_port(session, target).await?;
            &port
        } else {
            target
        };
        match target.instance_type {
            InstanceType::Port => {
                let body = json!({ "publicip": { "port_id": target.instance_id } });
                self.exchange(
                    session,
                    op,
                    Method::PUT,
                    &publicip_path(allocation_id),
                    Vec::new(),
                    Some(body),
                    |answer| answers::mutating_answer(Mutation::Bind, answer, allocation_id),
                )
                .await
            }
            InstanceType::Nat | InstanceType::SlbInstance | InstanceType::Vpn => {
                let Some(kind) = v3_instance_type(target.instance_type).filter(|_| self.v3()) else {
                    return Err(CloudError::terminal(
                        op,
                        Blocker::InvalidBindingTarget,
                        "V3BindingsUnavailable",
                        format!(
                            "binding an EIP to a {} needs the v3 associate-instance API, which is off for region {} (spec.otc.v3Bindings)",
                            target.instance_type, self.settings.region
                        ),
                    ));
                };
                let path = format!(
                    "/v3/{{project}}/eip/publicips/{}/associate-instance",
                    signing::encode(allocation_id)
                );
                let body = json!({ "publicip": { "associate_instance_type": kind, "associate_instance_id": target.instance_id } });
                self.exchange(session, op, Method::POST, &path, Vec::new(), Some(body), |answer| {
                    answers::mutating_answer(Mutation::Associate, answer, allocation_id)
                })
                .await
            }
            other => Err(CloudError::terminal(
                op,
                Blocker::InvalidBindingTarget,
                "UnsupportedInstanceType",
                format!(
                    "Open Telekom Cloud / Huawei Cloud bind EIPs to ports, not to a {other}: use instanceType Port with the port ID, \
                     or EcsInstance with the server ID (bound through its primary port)"
                ),
            )),
        }
    }

    pub(super) async fn single_unbind(&self, session: &Session, id: &str, current: &BindTarget) -> Result<Receipt, CloudError> {
        let op = Operation::Unassociate;
        let needs_v3 = matches!(
            current.instance_type,
            InstanceType::Nat | InstanceType::SlbInstance | InstanceType::Vpn
        );
        if !needs_v3 {
            let body = json!({ "publicip": { "port_id": "" } });
            return self
                .exchange(session, op, Method::PUT, &publicip_path(id), Vec::new(), Some(body), |answer| {
                    answers::mutating_answer(Mutation::Unbind, answer, id)
                })
                .await;
        }
        if !self.v3() {
            return Err(CloudError::terminal(
                op,
                Blocker::Other,
                "V3BindingsUnavailable",
                format!(
                    "the EIP is bound to {} ({}); only the v3 disassociate-instance API can unbind it, and it is off for region {} \
                     (spec.otc.v3Bindings). Unbind it in the load balancer / NAT gateway / VPN service, or enable v3Bindings where the region offers it",
                    if current.instance_id.is_empty() {
                        "an instance"
                    } else {
                        current.instance_id.as_str()
                    },
                    current.instance_type,
                    self.settings.region
                ),
            ));
        }
        let path = format!("/v3/{{project}}/eip/publicips/{}/disassociate-instance", signing::encode(id));
        self.exchange(session, op, Method::POST, &path, Vec::new(), None, |answer| {
            answers::mutating_answer(Mutation::Disassociate, answer, id)
        })
        .await
    }

    pub(super) async fn single_release(&self, session: &Session, id: &str) -> Result<Receipt, CloudError> {
        self.exchange(
            session,
            Operation::Release,
            Method::DELETE,
            &publicip_path(id),
            Vec::new(),
            None,
            |answer| answers::mutating_answer(Mutation::Release, answer, id),
        )
        .await
    }

    /// Joins (or opens) a batch and waits for this ID's result.
    pub(super) async fn batched(self: &Arc<Self>, kind: BatchKind, id: &str) -> Result<Receipt, CloudError> {
        let coalescer = match kind {
            BatchKind::Unbind => &self.unbinds,
            BatchKind::Release => &self.releases,
        };
        let (tx, rx) = oneshot::channel();
        match coalescer.join(id, tx) {
            Joined::Opened(batch_id) => {
                let inner = self.clone();
                let window = coalescer.window;
                tokio::spawn(async move {
                    tokio::time::sleep(window).await;
                    let coalescer = match kind {
                        BatchKind::Unbind => &inner.unbinds,
                        BatchKind::Release => &inner.releases,
                    };
                    let waiters = coalescer.take(batch_id);
                    inner.send_batch(kind, waiters).await;
                });
            }
            Joined::Added => {}
            Joined::Full(waiters) => {
                let inner = self.clone();
                tokio::spawn(async move { inner.send_batch(kind, waiters).await });
            }
        }
        rx.await.unwrap_or_else(|_| {
            Err(CloudError::retryable(
                kind.operation(),
                "BatchAborted",
                "the batch this call joined was dropped; try again",
            ))
        })
    }

    /// Sends one batch call for `waiters` (with its own session); when it fails (other than
    /// by throttling) or its answer is not the documented one, one single call per ID.
    async fn send_batch(self: Arc<Self>, kind: BatchKind, waiters: Vec<(String, Waiter)>) {
        if waiters.is_empty() {
            return;
        }
        let op = kind.operation();
        let session = match self.session(op).await {
            Ok(session) => session,
            Err(err) => {
                for (_, waiter) in waiters {
                    let _ = waiter.send(Err(err.clone()));
                }
                return;
            }
        };
        let ids = distinct_ids(&waiters);
        let outcome = if ids.len() == 1 {
            None
        } else {
            let method = match kind {
                BatchKind::Unbind => Method::PATCH,
                BatchKind::Release => Method::DELETE,
            };
            let body = json!({ "publicip_ids": ids });
            let first = ids[0].clone();
            Some(
                self.exchange(
                    &session,
                    op,
                    method,
                    "/v2/{project}/batchpublicips",
                    Vec::new(),
                    Some(body),
                    |answer| answers::mutating_answer(kind.mutation(), answer, &first),
                )
                .await,
            )
        };
        match outcome {
            Some(Ok(receipt)) => {
                for (_, waiter) in waiters {
                    let _ = waiter.send(Ok(receipt.clone()));
                }
            }
            Some(Err(err)) if err.is_throttled() => {
                for (_, waiter) in waiters {
                    let _ = waiter.send(Err(err.clone()));
                }
            }
            other => {
                if let Some(Err(err)) = &other {
                    tracing::info!(provider = self.name, %op, code = %err.code, ids = ids.len(), "batch call failed; falling back to single calls");
                }
                let results = futures::future::join_all(ids.iter().map(|id| async {
                    let result = match kind {
                        BatchKind::Unbind => self.unbind_any(&session, id).await,
                        BatchKind::Release => self.single_release(&session, id).await,
                    };
                    (id.clone(), result)
                }))
                .await;
                for (id, waiter) in waiters {
                    let result = results
                        .iter()
                        .find(|(rid, _)| *rid == id)
                        .map(|(_, r)| r.clone())
                        .unwrap_or_else(|| Err(CloudError::retryable(op, "BatchAborted", "no result for this ID")));
                    let _ = waiter.send(result);
                }
            }
        }
    }

    /// A single unbind when only the ID is known (batch fallback): looks the binding up first.
    async fn unbind_any(&self, session: &Session, id: &str) -> Result<Receipt, CloudError> {
        let current = match self.show(session, Operation::Unassociate, id).await? {
            // Proven: the show was answered 404 with the cloud's NotFound code.
            None => {
                return Err(CloudError::gone(
                    Operation::Unassociate,
                    "VPC.0504",
                    format!("EIP {id} does not exist"),
                ));
            }
            Some(eip) => eip.bound_to,
        };
        let current = current.unwrap_or(BindTarget {
            instance_type: InstanceType::Port,
            instance_id: String::new(),
            private_ip_address: None,
        });
        self.single_unbind(session, id, &current).await
    }
}
