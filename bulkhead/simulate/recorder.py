"""What happened in each block, per pool, read from the chain after the block is mined.

Per block it makes one JSON-RPC batch: the block's logs (pools and automation), the block's
receipts (the keepers' gas, won and lost races), and each pool's oracle status, rate,
reserve, bad debt, total debt, total collateral and controls (the haircut). Positions are kept current from
`PositionUpdated` events (the pool emits a position's full state after every change), so
the health of every position at the scenario's market price costs no call at all.

Valuation: collateral at the feed's answer of that block (the market price, also while
the pool refuses it); a keeper's bounty at the answer its transaction executed against
(the previous block's: keepers' transactions come before the block's price update); gas at
the WETH pool's market price (a configured price without a WETH pool).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bulkhead import risk
from bulkhead.risk import WAD, RiskParams
from bulkhead.simulate.driver import Driver, DriverError, abi, checksum, to_int
from bulkhead.simulate.pools import PoolHandle

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75)
HEALTH_CAP = 100.0  # health above this is plotted and stored as this
VIEWS = (
    "price_status", "rate", "reserve", "bad_debt", "total_debt", "total_collateral", "controls",
)  # fmt: skip
# the automation's events about a position that a keeper carried out
KEEPER_RULE_EVENTS = ("AutoDeleverage", "StopLoss")
SERIES = (
    "block",
    "chain_block",
    "seconds",
    "price",
    "oracle",
    "debt",
    "collateral_value",
    "positions_with_debt",
    "liquidatable",
    "liquidations",
    "closed",
    "protections",
    "stop_losses",
    "bounty",
    "keeper_gas_usd",
    "keeper_gas_wei",
    "keeper_reverted",
    "keeper_profit",
    "reserve",
    "bad_debt",
    "latent_shortfall",
    "lowest_health",
    "health_quantiles",
    "haircut",
)


@dataclass
class Tracked:
    """One pool as the recorder follows it: its handle (the pool's facts, read from there)
    and what the recorder has read of it so far."""

    pool: PoolHandle
    positions: dict[int, list[int]] = field(default_factory=dict)  # id -> [coll, norm]
    owners: dict[int, str] = field(default_factory=dict)
    series: dict[str, list] = field(default_factory=lambda: {k: [] for k in SERIES})
    last: dict[str, int] = field(default_factory=dict)  # the latest views [wad / units]

    @property
    def name(self) -> str:
        return self.pool.name

    @property
    def address(self) -> str:
        return self.pool.address

    @property
    def params(self) -> RiskParams:
        return self.pool.params

    @property
    def scale(self) -> int:
        return self.pool.scale

    def usd(self, units: int, price: int) -> int:
        """[wad] value of `units` of collateral at `price`."""
        return risk.value(units, price, self.scale)


def _f(wad: int, places: int = 2) -> float:
    return round(wad / WAD, places)


def _liquidation(args: dict, pool: Tracked, price: int) -> tuple[int, dict[str, Any]]:
    """A `Liquidate`'s bounty [wad] at `price` and its event's fields."""
    out = pool.usd(int(args["collateral_out"]), price)
    return out - int(args["paid"]), {
        "keeper": checksum(args["liquidator"]),
        "debt_repaid": _f(int(args["debt_repaid"])),
        "paid": _f(int(args["paid"])),
        "collateral_out_usd": _f(out),
        "reserve_used": _f(int(args["reserve_used"])),
        "bad_debt": _f(int(args["bad_debt"])),
    }


def _deleverage(args: dict, pool: Tracked, price: int) -> tuple[int, dict[str, Any]]:
    """An `AutoDeleverage`'s bounty [wad] at `price` and its event's fields."""
    bounty = pool.usd(int(args["collateral_out"]), price) - int(args["repaid"])
    return bounty, {
        "keeper": checksum(args["keeper"]),
        "repaid": _f(int(args["repaid"])),
        "health_before": round(int(args["health_before"]) / WAD, 4),
        "health_after": round(int(args["health_after"]) / WAD, 4),
    }


def _stop_loss(args: dict, pool: Tracked, price: int) -> tuple[int, dict[str, Any]]:
    """A `StopLoss`'s bounty [wad] at `price` and its event's fields."""
    paid = int(args["debt_repaid"])
    keeper_usd = pool.usd(int(args["keeper_collateral"]), price)
    return keeper_usd - paid, {
        "keeper": checksum(args["keeper"]),
        "price": round(int(args["price"]) / WAD, 8),
        "debt_repaid": _f(paid),
        "keeper_collateral_usd": _f(keeper_usd),
        "owner_collateral_usd": _f(pool.usd(int(args["owner_collateral"]), price)),
    }


EventReader = Callable[[dict, Tracked, int], tuple[int, dict[str, Any]]]
# the events a keeper's action emits: the counter it adds to, its kind in `Recorder.events`,
# and what reads its bounty and fields
KEEPER_EVENTS: dict[str, tuple[str, str, EventReader]] = {
    "Liquidate": ("liquidations", "liquidate", _liquidation),
    "AutoDeleverage": ("protections", "deleverage", _deleverage),
    "StopLoss": ("stop_losses", "stop_loss", _stop_loss),
}
# what `record` counts per pool in a block (gas in wei, bounty in wad)
COUNTERS = ("liquidations", "closed", "protections", "stop_losses", "bounty", "gas", "reverted")


class Recorder:
    def __init__(
        self,
        driver: Driver,
        pools: Sequence[Tracked],
        automation: str,
        keepers: Sequence[str],
        native_pool: str | None,
        native_price: int,
    ):
        self.driver = driver
        self.pools = {p.address.lower(): p for p in pools}
        self.by_name = {p.name: p for p in pools}
        self.automation = automation.lower()
        self.keepers = {k.lower() for k in keepers}
        self.native_pool = native_pool
        self.native_price = native_price  # [wad] used without a WETH pool
        self.pool_abi = abi("MarginPool")
        self.automation_abi = abi("PositionAutomation")
        self.events: list[dict] = []  # liquidations and protections, for the report
        self.start_time: int | None = None  # [seconds] of the first block recorded
        self.block_receipts = True  # the node answers eth_getBlockReceipts

    # ------------------------------------------------------------ positions

    def load_positions(self, from_block: int, to_block: int) -> None:
        """Build the position index from every `PositionUpdated` since `from_block`."""
        topic = self.pool_abi.topics["PositionUpdated"]
        logs = self.driver.logs(list(self.pools_addresses()), from_block, to_block, [topic])
        for log in logs:
            self._apply(log, collect=False)

    def count_events(self, from_block: int, to_block: int) -> int:
        """Liquidations and deleverages in a range of blocks (not recorded per block)."""
        if to_block < from_block:
            return 0
        topics = [
            [self.pool_abi.topics["Liquidate"]]
            + [self.automation_abi.topics[name] for name in KEEPER_RULE_EVENTS]
        ]
        addresses = [*self.pools_addresses(), checksum(self.automation)]
        return len(self.driver.logs(addresses, from_block, to_block, topics))

    def pools_addresses(self) -> list[str]:
        return [p.address for p in self.pools.values()]

    def _apply(self, log: dict, collect: bool = True) -> tuple[str, dict, Tracked] | None:
        emitter = log["address"].lower()
        if emitter == self.automation:  # a rule carried out: AutoDeleverage, StopLoss
            decoded = self.automation_abi.event(log)
            if decoded is None or decoded[0] not in KEEPER_RULE_EVENTS:
                return None
            pool = self.pools.get(str(decoded[1]["pool"]).lower())
            return None if pool is None else (decoded[0], decoded[1], pool)
        pool = self.pools.get(emitter)
        if pool is None:
            return None
        decoded = self.pool_abi.event(log)
        if decoded is None:
            return None
        name, args = decoded
        if name == "PositionUpdated":
            pid = int(args["id"])
            pool.positions[pid] = [int(args["collateral"]), int(args["normalised_debt"])]
            pool.owners[pid] = checksum(args["owner"])
        return name, args, pool

    # ------------------------------------------------------------ per block

    def record(
        self,
        block: int,
        market: dict[str, int],
        executed_at: dict[str, int],
        step: int = 0,
    ) -> dict[str, dict[str, Any]]:
        """Read block `block` (the scenario's block `step`) and append one row per pool;
        returns the rows by pool name.

        `market` holds each pool's feed answer in this block [wad], `executed_at` the answer
        the keepers' transactions in this block saw [wad].
        """
        logs, receipts, seconds, views = self._read(block)
        counters = self._count_events(logs, block, step, market, executed_at)
        gas_other = self._count_gas(receipts, counters)
        native = market[self.native_pool] if self.native_pool is not None else self.native_price
        rows = {}
        for k, pool in enumerate(self.pools.values()):
            raw = views[k * len(VIEWS) : (k + 1) * len(VIEWS)]
            where = (step, block, seconds)
            rows[pool.name] = self._row(pool, raw, counters[pool.name], market, native, where)
        if gas_other:
            rows["_other_gas_wei"] = {"keeper_gas_wei": gas_other}
        return rows

    def _read(self, block: int) -> tuple[list[dict], list[dict], int, list[Any]]:
        """One batch for block `block`: its logs, the keepers' receipts, its seconds since the
        first block recorded and the raw answers of every pool's views (`VIEWS` in order, pool
        after pool)."""
        pools = list(self.pools.values())
        requests: list[tuple[str, list]] = [
            (
                "eth_getLogs",
                [
                    {
                        "address": [p.address for p in pools] + [checksum(self.automation)],
                        "fromBlock": hex(block),
                        "toBlock": hex(block),
                    }
                ],
            ),
            (
                "eth_getBlockReceipts" if self.block_receipts else "eth_getBlockByNumber",
                [hex(block)] if self.block_receipts else [hex(block), True],
            ),
            ("eth_getBlockByNumber", [hex(block), False]),
        ]
        for p in pools:
            for view in VIEWS:
                requests.append(
                    ("eth_call", [{"to": p.address, "data": self.pool_abi.data(view)}, hex(block)])
                )
        results = self.driver.batch(requests, strict=False)
        for r in results:
            if isinstance(r, DriverError) and r is not results[1]:
                raise r
        if isinstance(results[1], DriverError):  # no eth_getBlockReceipts (Hardhat): ask
            self.block_receipts = False  # for the block's keeper transactions one by one
            return self._read(block)
        logs, receipts, header = results[0], results[1] or [], results[2]
        if not self.block_receipts:  # results[1] is the block, with its transactions
            mine = [
                t["hash"] for t in results[1]["transactions"] if t["from"].lower() in self.keepers
            ]
            receipts = self.driver.receipts(mine)
        timestamp = to_int(header["timestamp"])
        if self.start_time is None:
            self.start_time = timestamp
        return logs, receipts, timestamp - self.start_time, results[3:]

    def _count_events(
        self,
        logs: list[dict],
        block: int,
        step: int,
        market: dict[str, int],
        executed_at: dict[str, int],
    ) -> dict[str, dict[str, int]]:
        """Apply the block's logs; count each pool's liquidations (and the positions they
        closed), protections and stop-losses with the keepers' bounty, and keep their events."""
        pools = list(self.pools.values())
        counters = {p.name: dict.fromkeys(COUNTERS, 0) for p in pools}
        liquidated_ids: dict[str, set[int]] = {p.name: set() for p in pools}
        for log in logs:
            applied = self._apply(log)
            if applied is None:
                continue
            name, args, pool = applied
            price = executed_at.get(pool.name, market[pool.name])
            if name not in KEEPER_EVENTS:
                continue
            counter, kind, read = KEEPER_EVENTS[name]
            bounty, fields = read(args, pool, price)
            counters[pool.name][counter] += 1
            counters[pool.name]["bounty"] += bounty
            if name == "Liquidate":
                liquidated_ids[pool.name].add(int(args["id"]))
            self.events.append(
                {
                    "block": step,
                    "chain_block": block,
                    "pool": pool.name,
                    "kind": kind,
                    "id": int(args["id"]),
                    **fields,
                }
            )
        for pool_name, ids in liquidated_ids.items():
            pool = self.by_name[pool_name]
            counters[pool_name]["closed"] = sum(1 for i in ids if pool.positions[i][1] == 0)
        return counters

    def _count_gas(self, receipts: list[dict], counters: dict[str, dict[str, int]]) -> int:
        """Add the keepers' gas [wei] and reverts to the pool each transaction was for;
        returns the gas of those for no pool."""
        gas_other = 0
        for r in receipts:
            if (r.get("from") or "").lower() not in self.keepers:
                continue
            cost = to_int(r["gasUsed"]) * to_int(r.get("effectiveGasPrice") or "0x0")
            paid_for = self._pool_of(r)
            if paid_for is None:
                gas_other += cost
                continue
            counters[paid_for.name]["gas"] += cost
            if to_int(r["status"]) != 1:
                counters[paid_for.name]["reverted"] += 1
        return gas_other

    def _row(
        self,
        pool: Tracked,
        raw: list[Any],
        c: dict[str, int],
        market: dict[str, int],
        native: int,
        where: tuple[int, int, int],
    ) -> dict[str, Any]:
        """Decode `pool`'s views, keep them as its latest, and append its row of the block
        `where` (scenario block, chain block, seconds since the first) to its series; returns
        the row."""
        step, block, seconds = where
        price_status = self.pool_abi.result("price_status", raw[0])
        rate, reserve, bad_debt, total_debt, total_coll, controls = (
            self.pool_abi.result(v, r) for v, r in zip(VIEWS[1:], raw[1:], strict=True)
        )
        pool.last = {
            "status": int(price_status[1]),
            "rate": rate,
            "reserve": reserve,
            "bad_debt": bad_debt,
            "total_debt": total_debt,
            "total_collateral": total_coll,
        }
        health = self._health(pool, market[pool.name], rate)
        gas_usd = c["gas"] * native // WAD
        row = {
            "block": step,
            "chain_block": block,
            "seconds": seconds,
            "price": round(market[pool.name] / WAD, 8),
            "oracle": risk.oracle_status(int(price_status[1])),
            "debt": _f(total_debt),
            "collateral_value": _f(pool.usd(total_coll, market[pool.name])),
            "positions_with_debt": health["with_debt"],
            "liquidatable": health["liquidatable"],
            "liquidations": c["liquidations"],
            "closed": c["closed"],
            "protections": c["protections"],
            "stop_losses": c["stop_losses"],
            "bounty": _f(c["bounty"]),
            "keeper_gas_usd": _f(gas_usd, 4),
            "keeper_gas_wei": c["gas"],
            "keeper_reverted": c["reverted"],
            "keeper_profit": _f(c["bounty"] - gas_usd),
            "reserve": _f(reserve),
            "bad_debt": _f(bad_debt),
            "latent_shortfall": _f(health["shortfall"]),
            "lowest_health": health["lowest"],
            "health_quantiles": health["quantiles"],
            "haircut": int(controls[1]),  # [bps]
        }
        for key in SERIES:
            pool.series[key].append(row[key])
        return row

    def _pool_of(self, receipt: dict) -> Tracked | None:
        to = (receipt.get("to") or "").lower()
        if to in self.pools:
            return self.pools[to]
        if to == self.automation:
            for log in receipt.get("logs") or []:
                pool = self.pools.get(log["address"].lower())
                if pool is not None:
                    return pool
        return None

    def _health(self, pool: Tracked, price: int, rate: int) -> dict[str, Any]:
        """Health of every position with debt at `price`, and what it adds up to."""
        p = pool.params
        healths: list[float] = []
        liquidatable = 0
        shortfall = 0
        lowest = None
        for coll, norm in pool.positions.values():
            if norm == 0:
                continue
            debt = risk.debt(norm, rate)
            value = risk.value(coll, price, pool.scale)
            h = value * p.liquidation_threshold * WAD // 10_000 // debt
            lowest = h if lowest is None else min(lowest, h)
            healths.append(min(h / WAD, HEALTH_CAP))
            if h < WAD:
                liquidatable += 1
                # what the reserve would absorb if it were liquidated now (debt the
                # collateral cannot cover at the fee)
                shortfall += risk.liquidation_amounts(coll, debt, price, p, pool.scale).shortfall
        quantiles: list[float] = []
        if len(healths) >= 2:
            cuts = statistics.quantiles(healths, n=100, method="inclusive")
            quantiles = [round(cuts[int(q * 100) - 1], 4) for q in QUANTILES]
        elif healths:
            quantiles = [round(healths[0], 4)] * len(QUANTILES)
        return {
            "with_debt": len(healths),
            "liquidatable": liquidatable,
            "shortfall": shortfall,
            "lowest": round(lowest / WAD, 4) if lowest is not None else None,
            "quantiles": quantiles,
        }
