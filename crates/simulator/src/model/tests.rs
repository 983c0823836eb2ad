use std::collections::HashSet;
use std::time::Duration;

use super::*;
use crate::codes::Refusal;
use crate::limits::{MAX_CLIENT_TOKEN_LEN, MAX_ID_LEN, MAX_INSTANCES_PER_REGION, MAX_SEED_TAGS, MAX_TAG_KEY_LEN};
use eip_cloud::OWNER_TAG;

fn ctx(now: Instant, latency: Duration) -> Ctx {
    Ctx {
        now,
        latencies: Latencies::uniform(latency),
        quota: 10,
        auto_create_instances: false,
        request_id: "req-1".into(),
    }
}

/// A context at the current instant in which every operation completes at once.
fn instant_ctx() -> Ctx {
    ctx(Instant::now(), Duration::ZERO)
}

/// cn-hangzhou (Alibaba), seeded with `seed`.
fn hangzhou(seed: u64) -> Region {
    Region::new("cn-hangzhou", Flavor::Alibaba, 0, seed)
}

fn ecs(id: &str) -> BindTarget {
    BindTarget {
        instance_type: InstanceType::EcsInstance,
        instance_id: id.into(),
        private_ip_address: None,
    }
}

fn allocate(region: &mut Region, ctx: &Ctx) -> CloudEip {
    region
        .allocate(ctx, &AllocateRequest::default())
        .map(|reply| reply.value.eip)
        .expect("allocates")
}

#[test]
fn raw_states_by_flavor() {
    use EipPhase::*;
    assert_eq!(raw_state(Flavor::Alibaba, None, None, false), ("Available", Unbound));
    assert_eq!(raw_state(Flavor::Alibaba, None, Some(InstanceType::Nat), true), ("InUse", Locked));
    assert_eq!(
        raw_state(Flavor::Otc, Some(Transition::Associating), None, false),
        ("PENDING_UPDATE", Transitional(Transition::Associating))
    );
    assert_eq!(raw_state(Flavor::Otc, None, Some(InstanceType::SlbInstance), false), ("ELB", Bound));
    assert_eq!(raw_state(Flavor::Otc, None, Some(InstanceType::Vpn), false), ("VPN", Bound));
    assert_eq!(raw_state(Flavor::Otc, None, None, true), ("FREEZED", Locked));
}

#[test]
fn ids_and_addresses_have_the_flavor_shape_and_are_deterministic() {
    let c = instant_ctx();
    let mut ali = hangzhou(42);
    let eip = allocate(&mut ali, &c);
    assert!(
        eip.allocation_id.starts_with("eip-") && eip.allocation_id.len() == 24,
        "{}",
        eip.allocation_id
    );
    assert!(
        eip.allocation_id[4..]
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit())
    );
    assert!(eip.ip_address.starts_with("47.96."), "{}", eip.ip_address);

    let mut otc = Region::new("eu-de", Flavor::Otc, 0, 42);
    let first = allocate(&mut otc, &c);
    assert_eq!(first.allocation_id.len(), 36);
    assert_eq!(first.allocation_id.matches('-').count(), 4);
    assert!(first.ip_address.starts_with("80.158."), "{}", first.ip_address);

    let mut again = Region::new("eu-de", Flavor::Otc, 0, 42);
    assert_eq!(allocate(&mut again, &c).allocation_id, first.allocation_id);
    let mut other_seed = Region::new("eu-de", Flavor::Otc, 0, 43);
    assert_ne!(allocate(&mut other_seed, &c).allocation_id, first.allocation_id);
}

#[test]
fn addresses_are_unique() {
    let mut c = instant_ctx();
    c.quota = 70_000;
    let mut region = hangzhou(1);
    let mut seen = HashSet::new();
    for _ in 0..66_000 {
        assert!(seen.insert(allocate(&mut region, &c).ip_address));
    }
}

