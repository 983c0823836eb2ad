"""The simulator's Alibaba Cloud wire protocol, driven by the official SDKs.

Three clients, each pointed at `eip-operator simulator`:

* `tea-v3`: `alibabacloud-vpc20160428` (Tea / Darabonba), ACS3-HMAC-SHA256 (its default);
* `tea-v1`: the same client with `signature_algorithm='v2'`, i.e. HMAC-SHA1 RPC signatures;
* `legacy`: `aliyun-python-sdk-core` + `aliyun-python-sdk-vpc` (HMAC-SHA1).

The SDKs must accept our answers (parse them into their models) and the simulator must accept
their signatures; every error case checks the code, the HTTP status and the SDK's exception.
"""

import json
import time
import uuid

import pytest
from conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET

REGION = "cn-hangzhou"
OWNER_TAG = "eip-operator.dev/owner-uid"
OWNER_NAME_TAG = "eip-operator.dev/owner"
FLAVOURS = ["tea-v3", "tea-v1", "legacy"]


class CloudError(Exception):
    """An error answer, whichever SDK raised it."""

    def __init__(self, code, status, message, request_id, retry_after=None, original=None):
        super().__init__(f"{code} ({status}): {message}")
        self.code = code
        self.status = status
        self.message = message
        self.request_id = request_id
        self.retry_after = retry_after
        self.original = original


class TeaClient:
    """`alibabacloud-vpc20160428`; answers are the SDK's models, returned as their maps."""

    def __init__(self, simulator, algorithm, secret=ACCESS_KEY_SECRET, key_id=ACCESS_KEY_ID):
        from alibabacloud_tea_openapi.models import Config
        from alibabacloud_vpc20160428.client import Client

        config = Config(
            access_key_id=key_id,
            access_key_secret=secret,
            endpoint=simulator.host,
            protocol="http",
            region_id=REGION,
        )
        if algorithm == "v1":
            config.signature_algorithm = "v2"
        self.client = Client(config)

    def _call(self, fn, request):
        from alibabacloud_tea_openapi import exceptions

        try:
            response = fn(request)
        except exceptions.AlibabaCloudException as e:
            raise CloudError(
                e.code, e.status_code, e.message, e.request_id, getattr(e, "retry_after", None), original=e
            ) from e
        assert response.status_code == 200
        return response.body

    def allocate(self, client_token=None, tags=None, bandwidth="5", name=None):
        from alibabacloud_vpc20160428 import models as m

        body = self._call(
            self.client.allocate_eip_address,
            m.AllocateEipAddressRequest(
                region_id=REGION,
                bandwidth=bandwidth,
                client_token=client_token,
                name=name,
                tag=[m.AllocateEipAddressRequestTag(key=k, value=v) for k, v in (tags or {}).items()] or None,
            ),
        )
        assert body.allocation_id.startswith("eip-") and body.eip_address and body.request_id
        return body.to_map()

    def describe(self, ids=None, tags=None, page_size=None, page_number=None):
        from alibabacloud_vpc20160428 import models as m

        body = self._call(
            self.client.describe_eip_addresses,
            m.DescribeEipAddressesRequest(
                region_id=REGION,
                allocation_id=",".join(ids) if ids else None,
                tag=[m.DescribeEipAddressesRequestTag(key=k, value=v) for k, v in (tags or {}).items()] or None,
                page_size=page_size,
                page_number=page_number,
            ),
        )
        # The SDK parsed the answer into its typed model.
        for item in body.eip_addresses.eip_address:
            assert isinstance(item.status, str) and isinstance(item.bandwidth, str)
            assert item.operation_locks is not None and item.tags is not None
        return body.to_map()

    def associate(self, allocation_id, instance_id, instance_type="EcsInstance", client_token=None):
        from alibabacloud_vpc20160428 import models as m

        return self._call(
            self.client.associate_eip_address,
            m.AssociateEipAddressRequest(
                region_id=REGION,
                allocation_id=allocation_id,
                instance_id=instance_id,
                instance_type=instance_type,
                client_token=client_token,
            ),
        ).to_map()

    def unassociate(self, allocation_id, instance_id, instance_type="EcsInstance", force=None, client_token=None):
        from alibabacloud_vpc20160428 import models as m

        return self._call(
            self.client.unassociate_eip_address,
            m.UnassociateEipAddressRequest(
                region_id=REGION,
                allocation_id=allocation_id,
                instance_id=instance_id,
                instance_type=instance_type,
                force=force,
                client_token=client_token,
            ),
        ).to_map()

    def release(self, allocation_id):
        from alibabacloud_vpc20160428 import models as m

        return self._call(
            self.client.release_eip_address,
            m.ReleaseEipAddressRequest(region_id=REGION, allocation_id=allocation_id),
        ).to_map()

    def tag(self, allocation_id, tags):
        from alibabacloud_vpc20160428 import models as m

        return self._call(
            self.client.tag_resources,
            m.TagResourcesRequest(
                region_id=REGION,
                resource_type="EIP",
                resource_id=[allocation_id],
                tag=[m.TagResourcesRequestTag(key=k, value=v) for k, v in tags.items()],
            ),
        ).to_map()

    def untag(self, allocation_id, keys=None, all_tags=None):
        from alibabacloud_vpc20160428 import models as m

        return self._call(
            self.client.un_tag_resources,
            m.UnTagResourcesRequest(
                region_id=REGION,
                resource_type="EIP",
                resource_id=[allocation_id],
                tag_key=keys,
                all=all_tags,
            ),
        ).to_map()


