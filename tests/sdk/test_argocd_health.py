"""The Argo CD health check of ElasticIPs (config/argocd/health.lua), run with a real Lua.

Argo CD runs `resource.customizations.health.<group>_<Kind>` scripts in gopher-lua (Lua 5.1) with
the object as the global `obj` (JSON numbers as Lua numbers, JSON null as nil) and reads the
returned table's `status` and `message`. This runs the script the same way with lupa's Lua 5.1
(and Lua 5.4, so nothing depends on one dialect) on:

- ElasticIPs captured by the end-to-end suite on a real API server at four moments
  (`target/e2e-status/{ready,reconciling,stalled,terminating}.json`, when present: the README's
  test command runs the e2e suite first; `EIP_E2E_STATUS_DIR` overrides the directory);
- hand-written objects committed under `tests/sdk/fixtures/status/` (so it also runs standalone);
- edge cases written here.
"""

import importlib
import json
import os
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HEALTH_LUA = ROOT / "config/argocd/health.lua"
ARGOCD_CM_PATCH = ROOT / "config/argocd/argocd-cm-patch.yaml"
HEALTH_KEY = "resource.customizations.health.eip-operator.dev_ElasticIP"
FIXTURES = Path(__file__).resolve().parent / "fixtures/status"
E2E_STATUS = Path(os.environ.get("EIP_E2E_STATUS_DIR", ROOT / "target/e2e-status"))

EXPECTED = {
    "ready": "Healthy",
    "reconciling": "Progressing",
    "stalled": "Degraded",
    "terminating": "Progressing",
}
ARGO_STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}
RUNTIMES = ["lua51", "lua54"]


def _lua(runtime):
    return importlib.import_module("lupa." + runtime).LuaRuntime(unpack_returned_tuples=True)


def _to_lua(lua, value):
    """Python JSON value -> Lua value, as Argo CD converts an unstructured object (null -> nil)."""
    if isinstance(value, dict):
        table = lua.table()
        for key, item in value.items():
            if item is not None:
                table[key] = _to_lua(lua, item)
        return table
    if isinstance(value, list):
        table = lua.table()
        for index, item in enumerate(value, start=1):
            table[index] = _to_lua(lua, item)
        return table
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        # JSON numbers are Lua numbers (float64) in gopher-lua.
        return float(value)
    return value


def health(obj, runtime="lua51"):
    lua = _lua(runtime)
    lua.globals().obj = _to_lua(lua, obj)
    hs = lua.execute(HEALTH_LUA.read_text())
    assert hs is not None, "the health script must return a table"
    result = {"status": hs["status"], "message": hs["message"]}
    assert result["status"] in ARGO_STATUSES, result
    assert isinstance(result["message"], str) and result["message"], result
    return result


def _condition(obj, type_):
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return c
    return None


def _captured():
    """(id, path, expected status) of every object there is: e2e captures and committed fixtures."""
    cases = []
    for source, directory in (("e2e", E2E_STATUS), ("fixture", FIXTURES)):
        for moment, expected in EXPECTED.items():
            path = directory / f"{moment}.json"
            if path.is_file():
                cases.append(pytest.param(path, expected, id=f"{source}-{moment}"))
    return cases


CAPTURED = _captured()


def test_there_are_status_objects_to_check():
    assert CAPTURED, f"neither {E2E_STATUS} nor {FIXTURES} holds ready/reconciling/stalled/terminating.json"
    fixtures = {p.stem for p in FIXTURES.glob("*.json")}
    assert set(EXPECTED) <= fixtures, f"committed fixtures missing: {set(EXPECTED) - fixtures}"


def test_reports_which_e2e_captures_were_used():
    present = sorted(m for m in EXPECTED if (E2E_STATUS / f"{m}.json").is_file())
    if not present:
        pytest.skip(f"no e2e captures in {E2E_STATUS} (run the e2e suite first); committed fixtures only")


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("path,expected", CAPTURED)
def test_captured_objects(path, expected, runtime):
    obj = json.loads(path.read_text())
    assert obj.get("kind") == "ElasticIP", f"{path} is not an ElasticIP"
    result = health(obj, runtime)
    assert result["status"] == expected, f"{path}: {result}"
    if expected == "Degraded":
        stalled = _condition(obj, "Stalled")
        assert stalled is not None and stalled["status"] == "True"
        assert result["message"] == stalled["message"]
    if path.stem == "terminating":
        assert obj["metadata"].get("deletionTimestamp"), f"{path} is not being deleted"


def _eip(generation=1, status=None, **metadata):
    obj = {
        "apiVersion": "eip-operator.dev/v1alpha1",
        "kind": "ElasticIP",
        "metadata": {"name": "x", "namespace": "default", "generation": generation, **metadata},
        "spec": {"binding": {"instanceType": "EcsInstance", "instanceId": "i-1"}},
    }
    if status is not None:
        obj["status"] = status
    return obj


def _cond(type_, status, reason="Reason", message="", generation=1):
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": "2026-05-04T10:00:00Z",
    }


