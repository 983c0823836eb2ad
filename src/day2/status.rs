//! `kubectl eip status` (and `eip-operator status`): every ElasticIP in one compact table, with
//! what blocks it and the way out — the first thing to type when paged.

use eip_api::{ElasticIP, PAUSED_ANNOTATION};
use kube::ResourceExt;

use super::render::{or_dash, table};
use crate::controller::status::{READY, RECONCILING, STALLED};

/// What holds the object up and what to do about it, if anything does.
pub fn blocker(eip: &ElasticIP) -> Option<(String, String)> {
    let condition = |type_: &str| eip.condition(type_).filter(|c| c.status == "True");
    if let Some(stalled) = condition(STALLED) {
        return Some((stalled.reason.clone(), stalled.message.clone()));
    }
    if eip.annotations().get(PAUSED_ANNOTATION).is_some_and(|v| v == "true") {
        return Some((
            "Paused".into(),
            format!(
                "kubectl annotate eip {} -n {} {PAUSED_ANNOTATION}- (resumes reconciling)",
                eip.name_any(),
                eip.namespace().unwrap_or_default()
            ),
        ));
    }
    if let Some(drift) = eip.status.as_ref().and_then(|s| s.drift.as_ref()) {
        return Some((
            "Drift".into(),
            format!("{drift} (managementPolicy Observe: fix it in the cloud, or set managementPolicy: Manage)"),
        ));
    }
    if let Some(busy) = condition(RECONCILING) {
        return Some((busy.reason.clone(), busy.message.clone()));
    }
    None
}

/// The status table of `eips`.
pub fn render(eips: &[ElasticIP]) -> String {
    let mut rows = vec![
        ["NAMESPACE", "NAME", "IP", "STATE", "READY", "MODE", "BLOCKER", "WAY OUT"]
            .map(String::from)
            .to_vec(),
    ];
    for eip in eips {
        let status = eip.status.as_ref();
        let (reason, way_out) = blocker(eip).unwrap_or_default();
        rows.push(vec![
            eip.namespace().unwrap_or_default(),
            eip.name_any(),
            or_dash(status.and_then(|s| s.ip_address.as_deref())),
            or_dash(status.and_then(|s| s.cloud_state.as_deref())),
            eip.condition(READY).map_or("-".into(), |c| c.status.clone()),
            if eip.spec.observe_only() { "Observe" } else { "Manage" }.to_string(),
            or_dash(Some(&reason)),
            or_dash(Some(&way_out)),
        ]);
    }
    table(&rows)
}
