"""The CLI's fixtures (a real Anvil per module, the default system deployed once), and a
book of positions for the monitor's tests."""

from __future__ import annotations

from tests.cli.conftest import (  # noqa: F401 - fixtures
    Cli,
    anvil,
    cli,
    client,
    deployment,
    dev,
    free_port,
    w3,
)
