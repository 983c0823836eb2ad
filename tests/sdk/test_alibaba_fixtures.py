"""The committed Alibaba signing fixtures are exactly what the official SDKs produce today.

tests/fixtures/alibaba/generate.py computes them with the SDKs' own signing code (fixed time,
nonce and keys); crates/alibaba/tests/alibaba_signing.rs checks our Rust signer against the same files.
"""

import importlib.util
import os

import pytest

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "alibaba")


def _generator():
    spec = importlib.util.spec_from_file_location("alibaba_fixture_generator", os.path.join(FIXTURES, "generate.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATOR = _generator()
BUILT = GENERATOR.build_all()


def test_every_committed_fixture_is_generated():
    committed = sorted(f for f in os.listdir(FIXTURES) if f.endswith(".json"))
    assert committed == sorted(BUILT), "regenerate with tests/fixtures/alibaba/generate.py"


@pytest.mark.parametrize("name", sorted(BUILT))
def test_fixture_matches_the_sdks(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
        committed = f.read()
    assert committed == GENERATOR.render(BUILT[name]), f"{name} differs from what the SDKs produce"
