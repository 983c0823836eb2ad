"""The simulator's VPC port list, driven by the official SDK (`huaweicloudsdkvpc.v2`
`VpcClient.list_ports`, `GET /v1/{project_id}/ports?device_id=`): how the operator finds the
port an Open Telekom Cloud / Huawei Cloud server is bound through (a Node's providerID names the
server). The SDK must parse our answer into its `Port` model, and the port it names must be one
an EIP binds to, mapped to that port's fixed IP.
"""

from conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkeip.v2 import EipClient, model as eip
from huaweicloudsdkvpc.v2 import VpcClient, model as vpc

REGION = "eu-de"


def _project(simulator):
    projects = simulator.admin("GET", "/admin/config")["auth"]["projects"]
    return next(p["id"] for p in projects if p["region"] == REGION)


def _build(cls, simulator):
    credentials = BasicCredentials(ACCESS_KEY_ID, ACCESS_KEY_SECRET, _project(simulator))
    return cls.new_builder().with_credentials(credentials).with_endpoints(["http://" + simulator.host]).build()


def _ports(client, server):
    return client.list_ports(vpc.ListPortsRequest(device_id=server)).ports


def test_a_server_has_one_port_and_an_eip_binds_to_it(simulator):
    client, eips = _build(VpcClient, simulator), _build(EipClient, simulator)
    since = max((c["seq"] for c in simulator.calls()), default=0)
    ports = _ports(client, "i-sim-0007")
    assert len(ports) == 1
    port = ports[0]
    assert port.device_id == "i-sim-0007"
    assert port.device_owner.startswith("compute:")
    assert port.status == "ACTIVE"
    fixed_ip = port.fixed_ips[0].ip_address
    # The same server, the same port, every time; another server, another port.
    assert _ports(client, "i-sim-0007")[0].id == port.id
    assert _ports(client, "i-sim-0008")[0].id != port.id
    assert [c["operation"] for c in simulator.calls(since)] == ["ResolveTarget"] * 3

    body = eip.CreatePublicipRequestBody(
        publicip=eip.CreatePublicipOption(type="5_bgp", ip_version=4),
        bandwidth=eip.CreatePublicipBandwidthOption(name="bw-ports", size=5, share_type="PER", charge_mode="traffic"),
    )
    created = eips.create_publicip(eip.CreatePublicipRequest(body=body)).publicip
    option = eip.UpdatePublicipOption(port_id=port.id)
    eips.update_publicip(
        eip.UpdatePublicipRequest(publicip_id=created.id, body=eip.UpdatePublicipsRequestBody(publicip=option))
    )
    shown = eips.show_publicip(eip.ShowPublicipRequest(publicip_id=created.id)).publicip
    assert shown.port_id == port.id
    assert shown.private_ip_address == fixed_ip
    unbind = eip.UpdatePublicipOption(port_id="")
    eips.update_publicip(
        eip.UpdatePublicipRequest(publicip_id=created.id, body=eip.UpdatePublicipsRequestBody(publicip=unbind))
    )
    eips.delete_publicip(eip.DeletePublicipRequest(publicip_id=created.id))


def test_unknown_servers_have_no_port_until_they_exist(simulator):
    client = _build(VpcClient, simulator)
    assert _ports(client, "srv-sdk-new") == []
    simulator.admin(
        "POST", f"/admin/regions/{REGION}/instances", json={"instanceType": "EcsInstance", "ids": ["srv-sdk-new"]}
    )
    ports = _ports(client, "srv-sdk-new")
    assert [p.device_id for p in ports] == ["srv-sdk-new"]
    # Its port is an instance the region knows: an EIP can be bound to it.
    instances = simulator.admin("GET", f"/admin/regions/{REGION}/instances")
    assert any(i["instanceType"] == "Port" and i["instanceId"] == ports[0].id for i in instances)
    # Without a device filter the list names no port.
    assert client.list_ports(vpc.ListPortsRequest()).ports == []
