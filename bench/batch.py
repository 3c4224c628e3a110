"""Gas of a batched liquidation: `liquidate_many` over N positions, and the marginal gas per
position.

For each pool with 18- and 8-decimals collateral (WETH and WBTC in the default config), one
account opens N_max positions of each kind at the same LTV, 0.1 % inside max LTV, then the
price drops so that every one of them is liquidatable:

- partial: 30,000 USD of collateral each; the liquidation brings health back to the target.
- whole: just over the minimum debt each; the remainder would fall under the minimum debt,
  so the whole debt goes (no shortfall).
- shortfall: 30,000 USD each, after a second drop that leaves the collateral worth 95 % of
  the debt: the keeper takes all of it, the shortfall goes to the reserve, then bad debt.

From one `evm_snapshot` of that state, for every N in the sizes, one `liquidate_many` of the
first N positions of a kind is measured (the chain is reverted before each, and the block
timestamp is pinned, so every N starts from the same state and pays the same accrual). One
single `liquidate` of the first position is measured from the same snapshot beside it. Every
measured transaction is checked: one `Liquidate` event per position, and each position
left as its kind says (partial, whole, whole with a shortfall).

The liquidator holds bhUSD (from its own position) and a non-zero collateral token balance
before the snapshot, so no measured transaction pays a zero to non-zero balance write: the
steady state (`repeat` in `bench.gas`). Per transaction, not per position, the shortfall
kind pays the pool's first bad debt (a zero to non-zero write), N = 1 included.

- marginal per position = (gas(N) - gas(1)) / (N - 1), for execution gas (receipt gas -
  21,000 - calldata) and for receipt gas (which adds the calldata of one more id, 32 bytes,
  the real cost of one more position: there is no extra 21,000 per position).
- average per position = gas(N) / N (receipt gas, the 21,000 and the fixed part shared).

    python -m bench.batch
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from web3.logs import DISCARD

from bench.common import Market, Node, calldata_gas, execution_gas, finish
from bench.gas import BLOCK_INTERVAL, ROLES, GasRun

SIZES = (1, 10, 50, 100)
KINDS = ("partial", "whole", "shortfall")
GOAL = 55_000  # [gas] marginal per position (issue #7)
LIQUITY_V1 = "54-69k per position (batchLiquidateTroves)"
PEERS = {"Liquity v1": LIQUITY_V1, "Morpho Blue (one liquidate per position)": "121-126k"}


class BatchRun(GasRun):
    """One pool: N_max positions of each kind, crashed, then measured from snapshots."""

    def __init__(
        self,
        node: Node,
        market: Market,
        base: int,
        progress: Callable[[str], None],
        sizes: tuple[int, ...],
        kinds: tuple[str, ...],
    ):
        super().__init__(node, market, base, progress)
        self.sizes = sizes
        self.kinds = kinds
        self.rows: list[dict[str, Any]] = []

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        return self.node.rpc.request(method, params or [])

    def prepare(self) -> dict[str, list[int]]:
        """Open the positions of every kind (same LTV), the liquidator's bhUSD and token
        balance; the price is still where they were opened."""
        f = self.pool.functions
        p = self.params
        n = max(self.sizes)
        ltv = p.max_ltv - 10  # [bps] just inside max LTV
        big = self.collateral_worth(30_000)
        small = self.collateral_worth(1.3 * p.min_debt / 1e18 / (ltv / 10_000))
        amounts = {"partial": big, "whole": small, "shortfall": big}
        self.fund("victim", sum(amounts[k] for k in self.kinds) * n)
        ids: dict[str, list[int]] = {}
        for kind in self.kinds:
            coll = amounts[kind]
            ids[kind] = []
            for _ in range(n):
                self.fresh_feed()
                receipt = self.unmeasured("victim", f.open(coll, self.debt_at(coll, ltv)))
                ids[kind].append(self.opened_id(receipt))
        # enough bhUSD for every position's whole debt plus fees, at 50 % LTV
        debts = sum(self.position(i)[1] for kind in self.kinds for i in ids[kind])
        self.bank("liquidator", debts * 12 // 10)
        # a non-zero collateral balance: no measured transaction pays its first write
        self.fund("liquidator", 1)
        return ids

    def crash(self, fraction: float) -> int:
        """Move the price to `fraction` of its answer; return a snapshot of that state."""
        self.set_price(fraction)
        self.fresh_feed()
        return self.rpc("evm_snapshot")

    def from_snapshot(self, snapshot: str) -> str:
        """Revert to `snapshot`, pin the next block 12 s after it; return a new snapshot."""
        assert self.rpc("evm_revert", [snapshot]), "batch: evm_revert failed"
        again = self.rpc("evm_snapshot")
        self.rpc("evm_setNextBlockTimestamp", [self.node.timestamp() + BLOCK_INTERVAL])
        return again

    def liquidator_balance(self) -> int:
        return self.stablecoin.functions.balanceOf(
            self.node.accounts[self.account("liquidator")]
        ).call()

    def check(self, kind: str, ids: list[int], before: dict[int, tuple[int, int]], receipt) -> int:
        """Every id liquidated once, each as its kind says; return the number liquidated."""
        events = self.pool.events.Liquidate().process_receipt(receipt, errors=DISCARD)
        assert sorted(e["args"]["id"] for e in events) == sorted(ids), (
            f"batch: {kind}: liquidated {[e['args']['id'] for e in events]}, expected {ids}"
        )
        for event in events:
            args = event["args"]
            position_id = args["id"]
            coll, debt = self.position(position_id)
            shortfall = args["reserve_used"] + args["bad_debt"]
            if kind == "partial":
                assert 0 < debt < before[position_id][1] and shortfall == 0, (
                    f"batch: not a partial liquidation: {args}"
                )
            elif kind == "whole":
                assert debt == 0 and shortfall == 0, f"batch: not a whole liquidation: {args}"
            else:
                assert (coll, debt) == (0, 0) and shortfall > 0, f"batch: no shortfall: {args}"
        return len(events)

    def measure_one(self, snapshot: str, kind: str, ids: list[int], many: bool) -> tuple[str, dict]:
        snapshot = self.from_snapshot(snapshot)
        f = self.pool.functions
        before = {i: self.position(i) for i in ids}
        cap = self.liquidator_balance()
        fn = f.liquidate_many(ids, cap, 0) if many else f.liquidate(ids[0], cap, 0)
        receipt = self.send("liquidator", fn)
        data = self.node.w3.eth.get_transaction(receipt["transactionHash"])["input"]
        data = bytes(data) if not isinstance(data, str) else bytes.fromhex(data[2:])
        liquidated = self.check(kind, ids, before, receipt)
        row = {
            "market": self.market.name,
            "decimals": self.market.decimals,
            "kind": kind,
            "function": "liquidate_many" if many else "liquidate",
            "n": len(ids),
            "liquidated": liquidated,
            "gas_used": receipt["gasUsed"],
            "calldata": calldata_gas(data),
            "execution": execution_gas(receipt["gasUsed"], data),
            "tx": receipt["transactionHash"].hex(),
        }
        self.progress(
            f"batch {row['market']:<5} {kind:<9} {row['function']:<14} N={row['n']:<4} "
            f"total {row['gas_used']:>10,}  execution {row['execution']:>10,}"
        )
        return snapshot, row

    def measure_kind(self, snapshot: str, kind: str, ids: list[int]) -> str:
        snapshot, row = self.measure_one(snapshot, kind, ids[:1], many=False)
        self.rows.append(row)
        for n in self.sizes:
            snapshot, row = self.measure_one(snapshot, kind, ids[:n], many=True)
            self.rows.append(row)
        return snapshot

    def run(self) -> None:
        self.fresh_feed()  # an earlier market's run may have aged this market's feed
        self.warm_up()
        self.records.clear()  # the warm-up's open is not part of this benchmark
        ids = self.prepare()
        p = self.params
        # as bench.gas: 3 % below the price that takes a max-LTV position to health 1.0,
        # then the collateral worth 95 % of the debt
        first = p.max_ltv / p.liquidation_threshold * 0.97
        second = p.max_ltv / 10_000 * 0.95 / first
        crashed = self.crash(first)
        for kind in ("partial", "whole"):
            if kind in self.kinds:
                crashed = self.measure_kind(crashed, kind, ids[kind])
        if "shortfall" in self.kinds:
            crashed = self.from_snapshot(crashed)
            deeper = self.crash(second)
            self.measure_kind(deeper, "shortfall", ids["shortfall"])


def summarize_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Marginal and average gas per position for each market and kind."""
    out = []
    groups = dict.fromkeys((r["market"], r["decimals"], r["kind"]) for r in rows)
    for market, decimals, kind in groups:
        mine = [r for r in rows if (r["market"], r["kind"]) == (market, kind)]
        many = {r["n"]: r for r in mine if r["function"] == "liquidate_many"}
        single = next(r for r in mine if r["function"] == "liquidate")
        ns = sorted(many)
        one, top = many[ns[0]], many[ns[-1]]
        assert one["n"] == 1, "batch: the sizes must start at 1"
        span = top["n"] - 1
        out.append(
            {
                "market": market,
                "decimals": decimals,
                "kind": kind,
                "n": top["n"],
                "marginal_execution": (top["execution"] - one["execution"]) / span
                if span
                else None,
                "marginal_receipt": (top["gas_used"] - one["gas_used"]) / span if span else None,
                "calldata_per_id": (top["calldata"] - one["calldata"]) / span if span else None,
                "average_receipt": top["gas_used"] / top["n"],
                "average_execution": top["execution"] / top["n"],
                "single_liquidate_execution": single["execution"],
                "single_liquidate_receipt": single["gas_used"],
                "batch_of_one_execution": one["execution"],
                "marginal_by_n": {
                    str(n): (many[n]["gas_used"] - one["gas_used"]) / (n - 1) for n in ns if n > 1
                },
            }
        )
    return out