class LegacyClient:
    """`aliyun-python-sdk-core` + `aliyun-python-sdk-vpc`; answers are JSON."""

    def __init__(self, simulator, secret=ACCESS_KEY_SECRET, key_id=ACCESS_KEY_ID):
        from aliyunsdkcore.client import AcsClient

        host, port = simulator.host.rsplit(":", 1)
        self.host = host
        self.client = AcsClient(key_id, secret, REGION, auto_retry=False, port=int(port))

    def _call(self, request):
        from aliyunsdkcore.acs_exception.exceptions import ServerException

        request.set_endpoint(self.host)
        request.set_protocol_type("http")
        try:
            return json.loads(self.client.do_action_with_exception(request))
        except ServerException as e:
            raise CloudError(e.get_error_code(), e.get_http_status(), e.get_error_msg(), e.get_request_id(), original=e) from e

    def allocate(self, client_token=None, tags=None, bandwidth="5", name=None):
        from aliyunsdkvpc.request.v20160428.AllocateEipAddressRequest import AllocateEipAddressRequest

        request = AllocateEipAddressRequest()
        request.set_Bandwidth(bandwidth)
        if client_token:
            request.set_ClientToken(client_token)
        if name:
            request.set_Name(name)
        if tags:
            request.set_Tags([{"Key": k, "Value": v} for k, v in tags.items()])
        return self._call(request)

    def describe(self, ids=None, tags=None, page_size=None, page_number=None):
        from aliyunsdkvpc.request.v20160428.DescribeEipAddressesRequest import DescribeEipAddressesRequest

        request = DescribeEipAddressesRequest()
        if ids:
            request.set_AllocationId(",".join(ids))
        if tags:
            request.set_Tags([{"Key": k, "Value": v} for k, v in tags.items()])
        if page_size:
            request.set_PageSize(page_size)
        if page_number:
            request.set_PageNumber(page_number)
        return self._call(request)

    def associate(self, allocation_id, instance_id, instance_type="EcsInstance", client_token=None):
        from aliyunsdkvpc.request.v20160428.AssociateEipAddressRequest import AssociateEipAddressRequest

        request = AssociateEipAddressRequest()
        request.set_AllocationId(allocation_id)
        request.set_InstanceId(instance_id)
        request.set_InstanceType(instance_type)
        if client_token:
            request.set_ClientToken(client_token)
        return self._call(request)

    def unassociate(self, allocation_id, instance_id, instance_type="EcsInstance", force=None, client_token=None):
        from aliyunsdkvpc.request.v20160428.UnassociateEipAddressRequest import UnassociateEipAddressRequest

        request = UnassociateEipAddressRequest()
        request.set_AllocationId(allocation_id)
        request.set_InstanceId(instance_id)
        request.set_InstanceType(instance_type)
        if force is not None:
            request.set_Force(force)
        if client_token:
            request.set_ClientToken(client_token)
        return self._call(request)

    def release(self, allocation_id):
        from aliyunsdkvpc.request.v20160428.ReleaseEipAddressRequest import ReleaseEipAddressRequest

        request = ReleaseEipAddressRequest()
        request.set_AllocationId(allocation_id)
        return self._call(request)

    def tag(self, allocation_id, tags):
        from aliyunsdkvpc.request.v20160428.TagResourcesRequest import TagResourcesRequest

        request = TagResourcesRequest()
        request.set_ResourceType("EIP")
        request.set_ResourceIds([allocation_id])
        request.set_Tags([{"Key": k, "Value": v} for k, v in tags.items()])
        return self._call(request)

    def untag(self, allocation_id, keys=None, all_tags=None):
        from aliyunsdkvpc.request.v20160428.UnTagResourcesRequest import UnTagResourcesRequest

        request = UnTagResourcesRequest()
        request.set_ResourceType("EIP")
        request.set_ResourceIds([allocation_id])
        if keys:
            request.set_TagKeys(keys)
        if all_tags is not None:
            request.set_All(all_tags)
        return self._call(request)


