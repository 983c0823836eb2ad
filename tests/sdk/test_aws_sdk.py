"""boto3 (the official AWS SDK for Python) drives the simulator's EC2 front end (/aws/): the
simulator must accept boto3's SigV4 requests and answer in the shapes boto3 parses, with EC2's
error codes, through the same model (call log, rate limits) as the other clouds."""

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET

REGION = "us-east-1"
OWNER_TAG = "eip-operator.dev/owner-uid"
NO_RETRIES = botocore.config.Config(retries={"total_max_attempts": 1})


def ec2(simulator, key_id=ACCESS_KEY_ID, secret=ACCESS_KEY_SECRET, token=None, region=REGION):
    return boto3.client(
        "ec2",
        region_name=region,
        endpoint_url=simulator.base_url + "/aws",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=NO_RETRIES,
    )


def code_of(call):
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response["Error"]["Code"]


def test_the_lifecycle_through_boto3(simulator):
    client = ec2(simulator)
    since = simulator.calls()[-1]["seq"] if simulator.calls() else 0
    allocated = client.allocate_address(
        Domain="vpc",
        TagSpecifications=[{"ResourceType": "elastic-ip", "Tags": [{"Key": OWNER_TAG, "Value": "uid-boto3"}]}],
    )
    allocation_id = allocated["AllocationId"]
    assert allocation_id.startswith("eipalloc-") and allocated["Domain"] == "vpc" and allocated["PublicIp"]

    by_owner = client.describe_addresses(Filters=[{"Name": f"tag:{OWNER_TAG}", "Values": ["uid-boto3"]}])["Addresses"]
    assert [a["AllocationId"] for a in by_owner] == [allocation_id]
    assert by_owner[0]["Tags"] == [{"Key": OWNER_TAG, "Value": "uid-boto3"}]

    association = client.associate_address(AllocationId=allocation_id, InstanceId="i-sim-0003", AllowReassociation=False)
    assert association["AssociationId"].startswith("eipassoc-")
    address = client.describe_addresses(AllocationIds=[allocation_id])["Addresses"][0]
    assert address["InstanceId"] == "i-sim-0003"
    assert address["AssociationId"] == association["AssociationId"]
    assert address["PrivateIpAddress"] and address["NetworkInterfaceId"].startswith("eni-")

    # EC2 refuses to release an associated address.
    assert code_of(lambda: client.release_address(AllocationId=allocation_id)) == "InvalidIPAddress.InUse"
    client.disassociate_address(AssociationId=association["AssociationId"])
    assert "AssociationId" not in client.describe_addresses(AllocationIds=[allocation_id])["Addresses"][0]
    assert code_of(lambda: client.disassociate_address(AssociationId=association["AssociationId"])) == "InvalidAssociationID.NotFound"

    client.create_tags(Resources=[allocation_id], Tags=[{"Key": "team", "Value": "net"}])
    tags = client.describe_addresses(AllocationIds=[allocation_id])["Addresses"][0]["Tags"]
    assert {"Key": "team", "Value": "net"} in tags
    client.delete_tags(Resources=[allocation_id], Tags=[{"Key": "team"}])

    client.release_address(AllocationId=allocation_id)
    assert code_of(lambda: client.describe_addresses(AllocationIds=[allocation_id])) == "InvalidAllocationID.NotFound"
    assert client.describe_addresses(Filters=[{"Name": "allocation-id", "Values": [allocation_id]}])["Addresses"] == []
    assert code_of(lambda: client.release_address(AllocationId=allocation_id)) == "InvalidAllocationID.NotFound"

    logged = [c["operation"] for c in simulator.calls(since) if c["region"] == REGION]
    assert logged[:4] == ["Allocate", "FindByOwner", "Associate", "Describe"]
    assert logged.count("Release") == 3 and "Unassociate" in logged and "Tag" in logged and "Untag" in logged


def test_network_interfaces_and_refusals(simulator):
    client = ec2(simulator)
    allocation_id = client.allocate_address(Domain="vpc")["AllocationId"]
    association = client.associate_address(AllocationId=allocation_id, NetworkInterfaceId="eni-sim-0001", PrivateIpAddress="10.1.2.3")
    address = client.describe_addresses(AllocationIds=[allocation_id])["Addresses"][0]
    assert (address["NetworkInterfaceId"], address["PrivateIpAddress"]) == ("eni-sim-0001", "10.1.2.3")
    assert "InstanceId" not in address
    other = client.allocate_address(Domain="vpc")["AllocationId"]
    assert code_of(lambda: client.associate_address(AllocationId=other, InstanceId="i-nope")) == "InvalidInstanceID.NotFound"
    assert code_of(lambda: client.associate_address(AllocationId=other, NetworkInterfaceId="eni-sim-0001")) == "Resource.AlreadyAssociated"
    client.disassociate_address(AssociationId=association["AssociationId"])
    for allocation in (allocation_id, other):
        client.release_address(AllocationId=allocation)
    assert code_of(lambda: client.describe_addresses(Filters=[{"Name": "bogus", "Values": ["x"]}])) == "InvalidParameterValue"


def test_bad_credentials_and_regions_are_refused(simulator):
    assert code_of(lambda: ec2(simulator, secret="wrong-secret").describe_addresses()) == "SignatureDoesNotMatch"
    assert code_of(lambda: ec2(simulator, key_id="AKIAUNKNOWN").describe_addresses()) == "AuthFailure"
    assert code_of(lambda: ec2(simulator, region="cn-hangzhou").describe_addresses()) == "AuthFailure"


def test_rate_limits_answer_request_limit_exceeded(simulator):
    client = ec2(simulator)
    simulator.admin("PUT", "/admin/rate-limits", json={"describePerSecond": 0})
    try:
        assert code_of(lambda: client.describe_addresses()) == "RequestLimitExceeded"
    finally:
        simulator.admin("PUT", "/admin/rate-limits", json={})


def test_web_identity_keys_from_sts_sign_ec2_calls(simulator):
    sts = boto3.client(
        "sts",
        region_name=REGION,
        endpoint_url=simulator.base_url + "/aws",
        aws_access_key_id="unused",
        aws_secret_access_key="unused",
        config=NO_RETRIES,
    )
    answer = sts.assume_role_with_web_identity(
        RoleArn="arn:aws:iam::123456789012:role/eip-operator",
        RoleSessionName="boto3",
        WebIdentityToken="eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzaW0ifQ.c2ln",
    )
    keys = answer["Credentials"]
    assert keys["AccessKeyId"].startswith("ASIA")
    client = ec2(simulator, keys["AccessKeyId"], keys["SecretAccessKey"], keys["SessionToken"])
    assert isinstance(client.describe_addresses()["Addresses"], list)
    # The same keys without their session token are refused.
    assert code_of(lambda: ec2(simulator, keys["AccessKeyId"], keys["SecretAccessKey"]).describe_addresses()) == "AuthFailure"
    with pytest.raises(ClientError) as raised:
        sts.assume_role_with_web_identity(RoleArn="arn:aws:iam::1:role/r", RoleSessionName="session", WebIdentityToken="nope")
    assert raised.value.response["Error"]["Code"] == "InvalidIdentityToken"
