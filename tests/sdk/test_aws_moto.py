"""moto (a third-party EC2 emulator) and our simulator answer the same boto3 call sequence; every
difference between them is listed here with the reason it is kept, so that a new one fails.

The simulator follows EC2 where moto is laxer; the shapes moto leaves out (publicIpv4Pool,
networkBorderGroup) are fields EC2 sends. The operator's provider must work against both: the
end-to-end scenario tests/e2e/aws.rs `aws_lifecycle_on_moto` runs it on moto.
"""

import os
import socket
import subprocess
import sys
import time

import boto3
import botocore.config
import pytest
import requests
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET

NO_RETRIES = botocore.config.Config(retries={"total_max_attempts": 1})

# label -> (moto's answer, the simulator's answer, why the simulator keeps its own)
KNOWN = {
    "describe-bad-filter": (
        "ResponseParserError",
        "InvalidParameterValue",
        "moto answers an unknown filter with an HTML 500; EC2 refuses it with InvalidParameterValue",
    ),
    "associate-again-same": (
        "ok",
        "Resource.AlreadyAssociated",
        "with AllowReassociation=false EC2 refuses any association of an associated address",
    ),
    "associate-unknown-instance": (
        "InvalidInstanceID.NotFound",
        "Resource.AlreadyAssociated",
        "the simulator's model checks the address before the target; EC2 documents no order",
    ),
    "associate-taken-instance": (
        "ok",
        "Resource.AlreadyAssociated",
        "an instance's private IP holds one address; without AllowReassociation EC2 refuses a second",
    ),
    "release-bound": ("ok", "InvalidIPAddress.InUse", "EC2 refuses to release an associated address; moto releases it"),
    # Consequences of moto's release of the associated address:
    "disassociate": ("InvalidAssociationID.NotFound", "ok", "moto released the address with its association"),
    "release": ("InvalidAllocationID.NotFound", "ok", "moto released the address already"),
    "tag-unknown": ("ok", "InvalidAllocationID.NotFound", "moto tags resources it does not have; EC2 refuses"),
}
# Fields EC2 answers that moto leaves out (the simulator sends them, as EC2 does).
MOTO_OMITS = {"PublicIpv4Pool", "NetworkBorderGroup"}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def moto_url():
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(url + "/moto-api/", timeout=1)
            break
        except requests.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("moto_server did not start")
            time.sleep(0.2)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _client(url, key, secret):
    return boto3.client(
        "ec2", region_name="us-east-1", endpoint_url=url, aws_access_key_id=key, aws_secret_access_key=secret, config=NO_RETRIES
    )


def _sequence(client, instance):
    out = {}

    def do(label, call):
        try:
            answer = call()
            answer.pop("ResponseMetadata", None)
            out[label] = ("ok", answer)
        except ClientError as e:
            out[label] = (e.response["Error"]["Code"], None)
        except Exception as e:  # moto's HTML 500s are not EC2 answers
            out[label] = (type(e).__name__, None)
        return out[label]

    tags = [{"ResourceType": "elastic-ip", "Tags": [{"Key": "o", "Value": "u"}]}]
    allocation = do("allocate", lambda: client.allocate_address(Domain="vpc", TagSpecifications=tags))[1]["AllocationId"]
    do("describe-ids", lambda: client.describe_addresses(AllocationIds=[allocation]))
    do("describe-unknown-id", lambda: client.describe_addresses(AllocationIds=["eipalloc-00000000000000001"]))
    do("describe-filter-unknown", lambda: client.describe_addresses(Filters=[{"Name": "allocation-id", "Values": ["eipalloc-00000000000000001"]}]))
    do("describe-tag", lambda: client.describe_addresses(Filters=[{"Name": "tag:o", "Values": ["u"]}]))
    do("describe-bad-filter", lambda: client.describe_addresses(Filters=[{"Name": "bogus", "Values": ["u"]}]))
    association = do("associate", lambda: client.associate_address(AllocationId=allocation, InstanceId=instance, AllowReassociation=False))
    association_id = association[1]["AssociationId"]
    do("describe-bound", lambda: client.describe_addresses(AllocationIds=[allocation]))
    do("associate-again-same", lambda: client.associate_address(AllocationId=allocation, InstanceId=instance, AllowReassociation=False))
    do("associate-unknown-instance", lambda: client.associate_address(AllocationId=allocation, InstanceId="i-0123456789abcdef0"))
    other = client.allocate_address(Domain="vpc")["AllocationId"]
    do("associate-taken-instance", lambda: client.associate_address(AllocationId=other, InstanceId=instance, AllowReassociation=False))
    do("release-bound", lambda: client.release_address(AllocationId=allocation))
    do("disassociate", lambda: client.disassociate_address(AssociationId=association_id))
    do("disassociate-again", lambda: client.disassociate_address(AssociationId=association_id))
    do("release", lambda: client.release_address(AllocationId=allocation))
    do("release-again", lambda: client.release_address(AllocationId=allocation))
    do("tag-unknown", lambda: client.create_tags(Resources=["eipalloc-00000000000000001"], Tags=[{"Key": "k", "Value": "v"}]))
    do("release-other", lambda: client.release_address(AllocationId=other))
    return out


def _fields(answer):
    if isinstance(answer, dict):
        return {k: _fields(v) for k, v in answer.items() if k not in MOTO_OMITS and v != ""}
    if isinstance(answer, list):
        return [_fields(v) for v in answer[:1]]
    return type(answer).__name__


def test_moto_and_the_simulator_differ_only_where_listed(simulator, moto_url):
    moto = _client(moto_url, "testing", "testing")
    instance = moto.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    on_moto = _sequence(moto, instance)
    on_sim = _sequence(_client(simulator.base_url + "/aws", ACCESS_KEY_ID, ACCESS_KEY_SECRET), "i-sim-0001")
    differences = {}
    for label, (moto_code, moto_answer) in on_moto.items():
        sim_code, sim_answer = on_sim[label]
        if moto_code != sim_code:
            differences[label] = (moto_code, sim_code)
        elif moto_code == "ok" and _fields(moto_answer) != _fields(sim_answer):
            differences[label] = ("shape", _fields(moto_answer), _fields(sim_answer))
    assert differences == {label: known[:2] for label, known in KNOWN.items()}
    # moto renders an unassociated address with empty InstanceId/NetworkInterfaceId elements; the
    # provider reads empty as absent (crates/aws/src/records.rs), so both read as unbound.
    assert on_moto["describe-ids"][1]["Addresses"][0].get("InstanceId", "") == ""
