"""A deployed Bulkhead, driven from Python in human terms: what the CLI and the demo call.

`Client.attach` checks that the node is the chain of the manifest (chain id, and the
factory's code and registry). Every write checks first what the pool would refuse
(ownership, balances, max LTV, minimum debt, debt ceiling, oracle, pause) with the risk
mirror in `bulkhead.risk`, so that a user reads one clear sentence instead of a revert;
whatever still fails on chain comes back as `TxError` with the contract's reason.

A package: `base` holds the handle and the checks, and each other module one family of
reads and writes; `Client` is all of them.
"""

from __future__ import annotations

from bulkhead.client.automation import Automation
from bulkhead.client.base import (
    ACTORS,
    BORROW_HEADROOM,
    PAGE,
    POSITION_EVENTS,
    RULE_EVENTS,
    Pool,
    Position,
    UserError,
    connect,
)
from bulkhead.client.funds import Funds
from bulkhead.client.govern import Governance

__all__ = [
    "ACTORS",
    "BORROW_HEADROOM",
    "PAGE",
    "POSITION_EVENTS",
    "RULE_EVENTS",
    "Client",
    "Pool",
    "Position",
    "UserError",
    "connect",
]


class Client(Funds, Automation, Governance):
    """Reads and writes one deployment on one node."""
