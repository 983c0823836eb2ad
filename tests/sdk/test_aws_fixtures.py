"""The committed AWS SigV4 fixtures are exactly what botocore's signer produces today.

tests/fixtures/aws/generate.py computes them with botocore (fixed time and keys);
crates/aws/tests/aws_signing.rs checks our Rust signer against the same files.
"""

import importlib.util
import os

import pytest

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "aws")


def _generator():
    spec = importlib.util.spec_from_file_location("aws_fixture_generator", os.path.join(FIXTURES, "generate.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATOR = _generator()
BUILT = GENERATOR.build_all()


def test_every_committed_fixture_is_generated():
    committed = sorted(f for f in os.listdir(FIXTURES) if f.endswith(".json"))
    assert committed == sorted(BUILT), "regenerate with tests/fixtures/aws/generate.py"


@pytest.mark.parametrize("name", sorted(BUILT))
def test_fixture_matches_botocore(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
        committed = f.read()
    assert committed == GENERATOR.render(BUILT[name]), f"{name} differs from what botocore produces"
