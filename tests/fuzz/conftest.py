"""Fixtures of the titanoboa fuzz suite."""

from __future__ import annotations

import pytest

from tests.fuzz.machine import BulkheadMachine, deploy


@pytest.fixture(scope="module")
def fuzz_system():
    """One titanoboa deployment per module; every hypothesis example runs in a snapshot of it
    (titanoboa's pytest plugin anchors each example and each fixture)."""
    BulkheadMachine.system = deploy()
    yield BulkheadMachine.system
    BulkheadMachine.system = None
