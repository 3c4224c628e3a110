"""Scan: bring the event index to the head and read, in one JSON-RPC batch, every pool's
state, what the paginated views say is due, and the keeper's own balances (a `Scan`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bulkhead import fmt
from bulkhead.eth.abi import Call
from bulkhead.eth.rpc import RpcError, to_int
from bulkhead.keeper.base import (
    DUE_BITS,
    LIQUIDATION_PAGE,
    LIQUIDATION_RESULTS,
    RULE_PAGE,
    KeeperBase,
)
from bulkhead.keeper.kinds import BHUSD, BHUSD_KINDS
from bulkhead.keeper.metrics import PoolWindow
from bulkhead.keeper.model import Action, Batch, PoolState, Position
from bulkhead.keeper.planning import Due, Scan
from bulkhead.keeper.reasons import GRACE_WINDOW, PAUSED
from bulkhead.risk import Controls, RiskParams, to_wad


class Scanning(KeeperBase):
    """The keeper's reading of the chain."""

    def _check_chain(self) -> int:
        """The head; starts the index over when the chain went back or changed under it."""
        index = self.index
        requests: list[tuple[str, list]] = [("eth_blockNumber", [])]
        if index.synced >= 0:
            requests.append(("eth_getBlockByNumber", [hex(index.synced), False]))
        results = self.rpc.batch(requests)
        head = to_int(_ok(results[0]))
        if index.synced >= 0:
            block = results[1]
            changed = head < index.synced or block is None or isinstance(block, RpcError)
            changed = changed or block["hash"] != index.synced_hash
            if changed:
                self.log("index_reset", synced=index.synced, head=head)
                self.metrics.index_resets += 1
                index.reset()
        return head

    def _discover(self) -> Scan:
        """Pool states, what the views say is due, how many ids they covered, our balances:
        one JSON-RPC batch (plus one call per 1,000 liquidatable ids found, rarely)."""
        requests: list[tuple[str, list]] = []
        decoders: list[Callable[[Any], None]] = []
        raw: dict[str, Any] = {}
        views: list[tuple[str, str, int, Call]] = []  # kind, pool, start, call

        def add(call: Call, key: str) -> None:
            requests.append(call.request())

            def decode(result: Any, call: Call = call, key: str = key) -> None:
                raw[key] = call.decode(result)

            decoders.append(decode)

        add(self._bhusd_balance, "bhusd")
        bhusd_kinds = [k for k in BHUSD_KINDS if k in self.config.kinds]
        if (
            BHUSD not in self.approved
            and bhusd_kinds
            and any(p.rule_ids(*bhusd_kinds) for p in self.index.pools.values())
        ):
            add(self._bhusd_allowance, f"{BHUSD}:allowance")
        kinds = [k for k, _bit in DUE_BITS if k in self.config.kinds]
        scanned = 0
        for address, pool_index in self.index.pools.items():
            calls = self._calls[address]
            add(calls.price_status, f"{address}:price_status")
            add(calls.risk_params, f"{address}:risk_params")
            add(calls.rate, f"{address}:rate")
            add(calls.paused, f"{address}:paused")
            add(calls.controls, f"{address}:controls")
            if pool_index.boosts and "boost" in self.config.kinds:
                add(calls.keeper_collateral, f"{address}:collateral")
                if address not in self.approved:
                    add(calls.automation_allowance, f"{address}:allowance")
            pool = self.pools[address]
            for start in range(1, pool_index.count + 1, LIQUIDATION_PAGE):
                views.append(
                    (
                        "liquidate",
                        address,
                        start,
                        Call.of(pool.functions.positions_to_liquidate(start, LIQUIDATION_PAGE)),
                    )
                )
            scanned += pool_index.count
            if kinds:
                for start in _windows(pool_index.rule_ids(*kinds), RULE_PAGE):
                    views.append(
                        (
                            "rules",
                            address,
                            start,
                            Call.of(self.automation.functions.due(address, start, RULE_PAGE)),
                        )
                    )
        for i, (_kind, _address, _start, call) in enumerate(views):
            add(call, f"view:{i}")
        # the views saw this block or an earlier one; its time judges the grace windows
        requests.append(("eth_getBlockByNumber", ["latest", False]))

        def decode_block(result: Any) -> None:
            block = _ok(result)
            raw["block"], raw["time"] = to_int(block["number"]), to_int(block["timestamp"])

        decoders.append(decode_block)
        results = self.rpc.batch(requests)
        self.metrics.view_calls += len(views)
        for decode, result in zip(decoders, results):
            decode(result)

        states: dict[str, PoolState] = {}
        for address, info in self.info.items():
            price, status = raw[f"{address}:price_status"]
            if status == 0:
                self.prices[address] = price
            controls = Controls(*raw[f"{address}:controls"])
            self.controls[address] = controls
            states[address] = PoolState(
                address=address,
                name=info.name,
                params=RiskParams(*raw[f"{address}:risk_params"]),
                scale=to_wad(info.collateral_decimals),
                price=price if status == 0 else 0,
                status=status,
                rate=raw[f"{address}:rate"],
                paused=raw[f"{address}:paused"],
                grace_end=controls.grace_end,
                now=raw["time"],
            )
        due: list[Due] = []
        for i, (kind, address, _start, _call) in enumerate(views):
            found = raw[f"view:{i}"]
            if kind == "liquidate":
                due += [Due("liquidate", address, pid) for pid in found]
                while len(found) == LIQUIDATION_RESULTS:  # the view stopped at 1,000: go on after
                    call = Call.of(
                        self.pools[address].functions.positions_to_liquidate(
                            found[-1] + 1, LIQUIDATION_PAGE
                        )
                    )
                    found = call.decode(self.rpc.request(*call.request()))
                    self.metrics.view_calls += 1
                    due += [Due("liquidate", address, pid) for pid in found]
            else:
                for pid, rules in found:
                    due += [
                        Due(k, address, pid) for k, bit in DUE_BITS if rules & bit and k in kinds
                    ]
        allowance = {
            a: raw[f"{a}:allowance"] for a in (*self.pools, BHUSD) if f"{a}:allowance" in raw
        }
        self.approved.update(a for a, value in allowance.items() if value >= 2**255)
        return Scan(
            states=states,
            due=due,
            scanned=scanned,
            block=raw["block"],
            bhusd=raw["bhusd"],
            collateral={a: raw[f"{a}:collateral"] for a in self.pools if f"{a}:collateral" in raw},
            allowance=allowance,
        )

    def _positions(self, due: list[Due]) -> dict[tuple[str, int], Position]:
        out: dict[tuple[str, int], Position] = {}
        missing: list[Due] = []
        for d in due:
            pos = self.index.position(d.pool, d.id)
            if pos is None:
                missing.append(d)
            else:
                out[(d.pool, d.id)] = pos
        if missing:  # the view saw a block the index has not: read those positions directly
            calls = []
            for d in missing:
                f = self.pools[d.pool].functions
                calls += [
                    Call.of(f.owner_of(d.id)),
                    Call.of(f.collateral_of(d.id)),
                    Call.of(f.normalised_debt_of(d.id)),
                ]
            results = self.rpc.batch([c.request() for c in calls])
            for k, d in enumerate(missing):
                owner, coll, norm = (calls[3 * k + j].decode(results[3 * k + j]) for j in range(3))
                out[(d.pool, d.id)] = Position(d.pool, d.id, owner, coll, norm)
                self.log("index_miss", pool=self.info[d.pool].name, id=d.id)
        return out

    def _watch_windows(self, states: dict[str, PoolState]) -> None:
        """Log once when a pool's liquidations close (paused, or a grace window with its end)
        and when they open again; keep each pool's window in the metrics."""
        for address, s in states.items():
            closed = s.closed
            window = (closed, s.grace_end if closed == GRACE_WINDOW else 0)
            self.metrics.windows[s.name] = PoolWindow(
                closed or "open",
                s.grace_end if closed == GRACE_WINDOW else 0,
                s.grace_left,
            )
            before = self.windows.get(address)
            if window == before:
                continue
            self.windows[address] = window
            if closed == PAUSED:
                self.log(
                    "pool_paused",
                    pool=s.name,
                    detail="no liquidations or boosts until the pool is unpaused and its grace "
                    "window has passed; stop-losses, protections and top-ups go on",
                    grace_period_s=self.controls[address].grace_period,
                )
            elif closed == GRACE_WINDOW:
                self.log(
                    "grace_window",
                    pool=s.name,
                    grace_end=s.grace_end,
                    ends_at=fmt.timestamp(s.grace_end),
                    seconds_left=s.grace_left,
                    detail="no liquidations until it ends; owners' rules go on",
                )
            elif before is not None:
                self.log("liquidations_open", pool=s.name, after=before[0])

    def _track_unsafe(self, due: list[Due], states: dict[str, PoolState], head: int) -> None:
        """When each unsafe position was first seen unsafe while its pool let it be
        liquidated (a pause or a grace window is not the keeper's delay)."""
        unsafe = {
            (d.pool, d.id)
            for d in due
            if d.kind == "liquidate" and d.pool in states and states[d.pool].closed is None
        }
        for key in unsafe:
            self.first_unsafe.setdefault(key, head)
        busy = self._busy()
        for key in list(self.first_unsafe):
            if key not in unsafe and key not in busy:
                del self.first_unsafe[key]


def _positions(action: Action | Batch) -> int:
    """How many positions a transaction's action stands for."""
    return len(action.actions) if isinstance(action, Batch) else 1


def _ok(value: Any) -> Any:
    if isinstance(value, RpcError):
        raise value
    return value


def _windows(ids: list[int], page: int) -> list[int]:
    """Start ids of pages of `page` ids that cover every id in sorted `ids`."""
    starts: list[int] = []
    for i in ids:
        if not starts or i >= starts[-1] + page:
            starts.append(i)
    return starts