#[test]
fn transitions_complete_lazily_at_their_instant() {
    let start = Instant::now();
    let mut region = Region::new("eu-de", Flavor::Otc, 0, 7);
    let eip = allocate(&mut region, &ctx(start, Duration::from_secs(1)));
    assert_eq!(eip.raw_state, "PENDING_CREATE");
    let later = start + Duration::from_millis(999);
    assert_eq!(
        region.eip(later, &eip.allocation_id).map(|e| e.raw_state),
        Some("PENDING_CREATE".into())
    );
    let done = start + Duration::from_secs(1);
    assert_eq!(region.eip(done, &eip.allocation_id).map(|e| e.raw_state), Some("DOWN".into()));
}

#[test]
fn out_of_band_unbind_cancels_a_pending_associate() {
    let start = Instant::now();
    let mut region = hangzhou(7);
    let c = ctx(start, Duration::from_secs(5));
    let eip = allocate(&mut region, &c);
    region
        .associate(&c, &eip.allocation_id, &ecs("i-sim-0001"), "t")
        .map(|_| ())
        .expect("associates");
    let unbound = region.oob_unbind(start, &eip.allocation_id).expect("unbinds");
    assert_eq!((unbound.raw_state.as_str(), unbound.bound_to), ("Available", None));
    // The stale completion must not resurrect the binding.
    assert_eq!(
        region.eip(start + Duration::from_secs(10), &eip.allocation_id).map(|e| e.phase),
        Some(EipPhase::Unbound)
    );
    // The instance is free again.
    let other = allocate(&mut region, &c);
    assert!(region.associate(&c, &other.allocation_id, &ecs("i-sim-0001"), "").is_ok());
}

#[test]
fn release_removes_owner_index_and_tokens() {
    let c = instant_ctx();
    let mut region = hangzhou(7);
    let request = AllocateRequest {
        client_token: "tok".into(),
        tags: BTreeMap::from([(OWNER_TAG.to_owned(), "uid-1".to_owned())]),
        ..AllocateRequest::default()
    };
    let eip = region.allocate(&c, &request).map(|r| r.value.eip).expect("allocates");
    assert_eq!(region.find_by_owner(&c, "uid-1").value.len(), 1);
    region.release(&c, &eip.allocation_id, "rel").map(|_| ()).expect("releases");
    assert!(region.find_by_owner(&c, "uid-1").value.is_empty());
    assert!(region.allocate_tokens.is_empty() && region.op_tokens.is_empty() && region.owners.is_empty());
    // The token is free again: a new allocation, not the released one.
    let fresh = region.allocate(&c, &request).map(|r| r.value.eip).expect("allocates");
    assert_ne!(fresh.allocation_id, eip.allocation_id);
}

#[test]
fn private_ip_is_filled_for_ecs_and_satisfies_the_request() {
    let wanted = ecs("i-sim-0001");
    let bound = with_private_ip(&wanted);
    assert!(bound.private_ip_address.is_some());
    assert!(bound.satisfies(&wanted));
    let nat = BindTarget {
        instance_type: InstanceType::Nat,
        ..wanted
    };
    assert_eq!(with_private_ip(&nat).private_ip_address, None);
}

#[test]
fn uuid_format() {
    let uuid = format_uuid(u128::MAX, true);
    assert_eq!(uuid, "FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF");
    assert_eq!(format_uuid(0, false), "00000000-0000-4000-8000-000000000000");
}

#[test]
fn fresh_tokens_on_every_bind_and_unbind_do_not_accumulate() {
    let c = instant_ctx();
    let mut region = hangzhou(7);
    let eip = allocate(&mut region, &c);
    let id = eip.allocation_id;
    for n in 0..500 {
        region
            .associate(&c, &id, &ecs("i-sim-0001"), &format!("bind-{n}"))
            .map(|_| ())
            .expect("associates");
        region
            .unassociate(&c, &id, &ecs("i-sim-0001"), false, &format!("unbind-{n}"))
            .map(|_| ())
            .expect("unassociates");
    }
    // Only the tokens of the current epoch can replay; older ones are gone.
    assert!(region.op_tokens.len() <= 2, "{}", region.op_tokens.len());
    assert!(region.eips[&id].tokens.len() <= 2, "{:?}", region.eips[&id].tokens);
    // The latest token still replays.
    let replay = region.unassociate(&c, &id, &ecs("i-sim-0001"), false, "unbind-499");
    assert!(replay.is_ok());
}

