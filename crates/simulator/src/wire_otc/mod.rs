//! The simulator's Open Telekom Cloud / Huawei Cloud wire protocol: the VPC EIP API (v1, v2
//! batch, v2.0 tags, v3), and the IAM token and project endpoints, on the simulator's listener.
//!
//! | route | what |
//! | --- | --- |
//! | `POST /v3/auth/tokens` | password token for an IAM user (`SimAuth.iam_users`), scoped to a project by ID or name; 201, `X-Subject-Token` |
//! | `DELETE /v3/auth/tokens` | revokes the token in `X-Subject-Token` (Keystone; used by tests) |
//! | `GET /v3/projects?name=` | projects (`SimAuth.projects`) |
//! | `GET, POST /v1/{project_id}/publicips` | list (`marker`, `limit`, `id`…), create |
//! | `GET, PUT, DELETE /v1/{project_id}/publicips/{id}` | show, bind / unbind (`port_id`) or rename (`alias`), delete (204) |
//! | `GET /v1/{project_id}/ports?device_id=` | a server's ports (each server has one), logged as `ResolveTarget` |
//! | `PATCH, DELETE /v2/{project_id}/batchpublicips` | batch unbind, batch release (`{"publicip_ids"}` → `{"job_ids"}`) |
//! | `GET, POST /v2.0/{project_id}/publicips/{id}/tags`, `DELETE …/tags/{key}`, `POST …/tags/action` | tags (show; create one; delete one; `create` / `delete` several) |
//! | `GET /v3/{project_id}/eip/publicips[/{id}]`, `POST …/{id}/associate-instance`, `…/disassociate-instance` | v3 (not in `eu-nl`) |
//!
//! Every EIP route needs a valid `X-Auth-Token` scoped to the URL's project, or an AK/SK
//! `SDK-HMAC-SHA256` signature (`SimAuth.access_keys`; `X-Sdk-Date` within 15 minutes; `host`
//! signed) — else 401 `APIGW.0301`. The project ID selects the region (`SimAuth.projects`).
//! Calls execute through the region's model like [`super::SimulatorProvider`] calls, so the
//! call log, counters, rate limits (429 `APIGW.0308` with `Retry-After`), latencies and faults
//! apply. A list naming IDs is logged as `Describe`, one naming none as `List`; a batch
//! call is one logged call naming all its IDs, validated before anything changes (unknown →
//! 404 `VPC.0504`, busy → 409 `VPC.0512`, bound on release → 409 `VPC.0517`). Tag writes are
//! logged as `Tag` / `Untag` and kept by the model with the EIP (the owner keys read back into the
//! operator's form, so the in-process provider and `GET /admin/...` see the same tags); more than
//! 20 tags is a 400 `VPC.0501`. What the model does not keep (alias, bandwidth name, EIP type)
//! lives in this router's own table.
//!
//! Error bodies: v1 `{"code","message"}`; v2, v3 and the API gateway
//! `{"error_code","error_msg","request_id"}`; IAM `{"error":{"code","message","title"}}`. The
//! request ID is also in `X-Request-Id`.
//!
//! Limits, checked before anything reaches the model: an EIP ID in a path, a `port_id`, an
//! `associate_instance_id`, an `id` filter or a `marker` over 128 bytes is a 400 `VPC.0501` in
//! the route's format; so are more than 1000 `publicip_ids` in a batch or 2000 `id` filters.
//! More than 1000 query parameters is a 400 `APIGW.0201`, a body over 1 MiB a 413 `APIGW.0201`.
//! Metadata of released EIPs is dropped whenever the table has doubled.
//!
//! Here: the routes, the router's state and the request; `auth.rs` authenticates, `answers.rs`
//! renders answers and refusals, and the actions are `reads.rs`, `writes.rs`, `batch.rs`,
//! `tags.rs` and `iam.rs` (records rendered by `render.rs`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use jiff::Timestamp;
use percent_encoding::percent_decode_str;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::codes::Refusal;
use super::limits::{self, MAX_BODY_BYTES, MAX_ID_LEN};
use super::model::{Reply, fnv64, format_uuid};
use super::{Flavor, Simulator, SimulatorProvider, UnknownRegion};
use eip_cloud::{
    AllocateRequest, BindTarget, ChargeType, CloudEip, CloudError, CloudProvider, EipPhase, InstanceType, Operation, UnbindRequest,
};
use eip_otc::records::{tag_from_wire, tag_to_wire};
use eip_otc::signing::{self, SignInput};

/// Regions whose EIP API lacks the v3 routes.
const NO_V3_REGIONS: &[&str] = &["eu-nl"];
const TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
const MAX_TOKENS: usize = 10_000;
const MAX_CLOCK_SKEW_SECS: i64 = 15 * 60;
const MAX_PAGE: usize = 2000;
const MAX_BATCH: usize = 1000;
/// Query parameters per request.
const MAX_QUERY_PAIRS: usize = 1000;
/// Smallest metadata table that is pruned.
const META_PRUNE_MIN: usize = 1024;

mod answers;
mod auth;
mod batch;
mod iam;
mod ports;
mod reads;
mod render;
mod tags;
mod writes;

pub(super) use answers::transport_error;

