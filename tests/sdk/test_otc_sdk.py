"""The simulator's Open Telekom Cloud / Huawei Cloud wire protocol, driven by the official SDK.

`huaweicloudsdkeip` v2 (v1 paths, v2 batch, v2.0 tags) and v3 clients with
`BasicCredentials(ak, sk, project_id)` and `.with_endpoints(["http://<simulator>"])`: the
simulator must accept the SDK's AK/SK signatures and the SDK must parse our answers into its
models; error cases check the code, HTTP status and request ID the SDK reports.
"""

import pytest
import requests
from conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions import exceptions
from huaweicloudsdkeip.v2 import EipClient, model as v2
from huaweicloudsdkeip.v3 import EipClient as EipClientV3, model as v3

REGION = "eu-de"


def _project(simulator, region=REGION):
    projects = simulator.admin("GET", "/admin/config")["auth"]["projects"]
    return next(p["id"] for p in projects if p["region"] == region)


def _build(cls, simulator, sk=ACCESS_KEY_SECRET, region=REGION):
    credentials = BasicCredentials(ACCESS_KEY_ID, sk, _project(simulator, region))
    return cls.new_builder().with_credentials(credentials).with_endpoints(["http://" + simulator.host]).build()


@pytest.fixture
def v2c(simulator):
    return _build(EipClient, simulator)


@pytest.fixture
def v3c(simulator):
    return _build(EipClientV3, simulator)


@pytest.fixture(autouse=True)
def instant(simulator):
    yield
    simulator.admin("PUT", "/admin/latencies", json={})


def _create(client, name="bw-sdk", size=5):
    body = v2.CreatePublicipRequestBody(
        publicip=v2.CreatePublicipOption(type="5_bgp", ip_version=4, alias="sdk"),
        bandwidth=v2.CreatePublicipBandwidthOption(name=name, size=size, share_type="PER", charge_mode="traffic"),
    )
    return client.create_publicip(v2.CreatePublicipRequest(body=body)).publicip


def _show(client, eip_id):
    return client.show_publicip(v2.ShowPublicipRequest(publicip_id=eip_id)).publicip


def _bind(client, eip_id, port):
    option = v2.UpdatePublicipOption(port_id=port)
    return client.update_publicip(
        v2.UpdatePublicipRequest(publicip_id=eip_id, body=v2.UpdatePublicipsRequestBody(publicip=option))
    ).publicip


def _unbind(client, eip_id):
    option = v2.UpdatePublicipOption(port_id="")
    return client.update_publicip(
        v2.UpdatePublicipRequest(publicip_id=eip_id, body=v2.UpdatePublicipsRequestBody(publicip=option))
    ).publicip


def _error(call):
    with pytest.raises(exceptions.ServiceResponseException) as info:
        call()
    return info.value


def test_create_show_list_bind_unbind_delete(simulator, v2c):
    created = _create(v2c, size=7)
    assert created.status == "DOWN"
    assert created.bandwidth_size == 7 and created.type == "5_bgp" and created.alias == "sdk"
    assert created.public_ip_address.count(".") == 3

    shown = _show(v2c, created.id)
    assert (shown.id, shown.status, shown.bandwidth_name, shown.port_id) == (created.id, "DOWN", "bw-sdk", None)
    assert shown.tenant_id == _project(simulator)

    listed = v2c.list_publicips(v2.ListPublicipsRequest(limit=100)).publicips
    assert created.id in [p.id for p in listed]
    only = v2c.list_publicips(v2.ListPublicipsRequest(id=[created.id])).publicips
    assert [p.id for p in only] == [created.id]

    bound = _bind(v2c, created.id, "port-sim-0001")
    assert (bound.status, bound.port_id) == ("ACTIVE", "port-sim-0001")
    assert bound.private_ip_address

    unbound = _unbind(v2c, created.id)
    assert (unbound.status, unbound.port_id) == ("DOWN", None)

    v2c.delete_publicip(v2.DeletePublicipRequest(publicip_id=created.id))
    error = _error(lambda: _show(v2c, created.id))
    assert (error.status_code, error.error_code) == (404, "VPC.0504")
    assert error.request_id

    kinds = [(c["operation"], c["outcome"]) for c in simulator.calls()]
    assert ("Allocate", "Ok") in kinds and ("Release", "Ok") in kinds and ("Associate", "Ok") in kinds