#[test]
fn auto_created_instances_are_capped() {
    let mut c = instant_ctx();
    c.auto_create_instances = true;
    let mut region = hangzhou(7);
    let filler: Vec<String> = (0..MAX_INSTANCES_PER_REGION - region.instances.len())
        .map(|n| format!("i-fill-{n}"))
        .collect();
    region.add_instances(InstanceType::EcsInstance, &filler, 0).expect("room");
    assert_eq!(region.instances.len(), MAX_INSTANCES_PER_REGION);
    assert!(
        region
            .add_instances(InstanceType::EcsInstance, &["i-one-more".to_owned()], 0)
            .is_err()
    );
    // Existing instances can be updated.
    region
        .add_instances(InstanceType::EcsInstance, &filler[..1], 3)
        .expect("no new instance");
    let eip = allocate(&mut region, &c);
    let refused = region.associate(&c, &eip.allocation_id, &ecs("i-brand-new"), "");
    assert!(matches!(refused, Err(Refusal::UnknownInstance { .. })), "{:?}", refused.err());
    assert_eq!(region.instances.len(), MAX_INSTANCES_PER_REGION);
}

#[test]
fn oversized_tokens_tags_and_targets_are_refused_and_not_kept() {
    let now = Instant::now();
    let c = ctx(now, Duration::ZERO);
    let mut region = Region::new("eu-de", Flavor::Otc, 0, 7);
    let long_token = AllocateRequest {
        client_token: "t".repeat(MAX_CLIENT_TOKEN_LEN + 1),
        ..AllocateRequest::default()
    };
    assert!(matches!(region.allocate(&c, &long_token), Err(Refusal::InvalidParameter(_))));
    let many_tags = AllocateRequest {
        tags: (0..=MAX_SEED_TAGS).map(|n| (format!("k{n}"), String::new())).collect(),
        ..AllocateRequest::default()
    };
    assert!(matches!(region.allocate(&c, &many_tags), Err(Refusal::InvalidParameter(_))));
    let eip = allocate(&mut region, &c);
    let long_target = ecs(&"i".repeat(MAX_ID_LEN + 1));
    assert!(matches!(
        region.associate(&c, &eip.allocation_id, &long_target, ""),
        Err(Refusal::InvalidParameter(_))
    ));
    assert!(region.allocate_tokens.is_empty() && region.op_tokens.is_empty());
    assert_eq!(region.eips.len(), 1);
    // Seeding is bounded the same way.
    let seed = SeedEip {
        tags: BTreeMap::from([("k".repeat(MAX_TAG_KEY_LEN + 1), "v".to_owned())]),
        ..SeedEip::default()
    };
    assert!(matches!(region.seed_eip(now, seed), Err(AdminError::Invalid(_))));
}

#[test]
fn hidden_eips_use_up_one_describe_answer_each() {
    let now = Instant::now();
    let c = ctx(now, Duration::ZERO);
    let mut region = hangzhou(7);
    let a = allocate(&mut region, &c).allocation_id;
    let b = allocate(&mut region, &c).allocation_id;
    assert_eq!(region.hide_from_describe(now, &a, 2), Ok(2));
    assert!(region.hide_from_describe(now, "eip-nope", 1).is_err());
    let both = vec![a.clone(), b.clone()];
    let ids = |reply: Reply<Vec<CloudEip>>| reply.value.into_iter().map(|e| e.allocation_id).collect::<Vec<_>>();
    assert_eq!(ids(region.describe_answer(&c, &both)), vec![b.clone()]);
    // An answer that does not name it uses up nothing.
    assert_eq!(ids(region.describe_answer(&c, std::slice::from_ref(&b))), vec![b.clone()]);
    assert_eq!(ids(region.describe_answer(&c, &both)), vec![b.clone()]);
    assert_eq!(ids(region.describe_answer(&c, &both)), vec![a.clone(), b.clone()]);
    // Plain describe (batch validation) and listings always see it.
    region.hide_from_describe(now, &a, 1).expect("known");
    assert_eq!(region.describe(&c, &both).value.len(), 2);
    assert_eq!(region.all(now).len(), 2);
}
