"""The keeper's metrics and its structured log (one JSON object per line)."""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, Any

from bulkhead.risk import WAD


class EventLog:
    """Writes one JSON object per line: `{"ts": ..., "event": ..., **fields}`."""

    def __init__(self, stream: IO[str] | None = None, quiet: frozenset[str] = frozenset()):
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet  # event names not written (still counted by the caller)
        # re-entrant: a signal handler that logs (SIGTERM's "terminated") runs in the main
        # thread, possibly while that thread is inside a write
        self._lock = threading.RLock()

    def __call__(self, event: str, **fields: Any) -> None:
        if event in self.quiet:
            return
        line = json.dumps({"ts": round(time.time(), 3), "event": event, **fields}, default=str)
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()


def usd(amount_wad: int) -> float:
    """[wad] to a float of USD, for reports only."""
    return round(amount_wad / WAD, 6)


@dataclass
class Metrics:
    cycles: int = 0
    positions_scanned: int = 0  # ids covered by the liquidation views, summed over cycles
    scan_seconds: float = 0.0  # wall time spent discovering (views + logs)
    view_calls: int = 0  # eth_calls of the paginated views
    rpc_requests: int = 0  # JSON-RPC requests of every kind
    rpc_round_trips: int = 0  # HTTP round trips (a batch is one)
    logs_applied: int = 0
    done: Counter = field(default_factory=Counter)  # kind -> mined actions
    bounty: Counter = field(default_factory=Counter)  # kind -> [wad] USD earned
    pool_done: Counter = field(default_factory=Counter)  # (pool name, kind) -> mined actions
    pool_bounty: Counter = field(default_factory=Counter)  # pool name -> [wad] USD earned
    gas_spent: int = 0  # [wei] of every transaction mined, failed ones included
    gas_spent_usd: int = 0  # [wad]
    failures: Counter = field(default_factory=Counter)  # reason -> count
    skips: Counter = field(default_factory=Counter)  # reason -> new skip episodes
    blocks_to_liquidation: list[int] = field(default_factory=list)
    txs_sent: int = 0
    fee_bumps: int = 0
    fee_capped: int = 0  # bumps the max fee did not allow
    cancels: int = 0
    nonce_resyncs: int = 0
    reconnects: int = 0
    index_resets: int = 0
    simulated: Counter = field(default_factory=Counter)  # dry run: kind -> would send
    started: float = field(default_factory=time.monotonic)

    @property
    def scan_rate(self) -> float:
        """Positions per second of discovery time."""
        return self.positions_scanned / self.scan_seconds if self.scan_seconds else 0.0

    @property
    def adjustments(self) -> int:
        return self.done["deleverage"] + self.done["boost"] + self.done["top_up"]

    def summary(self) -> dict[str, Any]:
        blocks = self.blocks_to_liquidation
        return {
            "cycles": self.cycles,
            "runtime_s": round(time.monotonic() - self.started, 3),
            "positions_scanned": self.positions_scanned,
            "scan_seconds": round(self.scan_seconds, 4),
            "scan_rate": round(self.scan_rate, 1),
            "view_calls": self.view_calls,
            "rpc_requests": self.rpc_requests,
            "rpc_round_trips": self.rpc_round_trips,
            "liquidations": self.done["liquidate"],
            "adjustments": self.adjustments,
            "deleverages": self.done["deleverage"],
            "top_ups": self.done["top_up"],
            "boosts": self.done["boost"],
            "bounty_usd": {k: usd(v) for k, v in sorted(self.bounty.items())}
            | {"total": usd(sum(self.bounty.values()))},
            "gas_spent_wei": self.gas_spent,
            "gas_spent_usd": usd(self.gas_spent_usd),
            "blocks_to_liquidation": {
                "count": len(blocks),
                "min": min(blocks) if blocks else None,
                "median": statistics.median(blocks) if blocks else None,
                "max": max(blocks) if blocks else None,
            },
            "failures": dict(sorted(self.failures.items())),
            "skips": dict(sorted(self.skips.items())),
            "txs_sent": self.txs_sent,
            "fee_bumps": self.fee_bumps,
            "fee_capped": self.fee_capped,
            "cancels": self.cancels,
            "nonce_resyncs": self.nonce_resyncs,
            "reconnects": self.reconnects,
            "index_resets": self.index_resets,
            "simulated": dict(self.simulated),
            "pools": self.pools(),
        }

    def pools(self) -> dict[str, dict[str, Any]]:
        """Per pool: actions done by kind and bounty earned [USD]."""
        names = sorted({name for name, _ in self.pool_done} | set(self.pool_bounty))
        return {
            name: {
                kind: self.pool_done[(name, kind)]
                for kind in ("liquidate", "deleverage", "top_up", "boost")
            }
            | {"bounty_usd": usd(self.pool_bounty[name])}
            for name in names
        }
