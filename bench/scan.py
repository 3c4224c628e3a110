"""Keeper discovery speed: how fast can a keeper find every liquidatable position?

Two paths over the same pool, in the same run, on one Anvil (`--prune-history`):

- paginated (the keeper's path): `pool.positions_to_liquidate(start, 5000)`, one eth_call
  per 5,000 ids, sequential; a page that returns the 1,000-id cap continues after its last id.
- naive baseline: one eth_call of `pool.health(id)` per position, sequential.
- (also shown) the same per-position calls sent as JSON-RPC batches of 5,000, to separate the
  cost of HTTP round trips from the cost of the EVM work.

All paths use the package's one JSON-RPC client (`bulkhead.eth.rpc.Rpc`: keep-alive HTTP,
calldata encoded once); the paginated path is also timed through web3.py's contract call.

Positions are written straight into the pool's storage with `anvil_setStorageAt` (creating
100,000 through transactions would take most of an hour here). What is written, exactly:

- `_positions[id]` (HashMap, slot from `vyper -f layout`): collateral << 128 | normalised debt,
- `owner_of[id]`: the owner address (dev accounts 1..9 in turn),
- `position_count`: the last id,
- `total_collateral` plus the collateral, and `_debt_totals` (reserve << 128 | total
  normalised debt) plus the normalised debt,
- and the pool is minted the collateral (`MockToken.mint`), so `total_collateral()` equals
  its token balance. bhUSD is not minted for this debt: the stablecoin's supply does not
  match the pool's debt on this throw-away chain, which no scanned view reads.

Slots are keccak256(slot . id) (Vyper's order) from the compiled layout, so new storage
variables do not break the writer. Before writing, two positions opened by real `open`
transactions are read back from the computed slots and compared with the encoder's words;
after writing, the pool's own views (`position_count`, `total_collateral`, `owner_of`,
`collateral_of`, `normalised_debt_of`, `debt_of`, `health`) are checked on a sample against
the written values and `bulkhead.risk`, and every path must return exactly the set the
Python mirror predicts.

    python -m bench.scan                       # 1,000 / 10,000 / 100,000 positions
    python -m bench.scan --sizes 1000 --runs 3 --naive-runs 2
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector

from bench.common import (
    Market,
    Node,
    finish,
    mapping_slot,
    slot_of,
    storage_layout,
    summarize,
    word,
)
from bulkhead import risk
from bulkhead.risk import WAD

PAGE = 5_000  # ids per `positions_to_liquidate` call (`MarginPool.MAX_SCAN`)
PAGE_RESULTS_CAP = 1_000  # ids one call returns at most (`MarginPool.MAX_RESULTS`)
BATCH = 5_000  # per-position eth_calls per JSON-RPC batch
MASK128 = 2**128 - 1
DEFAULT_SIZES = (1_000, 10_000, 100_000)
DEFAULT_NAIVE_RUNS = {1_000: 5, 10_000: 3, 100_000: 1}

_SEL_PAGE = (
    "0x" + function_signature_to_4byte_selector("positions_to_liquidate(uint256,uint256)").hex()
)
_SEL_HEALTH = "0x" + function_signature_to_4byte_selector("health(uint256)").hex()


def _page_data(start: int, limit: int) -> str:
    return _SEL_PAGE + encode(["uint256", "uint256"], [start, limit]).hex()


def _health_data(position_id: int) -> str:
    return _SEL_HEALTH + encode(["uint256"], [position_id]).hex()


# ------------------------------------------------------------ population


@dataclass
class Population:
    """Positions written into one pool; ids `1..count` exist (real and written ones)."""

    market: Market
    count: int = 0
    written: dict[int, tuple[str, int, int]] = field(
        default_factory=dict
    )  # id -> owner, coll, norm
    slots: dict[str, int] = field(default_factory=dict)


def _read_word(node: Node, address: str, slot: int) -> int:
    return int(node.rpc.request("eth_getStorageAt", [address, hex(slot), "latest"]), 16)


def prepare(node: Node, market: Market) -> Population:
    """Open two real positions and check that the storage encoder reproduces their words."""
    layout = storage_layout("MarginPool")
    slots = {
        name: slot_of(layout, name)
        for name in ("_positions", "owner_of", "position_count", "total_collateral", "_debt_totals")
    }
    pool = market.pool
    node.fund(market, 1, 20 * market.unit)
    borrower = node.sender(1)
    price = pool.functions.price().call()
    params = risk.RiskParams(*pool.functions.risk_params().call())
    for coll, share in ((10 * market.unit, 0.5), (3 * market.unit, 0.25)):
        debt = risk.max_debt(coll, price, params.max_ltv, market.scale) * int(share * 100) // 100
        borrower.transact(pool.functions.open(coll, max(debt, params.min_debt)))
    count = pool.functions.position_count().call()
    for position_id in range(1, count + 1):
        coll = pool.functions.collateral_of(position_id).call()
        norm = pool.functions.normalised_debt_of(position_id).call()
        owner = pool.functions.owner_of(position_id).call()
        on_chain = _read_word(node, pool.address, mapping_slot(slots["_positions"], position_id))
        assert on_chain == coll << 128 | norm, "scan: position word is not collateral << 128 | norm"
        owner_word = _read_word(node, pool.address, mapping_slot(slots["owner_of"], position_id))
        assert owner_word == int(owner, 16), "scan: owner_of slot does not hold the owner"
    assert _read_word(node, pool.address, slots["position_count"]) == count, (
        "scan: position_count slot"
    )
    total_coll = _read_word(node, pool.address, slots["total_collateral"])
    assert total_coll == pool.functions.total_collateral().call(), "scan: total_collateral slot"
    debt_totals = _read_word(node, pool.address, slots["_debt_totals"])
    assert debt_totals >> 128 == pool.functions.reserve().call(), "scan: _debt_totals slot"
    return Population(market=market, count=count, slots=slots)


def grow(
    node: Node,
    population: Population,
    target: int,
    liquidatable_share: float = 0.01,
    seed: int = 7,
) -> None:
    """Write positions until ids `1..target` exist; about `liquidatable_share` of the new
    ones have health below 1.0 (0.80 to 0.99), the rest 1.07 to 4.0."""
    market = population.market
    pool = market.pool
    if target <= population.count:
        return
    rng = random.Random(seed + target)
    price = pool.functions.price().call()
    rate = pool.functions.rate().call()
    threshold = risk.RiskParams(*pool.functions.risk_params().call()).liquidation_threshold
    owners = node.accounts[1:]
    calls: list[tuple[str, list[Any]]] = []
    sum_coll = 0
    sum_norm = 0
    address = pool.address
    for position_id in range(population.count + 1, target + 1):
        coll = rng.randint(market.unit // 2, 50 * market.unit)
        health = (
            rng.uniform(0.80, 0.99) if rng.random() < liquidatable_share else rng.uniform(1.07, 4.0)
        )
        debt = int(risk.value(coll, price, market.scale) * threshold / 10_000 / health)
        norm = debt * WAD // rate
        owner = owners[position_id % len(owners)]
        population.written[position_id] = (owner, coll, norm)
        sum_coll += coll
        sum_norm += norm
        calls.append(
            (
                "anvil_setStorageAt",
                [
                    address,
                    hex(mapping_slot(population.slots["_positions"], position_id)),
                    word(coll << 128 | norm),
                ],
            )
        )
        calls.append(
            (
                "anvil_setStorageAt",
                [
                    address,
                    hex(mapping_slot(population.slots["owner_of"], position_id)),
                    word(int(owner, 16)),
                ],
            )
        )
    # the totals: collateral in its own word, normalised debt in the low half of the
    # reserve's word (the reserve, above it, stays as it is)
    slots = population.slots
    total_coll = _read_word(node, address, slots["total_collateral"]) + sum_coll
    debt_totals = _read_word(node, address, slots["_debt_totals"]) + sum_norm
    assert debt_totals & MASK128 >= sum_norm, "scan: the total normalised debt overflowed"
    calls.append(
        ("anvil_setStorageAt", [address, hex(slots["total_collateral"]), word(total_coll)])
    )
    calls.append(("anvil_setStorageAt", [address, hex(slots["_debt_totals"]), word(debt_totals)]))
    calls.append(
        ("anvil_setStorageAt", [address, hex(population.slots["position_count"]), word(target)])
    )
    for start in range(0, len(calls), 5_000):
        node.rpc.batch(calls[start : start + 5_000], strict=True)
    node.sender(0).transact(market.token.functions.mint(address, sum_coll))
    population.count = target


def expected_liquidatable(node: Node, population: Population, block: int) -> list[int]:
    """Liquidatable ids by the Python mirror, from the pool's own views at `block`."""
    pool = population.market.pool
    price = pool.functions.price().call(block_identifier=block)
    rate = pool.functions.rate().call(block_identifier=block)
    threshold = risk.RiskParams(
        *pool.functions.risk_params().call(block_identifier=block)
    ).liquidation_threshold
    scale = population.market.scale
    out = []
    for position_id in range(1, population.count + 1):
        if position_id in population.written:
            _, coll, norm = population.written[position_id]
        else:
            coll = pool.functions.collateral_of(position_id).call(block_identifier=block)
            norm = pool.functions.normalised_debt_of(position_id).call(block_identifier=block)
        if risk.is_liquidatable(coll, risk.debt(norm, rate), price, threshold, scale):
            out.append(position_id)
    return out