def run(
    progress: Callable[[str], None] = print,
    decimals: tuple[int, ...] = (18, 8),
    sizes: tuple[int, ...] = SIZES,
    kinds: tuple[str, ...] = KINDS,
) -> dict[str, Any]:
    """Measure `liquidate_many` for each market, kind and N in `sizes` (starting at 1)."""
    if sizes[0] != 1 or list(sizes) != sorted(set(sizes)):
        raise ValueError("sizes must be increasing and start at 1")
    rows: list[dict[str, Any]] = []
    markets_run = []
    with Node(accounts=1 + len(ROLES) * len(decimals)) as node:
        node.set_block_interval(BLOCK_INTERVAL)
        by_decimals = node.markets_by_decimals()
        for index, d in enumerate(decimals):
            market = by_decimals[d]
            markets_run.append({"name": market.name, "decimals": d})
            batch = BatchRun(node, market, 1 + len(ROLES) * index, progress, sizes, kinds)
            batch.run()
            rows += batch.rows
    summary = summarize_rows(rows)
    for s in summary:
        progress(
            f"batch {s['market']:<5} {s['kind']:<9} marginal/position: execution "
            f"{s['marginal_execution'] or 0:,.0f}, with calldata {s['marginal_receipt'] or 0:,.0f}; "
            f"average (N={s['n']}) {s['average_receipt']:,.0f}"
        )
    return {
        "block_interval": BLOCK_INTERVAL,
        "markets": markets_run,
        "sizes": list(sizes),
        "kinds": list(kinds),
        "rows": rows,
        "summary": summary,
        "goal_marginal": GOAL,
        "peers": PEERS,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.batch", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--decimals", default="18,8", help="collateral decimals of the markets")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="batch sizes N")
    parser.add_argument("--kinds", default=",".join(KINDS), help="liquidation kinds")
    parser.add_argument("--json-out", help="also write the results to this file")
    parser.add_argument(
        "--no-write", action="store_true", help="do not write bench/results/batch.json"
    )
    args = parser.parse_args(argv)
    data = run(
        decimals=tuple(int(d) for d in args.decimals.split(",")),
        sizes=tuple(int(n) for n in args.sizes.split(",")),
        kinds=tuple(args.kinds.split(",")),
    )
    finish("batch", data, argv, args.no_write, args.json_out)


if __name__ == "__main__":
    main()
