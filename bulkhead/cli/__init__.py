"""The `bulkhead` command line.

Every command reads the deployment manifest (`--manifest`, env `BULKHEAD_MANIFEST`,
default `./deployment.json`), talks to `--rpc-url` (env `BULKHEAD_RPC_URL`, default
`http://127.0.0.1:8545`), prints a table by default and JSON with `--json`. A user mistake
is one line on stderr (`error: ...`) and a non-zero exit, never a traceback.

A package: `base` holds the group and the shared options, and each other module one
family of commands. The bots' commands live with their packages and are added here.
"""

from __future__ import annotations

from bulkhead.cli import funds, govern, position, system  # noqa: F401  (they register commands)
from bulkhead.cli.base import cli, main
from bulkhead.keeper.cli import keeper
from bulkhead.keeper.fleet.cli import fleet
from bulkhead.monitor.cli import dashboard, risk
from bulkhead.simulate.cli import simulate
from bulkhead.steward.cli import steward

__all__ = ["cli", "main"]

# the bots' and tools' commands live with their packages
keeper.add_command(fleet)  # `bulkhead keeper fleet`: the keeper on Silverback workers
for _command in (keeper, simulate, risk, dashboard, steward):
    cli.add_command(_command)