READY = [
    _cond("Ready", "True", "Bound", "EIP 1.2.3.4 is bound"),
    _cond("Reconciling", "False", "Idle"),
    _cond("Stalled", "False", "NotStalled"),
]

EDGE_CASES = [
    ("no status yet", _eip(), "Progressing", "Waiting for the operator"),
    ("status without conditions", _eip(status={"observedGeneration": 1}), "Progressing", "Waiting for the operator"),
    ("empty conditions", _eip(status={"observedGeneration": 1, "conditions": []}), "Progressing", None),
    ("ready", _eip(status={"observedGeneration": 1, "conditions": READY}), "Healthy", "EIP 1.2.3.4 is bound"),
    (
        "ready, but for an older spec",
        _eip(generation=2, status={"observedGeneration": 1, "conditions": READY}),
        "Progressing",
        "generation 2",
    ),
    (
        "ready without observedGeneration in status",
        _eip(generation=2, status={"conditions": READY}),
        "Progressing",
        None,
    ),
    (
        "ready condition for an older generation",
        _eip(generation=2, status={"observedGeneration": 2, "conditions": READY}),
        "Progressing",
        None,
    ),
    (
        "stalled",
        _eip(
            status={
                "observedGeneration": 1,
                "conditions": [
                    _cond("Ready", "False", "PrepaidCannotRelease", "prepaid"),
                    _cond("Stalled", "True", "PrepaidCannotRelease", "a subscription EIP cannot be released: set deletionPolicy Retain"),
                ],
            }
        ),
        "Degraded",
        "a subscription EIP cannot be released: set deletionPolicy Retain",
    ),
    (
        "stalled without a message: the reason",
        _eip(status={"observedGeneration": 1, "conditions": [_cond("Stalled", "True", "Locked", "")]}),
        "Degraded",
        "Locked",
    ),
    (
        "stalled, but for an older spec",
        _eip(generation=3, status={"observedGeneration": 2, "conditions": [_cond("Stalled", "True", "Locked", "locked", 2)]}),
        "Progressing",
        None,
    ),
    (
        "reconciling",
        _eip(
            status={
                "observedGeneration": 1,
                "conditions": [
                    _cond("Ready", "False", "Associating", "binding"),
                    _cond("Reconciling", "True", "Associating", "binding to EcsInstance/i-1 requested"),
                    _cond("Stalled", "False", "NotStalled"),
                ],
            }
        ),
        "Progressing",
        "binding to EcsInstance/i-1 requested",
    ),
    (
        "throttled: retrying is progress, not degradation",
        _eip(
            status={
                "observedGeneration": 1,
                "conditions": [
                    _cond("Ready", "False", "Throttled", "throttled"),
                    _cond("Reconciling", "True", "Throttled", "Associate failed, will retry: Throttling"),
                ],
            }
        ),
        "Progressing",
        None,
    ),
    (
        "not ready, nothing in flight",
        _eip(status={"observedGeneration": 1, "conditions": [_cond("Ready", "False", "Pending", "waiting")]}),
        "Progressing",
        "waiting",
    ),
    (
        "ready unknown",
        _eip(status={"observedGeneration": 1, "conditions": [_cond("Ready", "Unknown", "Unknown", "")]}),
        "Progressing",
        None,
    ),
    (
        "being deleted while ready",
        _eip(deletionTimestamp="2026-05-04T10:01:00Z", status={"observedGeneration": 1, "conditions": READY}),
        "Progressing",
        "Deleting",
    ),
    (
        "being deleted, blocked",
        _eip(
            deletionTimestamp="2026-05-04T10:01:00Z",
            status={"observedGeneration": 1, "conditions": [_cond("Stalled", "True", "NotOwned", "owned by another cluster")]},
        ),
        "Progressing",
        "owned by another cluster",
    ),
    ("being deleted before any status", _eip(deletionTimestamp="2026-05-04T10:01:00Z"), "Progressing", "Deleting"),
]


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("obj,expected,message", [pytest.param(o, e, m, id=i) for i, o, e, m in EDGE_CASES])
def test_edge_cases(obj, expected, message, runtime):
    result = health(obj, runtime)
    assert result["status"] == expected, result
    if message is not None:
        assert message in result["message"], result


def test_argocd_cm_patch_carries_the_same_script():
    patch = yaml.safe_load(ARGOCD_CM_PATCH.read_text())
    assert patch["apiVersion"] == "v1" and patch["kind"] == "ConfigMap"
    assert patch["metadata"]["name"] == "argocd-cm"
    assert set(patch["data"]) == {HEALTH_KEY}
    assert patch["data"][HEALTH_KEY].strip() == HEALTH_LUA.read_text().strip()


def test_script_has_the_upstream_shape():
    """Like upstream resource_customizations/<group>/<Kind>/health.lua: builds `hs`, returns it."""
    script = HEALTH_LUA.read_text()
    assert "local hs = {}" in script
    assert script.rstrip().endswith("return hs")
    assert "obj.status" in script