def verify_views(node: Node, population: Population, block: int, samples: int = 25) -> None:
    """The pool's own views agree with what was written, on a sample of ids."""
    pool = population.market.pool
    market = population.market
    at = {"block_identifier": block}
    assert pool.functions.position_count().call(**at) == population.count, (
        "scan: position_count view"
    )
    balance = market.token.functions.balanceOf(pool.address).call(**at)
    assert pool.functions.total_collateral().call(**at) == balance, (
        "scan: total collateral != balance"
    )
    price = pool.functions.price().call(**at)
    rate = pool.functions.rate().call(**at)
    threshold = risk.RiskParams(*pool.functions.risk_params().call(**at)).liquidation_threshold
    ids = sorted(population.written)
    rng = random.Random(population.count)
    sample = {ids[0], ids[-1], *rng.sample(ids, min(samples, len(ids)))}
    for position_id in sorted(sample):
        owner, coll, norm = population.written[position_id]
        assert pool.functions.owner_of(position_id).call(**at) == owner, (
            f"scan: owner_of({position_id})"
        )
        assert pool.functions.collateral_of(position_id).call(**at) == coll, (
            f"scan: collateral_of({position_id})"
        )
        assert pool.functions.normalised_debt_of(position_id).call(**at) == norm, (
            f"scan: norm of {position_id}"
        )
        debt = risk.debt(norm, rate)
        assert pool.functions.debt_of(position_id).call(**at) == debt, (
            f"scan: debt_of({position_id})"
        )
        health = risk.health(coll, debt, price, threshold, market.scale)
        assert pool.functions.health(position_id).call(**at) == health, (
            f"scan: health({position_id})"
        )


