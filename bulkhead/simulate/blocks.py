"""What one scenario's block loop carries from block to block (`RunState`): the market and
the answers pushed to the feeds, the refusals of the oracle guard and governance's
scheduled anchor resets, the oracle events for the report, and the counters.

The oracle guard is modelled, not bypassed: a move beyond a pool's `max_jump_bps` is
refused by the pool until governance calls `factory.reset_price_anchor(pool)` (after
`anchor_reset` blocks; None waits instead until the bound widens a heartbeat later).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bulkhead.simulate.base import GAS
from bulkhead.simulate.driver import Tx, abi
from bulkhead.simulate.keepers import KeeperHandle
from bulkhead.simulate.pools import FUND, PoolHandle
from bulkhead.simulate.recorder import Recorder, Tracked
from bulkhead.simulate.scenario import Scenario
from bulkhead.simulate.steward import SimSteward

Row = Mapping[str, Any]  # one pool's row of a recorded block (`Recorder.record`)


@dataclass
class RunState:
    """One scenario run: what it started from, and what its block loop carries."""

    scenario: Scenario
    keepers: int  # how many keepers step
    block_time: int  # [seconds]
    pools: list[PoolHandle]  # the scenario's pools (FUND excluded)
    path: dict[str, list[float]]  # each pool's price multiplier per scenario block
    answers: dict[str, int]  # every feed's answer before the scenario [feed units]
    head: int  # the chain block the scenario starts after
    t0: int  # [seconds] its timestamp
    tracked: list[Tracked]
    recorder: Recorder
    handles: list[KeeperHandle]  # the keepers
    steward: SimSteward | None
    start_positions: dict[str, dict[int, tuple[int, int]]]  # id -> (coll, norm) per pool
    start_views: dict[str, dict[str, int]]  # each pool's views before the scenario
    vault_start: dict[str, int] | None  # the savings vault's books before the scenario
    market: dict[str, int]  # [wad] each pool's feed answer in the latest block
    rng: random.Random  # the keepers' order in each block
    pushed: dict[str, tuple[int, int]]  # the answer last pushed to each feed, and when [s]
    scheduled: dict[int, list[str]] = field(default_factory=dict)  # block -> anchor resets
    refused: dict[str, dict[str, Any]] = field(default_factory=dict)  # pools refusing now
    oracle_events: list[dict[str, Any]] = field(default_factory=list)
    liquidations: int = 0
    blocks_run: int = 0
    keeper_seconds: float = 0.0  # [s] spent in the keepers' steps
    last_move: int = field(init=False)  # the last scenario block a price moves in

    def __post_init__(self) -> None:
        self.last_move = max(
            (
                b
                for p in self.pools
                for b in range(1, self.scenario.blocks + 1)
                if self.path[p.name][b] != self.path[p.name][b - 1]
            ),
            default=0,
        )

    def timestamp(self, b: int) -> int:
        """[seconds] when scenario block `b` is mined."""
        return self.t0 + b * self.block_time

    def keeper_order(self) -> list[KeeperHandle]:
        """The keepers in the order they step in the next block (drawn from the seed)."""
        order = list(self.handles)
        self.rng.shuffle(order)
        return order

    def resets(
        self, b: int, admin: str, factory: str, handles: Mapping[str, PoolHandle]
    ) -> list[Tx]:
        """Governance's `factory.reset_price_anchor` for each reset scheduled for block `b`."""
        factory_abi = abi("PoolFactory")
        txs = []
        for name in self.scheduled.pop(b, []):
            txs.append(
                Tx(
                    admin,
                    factory,
                    factory_abi.data("reset_price_anchor", handles[name].address),
                    GAS["call"],
                    f"reset_price_anchor {name}",
                )
            )
            self.oracle_events.append(
                {"block": b, "pool": name, "event": "governance calls factory.reset_price_anchor"}
            )
        return txs

    def feeds(self, b: int, admin: str, fund: PoolHandle) -> list[Tx]:
        """The feed transactions of block `b`: each pool's answer on its path, pushed when it
        changed or half a heartbeat passed; FUND's answer, pushed every half heartbeat.
        `market` moves to the new answers."""
        feed_abi = abi("MockAggregator")
        timestamp = self.timestamp(b)
        txs = []
        for p in self.pools:
            answer = max(round(self.answers[p.name] * self.path[p.name][b]), 1)
            last_answer, last_time = self.pushed[p.name]
            if answer != last_answer or timestamp - last_time >= p.heartbeat // 2:
                txs.append(
                    Tx(
                        admin,
                        p.feed,
                        feed_abi.data("set_answer", answer),
                        GAS["call"],
                        f"feed {p.name}",
                    )
                )
                self.pushed[p.name] = (answer, timestamp)
            self.market[p.name] = p.wad(answer)
        if timestamp - self.pushed.get(FUND, (0, self.t0))[1] >= fund.heartbeat // 2:
            txs.append(
                Tx(
                    admin,
                    fund.feed,
                    feed_abi.data("set_answer", self.answers[FUND]),
                    GAS["call"],
                    "feed FUND",
                )
            )
            self.pushed[FUND] = (self.answers[FUND], timestamp)
        return txs

    def watch(
        self,
        b: int,
        rows: Mapping[str, Row],
        executed_at: Mapping[str, int],
        anchor_reset: int | None,
    ) -> None:
        """Count block `b`'s liquidations and note each pool that starts or stops refusing
        its feed (a refused jump schedules governance's reset `anchor_reset` blocks later)."""
        for p in self.pools:
            row = rows[p.name]
            self.liquidations += row["liquidations"]
            status = row["oracle"]
            if status != "ok" and p.name not in self.refused:
                self.refused[p.name] = {"block": b, "status": status}
                self.oracle_events.append(self._refusal(b, p, status, executed_at, anchor_reset))
            elif status == "ok" and p.name in self.refused:
                since = self.refused.pop(p.name)
                self.oracle_events.append(
                    {
                        "block": b,
                        "pool": p.name,
                        "event": "pool accepts the feed again",
                        "refused_blocks": b - since["block"],
                    }
                )

    def _refusal(
        self,
        b: int,
        p: PoolHandle,
        status: str,
        executed_at: Mapping[str, int],
        anchor_reset: int | None,
    ) -> dict[str, Any]:
        """The event of pool `p` starting to refuse its feed in block `b`, and the response."""
        event: dict[str, Any] = {
            "block": b,
            "pool": p.name,
            "event": f"pool refuses the feed: {status}",
        }
        if status == "price jump":
            moved = self.market[p.name] / executed_at[p.name] - 1
            event["move"] = round(moved, 4)
            event["max_jump_bps"] = p.max_jump_bps
            if anchor_reset is not None:
                when = b + max(anchor_reset, 1)
                self.scheduled.setdefault(when, []).append(p.name)
                event["response"] = f"governance reset scheduled for block {when}"
            else:
                event["response"] = (
                    f"none: the bound widens to {2 * p.max_jump_bps} bps once "
                    f"{p.heartbeat} s have passed since the last anchor"
                )
        return event

    def settled(self, b: int, rows: Mapping[str, Row]) -> bool:
        """Nothing moves after block `b`, nothing is refused or scheduled, and no position
        is left to liquidate."""
        return (
            b > self.last_move
            and not self.scheduled
            and not self.refused
            and all(rows[p.name]["liquidatable"] == 0 for p in self.pools)
        )