def test_marker_paging(simulator, v2c, v3c):
    ids = {_create(v2c).id for _ in range(5)}
    since = simulator.calls()[-1]["seq"]
    seen, marker = [], None
    for _ in range(20):
        page = v2c.list_publicips(v2.ListPublicipsRequest(limit=2, marker=marker)).publicips
        if not page:
            break
        seen += [p.id for p in page]
        marker = page[-1].id
    assert ids <= set(seen) and len(seen) == len(set(seen))

    seen3, marker = [], None
    for _ in range(20):
        answer = v3c.list_publicips(v3.ListPublicipsRequest(limit=2, marker=marker))
        seen3 += [p.id for p in answer.publicips]
        marker = answer.page_info.next_marker
        if not marker:
            break
    assert sorted(seen3) == sorted(seen)
    # Unfiltered pages (what find_by_owner walks and list_page asks for) are logged as List.
    assert {c["operation"] for c in simulator.calls(since)} == {"List"}
    v2c.batch_delete_public_ip(v2.BatchDeletePublicIpRequest(body=v2.BatchDeletePublicIpRequestBody(publicip_ids=list(ids))))


def test_v3_associate_load_balancer_and_disassociate(simulator, v2c, v3c):
    eip = _create(v2c)
    option = v3.AssociatePublicipsOption(associate_instance_type="ELB", associate_instance_id="lb-sim-0001")
    answer = v3c.associate_publicips(
        v3.AssociatePublicipsRequest(publicip_id=eip.id, body=v3.AssociatePublicipsRequestBody(publicip=option))
    )
    assert answer.request_id
    assert (answer.publicip.status, answer.publicip.associate_instance_type) == ("ELB", "ELB")
    assert answer.publicip.associate_instance_id == "lb-sim-0001"

    # v1 shows the load balancer binding without a port, and a blank port does not undo it.
    shown = _show(v2c, eip.id)
    assert (shown.status, shown.port_id) == ("ELB", None)
    assert _unbind(v2c, eip.id).status == "ELB"
    error = _error(lambda: v2c.delete_publicip(v2.DeletePublicipRequest(publicip_id=eip.id)))
    assert (error.status_code, error.error_code) == (500, "VPC.0516")

    shown3 = v3c.show_publicip(v3.ShowPublicipRequest(publicip_id=eip.id)).publicip
    assert (shown3.associate_instance_type, shown3.vnic) == ("ELB", None)
    assert shown3.bandwidth.name == "bw-sdk"

    answer = v3c.disassociate_publicips(v3.DisassociatePublicipsRequest(publicip_id=eip.id))
    assert (answer.publicip.status, answer.publicip.associate_instance_type) == ("DOWN", None)
    v2c.delete_publicip(v2.DeletePublicipRequest(publicip_id=eip.id))


def test_v3_port_binding_and_list_by_id(simulator, v2c, v3c):
    eip = _create(v2c)
    option = v3.AssociatePublicipsOption(associate_instance_type="PORT", associate_instance_id="port-sim-0002")
    v3c.associate_publicips(
        v3.AssociatePublicipsRequest(publicip_id=eip.id, body=v3.AssociatePublicipsRequestBody(publicip=option))
    )
    listed = v3c.list_publicips(v3.ListPublicipsRequest(id=[eip.id])).publicips
    assert [p.id for p in listed] == [eip.id]
    assert (listed[0].vnic.port_id, listed[0].associate_instance_type) == ("port-sim-0002", "PORT")
    assert _show(v2c, eip.id).port_id == "port-sim-0002"
    v3c.disassociate_publicips(v3.DisassociatePublicipsRequest(publicip_id=eip.id))
    v2c.delete_publicip(v2.DeletePublicipRequest(publicip_id=eip.id))


def test_batch_unbind_and_batch_delete(simulator, v2c):
    eips = [_create(v2c).id for _ in range(3)]
    for n, eip in enumerate(eips, start=3):
        _bind(v2c, eip, f"port-sim-000{n}")
    since = max((c["seq"] for c in simulator.calls()), default=0)
    answer = v2c.batch_disassociate_publicips(
        v2.BatchDisassociatePublicipsRequest(body=v2.BatchDeletePublicIpRequestBody(publicip_ids=eips))
    )
    assert len(answer.job_ids) == 3
    assert all(_show(v2c, e).status == "DOWN" for e in eips)
    answer = v2c.batch_delete_public_ip(
        v2.BatchDeletePublicIpRequest(body=v2.BatchDeletePublicIpRequestBody(publicip_ids=eips))
    )
    assert len(answer.job_ids) == 3
    batch_calls = [c for c in simulator.calls(since) if c["operation"] in ("Unassociate", "Release")]
    assert [(c["operation"], sorted(c["allocationIds"])) for c in batch_calls] == [
        ("Unassociate", sorted(eips)),
        ("Release", sorted(eips)),
    ]
    for eip in eips:
        assert _error(lambda e=eip: _show(v2c, e)).error_code == "VPC.0504"