# ----------------------------------------------------------------- paths


def scan_paginated(node: Node, pool_address: str, count: int, block: str = "latest") -> list[int]:
    """The keeper's discovery path: one `positions_to_liquidate(start, 5000)` call per page."""
    found: list[int] = []
    start = 1
    while start <= count:
        raw = node.rpc.eth_call(pool_address, _page_data(start, PAGE), block)
        (ids,) = decode(["uint256[]"], bytes.fromhex(raw[2:]))
        found.extend(ids)
        if len(ids) >= PAGE_RESULTS_CAP:
            start = ids[-1] + 1  # the page stopped at the cap: go on after its last id
        else:
            start += PAGE
    return found


def scan_paginated_web3(pool, count: int) -> list[int]:
    """The same path through web3.py's contract call (what a web3 keeper pays)."""
    found: list[int] = []
    start = 1
    while start <= count:
        ids = pool.functions.positions_to_liquidate(start, PAGE).call()
        found.extend(ids)
        start = ids[-1] + 1 if len(ids) >= PAGE_RESULTS_CAP else start + PAGE
    return found


def scan_naive(node: Node, pool_address: str, count: int) -> list[int]:
    """Baseline: one `health(id)` eth_call per position, one HTTP request each."""
    found = []
    for position_id in range(1, count + 1):
        raw = node.rpc.eth_call(pool_address, _health_data(position_id))
        if int(raw, 16) < WAD:
            found.append(position_id)
    return found