use answers::*;
use batch::*;
use iam::*;
use ports::*;
use reads::*;
use render::*;
use tags::*;
use writes::*;

pub fn routes(sim: Simulator) -> Router {
    let wire = Wire {
        sim,
        state: Arc::new(Mutex::new(WireState::default())),
    };
    Router::new()
        .route("/v3/auth/tokens", post(issue_token).delete(revoke_token))
        .route("/v3/projects", get(list_projects))
        .route("/v1/{project_id}/publicips", get(v1_list).post(v1_create))
        .route("/v1/{project_id}/publicips/{id}", get(v1_show).put(v1_update).delete(v1_delete))
        .route("/v1/{project_id}/ports", get(list_ports))
        .route("/v2/{project_id}/batchpublicips", patch(batch_unbind).delete(batch_release))
        .route("/v2.0/{project_id}/publicips/{id}/tags", get(show_tags).post(create_tag))
        .route("/v2.0/{project_id}/publicips/{id}/tags/{key}", axum::routing::delete(delete_tag))
        .route("/v2.0/{project_id}/publicips/{id}/tags/action", post(tags_action))
        .route("/v3/{project_id}/eip/publicips", get(v3_list))
        .route("/v3/{project_id}/eip/publicips/{id}", get(v3_show))
        .route("/v3/{project_id}/eip/publicips/{id}/associate-instance", post(v3_associate))
        .route("/v3/{project_id}/eip/publicips/{id}/disassociate-instance", post(v3_disassociate))
        .with_state(wire)
}

#[derive(Clone)]
struct Wire {
    sim: Simulator,
    state: Arc<Mutex<WireState>>,
}

#[derive(Default)]
struct WireState {
    tokens: HashMap<String, IssuedToken>,
    /// What the model does not keep, by (region, EIP ID).
    meta: HashMap<(String, String), EipMeta>,
    /// Size of `meta` at which metadata of released EIPs is dropped.
    meta_prune_at: usize,
    next_request: u64,
}

struct IssuedToken {
    project_id: String,
    expires: Instant,
}

#[derive(Clone, Default)]
struct EipMeta {
    alias: Option<String>,
    bandwidth_name: Option<String>,
    eip_type: Option<String>,
    charge_mode: Option<String>,
    created: Option<Timestamp>,
}

impl Wire {
    fn lock(&self) -> std::sync::MutexGuard<'_, WireState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A fresh request ID for answers that no model call produced.
    fn request_id(&self) -> String {
        let mut state = self.lock();
        state.next_request = state.next_request.wrapping_add(1);
        let n = state.next_request;
        format_uuid(
            (u128::from(fnv64(&n.to_le_bytes())) << 64) | u128::from(n) | (0xa11c_u128 << 48),
            false,
        )
    }

    fn meta(&self, region: &str, id: &str) -> EipMeta {
        self.lock()
            .meta
            .get(&(region.to_owned(), id.to_owned()))
            .cloned()
            .unwrap_or_default()
    }

    fn update_meta(&self, region: &str, id: &str, change: impl FnOnce(&mut EipMeta)) {
        let due = {
            let state = self.lock();
            state.meta.len() >= state.meta_prune_at.max(META_PRUNE_MIN)
        };
        if due {
            // Amortised: the table has doubled since the last prune.
            let live = self.sim.live_eip_keys();
            let mut state = self.lock();
            state.meta.retain(|key, _| live.contains(key));
            state.meta_prune_at = state.meta.len().saturating_mul(2).max(META_PRUNE_MIN);
        }
        change(self.lock().meta.entry((region.to_owned(), id.to_owned())).or_default());
    }

    /// Drops metadata of EIPs the model no longer has.
    fn prune(&self, region: &str) {
        let live: std::collections::HashSet<String> = self.sim.eips(region).into_iter().map(|e| e.allocation_id).collect();
        self.lock().meta.retain(|(r, id), _| r != region || live.contains(id));
    }
}

/// The whole request, for signature checks.
struct Req {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl<S: Send + Sync> FromRequest<S> for Req {
    type Rejection = Response;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let pairs = parts.uri.query().map_or(0, |q| q.split('&').filter(|p| !p.is_empty()).count());
        if pairs > MAX_QUERY_PAIRS {
            return Err(gateway_error(
                StatusCode::BAD_REQUEST,
                "APIGW.0201",
                &format!("At most {MAX_QUERY_PAIRS} query parameters are allowed."),
                "",
            ));
        }
        let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
            .await
            .map_err(|_| gateway_error(StatusCode::PAYLOAD_TOO_LARGE, "APIGW.0201", "Request body too large.", ""))?;
        Ok(Req {
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body,
        })
    }
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn query(&self) -> Vec<(String, String)> {
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        self.uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|part| !part.is_empty())
            .map(|part| match part.split_once('=') {
                Some((k, v)) => (decode(k), decode(v)),
                None => (decode(part), String::new()),
            })
            .collect()
    }

    fn query_values(&self, key: &str) -> Vec<String> {
        self.query().into_iter().filter(|(k, _)| k == key).map(|(_, v)| v).collect()
    }

    fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Invalid> {
        let bytes: &[u8] = if self.body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &self.body
        };
        serde_json::from_slice(bytes).map_err(Invalid::Body)
    }
}
