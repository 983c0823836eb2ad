//! Tags written after allocation, and the owner index that follows them.

use super::*;

#[tokio::test(start_paused = true)]
async fn tags_are_set_overwritten_and_removed_and_the_owner_index_follows() {
    let sim = sim(0);
    for region in [ALI, OTC] {
        let provider = sim.provider(region).expect("region");
        let id = sim
            .seed_eip(
                region,
                SeedEip {
                    tags: BTreeMap::from([("team".to_string(), "a".to_string())]),
                    ..SeedEip::default()
                },
            )
            .expect("seed")
            .allocation_id;
        let claim = |uid: &str| BTreeMap::from([(OWNER_TAG.to_string(), uid.to_string())]);
        provider.tag(&id, &claim("uid-1")).await.expect("tags");
        assert_eq!(provider.find_by_owner("uid-1").await.expect("finds").len(), 1);
        // Not compare-and-swap: the last writer's value is kept.
        provider.tag(&id, &claim("uid-2")).await.expect("tags again");
        assert!(provider.find_by_owner("uid-1").await.expect("finds").is_empty(), "{region}");
        assert_eq!(sim.eip(region, &id).expect("EIP").owner_uid(), Some("uid-2"));
        // Untag removes only the keys named; a key the EIP lacks is no error.
        provider
            .untag(&id, &[OWNER_TAG.to_string(), "absent".to_string()])
            .await
            .expect("untags");
        assert!(provider.find_by_owner("uid-2").await.expect("finds").is_empty());
        assert_eq!(
            sim.eip(region, &id).expect("EIP").tags,
            BTreeMap::from([("team".to_string(), "a".to_string())])
        );

        // Unknown EIPs are gone, in each flavour's words; too many tags are refused whole.
        let gone = provider.tag("eip-none", &claim("uid-1")).await.expect_err("unknown");
        let want = if region == ALI { "InvalidResourceId.NotFound" } else { "VPC.0504" };
        assert_eq!((gone.class(), gone.code.as_str()), (ErrorClass::Gone, want));
        assert_eq!(
            provider
                .untag("eip-none", &[OWNER_TAG.to_string()])
                .await
                .expect_err("unknown")
                .class(),
            ErrorClass::Gone
        );
        let many: BTreeMap<String, String> = (0..TAGS_PER_EIP).map(|n| (format!("k{n}"), "v".to_string())).collect();
        let refused = provider.tag(&id, &many).await.expect_err("21 tags");
        assert_eq!(refused.class(), ErrorClass::Terminal);
        assert_eq!(sim.eip(region, &id).expect("EIP").tags.len(), 1, "nothing applied");
    }
    let logged: Vec<Operation> = sim.calls().iter().map(|c| c.operation).filter(|op| op.is_mutating()).collect();
    assert!(logged.contains(&Operation::Tag) && logged.contains(&Operation::Untag));
}
