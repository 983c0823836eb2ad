"""The simulator's admin API answers as documented (and the harness itself works)."""


def test_seeded_eip_is_listed_and_counted(simulator):
    eip = simulator.admin("POST", "/admin/regions/cn-hangzhou/eips", json={"chargeType": "PostPaid"})
    assert eip["allocationId"].startswith("eip-")
    listed = simulator.admin("GET", "/admin/regions/cn-hangzhou/eips")
    assert [e["allocationId"] for e in listed] == [eip["allocationId"]]
    assert simulator.calls() == [], "admin calls are not provider calls"
