"""The keeper bot: liquidations and owners' rules (deleverage, top-up, boost, stop-loss).

Public API:
- `run(...)`: the whole bot (connect, pick the account, step every poll, back off when the
  node is away); returns the metrics summary. `bulkhead keeper run` and the demo call it.
- `Keeper(w3, deployment, signer, config)`: one keeper; `step()` is one pass, and
  `run_until_idle()` steps until nothing is due or in flight.
- `decide`: the pure decision logic (one module per action kind); `EventIndex`: the log-built index; `Metrics`.
"""

from bulkhead.keeper.core import Keeper, KeeperConfig, StepReport
from bulkhead.keeper.metrics import EventLog, Metrics
from bulkhead.keeper.runner import run, run_keeper
from bulkhead.keeper.tx import KeySigner, NodeSigner, Signer, resolve_signer

__all__ = [
    "EventLog",
    "Keeper",
    "KeeperConfig",
    "KeySigner",
    "Metrics",
    "NodeSigner",
    "Signer",
    "StepReport",
    "resolve_signer",
    "run",
    "run_keeper",
]