def scan_naive_batched(node: Node, pool_address: str, count: int) -> list[int]:
    """One `health(id)` eth_call per position, sent as JSON-RPC batches of 5,000."""
    found = []
    for first in range(1, count + 1, BATCH):
        ids = range(first, min(first + BATCH, count + 1))
        calls = [
            ("eth_call", [{"to": pool_address, "data": _health_data(i)}, "latest"]) for i in ids
        ]
        for position_id, raw in zip(ids, node.rpc.batch(calls, strict=True)):
            if int(raw, 16) < WAD:
                found.append(position_id)
    return found


def _time(fn: Callable[[], list[int]]) -> tuple[float, list[int]]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


# ------------------------------------------------------------------ main


def run(
    sizes: tuple[int, ...] = DEFAULT_SIZES,
    runs: int = 15,
    naive_runs: dict[int, int] | None = None,
    pool_name: str = "WETH",
    liquidatable_share: float = 0.01,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Measure every path at every size; return the results (also for the report)."""
    naive_runs = naive_runs or {}
    results = []
    with Node() as node:
        market = node.market(pool_name)
        population = prepare(node, market)
        for size in sizes:
            grow(node, population, size, liquidatable_share)
            node.refresh_feed(market)  # a fresh round: the scan never meets a stale price
            block = node.w3.eth.block_number
            verify_views(node, population, block)
            expected = expected_liquidatable(node, population, block)
            assert expected, "scan: the population has no liquidatable position"
            address = market.pool.address
            count = population.count
            n_naive = naive_runs.get(size, 3 if size <= 10_000 else 1)
            times: dict[str, list[float]] = {
                "paginated": [],
                "paginated_web3": [],
                "naive": [],
                "naive_batched": [],
            }
            for index in range(runs):
                for path, fn in (
                    ("paginated", lambda a=address, c=count: scan_paginated(node, a, c)),
                    ("paginated_web3", lambda c=count: scan_paginated_web3(market.pool, c)),
                    ("naive", lambda a=address, c=count: scan_naive(node, a, c)),
                    ("naive_batched", lambda a=address, c=count: scan_naive_batched(node, a, c)),
                ):
                    if path.startswith("naive") and index >= n_naive:
                        continue
                    seconds, found = _time(fn)
                    assert found == expected, (
                        f"scan: {path} found {len(found)} ids, expected {len(expected)}"
                    )
                    times[path].append(seconds)
                    progress(
                        f"scan {size:>7} positions  {path:<15} run {index + 1}: {seconds:8.3f} s"
                    )
            page_gas = market.pool.functions.positions_to_liquidate(1, PAGE).estimate_gas()
            summary = {path: summarize(values) for path, values in times.items()}
            results.append(
                {
                    "positions": size,
                    "liquidatable": len(expected),
                    "pages": -(-size // PAGE),
                    "first_page_gas": page_gas,
                    "seconds": summary,
                    "positions_per_second": {
                        path: size / s["median"] for path, s in summary.items()
                    },
                    "speedup_vs_naive": summary["naive"]["median"] / summary["paginated"]["median"],
                    "speedup_vs_naive_batched": summary["naive_batched"]["median"]
                    / summary["paginated"]["median"],
                }
            )
    return {
        "pool": pool_name,
        "collateral_decimals": market.decimals,
        "liquidatable_share": liquidatable_share,
        "page": PAGE,
        "runs": runs,
        "sizes": results,
    }


def _parse_naive_runs(text: str, sizes: tuple[int, ...]) -> dict[int, int]:
    values = [int(v) for v in text.split(",")]
    if len(values) == 1:
        values = values * len(sizes)
    if len(values) != len(sizes):
        raise SystemExit("--naive-runs takes one number or one per size")
    return dict(zip(sizes, values))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scan", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="comma-separated"
    )
    parser.add_argument("--runs", type=int, default=15, help="runs of the paginated path per size")
    parser.add_argument(
        "--naive-runs",
        default=",".join(str(DEFAULT_NAIVE_RUNS.get(s, 1)) for s in DEFAULT_SIZES),
        help="runs of each per-position baseline: one number, or one per size",
    )
    parser.add_argument("--pool", default="WETH")
    parser.add_argument(
        "--no-write", action="store_true", help="do not write bench/results/scan.json"
    )
    args = parser.parse_args(argv)
    sizes = tuple(int(s) for s in args.sizes.split(","))
    data = run(sizes, args.runs, _parse_naive_runs(args.naive_runs, sizes), args.pool)
    finish("scan", data, argv, args.no_write)


if __name__ == "__main__":
    main()
