"""AK/SK signing fixtures made with the official Huawei Cloud SDK signer.

Each case drives the real SDK clients (or, for calls outside the EIP SDK, its `Signer`) at a
fixed time and records the request exactly as the SDK would send it and every intermediate value
of the signature, in `tests/fixtures/otc/*.json`. `crates/otc/tests/otc_signing_fixtures.rs` checks that the
operator's signer reproduces them byte for byte; the tests below check that the committed files
are what the SDK makes today.

Regenerate with: `target/sdk-venv/bin/python tests/sdk/test_otc_signing.py --write`.
"""

import json
import sys
from datetime import datetime
from importlib import metadata
from pathlib import Path

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.http.http_handler import HttpHandler
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer import signer as signer_module
from huaweicloudsdkcore.signer.signer import Signer
from huaweicloudsdkeip.v2 import EipClient, model as v2
from huaweicloudsdkeip.v3 import EipClient as EipClientV3, model as v3

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "otc"
FIXED_TIME = datetime(2024, 3, 5, 8, 9, 10)
AK = "FIXTUREAKEXAMPLE0001"
SK = "fixture-secret-key-example-000000000001"
PROJECT = "0123456789abcdef0123456789abcdef"
ENDPOINT = "https://vpc.eu-de.otc.t-systems.com"
USER_AGENT = "eip-operator-fixtures"
EIP_ID = "2ec9b78d-9368-46f3-8f29-d1a95622a568"


class _FixedDatetime(datetime):
    @classmethod
    def utcnow(cls):
        return FIXED_TIME


class _Captured(Exception):
    pass


def _flat_query(query_params):
    pairs = []
    for key, value in query_params or []:
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, bool):
                item = str(item).lower()
            pairs.append([key, str(item)])
    return pairs


def _record(name, request, ak, sk):
    """The fixture for a signed SdkRequest."""
    authorization = request.header_params["Authorization"]
    signed = authorization.split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";")
    helper = Signer(BasicCredentials(ak, sk))
    canonical = helper._process_canonical_request(request, signed)
    string_to_sign = helper._process_string_to_sign(canonical, Signer._process_header_time(request))
    body = request.body
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    headers = [[k, v] for k, v in request.header_params.items() if k != "Authorization"]
    return {
        "name": name,
        "generator": f"huaweicloudsdkcore {metadata.version('huaweicloudsdkcore')} Signer",
        "access_key": ak,
        "secret_key": sk,
        "request": {
            "method": request.method,
            "host": request.host,
            "path": request.resource_path,
            "query": _flat_query(request.query_params),
            "sent_uri": request.uri,
            "headers": headers,
            "body": body or "",
        },
        "canonical_request": canonical,
        "string_to_sign": string_to_sign,
        "signed_headers": ";".join(signed),
        "signature": authorization.rsplit("Signature=", 1)[1],
        "authorization": authorization,
    }


def _client(cls, credentials):
    captured = []

    def capture(**kwargs):
        captured.append(kwargs["request"])
        raise _Captured()

    config = HttpConfig.get_default_config()
    config.user_agent = USER_AGENT
    client = (
        cls.new_builder()
        .with_credentials(credentials)
        .with_endpoints([ENDPOINT])
        .with_http_config(config)
        .with_http_handler(HttpHandler().add_request_handler(capture))
        .build()
    )
    return client, captured


def _via_client(name, cls, call, credentials=None):
    credentials = credentials or BasicCredentials(AK, SK, PROJECT)
    client, captured = _client(cls, credentials)
    try:
        call(client)
    except _Captured:
        pass
    if not captured:
        raise RuntimeError(f"{name}: the SDK sent nothing")
    return _record(name, captured[0], credentials.ak, credentials.sk)


def _via_signer(name, method, host, path, query, headers, body, ak, sk):
    request = SdkRequest(method=method, schema="https", host=host, resource_path=path,
                         query_params=query, header_params=dict(headers), body=body)
    Signer(BasicCredentials(ak, sk)).sign(request)
    return _record(name, request, ak, sk)


