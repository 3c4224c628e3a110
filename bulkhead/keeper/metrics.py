"""The keeper's metrics and its log (one JSON object per line, or text for people)."""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import IO, Any

from bulkhead.risk import WAD

LOG_FORMATS = ("json", "text")
# [wad] bhUSD amounts by field name; `amount` is bhUSD except a top-up's (collateral units)
_BHUSD_FIELDS = frozenset({"paid", "repaid", "bhusd_in", "borrowed", "debt_repaid"})
_COLLATERAL_FIELDS = frozenset(
    {
        "min_out",
        "collateral_out",
        "collateral_in",
        "expected_out",
        "keeper_collateral",
        "owner_collateral",
    }
)
_PRICE_FIELDS = frozenset({"price"})  # [wad] USD per collateral unit


class EventLog:
    """Writes one line per event: a JSON object `{"ts": ..., "event": ..., **fields}` (the
    default, for machines), or with `fmt="text"` a line for people: local time, event, then
    `key=value` with amounts in tokens (`decimals`: each pool's collateral decimals by name)."""

    def __init__(
        self,
        stream: IO[str] | None = None,
        quiet: frozenset[str] = frozenset(),
        fmt: str = "json",
        decimals: dict[str, int] | None = None,
        context: dict[str, Any] | None = None,
    ):
        if fmt not in LOG_FORMATS:
            raise ValueError(f"log format {fmt!r} is not one of {', '.join(LOG_FORMATS)}")
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet  # event names not written (still counted by the caller)
        self.fmt = fmt
        self.decimals = decimals or {}
        self.context = context or {}  # fields on every line first (a fleet worker's name)
        # re-entrant: a signal handler that logs (SIGTERM's "terminated") runs in the main
        # thread, possibly while that thread is inside a write
        self._lock = threading.RLock()

    def __call__(self, event: str, **fields: Any) -> None:
        if event in self.quiet:
            return
        now = time.time()
        if self.context:
            fields = {**self.context, **fields}
        if self.fmt == "text":
            line = (
                f"{time.strftime('%H:%M:%S', time.localtime(now))} {event:<16} {self._text(fields)}"
            )
        else:
            line = json.dumps({"ts": round(now, 3), "event": event, **fields}, default=str)
        with self._lock:
            self.stream.write(line.rstrip() + "\n")
            self.stream.flush()

    def _text(self, fields: dict[str, Any]) -> str:
        decimals = self.decimals.get(str(fields.get("pool")))
        parts = []
        for key, value in fields.items():
            if isinstance(value, dict):  # a summary's nested counts
                value = _nested(value)
            elif isinstance(value, float) and key.endswith("_usd"):
                value = f"{value:,.2f}USD"
            elif isinstance(value, int) and not isinstance(value, bool):
                collateral = key in _COLLATERAL_FIELDS or (
                    key == "amount" and fields.get("kind") == "top_up"
                )
                if collateral and decimals is not None:
                    value = f"{_decimal(value, decimals)}{fields.get('pool')}"
                elif key in _PRICE_FIELDS:
                    value = f"{_decimal(value, 18)}USD"
                elif key in _BHUSD_FIELDS or (key == "amount" and not collateral):
                    value = f"{_decimal(value, 18)}bhUSD"
            parts.append(f"{key}={value}")
        return " ".join(parts)


def _nested(counts: dict) -> str:
    """`{"a": 1, "b": {"c": 2}}` as `a:1,b:(c:2)`."""
    parts = [
        f"{k}:({_nested(v)})" if isinstance(v, dict) else f"{k}:{v}" for k, v in counts.items()
    ]
    return ",".join(parts) or "-"


def _decimal(units: int, decimals: int) -> str:
    """Integer units as a decimal with at most 6 places (rounded down), thousands separated."""
    value = Decimal(units).scaleb(-decimals).quantize(Decimal("0.000001"), rounding=ROUND_DOWN)
    text = f"{value:,.6f}".rstrip("0").rstrip(".")
    return text or "0"


def usd(amount_wad: int) -> float:
    """[wad] to a float of USD, for reports only."""
    return round(amount_wad / WAD, 6)


# the kinds of action, in the order reports list them
KIND_ORDER = ("liquidate", "stop_loss", "deleverage", "top_up", "boost")


@dataclass(frozen=True)
class PoolWindow:
    """Whether a pool let liquidations through at the keeper's last pass."""

    liquidations: str  # "open", "paused" or "grace_window"
    grace_end: int  # [seconds] timestamp the grace window ends; 0 outside one
    seconds_left: int  # [seconds] until then, at the chain time of that pass

    def as_dict(self) -> dict[str, Any]:
        return {
            "liquidations": self.liquidations,
            "grace_end": self.grace_end or None,
            "grace_seconds_left": self.seconds_left,
        }


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
    windows: dict[str, PoolWindow] = field(default_factory=dict)  # pool name -> at last pass
    started: float = field(default_factory=time.monotonic)

    @property
    def scan_rate(self) -> float:
        """Positions per second of discovery time."""
        return self.positions_scanned / self.scan_seconds if self.scan_seconds else 0.0

    @property
    def adjustments(self) -> int:
        """Owners' rules carried out (every kind but liquidations)."""
        return sum(self.done[k] for k in KIND_ORDER if k != "liquidate")

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
            "stop_losses": self.done["stop_loss"],
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
        """Per pool: actions done by kind, bounty earned [USD] and, once the keeper has
        looked, whether liquidations are open (else paused or in a grace window, with its
        end and the seconds left at the last pass)."""
        names = sorted(
            {name for name, _ in self.pool_done} | set(self.pool_bounty) | set(self.windows)
        )
        out: dict[str, dict[str, Any]] = {}
        for name in names:
            row: dict[str, Any] = {kind: self.pool_done[(name, kind)] for kind in KIND_ORDER}
            row["bounty_usd"] = usd(self.pool_bounty[name])
            window = self.windows.get(name)
            if window is not None:
                row.update(window.as_dict())
            out[name] = row
        return out