def test_refused_batch_changes_nothing(simulator, v2c):
    free = _create(v2c).id
    bound = _create(v2c).id
    _bind(v2c, bound, "port-sim-0009")
    error = _error(
        lambda: v2c.batch_delete_public_ip(
            v2.BatchDeletePublicIpRequest(body=v2.BatchDeletePublicIpRequestBody(publicip_ids=[free, bound]))
        )
    )
    assert (error.status_code, error.error_code) == (409, "VPC.0517")
    assert _show(v2c, free).status == "DOWN"
    _unbind(v2c, bound)
    v2c.batch_delete_public_ip(v2.BatchDeletePublicIpRequest(body=v2.BatchDeletePublicIpRequestBody(publicip_ids=[free, bound])))


def test_busy_while_pending(simulator, v2c):
    eip = _create(v2c).id
    simulator.admin("PUT", "/admin/latencies", json={"associateMs": 3000})
    pending = _bind(v2c, eip, "port-sim-0010")
    assert pending.status == "PENDING_UPDATE"
    error = _error(lambda: v2c.delete_publicip(v2.DeletePublicipRequest(publicip_id=eip)))
    assert (error.status_code, error.error_code) == (409, "VPC.0512")
    assert error.request_id
    error = _error(lambda: _unbind(v2c, eip))
    assert error.error_code == "VPC.0512"
    simulator.admin("POST", f"/admin/regions/{REGION}/eips/{eip}/unbind")
    v2c.delete_publicip(v2.DeletePublicipRequest(publicip_id=eip))


def test_bound_on_delete_and_not_found(simulator, v2c, v3c):
    eip = _create(v2c).id
    _bind(v2c, eip, "port-sim-0011")
    error = _error(lambda: v2c.delete_publicip(v2.DeletePublicipRequest(publicip_id=eip)))
    assert (error.status_code, error.error_code) == (409, "VPC.0517")
    assert "unbind" in error.error_msg
    _unbind(v2c, eip)
    v2c.delete_publicip(v2.DeletePublicipRequest(publicip_id=eip))

    missing = "00000000-0000-4000-8000-000000000000"
    for call in (
        lambda: v2c.delete_publicip(v2.DeletePublicipRequest(publicip_id=missing)),
        lambda: _bind(v2c, missing, "port-sim-0012"),
        lambda: v3c.show_publicip(v3.ShowPublicipRequest(publicip_id=missing)),
    ):
        error = _error(call)
        assert (error.status_code, error.error_code) == (404, "VPC.0504")

    error = _error(lambda: _bind(v2c, _create(v2c).id, "port-does-not-exist"))
    assert (error.status_code, error.error_code) == (404, "VPC.0514")


def test_invalid_parameters(v2c):
    error = _error(lambda: _create(v2c, size=5000))
    assert (error.status_code, error.error_code) == (400, "VPC.0501")
    error = _error(lambda: _create(v2c, name="bad name!"))
    assert (error.status_code, error.error_code) == (400, "VPC.0501")


def test_tags(v2c):
    eip = _create(v2c).id
    body = v2.BatchCreatePublicipTagsRequestBody(
        action="create",
        tags=[v2.ResourceTagOption(key="eip-operator_owner-uid", value="uid-1"), v2.ResourceTagOption(key="team", value="a")],
    )
    v2c.batch_create_publicip_tags(v2.BatchCreatePublicipTagsRequest(publicip_id=eip, body=body))
    tags = v2c.show_publicip_tags(v2.ShowPublicipTagsRequest(publicip_id=eip)).tags
    assert sorted((t.key, t.value) for t in tags) == [("eip-operator_owner-uid", "uid-1"), ("team", "a")]
    assert sorted(_show(v2c, eip).tags) == ["eip-operator_owner-uid=uid-1", "team=a"]
    bad = v2.BatchCreatePublicipTagsRequestBody(action="create", tags=[v2.ResourceTagOption(key="a/b", value="c")])
    error = _error(lambda: v2c.batch_create_publicip_tags(v2.BatchCreatePublicipTagsRequest(publicip_id=eip, body=bad)))
    assert (error.status_code, error.error_code) == (400, "VPC.0501")
    v2c.delete_publicip(v2.DeletePublicipRequest(publicip_id=eip))


