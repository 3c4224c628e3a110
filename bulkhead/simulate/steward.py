"""The risk steward inside a simulation: `bulkhead.steward.Steward`'s reading and decisions,
its moves sent as the simulator's own transactions.

Each block, after the keepers stepped, `SimSteward.step(block, now)` assesses every pool of
the scenario at the timestamp of the block about to be mined (the feeds' rounds up to the
previous block, the pool's steward rules and haircut) and returns a `factory.set_haircut`
transaction for each move; the engine sends them with the block's other transactions. The
decisions go to `steward.jsonl` in the run's folder (the bot's own log lines), and the
report gets each pool's volatility and target per block and every change.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from web3 import Web3

from bulkhead.client import Client
from bulkhead.deploy import Deployment
from bulkhead.keeper.metrics import EventLog
from bulkhead.simulate.driver import Tx, abi
from bulkhead.steward.core import Steward, StewardConfig

GAS = 200_000


class SimSteward:
    def __init__(
        self,
        w3: Web3,
        deployment: Deployment,
        account: str,
        pools: Sequence[str],
        config: StewardConfig,
        log_path: Path | None = None,
    ):
        self.account = account
        self.factory = deployment.factory
        self.client = Client(w3, deployment)
        self.pools = [self.client.pool(name) for name in pools]
        self._stream = open(log_path, "w") if log_path is not None else io.StringIO()  # noqa: SIM115
        self.steward = Steward(self.client, None, config, EventLog(self._stream))
        self.abi = abi("PoolFactory")
        self.series: dict[str, dict[str, list]] = {
            p.name: {"block": [], "vol": [], "target": [], "action": []} for p in self.pools
        }
        self.changes: list[dict[str, Any]] = []

    def step(self, block: int, now: int) -> list[Tx]:
        """The moves of scenario block `block`, mined at `now` [seconds]."""
        txs = []
        for a in self.steward.assess_all(self.pools, now):
            self.steward.log("decision", block=block, **a.as_json())
            s = self.series[a.pool]
            s["block"].append(block)
            s["vol"].append(None if a.estimate.vol is None else round(a.estimate.vol, 4))
            s["target"].append(a.target)
            s["action"].append(a.decision.action)
            if not a.decision.changes:
                continue
            pool = self.client.pool(a.pool)
            txs.append(
                Tx(
                    self.account,
                    self.factory,
                    self.abi.data("set_haircut", pool.contract.address, a.decision.new),
                    GAS,
                    f"steward set_haircut {a.pool}",
                )
            )
            self.changes.append(
                {
                    "block": block,
                    "pool": a.pool,
                    "from": a.current,
                    "to": a.decision.new,
                    "vol": None if a.estimate.vol is None else round(a.estimate.vol, 4),
                    "target": a.target,
                }
            )
        if isinstance(self._stream, io.StringIO):  # no log file: keep no log in memory
            self._stream.seek(0)
            self._stream.truncate()
        return txs

    def report(self) -> dict[str, Any]:
        if not isinstance(self._stream, io.StringIO):
            self._stream.close()
        cfg = self.steward.config
        return {
            "account": self.account,
            "window_s": cfg.window,
            "curve": {
                "calm_vol": cfg.curve.calm,
                "stressed_vol": cfg.curve.stressed,
                "stressed_haircut_bps": cfg.curve.stressed_haircut,
            },
            "changes": self.changes,
            "series": self.series,
        }