def generate():
    """Every fixture, as the SDK makes it at FIXED_TIME."""
    original = signer_module.datetime
    signer_module.datetime = _FixedDatetime
    try:
        cases = [
            # The vector published with the signing documentation.
            _via_signer(
                "published-vector", "GET", "service.region.example.com",
                "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs",
                [("limit", 2), ("marker", "13551d6b-755d-4757-b956-536f674975c0")],
                {"Content-Type": "application/json", "X-Sdk-Date": "20191115T033655Z"}, None,
                "QTWAOYTTINDUT2QVKYUC", "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc",
            ),
            _via_client("v1-create", EipClient, lambda c: c.create_publicip(v2.CreatePublicipRequest(
                body=v2.CreatePublicipRequestBody(
                    publicip=v2.CreatePublicipOption(type="5_bgp", ip_version=4, alias="web"),
                    bandwidth=v2.CreatePublicipBandwidthOption(
                        name="eip-operator-0b9d5a4e-2f7c-4f43-9e6c-2a1b3c4d5e6f", size=10,
                        share_type="PER", charge_mode="traffic"))))),
            _via_client("v1-show", EipClient, lambda c: c.show_publicip(v2.ShowPublicipRequest(publicip_id=EIP_ID))),
            _via_client("v1-show-odd-id", EipClient, lambda c: c.show_publicip(
                v2.ShowPublicipRequest(publicip_id="odd id/ü~*"))),
            _via_client("v1-list-by-ids", EipClient, lambda c: c.list_publicips(v2.ListPublicipsRequest(
                id=["b-second", "a-first", "c third"], limit=50, marker="0f00"))),
            _via_client("v1-bind", EipClient, lambda c: c.update_publicip(v2.UpdatePublicipRequest(
                publicip_id=EIP_ID,
                body=v2.UpdatePublicipsRequestBody(publicip=v2.UpdatePublicipOption(port_id="port-sim-0001"))))),
            _via_client("v1-delete", EipClient, lambda c: c.delete_publicip(v2.DeletePublicipRequest(publicip_id=EIP_ID))),
            _via_client("v2-batch-unbind", EipClient, lambda c: c.batch_disassociate_publicips(
                v2.BatchDisassociatePublicipsRequest(body=v2.BatchDeletePublicIpRequestBody(publicip_ids=[EIP_ID, "x-2"])))),
            _via_client("v2-batch-release", EipClient, lambda c: c.batch_delete_public_ip(
                v2.BatchDeletePublicIpRequest(body=v2.BatchDeletePublicIpRequestBody(publicip_ids=[EIP_ID])))),
            _via_client("v2-tags", EipClient, lambda c: c.batch_create_publicip_tags(v2.BatchCreatePublicipTagsRequest(
                publicip_id=EIP_ID, body=v2.BatchCreatePublicipTagsRequestBody(
                    action="create", tags=[v2.ResourceTagOption(key="eip-operator_owner-uid", value="uid-1")])))),
            _via_client("v3-associate-elb", EipClientV3, lambda c: c.associate_publicips(v3.AssociatePublicipsRequest(
                publicip_id=EIP_ID, body=v3.AssociatePublicipsRequestBody(publicip=v3.AssociatePublicipsOption(
                    associate_instance_type="ELB", associate_instance_id="lb-sim-0001"))))),
            _via_client("v3-disassociate", EipClientV3, lambda c: c.disassociate_publicips(
                v3.DisassociatePublicipsRequest(publicip_id=EIP_ID))),
            _via_client("v3-list-unicode", EipClientV3, lambda c: c.list_publicips(v3.ListPublicipsRequest(
                alias=["wëb server/1", "a+b=c&d"], limit=10))),
            _via_client(
                "v1-show-temporary-credentials", EipClient,
                lambda c: c.show_publicip(v2.ShowPublicipRequest(publicip_id=EIP_ID)),
                credentials=BasicCredentials(AK, SK, PROJECT).with_security_token("temporary-security-token-0001"),
            ),
            # IAM project lookup (no X-Project-Id), as the operator signs it.
            _via_signer(
                "iam-projects-by-name", "GET", "iam.eu-de.otc.t-systems.com", "/v3/projects", [("name", "eu-de")],
                {"Host": "iam.eu-de.otc.t-systems.com", "Content-Type": "application/json",
                 "X-Sdk-Date": FIXED_TIME.strftime("%Y%m%dT%H%M%SZ"), "Some_Header": "not signed",
                 "X-Padded": "  padded value  "}, None, AK, SK,
            ),
        ]
    finally:
        signer_module.datetime = original
    return cases


def write():
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for case in generate():
        path = FIXTURES / f"{case['name']}.json"
        path.write_text(json.dumps(case, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


def test_fixtures_match_the_sdk_signer():
    generated = {case["name"]: case for case in generate()}
    committed = {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(FIXTURES.glob("*.json"))
    }
    assert sorted(committed) == sorted(generated), "regenerate with: python tests/sdk/otc_signing.py --write"
    for name, case in generated.items():
        # Round-trip through JSON so both sides have the same types.
        assert json.loads(json.dumps(case)) == committed[name], name


def test_the_published_vector():
    vector = next(case for case in generate() if case["name"] == "published-vector")
    assert vector["signed_headers"] == "content-type;host;x-sdk-date"
    assert vector["signature"] == "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
    assert vector["string_to_sign"].endswith("b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: test_otc_signing.py --write")
    write()