def test_claim_tags_and_untags_an_adopted_eip(simulator, v2c):
    """How adoption claims an address on OTC / Huawei Cloud: `tags/action` create and delete (keys
    only) with the owner tags in their wire form, and the single-tag routes."""
    seeded = simulator.admin("POST", "/admin/regions/eu-de/eips", json={"tags": {"team": "a"}})
    eip = seeded["allocationId"]
    since = max((c["seq"] for c in simulator.calls()), default=0)
    claim = v2.BatchCreatePublicipTagsRequestBody(
        action="create",
        tags=[
            v2.ResourceTagOption(key="eip-operator_owner-uid", value="uid-1"),
            v2.ResourceTagOption(key="eip-operator_owner", value="team-a_web"),
        ],
    )
    v2c.batch_create_publicip_tags(v2.BatchCreatePublicipTagsRequest(publicip_id=eip, body=claim))
    assert sorted(_show(v2c, eip).tags) == ["eip-operator_owner-uid=uid-1", "eip-operator_owner=team-a_web", "team=a"]
    # The model keeps the operator's keys.
    assert simulator.admin("GET", f"/admin/regions/eu-de/eips/{eip}")["tags"] == {
        "eip-operator.dev/owner-uid": "uid-1",
        "eip-operator.dev/owner": "team-a/web",
        "team": "a",
    }
    # A second claim overwrites the first (the last writer wins).
    second = v2.BatchCreatePublicipTagsRequestBody(action="create", tags=[v2.ResourceTagOption(key="eip-operator_owner-uid", value="uid-2")])
    v2c.batch_create_publicip_tags(v2.BatchCreatePublicipTagsRequest(publicip_id=eip, body=second))
    assert "eip-operator_owner-uid=uid-2" in _show(v2c, eip).tags

    unclaim = v2.BatchDeletePublicipTagsRequestBody(
        action="delete",
        tags=[v2.ResourceTagOption(key="eip-operator_owner-uid"), v2.ResourceTagOption(key="eip-operator_owner")],
    )
    v2c.batch_delete_publicip_tags(v2.BatchDeletePublicipTagsRequest(publicip_id=eip, body=unclaim))
    assert _show(v2c, eip).tags == ["team=a"]

    v2c.create_publicip_tag(v2.CreatePublicipTagRequest(publicip_id=eip, body=v2.CreatePublicipTagRequestBody(tag=v2.ResourceTagOption(key="stage", value="b"))))
    v2c.delete_publicip_tag(v2.DeletePublicipTagRequest(publicip_id=eip, key="team"))
    tags = v2c.show_publicip_tags(v2.ShowPublicipTagsRequest(publicip_id=eip)).tags
    assert [(t.key, t.value) for t in tags] == [("stage", "b")]

    unknown = "6e1c1f4c-0000-4000-8000-000000000000"
    error = _error(lambda: v2c.batch_delete_publicip_tags(v2.BatchDeletePublicipTagsRequest(publicip_id=unknown, body=unclaim)))
    assert (error.status_code, error.error_code) == (404, "VPC.0504")
    assert error.request_id
    error = _error(lambda: v2c.delete_publicip_tag(v2.DeletePublicipTagRequest(publicip_id=unknown, key="team")))
    assert (error.status_code, error.error_code) == (404, "VPC.0504")

    calls = [c for c in simulator.calls(since) if c["operation"] in ("Tag", "Untag")]
    assert [(c["operation"], c["outcome"]) for c in calls] == [
        ("Tag", "Ok"),
        ("Tag", "Ok"),
        ("Untag", "Ok"),
        ("Tag", "Ok"),
        ("Untag", "Ok"),
        ("Untag", "Error"),
        ("Untag", "Error"),
    ]
    simulator.admin("POST", f"/admin/regions/eu-de/eips/{eip}/release")


def test_bad_signature_and_unknown_project(simulator):
    client = _build(EipClient, simulator, sk="not-the-secret")
    error = _error(lambda: client.list_publicips(v2.ListPublicipsRequest()))
    assert (error.status_code, error.error_code) == (401, "APIGW.0301")

    unknown = BasicCredentials(ACCESS_KEY_ID, ACCESS_KEY_SECRET, "ffffffffffffffffffffffffffffffff")
    client = EipClient.new_builder().with_credentials(unknown).with_endpoints(["http://" + simulator.host]).build()
    error = _error(lambda: client.list_publicips(v2.ListPublicipsRequest()))
    assert (error.status_code, error.error_code) == (404, "APIGW.0101")