def make_client(simulator, flavour, **kwargs):
    if flavour == "legacy":
        return LegacyClient(simulator, **kwargs)
    return TeaClient(simulator, "v3" if flavour == "tea-v3" else "v1", **kwargs)


def items(answer):
    return answer["EipAddresses"]["EipAddress"]


def tags_of(item):
    return {t["Key"]: t["Value"] for t in item["Tags"]["Tag"]}


def wait_for_status(client, allocation_id, status, timeout=10):
    """Polls Describe (bounded) until the EIP reports `status`; returns its item."""
    deadline = time.monotonic() + timeout
    while True:
        found = items(client.describe(ids=[allocation_id]))
        if found and found[0]["Status"] == status:
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"{allocation_id} did not reach {status}: {found}")
        time.sleep(0.1)


@pytest.fixture
def settings(simulator):
    """Changes latencies / rate limits for one test and restores the instant profile after it."""
    yield simulator
    simulator.admin("PUT", "/admin/latencies", json={"allocateMs": 0, "associateMs": 0, "unassociateMs": 0, "releaseMs": 0})
    simulator.admin("PUT", "/admin/rate-limits", json={})


def oob_release(simulator, allocation_id):
    simulator.admin("POST", f"/admin/regions/{REGION}/eips/{allocation_id}/release")


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_lifecycle(simulator, flavour):
    client = make_client(simulator, flavour)
    owner = str(uuid.uuid4())
    token = f"alloc-{flavour}-{owner}"
    since = simulator.calls()[-1]["seq"] if simulator.calls() else 0

    allocated = client.allocate(client_token=token, tags={OWNER_TAG: owner, "team": "sdk tests"}, name="sdk eip")
    allocation_id = allocated["AllocationId"]
    assert allocated["RequestId"] and allocated["EipAddress"].count(".") == 3

    # The same client token returns the same EIP (idempotent allocation).
    again = client.allocate(client_token=token, tags={OWNER_TAG: owner, "team": "sdk tests"}, name="sdk eip")
    assert again["AllocationId"] == allocation_id

    described = client.describe(ids=[allocation_id])
    assert (described["TotalCount"], described["PageNumber"]) == (1, 1)
    item = items(described)[0]
    assert (item["Status"], item["IpAddress"], item["ChargeType"], item["Bandwidth"], item["Name"]) == (
        "Available",
        allocated["EipAddress"],
        "PostPaid",
        "5",
        "sdk eip",
    )
    assert tags_of(item) == {OWNER_TAG: owner, "team": "sdk tests"}
    assert item["OperationLocks"]["LockReason"] == [] and item["BusinessStatus"] == "Normal"

    # Found by its owner tag (how the operator recovers an unrecorded allocation).
    by_owner = client.describe(tags={OWNER_TAG: owner}, page_size=100)
    assert [i["AllocationId"] for i in items(by_owner)] == [allocation_id]
    assert items(client.describe(tags={OWNER_TAG: "nobody"})) == []

    # TagResources adds tags that Describe then reports.
    assert client.tag(allocation_id, {"extra": "1"})["RequestId"]
    assert tags_of(items(client.describe(ids=[allocation_id]))[0])["extra"] == "1"

    client.associate(allocation_id, "i-sim-0001", client_token=f"bind-{owner}")
    bound = wait_for_status(client, allocation_id, "InUse")
    assert (bound["InstanceType"], bound["InstanceId"]) == ("EcsInstance", "i-sim-0001")
    assert bound["PrivateIpAddress"], "the cloud picks the instance's private address"

    client.unassociate(allocation_id, "i-sim-0001", client_token=f"unbind-{owner}")
    unbound = wait_for_status(client, allocation_id, "Available")
    assert unbound["InstanceId"] == ""

    assert client.release(allocation_id)["RequestId"]
    gone = client.describe(ids=[allocation_id])
    assert (gone["TotalCount"], items(gone)) == (0, [])

    calls = simulator.calls(since)
    operations = [c["operation"] for c in calls]
    for operation in ["Allocate", "Describe", "FindByOwner", "Associate", "Unassociate", "Release"]:
        assert operation in operations, (operation, operations)
    allocations = [c for c in calls if c["operation"] == "Allocate"]
    assert [c["clientToken"] for c in allocations] == [token, token]
    assert {c["allocationIds"][0] for c in allocations} == {allocation_id}
    assert all(c["outcome"] == "Ok" for c in calls)
    # The request IDs the SDK saw are the ones in the call log.
    assert allocated["RequestId"] in {c["requestId"] for c in allocations}


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_describe_pages(simulator, flavour):
    client = make_client(simulator, flavour)
    owner = str(uuid.uuid4())
    ids = [client.allocate(tags={OWNER_TAG: owner})["AllocationId"] for _ in range(3)]
    seen = []
    for page in (1, 2):
        answer = client.describe(tags={OWNER_TAG: owner}, page_size=2, page_number=page)
        assert (answer["TotalCount"], answer["PageSize"], answer["PageNumber"]) == (3, 2, page)
        seen += [i["AllocationId"] for i in items(answer)]
    assert sorted(seen) == sorted(ids)
    for allocation_id in ids:
        client.release(allocation_id)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_unfiltered_pages_list_the_region(simulator, flavour):
    """What `list_page` sends (no filter, PageSize 100, PageNumber n), as the SDKs send it: every
    EIP of the region once across the pages, each with its AllocationTime, logged as List."""
    client = make_client(simulator, flavour)
    ids = {client.allocate()["AllocationId"] for _ in range(3)}
    since = simulator.calls()[-1]["seq"]
    first = client.describe(page_size=2, page_number=1)
    total = int(first["TotalCount"])
    seen = [i["AllocationId"] for i in items(first)]
    for page in range(2, (total + 1) // 2 + 1):
        answer = client.describe(page_size=2, page_number=page)
        assert int(answer["TotalCount"]) == total
        seen += [i["AllocationId"] for i in items(answer)]
    assert len(seen) == total == len(set(seen)) and ids <= set(seen)
    assert all(i["AllocationTime"] for i in items(first))
    assert {c["operation"] for c in simulator.calls(since)} == {"List"}
    for allocation_id in ids:
        client.release(allocation_id)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_task_conflict_while_associating(settings, flavour):
    simulator = settings
    client = make_client(simulator, flavour)
    allocation_id = client.allocate()["AllocationId"]
    simulator.admin("PUT", "/admin/latencies", json={"allocateMs": 0, "associateMs": 2000, "unassociateMs": 2000, "releaseMs": 2000})
    client.associate(allocation_id, "i-sim-0002")
    assert items(client.describe(ids=[allocation_id]))[0]["Status"] == "Associating"
    for attempt in (
        lambda: client.unassociate(allocation_id, "i-sim-0002"),
        lambda: client.release(allocation_id),
    ):
        with pytest.raises(CloudError) as raised:
            attempt()
        assert (raised.value.code, raised.value.status) == ("TaskConflict", 400)
        assert raised.value.request_id
    oob_release(simulator, allocation_id)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_incorrect_eip_status(simulator, flavour):
    client = make_client(simulator, flavour)
    allocation_id = client.allocate()["AllocationId"]
    with pytest.raises(CloudError) as raised:
        client.unassociate(allocation_id, "i-sim-0003")
    assert (raised.value.code, raised.value.status) == ("IncorrectEipStatus", 400)
    client.associate(allocation_id, "i-sim-0003")
    wait_for_status(client, allocation_id, "InUse")
    with pytest.raises(CloudError) as raised:
        client.release(allocation_id)
    assert (raised.value.code, raised.value.status) == ("IncorrectEipStatus", 400)
    oob_release(simulator, allocation_id)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_prepaid_cannot_be_released(simulator, flavour):
    client = make_client(simulator, flavour)
    seeded = simulator.admin("POST", f"/admin/regions/{REGION}/eips", json={"chargeType": "PrePaid"})
    item = items(client.describe(ids=[seeded["allocationId"]]))[0]
    assert item["ChargeType"] == "PrePaid" and item["ExpiredTime"]
    with pytest.raises(CloudError) as raised:
        client.release(seeded["allocationId"])
    assert (raised.value.code, raised.value.status) == ("Forbidden.ChargeTypeIsPrepaid", 400)
    assert items(client.describe(ids=[seeded["allocationId"]])), "still there"
    oob_release(simulator, seeded["allocationId"])


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_unknown_allocation_id(simulator, flavour):
    client = make_client(simulator, flavour)
    for attempt in (
        lambda: client.release("eip-doesnotexist000000"),
        lambda: client.associate("eip-doesnotexist000000", "i-sim-0004"),
        lambda: client.unassociate("eip-doesnotexist000000", "i-sim-0004"),
    ):
        with pytest.raises(CloudError) as raised:
            attempt()
        assert (raised.value.code, raised.value.status) == ("InvalidAllocationId.NotFound", 404)
    assert client.describe(ids=["eip-doesnotexist000000"])["TotalCount"] == 0


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_throttling(settings, flavour):
    simulator = settings
    client = make_client(simulator, flavour)
    simulator.admin("PUT", "/admin/rate-limits", json={"mutatingPerSecond": 0})
    with pytest.raises(CloudError) as raised:
        client.allocate()
    assert (raised.value.code, raised.value.status) == ("Throttling.User", 400)
    assert "flow control" in raised.value.message
    if flavour != "legacy":
        # The Tea SDK reads x-acs-retry-after (milliseconds) into a ThrottlingException.
        assert type(raised.value.original).__name__ == "ThrottlingException"
        assert raised.value.retry_after == 1000
    simulator.admin("PUT", "/admin/rate-limits", json={})
    assert client.allocate()["AllocationId"]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_bad_credentials(simulator, flavour):
    wrong_secret = make_client(simulator, flavour, secret=ACCESS_KEY_SECRET + "-wrong")
    with pytest.raises(CloudError) as raised:
        wrong_secret.describe()
    if flavour == "legacy":
        # The legacy SDK compares our server string-to-sign with its own and, finding them
        # equal, reports the secret as wrong: our V1 canonicalisation matches the SDK's exactly.
        assert (raised.value.code, raised.value.status) == ("InvalidAccessKeySecret", 400)
    else:
        assert (raised.value.code, raised.value.status) == ("SignatureDoesNotMatch", 400)
    unknown_key = make_client(simulator, flavour, key_id="NOSUCHACCESSKEYID0000")
    with pytest.raises(CloudError) as raised:
        unknown_key.describe()
    assert (raised.value.code, raised.value.status) == ("InvalidAccessKeyId.NotFound", 404)


@pytest.mark.parametrize("flavour", ["tea-v3", "tea-v1"])
def test_replayed_nonce_and_stale_timestamp(simulator, flavour, monkeypatch):
    from alibabacloud_tea_openapi.utils import Utils

    client = make_client(simulator, flavour)
    nonce = uuid.uuid4().hex
    monkeypatch.setattr(Utils, "get_nonce", staticmethod(lambda: nonce))
    client.describe()
    with pytest.raises(CloudError) as raised:
        client.describe()
    assert (raised.value.code, raised.value.status) == ("SignatureNonceUsed", 400)

    monkeypatch.setattr(Utils, "get_nonce", staticmethod(lambda: uuid.uuid4().hex))
    monkeypatch.setattr(Utils, "get_timestamp", staticmethod(lambda: "2020-01-01T00:00:00Z"))
    with pytest.raises(CloudError) as raised:
        client.describe()
    assert (raised.value.code, raised.value.status) == ("InvalidTimeStamp.Expired", 400)


def test_error_body_shape(simulator):
    """Error answers carry Alibaba's fields and the x-acs-request-id header."""
    import requests

    response = requests.post(simulator.base_url + "/?Action=DescribeEipAddresses&RegionId=cn-hangzhou", timeout=10)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    assert body["Code"] == "IncompleteSignature"
    assert response.headers["x-acs-request-id"] == body["RequestId"]



def test_unknown_region_is_refused(simulator):
    from alibabacloud_tea_openapi import exceptions
    from alibabacloud_vpc20160428 import models as m

    client = TeaClient(simulator, "v3")
    with pytest.raises(exceptions.AlibabaCloudException) as raised:
        client.client.describe_eip_addresses(m.DescribeEipAddressesRequest(region_id="eu-de"))
    assert (raised.value.code, raised.value.status_code) == ("Forbidden.RegionNotFound", 404)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_claim_tags_and_untags_an_adopted_eip(simulator, flavour):
    """How adoption claims an address: TagResources / UnTagResources as the operator sends them
    (ResourceType=EIP, ResourceId.1, Tag.N / TagKey.N), read back by DescribeEipAddresses."""
    client = make_client(simulator, flavour)
    seeded = simulator.admin("POST", f"/admin/regions/{REGION}/eips", json={"tags": {"team": "a"}})
    allocation_id = seeded["allocationId"]
    since = max((c["seq"] for c in simulator.calls()), default=0)
    owner = str(uuid.uuid4())

    tagged = client.tag(allocation_id, {OWNER_TAG: owner, OWNER_NAME_TAG: "default/web"})
    assert tagged["RequestId"]
    item = items(client.describe(ids=[allocation_id]))[0]
    assert tags_of(item) == {"team": "a", OWNER_TAG: owner, OWNER_NAME_TAG: "default/web"}
    # Found by the claim, as by an allocation's owner tag.
    assert [i["AllocationId"] for i in items(client.describe(tags={OWNER_TAG: owner}))] == [allocation_id]

    # Not compare-and-swap: a second claim overwrites the first one's values.
    other = str(uuid.uuid4())
    client.tag(allocation_id, {OWNER_TAG: other, OWNER_NAME_TAG: "default/api"})
    assert tags_of(items(client.describe(ids=[allocation_id]))[0])[OWNER_TAG] == other

    untagged = client.untag(allocation_id, keys=[OWNER_TAG, OWNER_NAME_TAG, "absent"])
    assert untagged["RequestId"]
    assert tags_of(items(client.describe(ids=[allocation_id]))[0]) == {"team": "a"}
    # The admin API (the model) sees what the wire did.
    assert simulator.admin("GET", f"/admin/regions/{REGION}/eips/{allocation_id}")["tags"] == {"team": "a"}

    client.untag(allocation_id, all_tags=True)
    assert tags_of(items(client.describe(ids=[allocation_id]))[0]) == {}

    for attempt in (
        lambda: client.tag("eip-doesnotexist000000", {OWNER_TAG: owner}),
        lambda: client.untag("eip-doesnotexist000000", keys=[OWNER_TAG]),
    ):
        with pytest.raises(CloudError) as raised:
            attempt()
        assert (raised.value.code, raised.value.status) == ("InvalidResourceId.NotFound", 404)
        assert raised.value.request_id
    with pytest.raises(CloudError) as raised:
        client.tag(allocation_id, {f"k{n}": "v" for n in range(21)})
    assert raised.value.status == 400

    calls = simulator.calls(since)
    tagging = [(c["operation"], c["outcome"]) for c in calls if c["operation"] in ("Tag", "Untag")]
    assert tagging[:4] == [("Tag", "Ok"), ("Tag", "Ok"), ("Untag", "Ok"), ("Untag", "Ok")], tagging
    assert all(c["allocationIds"] == [allocation_id] for c in calls if c["operation"] in ("Tag", "Untag") and c["outcome"] == "Ok")
    oob_release(simulator, allocation_id)
