"""Fixtures shared by the SDK cross-checks: a fresh `eip-operator simulator` per test module."""

import os
import socket
import subprocess
import time

import pytest
import requests

# The simulator's well-known default credentials (crates/simulator/src/config.rs).
ACCESS_KEY_ID = "SIMACCESSKEYID0000001"
ACCESS_KEY_SECRET = "sim-access-key-secret-0000000000000001"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Simulator:
    def __init__(self, base_url):
        self.base_url = base_url
        self.host = base_url.split("://", 1)[1]

    def admin(self, method, path, **kwargs):
        response = requests.request(method, self.base_url + path, timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()

    def calls(self, since=0):
        return self.admin("GET", f"/admin/calls?since={since}")


@pytest.fixture(scope="module")
def simulator():
    port = _free_port()
    binary = os.environ["EIP_OPERATOR_BIN"]
    proc = subprocess.Popen(
        [binary, "simulator", "--listen", f"127.0.0.1:{port}", "--profile", "instant", "--seed", "7"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(base + "/healthz", timeout=1).ok:
                break
        except requests.ConnectionError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("simulator did not start: " + proc.stderr.read().decode(errors="replace"))
        time.sleep(0.1)
    try:
        yield Simulator(base)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
