//! The admin API: arbitrary bodies and counts; garbage bodies.

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::strategies::*;
use super::*;

fn admin_route() -> impl Strategy<Value = (String, String)> {
    let eip = "eip-{id}";
    prop_oneof![
        Just(("GET".into(), "/healthz".into())),
        Just(("GET".into(), "/admin/config".into())),
        Just(("GET".into(), "/admin/regions".into())),
        Just(("GET".into(), "/admin/regions/{r}/eips".into())),
        Just(("POST".into(), "/admin/regions/{r}/eips".into())),
        Just(("GET".into(), format!("/admin/regions/{{r}}/eips/{eip}"))),
        prop::sample::select(vec!["bind", "unbind", "release", "lock", "unlock", "hide-from-describe", "explode"])
            .prop_map(move |action| ("POST".to_owned(), format!("/admin/regions/{{r}}/eips/{eip}/{action}"))),
        Just(("GET".into(), "/admin/regions/{r}/instances".into())),
        Just(("POST".into(), "/admin/regions/{r}/instances".into())),
        Just(("PUT".into(), "/admin/regions/{r}/instances/{id}/nat-entries".into())),
        Just(("GET".into(), "/admin/calls?since={id}".into())),
        Just(("GET".into(), "/admin/counters".into())),
        Just(("PUT".into(), "/admin/faults".into())),
        Just(("PUT".into(), "/admin/latencies".into())),
        Just(("PUT".into(), "/admin/rate-limits".into())),
    ]
}

/// Admin bodies, counts of any size included: never a 5xx, never a panic, bounded state.
#[test]
fn admin_bodies_never_fail_the_server() {
    let harness = Harness::new();
    let count = prop_oneof![
        4 => (0u64..20).prop_map(|n| json!(n)),
        1 => prop::sample::select(vec![10_001u64, 4_294_967_295, 4_294_967_296, u64::MAX]).prop_map(|n| json!(n)),
        1 => any::<i64>().prop_map(|n| json!(n)),
    ];
    let instances_body = (
        prop::sample::select(vec!["EcsInstance", "Nat", "Port", "Bogus"]),
        prop::option::of(text()),
        count,
        prop::option::of(vec(text(), 0..4)),
    )
        .prop_map(|(kind, prefix, count, ids)| {
            let mut body = json!({ "instanceType": kind, "count": count });
            if let Some(prefix) = prefix {
                body["prefix"] = json!(prefix);
            }
            if let Some(ids) = ids {
                body["ids"] = json!(ids);
            }
            body.to_string().into_bytes()
        });
    let strategy = (
        admin_route(),
        prop_oneof![Just("cn-hangzhou".to_owned()), Just("eu-de".to_owned()), path_segment()],
        path_segment(),
        prop_oneof![3 => body(), 1 => instances_body],
    );
    runner(0xad31_0001)
        .run(&strategy, |((method, route), region, id, body)| {
            let uri = route.replace("{r}", &region).replace("{id}", if id.is_empty() { "x" } else { &id });
            let answer = harness.send(method.as_bytes(), &uri, &[header("content-type", "application/json")], body);
            prop_assert!(answer.status < 500, "{} {method} {uri}: {:?}", answer.status, answer.body);
            if answer.status >= 400 {
                let error: Value = serde_json::from_slice(&answer.body).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert!(error["error"].is_string(), "{error}");
            }
            Ok(())
        })
        .expect("property holds");
    for region in harness.sim.regions() {
        let instances = harness.sim.instances(&region.name).expect("known region");
        assert!(instances.len() <= crate::MAX_INSTANCES_PER_REGION);
        assert!(instances.iter().all(|i| i.instance_id.len() <= MAX_ID_LEN));
    }
    let latencies = harness.sim.latencies();
    assert!(latencies.associate <= crate::MAX_LATENCY && latencies.release <= crate::MAX_LATENCY);
    assert!(harness.sim.config().faults.extra_latency <= crate::MAX_LATENCY);
}

/// Admin routes that read a body answer garbage with a JSON 400.
#[test]
fn admin_garbage_bodies_are_client_errors() {
    let harness = Harness::new();
    let eip = harness
        .sim
        .seed_eip("eu-de", crate::SeedEip::default())
        .expect("seeds")
        .allocation_id;
    let route = prop::sample::select(vec![
        ("POST", "/admin/regions/eu-de/eips".to_owned()),
        ("POST", format!("/admin/regions/eu-de/eips/{eip}/bind")),
        ("POST", format!("/admin/regions/eu-de/eips/{eip}/hide-from-describe")),
        ("POST", "/admin/regions/eu-de/instances".to_owned()),
        ("PUT", "/admin/regions/eu-de/instances/ngw-sim-0001/nat-entries".to_owned()),
        ("PUT", "/admin/faults".to_owned()),
        ("PUT", "/admin/latencies".to_owned()),
        ("PUT", "/admin/rate-limits".to_owned()),
    ]);
    runner(0xad31_0002)
        .run(&(route, garbage()), |((method, uri), body)| {
            let answer = harness.send(method.as_bytes(), &uri, &[], body);
            prop_assert_eq!(answer.status, 400, "{} {}: {:?}", method, uri, answer.body);
            let error: Value = serde_json::from_slice(&answer.body).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(error["error"].is_string(), "{}", error);
            Ok(())
        })
        .expect("property holds");
}
