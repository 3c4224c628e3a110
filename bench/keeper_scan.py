"""Keeper benchmark: scan rate and blocks from a crash to the last liquidation.

    python bench/keeper_scan.py [--positions 3000] [--block-time 1] [--json]

1. Scan rate: opens `--positions` positions over the three default pools on a fresh Anvil,
   then times idle keeper steps (event logs + one batch of paginated views). Reported as
   positions per second of discovery time, with the JSON-RPC round trips per step.
2. Crash: the integration test's book (200 positions with deleverage, top-up and boost
   rules) on an Anvil that mines a block every `--block-time` seconds, the keeper running
   in its loop; every price falls 30 %. Reported: blocks from the crash block to the block
   of the last liquidation, and the seconds it took.

Numbers depend on the machine; this file measures, the tests never time anything.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bulkhead.keeper import run_keeper
from bulkhead.node import Anvil
from bulkhead.risk import WAD
from tests.keeper.conftest import BORROWER, KEEPER, Node, make_keeper
from tests.keeper.test_integration import CRASH, _fund_keeper, _open_book

SHARE = {"WETH": 0.5, "WBTC": 0.25, "VOL": 0.25}


def scan_rate(positions: int, steps: int) -> dict:
    with Anvil(accounts=12) as anvil:
        node = Node(anvil)
        owner = node.accounts[BORROWER]
        started = time.perf_counter()
        for name, share in SHARE.items():
            m = node.markets[name]
            price = m.price()
            n = int(positions * share)
            for lo in range(0, n, 1_000):  # healthy positions (2.0 to 3.0)
                count = min(1_000, n - lo)
                specs = [
                    (m.collateral_for(1_000 * WAD, 2.0 + (i % 100) / 100, price), 1_000 * WAD)
                    for i in range(count)
                ]
                m.open_many(owner, specs)
        opened = time.perf_counter() - started
        keeper, _log = make_keeper(node, KEEPER)
        keeper.step()  # first step reads every log since the deployment
        first_scan = keeper.metrics.scan_seconds
        m = keeper.metrics
        m.scan_seconds, m.positions_scanned, trips = 0.0, 0, keeper.rpc.round_trips
        for _ in range(steps):
            keeper.step()
        return {
            "positions": keeper.index.position_count,
            "open_seconds": round(opened, 1),
            "first_scan_s": round(first_scan, 3),
            "steps": steps,
            "scan_rate_positions_per_s": round(m.scan_rate, 1),
            "scan_ms_per_step": round(m.scan_seconds / steps * 1000, 2),
            "round_trips_per_step": (keeper.rpc.round_trips - trips) / steps,
        }


def crash(block_time: int) -> dict:
    with Anvil(accounts=12) as anvil:
        node = Node(anvil)
        book = _open_book(node, node.accounts[BORROWER], random.Random(2024))
        _fund_keeper(node, node.accounts[KEEPER], 1_500_000 * WAD)
        keeper, _log = make_keeper(node, KEEPER, receipt_wait=block_time * 3, stuck_blocks=3)
        keeper.run_until_idle()  # the boosts due before the crash
        node.rpc("anvil_setIntervalMining", int(block_time))
        stop = threading.Event()
        thread = threading.Thread(
            target=run_keeper, args=(keeper,), kwargs={"poll_interval": 0.1, "stop": stop}
        )
        thread.start()
        try:
            time.sleep(block_time * 2)
            started = time.perf_counter()
            hashes = []
            for name in book:  # one block for the whole crash
                m = node.markets[name]
                answer = int(m.price() / WAD * CRASH * 10**8)
                hashes.append(node.send(node.admin, m.feed.functions.set_answer(answer)))
            receipts = [node.w3.eth.wait_for_transaction_receipt(h) for h in hashes]
            crash_block = max(r["blockNumber"] for r in receipts)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                time.sleep(0.2)
                try:
                    left = [m.liquidatable() for m in node.markets.values()]
                except Exception:  # noqa: BLE001, S112 - a call racing a block on a pruning node
                    continue
                if not any(left):
                    break
            seconds = time.perf_counter() - started
        finally:
            stop.set()
            thread.join(timeout=60)
        last = max(
            e.blockNumber
            for m in node.markets.values()
            for e in m.pool.events.Liquidate().get_logs(from_block=crash_block)
        )
        s = keeper.metrics.summary()
        return {
            "block_time_s": block_time,
            "positions": 200,
            "liquidations": s["liquidations"],
            "adjustments_after_crash": s["deleverages"] + s["top_ups"],
            "crash_block": crash_block,
            "last_liquidation_block": last,
            "blocks_crash_to_last_liquidation": last - crash_block,
            "seconds_crash_to_none_left": round(seconds, 2),
            "blocks_unsafe_to_liquidated": s["blocks_to_liquidation"],
            "failures": s["failures"],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--positions", type=int, default=3_000)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--block-time", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = {"scan": scan_rate(args.positions, args.steps), "crash": crash(args.block_time)}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for part, values in result.items():
        print(part)
        for key, value in values.items():
            print(f"  {key:<36} {value}")


if __name__ == "__main__":
    main()