def test_eu_nl_has_no_v3(simulator):
    client = _build(EipClientV3, simulator, region="eu-nl")
    error = _error(lambda: client.list_publicips(v3.ListPublicipsRequest()))
    assert (error.status_code, error.error_code) == (404, "APIGW.0101")
    # v1 works there.
    assert _build(EipClient, simulator, region="eu-nl").list_publicips(v2.ListPublicipsRequest()).publicips == []


def _token(simulator, scope):
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": "sim-user", "password": "sim-password", "domain": {"name": "sim-domain"}}},
            },
            "scope": {"project": scope},
        }
    }
    return requests.post(f"{simulator.base_url}/v3/auth/tokens", json=body, timeout=10)


def test_throttling_says_when_to_retry(simulator, v2c):
    token = _token(simulator, {"name": REGION}).headers["X-Subject-Token"]
    url = f"{simulator.base_url}/v1/{_project(simulator)}/publicips?id=x"
    simulator.admin("PUT", "/admin/rate-limits", json={"describePerSecond": 1})
    try:
        # The SDK retries 429s itself (urllib3), then reports the bare status.
        statuses = []
        for _ in range(3):
            try:
                v2c.list_publicips(v2.ListPublicipsRequest(id=["x"]))
                statuses.append(200)
            except exceptions.ClientRequestException as error:
                statuses.append(error.status_code)
        assert 429 in statuses
        # On the wire: the gateway's code and a Retry-After.
        for _ in range(3):
            answer = requests.get(url, headers={"X-Auth-Token": token}, timeout=10)
            if answer.status_code == 429:
                break
        assert answer.status_code == 429
        assert answer.json()["error_code"] == "APIGW.0308"
        assert int(answer.headers["Retry-After"]) >= 1
        assert answer.headers["X-Request-Id"]
    finally:
        simulator.admin("PUT", "/admin/rate-limits", json={})


def test_iam_password_token(simulator):
    answer = _token(simulator, {"name": REGION})
    assert answer.status_code == 201
    token = answer.headers["X-Subject-Token"]
    project = answer.json()["token"]["project"]["id"]
    assert project == _project(simulator)
    listed = requests.get(f"{simulator.base_url}/v1/{project}/publicips", headers={"X-Auth-Token": token}, timeout=10)
    assert listed.status_code == 200 and "publicips" in listed.json()
    other = _project(simulator, "eu-nl")
    refused = requests.get(f"{simulator.base_url}/v1/{other}/publicips", headers={"X-Auth-Token": token}, timeout=10)
    assert (refused.status_code, refused.json()["error_code"]) == (401, "APIGW.0301")

    by_id = _token(simulator, {"id": other})
    assert by_id.status_code == 201 and by_id.json()["token"]["project"]["name"] == "eu-nl"
    assert _token(simulator, {"name": "mars-1"}).status_code == 400

    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "sim-user", "password": "wrong", "domain": {"name": "sim-domain"}}}}, "scope": {"project": {"name": REGION}}}}
    answer = requests.post(f"{simulator.base_url}/v3/auth/tokens", json=body, timeout=10)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == 401
    assert "X-Subject-Token" not in answer.headers

    # Revoked tokens are refused (Keystone's DELETE /v3/auth/tokens).
    revoke = requests.delete(f"{simulator.base_url}/v3/auth/tokens", headers={"X-Auth-Token": token, "X-Subject-Token": token}, timeout=10)
    assert revoke.status_code == 204
    gone = requests.get(f"{simulator.base_url}/v1/{project}/publicips", headers={"X-Auth-Token": token}, timeout=10)
    assert gone.status_code == 401


def test_iam_project_lookup_with_aksk(simulator):
    """`GET /v3/projects?name=` signed by the SDK's signer (as the SDK itself resolves projects)."""
    from huaweicloudsdkcore.sdk_request import SdkRequest
    from huaweicloudsdkcore.signer.signer import Signer

    request = SdkRequest(method="GET", schema="http", host=simulator.host, resource_path="/v3/projects",
                         query_params=[("name", "eu-nl")], header_params={"Content-Type": "application/json"})
    Signer(BasicCredentials(ACCESS_KEY_ID, ACCESS_KEY_SECRET)).sign(request)
    answer = requests.get(f"{simulator.base_url}{request.uri}", headers=request.header_params, timeout=10)
    assert answer.status_code == 200
    assert [p["id"] for p in answer.json()["projects"]] == [_project(simulator, "eu-nl")]
