//! The ledger table.
use super::*;
use crate::controller::fixtures::{CloudEipFixture, cloud_eip};
use eip_cloud::{CLUSTER_TAG, OWNER_NAME_TAG, OWNER_TAG};

const HERE: &str = "cluster-a";

fn now() -> Timestamp {
    "2026-12-02T12:00:00Z".parse().expect("time")
}

/// EIP `id` with the given owner UID (`ns/name` `web/<uid>`) and cluster tags.
fn eip(id: &str, owner: Option<&str>, cluster: Option<&str>, phase: EipPhase) -> CloudEip {
    let mut eip = cloud_eip(phase, "Available");
    eip.allocation_id = id.into();
    if let Some(uid) = owner {
        eip = eip.tagged(OWNER_TAG, uid).tagged(OWNER_NAME_TAG, &format!("web/{uid}"));
    }
    if let Some(cluster) = cluster {
        eip = eip.tagged(CLUSTER_TAG, cluster);
    }
    eip
}

fn object(uid: &str, allocation_id: Option<&str>) -> ObjectView {
    ObjectView {
        namespace: "web".into(),
        name: uid.into(),
        uid: uid.into(),
        allocation_id: allocation_id.map(str::to_string),
        provider_config: Some("prod".into()),
    }
}

fn account(scope: Option<&'static str>) -> Account<'static> {
    Account {
        provider_config: "prod",
        cluster: HERE,
        scope,
    }
}

fn ids(list: &[LedgerEip]) -> Vec<&str> {
    list.iter().map(|e| e.allocation_id.as_str()).collect()
}

#[test]
fn ledger_table() {
    use EipPhase::*;
    let eips = vec![
        eip("eip-managed", Some("u1"), Some(HERE), Bound),
        eip("eip-orphan", Some("gone"), Some(HERE), Unbound),
        eip("eip-theirs", Some("gone"), Some("cluster-b"), Unbound),
        eip("eip-theirs-known-uid", Some("u1"), Some("cluster-b"), Unbound),
        eip("eip-old", Some("gone-too"), None, Unbound),
        eip("eip-old-managed", Some("u2"), None, Unbound),
        eip("eip-untagged", None, None, Unbound),
        eip("eip-observed", None, None, Bound),
        eip("eip-watched-orphan", Some("gone"), Some(HERE), Unbound),
        eip("eip-releasing", Some("gone"), Some(HERE), Transitional(Transition::Releasing)),
        eip("eip-empty-owner", Some(""), Some(HERE), Unbound),
    ];
    let objects = vec![
        object("u1", Some("eip-managed")),
        object("u2", None),
        object("u3", Some("eip-observed")),
        object("u4", Some("eip-watched-orphan")),
        object("u5", Some("eip-vanished")),
        ObjectView {
            provider_config: Some("staging".into()),
            ..object("u6", Some("eip-of-another-account"))
        },
    ];
    let ledger = classify(&eips, &objects, account(None), now());
    assert_eq!(ids(&ledger.orphans), ["eip-orphan"]);
    assert_eq!(ids(&ledger.unattributed), ["eip-old"]);
    assert_eq!(ids(&ledger.unmanaged), ["eip-untagged", "eip-empty-owner"]);
    // UIDs are unique across clusters: a UID of an object here is this object's, whatever the
    // cluster tag says.
    assert_eq!(ledger.other_clusters, 1);
    assert_eq!(ledger.managed, 5);
    // Only this account's ElasticIPs can miss from its list.
    assert_eq!(
        ledger.missing,
        vec![MissingEip {
            namespace: "web".into(),
            name: "u5".into(),
            allocation_id: "eip-vanished".into()
        }]
    );
}

#[test]
fn a_namespace_scope_judges_only_owners_in_it() {
    let mut elsewhere = eip("eip-elsewhere", Some("gone"), Some(HERE), EipPhase::Unbound);
    elsewhere.tags.insert(OWNER_NAME_TAG.into(), "shop/x".into());
    let eips = vec![elsewhere, eip("eip-here", Some("gone"), Some(HERE), EipPhase::Unbound)];
    let ledger = classify(&eips, &[], account(Some("web")), now());
    assert_eq!(ids(&ledger.orphans), ["eip-here"]);
    let ledger = classify(&eips, &[], account(None), now());
    assert_eq!(ids(&ledger.orphans), ["eip-elsewhere", "eip-here"]);
}

#[test]
fn ages_read_both_time_formats() {
    assert_eq!(age("2026-12-02T11:59:48Z", now()).as_deref(), Some("12s"));
    assert_eq!(age("2026-12-02T11:53:00Z", now()).as_deref(), Some("7m"));
    assert_eq!(age("2026-12-02 06:48:00", now()).as_deref(), Some("5h12m"));
    assert_eq!(age("2026-11-28T08:00:00Z", now()).as_deref(), Some("4d4h"));
    assert_eq!(age("2027-01-01T00:00:00Z", now()), None, "in the future");
    assert_eq!(age("yesterday", now()), None);
}

#[test]
fn ledger_entries_say_where_the_eip_is_bound_and_who_owned_it() {
    let mut orphan = eip("eip-orphan", Some("gone"), Some(HERE), EipPhase::Bound);
    orphan.bound_to = Some(crate::controller::fixtures::ecs("i-1"));
    orphan.created_at = Some("2026-12-01T12:00:00Z".into());
    let ledger = classify(&[orphan], &[], account(None), now());
    let entry = &ledger.orphans[0];
    assert_eq!(entry.bound_to.as_deref(), Some("EcsInstance/i-1"));
    assert_eq!(entry.age.as_deref(), Some("1d0h"));
    assert_eq!(entry.owner(), Some("web/gone"));
}
