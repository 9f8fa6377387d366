"""Fixtures for the P4Runtime client layer unit tests."""

from pathlib import Path

import pytest

from controller.p4rt.p4info import P4InfoIndex

DATA = Path(__file__).parent / "data"
REFERENCE = Path(__file__).resolve().parents[2] / "conformance" / "reference"


@pytest.fixture(scope="session")
def index() -> P4InfoIndex:
    return P4InfoIndex.load(DATA / "fabric.p4info.txtpb")


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return REFERENCE
