"""Keeper fleet throughput: 1, 2 and 4 workers clearing 5,000 unsafe positions.

One Anvil (a block every `--block-time` seconds, 30M gas per block) holds 5,000 positions
over the three default pools (50 / 30 / 20 %), each with a health that a 35 % fall of every
price takes below 1.0, and funded worker accounts (dev accounts 9-12). From one
`evm_snapshot` of that state, for each fleet size: `LocalFleet` starts Redis, the workers
and the runner; once every partition is held, every price falls 35 % in one block; the
clock runs until the views report no liquidatable position. Measured per fleet size:

- liquidations per block (mean over the blocks that carried any, and the most);
- blocks from the crash block to the last liquidation, and seconds (wall clock, from the
  crash block seen to none liquidatable);
- what bounds it: each block's gas used against its limit (block gas), each worker's step
  time against the block time and its JSON-RPC requests (the RPC), and the transactions per
  sender per block (nonces: one account's transactions are mined in nonce order).

    python -m bench.fleet [--workers 1,2,4] [--positions 5000] [--block-time 2]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from web3.exceptions import ContractLogicError, Web3RPCError

from bench.common import finish
from bulkhead.keeper.fleet.local import LocalFleet, dev_workers
from bulkhead.node import Anvil
from bulkhead.risk import WAD
from tests.keeper.conftest import Node

CRASH = 0.65
SHARES = {"WETH": 0.5, "WBTC": 0.3, "VOL": 0.2}
ACCOUNTS = (9, 10, 11, 12)
BORROWER = 1
PARTITION_SIZE = 250
PATIENCE = 600.0  # [s] a ceiling against a hang, not an expectation


def _open_book(node: Node, n: int, rng: random.Random) -> int:
    """`n` positions, every one under 1.0 after the crash; how many were opened."""
    opened = 0
    for name, share in SHARES.items():
        m = node.markets[name]
        p = m.params
        low = p.liquidation_threshold / p.max_ltv + 0.01
        high = 1 / CRASH - 0.03
        count = round(n * share)
        price = m.price()
        specs = []
        for _ in range(count):
            debt = rng.randrange(500, 1_500) * WAD
            specs.append((m.collateral_for(debt, rng.uniform(low, high), price), debt))
        for start in range(0, count, 500):
            m.open_many(node.accounts[BORROWER], specs[start : start + 500])
        opened += count
    return opened


def _settled(fleet: LocalFleet) -> bool:
    records = fleet.board.records()
    alive = fleet.alive()
    return all(w in records and records[w]["partitions"] for w in alive)


class _Races:
    """Anvil with `--prune-history` and a block time sometimes answers an `eth_call` at
    "latest" with `BlockOutOfRangeError` or an empty revert, when a block is mined while the
    call runs (the state it started on is pruned): such a call is made again, and counted."""

    def __init__(self) -> None:
        self.count = 0

    def left(self, node: Node) -> int:
        while True:
            try:
                return sum(len(m.liquidatable()) for m in node.markets.values())
            except (ContractLogicError, Web3RPCError):
                self.count += 1


def _run(node: Node, manifest: Path, workers: int, block_time: int, logs: Path) -> dict[str, Any]:
    races = _Races()
    node.automine(False)
    node.rpc("evm_setIntervalMining", block_time)
    specs = dev_workers(node.w3, workers, list(ACCOUNTS[:workers]))
    env = {"BULKHEAD_PARTITION_SIZE": str(PARTITION_SIZE)}
    fleet = LocalFleet(node.anvil.rpc_url, manifest, specs, env=env, log_dir=logs)
    fleet.start()
    try:
        deadline = time.monotonic() + PATIENCE
        while not _settled(fleet):
            assert time.monotonic() < deadline, "the fleet never settled"
            time.sleep(0.5)
        # every feed drops in one block, counted before the next one: with the block timer
        # running, two drops could straddle a block and the fleet clear the first pool's
        # positions before the harness counted them (seen on two busy cores: 150 of 300)
        node.rpc("evm_setIntervalMining", 0)
        hashes = []
        for m in node.markets.values():
            answer = round(m.price() / WAD * CRASH * 10**8)
            hashes.append(node.send(node.admin, m.feed.functions.set_answer(answer)))
        node.rpc("evm_mine")
        receipts = [node.w3.eth.wait_for_transaction_receipt(h, timeout=PATIENCE) for h in hashes]
        crash_block = receipts[0]["blockNumber"]
        assert all(r["blockNumber"] == crash_block for r in receipts), "the crash spans blocks"
        due = races.left(node)
        node.rpc("evm_setIntervalMining", block_time)
        started = time.monotonic()
        while races.left(node):
            assert time.monotonic() < started + PATIENCE, "the fleet did not clear the crash"
            time.sleep(0.25)
        seconds = time.monotonic() - started
        metrics = fleet.metrics()
    finally:
        fleet.stop()
        node.rpc("evm_setIntervalMining", 0)
        node.automine(True)
    row = _measure(node, crash_block, due, seconds, metrics, logs, block_time, workers)
    row["node_races"] = races.count  # the harness's own calls that met the race
    return row


def _measure(
    node: Node,
    crash_block: int,
    due: int,
    seconds: float,
    metrics: dict[str, Any],
    logs: Path,
    block_time: int,
    workers: int,
) -> dict[str, Any]:
    per_block: Counter = Counter()
    txs: set[str] = set()
    for m in node.markets.values():
        for e in m.pool.events.Liquidate().get_logs(from_block=crash_block + 1):
            per_block[e.blockNumber] += 1
            txs.add(e.transactionHash.hex())
    last = max(per_block)
    blocks = []
    for number in range(crash_block + 1, last + 1):
        b = node.w3.eth.get_block(number, full_transactions=True)
        ours = [t for t in b["transactions"] if t["hash"].hex() in txs]
        senders = Counter(t["from"] for t in ours)
        blocks.append(
            {
                "block": number,
                "liquidations": per_block.get(number, 0),
                "gas_used": b["gasUsed"],
                "gas_reserved": sum(t["gas"] for t in ours),  # the gas limits of our txs
                "gas_limit": b["gasLimit"],
                "transactions": dict(senders),
            }
        )
    steps, first = [], []
    for name in [f"w{i + 1}" for i in range(workers)]:
        mine = []
        for line in (logs / f"{name}.log").read_text().splitlines():
            if line.startswith("{") and '"fleet_step"' in line:
                e = json.loads(line)
                if e["block"] >= crash_block:
                    mine.append(e["seconds"])
        steps += mine
        first += mine[:1]
    first_step = round(max(first), 3) if first else None
    busy = [b for b in blocks if b["liquidations"]]
    full = [b["gas_used"] / b["gas_limit"] for b in blocks[:-1]] or [0.0]
    reserved = [b["gas_reserved"] / b["gas_limit"] for b in busy]
    total = metrics["fleet"]
    return {
        "workers": workers,
        "block_time_s": block_time,
        "unsafe": due,
        "liquidated": sum(per_block.values()),
        "blocks": last - crash_block,
        "seconds": round(seconds, 2),
        "liquidations_per_block": {
            "mean": round(statistics.mean(b["liquidations"] for b in busy), 1),
            "max": max(b["liquidations"] for b in busy),
        },
        "block_gas_used": {
            "mean_pct": round(100 * statistics.mean(full), 1),
            "min_pct": round(100 * min(full), 1),
        },
        # what the liquidation transactions' gas limits took of each block: a block builder
        # packs by gas limit, so this is what bounds how many fit
        "block_gas_reserved": {
            "mean_pct": round(100 * statistics.mean(reserved), 1),
            "max_pct": round(100 * max(reserved), 1),
        },
        "gas_per_liquidation": round(
            sum(b["gas_used"] for b in blocks) / max(sum(per_block.values()), 1)
        ),
        "fee_bumps": total["fee_bumps"],
        "first_step_s": first_step,
        "step_seconds": {
            "median": round(statistics.median(steps), 3) if steps else None,
            "max": round(max(steps), 3) if steps else None,
        },
        "rpc_requests_per_step": round(total["rpc_requests"] / max(total["cycles"], 1), 1),
        "txs_sent": total["txs_sent"],
        "most_txs_per_sender_per_block": max(
            (n for b in blocks for n in b["transactions"].values()), default=0
        ),
        "failures": total["failures"],
        "per_block": blocks,
    }


def run(
    workers: tuple[int, ...] = (1, 2, 4), positions: int = 5_000, block_time: int = 2
) -> dict[str, Any]:
    anvil = Anvil(accounts=max(ACCOUNTS) + 1).start()
    rows = []
    try:
        node = Node(anvil)
        opened = _open_book(node, positions, random.Random(5_000))
        for index in ACCOUNTS:
            node.give_bhusd(node.accounts[index], 8_000_000 * WAD)
        base = tempfile.mkdtemp(prefix="bench-fleet-")
        manifest = Path(base) / "deployment.json"
        node.deployment.save(manifest)
        snapshot = node.rpc("evm_snapshot")
        for n in workers:
            node.rpc("evm_revert", snapshot)
            snapshot = node.rpc("evm_snapshot")
            row = _run(node, manifest, n, block_time, Path(base) / f"workers-{n}")
            print(
                f"{n} worker(s): {row['liquidated']:,} liquidations in {row['blocks']} blocks, "
                f"{row['seconds']} s; {row['liquidations_per_block']['mean']}/block; block gas "
                f"{row['block_gas_used']['mean_pct']} %; step {row['step_seconds']['median']} s",
                flush=True,
            )
            rows.append(row)
    finally:
        anvil.stop()
    return {"positions": opened, "crash": 1 - CRASH, "partition_size": PARTITION_SIZE, "runs": rows}


def section(result: dict[str, Any]) -> list[str]:
    """The "Keeper fleet" section of docs/PERFORMANCE.md."""
    out = [
        "## Keeper fleet",
        "",
        (
            f"{result['positions']:,} positions made unsafe at once by a "
            f"{result['crash'] * 100:.0f} % fall of every price, cleared by a fleet "
            f"(`bulkhead keeper fleet`: Silverback workers over Redis, partitions of "
            f"{result['partition_size']} ids) on Anvil with a block every "
            f"{result['runs'][0]['block_time_s']} s and 30M gas per block. Command: "
            f"`{result.get('command', 'python -m bench.fleet')}`."
        ),
        "",
        "| workers | blocks to clear (first liquidation in) | seconds to clear "
        "| liquidations per block (mean, max) | block gas used (mean) | first pass after the "
        "crash | pass time (median) | RPC requests per pass | txs sent | failed txs "
        "| failed passes |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["runs"]:
        lpb, step = r["liquidations_per_block"], r["step_seconds"]
        busy = [b["block"] for b in r["per_block"] if b["liquidations"]]
        span = [b for b in r["per_block"] if busy[0] <= b["block"] < busy[-1]] or r["per_block"]
        used = statistics.mean(b["gas_used"] / b["gas_limit"] for b in span) * 100
        crash_block = r["per_block"][0]["block"] - 1
        failures = dict(r["failures"])
        passes = failures.pop("step_error", 0)
        out.append(
            f"| {r['workers']} | {r['blocks']} ({busy[0] - crash_block}) | {r['seconds']:.1f} | "
            f"{lpb['mean']:,.0f} / {lpb['max']:,} | {used:.0f} % | {r['first_step_s']:.1f} s | "
            f"{step['median']:.2f} s | {r['rpc_requests_per_step']:.0f} | {r['txs_sent']} | "
            f"{sum(failures.values())} | {passes} |"
        )
    out += ["", _analysis(result["runs"]), ""]
    if result.get("machine"):
        m = result["machine"]
        out += [
            f"Machine: {m['nproc']} cores, {m['cpu']}; commit `{m['commit']}`; {m['date']}.",
            "",
        ]
    return out


def _analysis(runs: list[dict[str, Any]]) -> str:
    """Where the limit lies, from the figures of the runs."""
    gas = statistics.mean(r["gas_per_liquidation"] for r in runs)
    limit = runs[0]["per_block"][0]["gas_limit"]
    most = max(r["liquidations_per_block"]["max"] for r in runs)
    full = [
        b["gas_used"] / b["gas_limit"] for r in runs for b in r["per_block"] if b["liquidations"]
    ]
    firsts = {r["workers"]: r["first_step_s"] for r in runs}
    per_sender = max(r["most_txs_per_sender_per_block"] for r in runs)
    bumps = [r["fee_bumps"] for r in runs]
    failed_passes = sum(r["failures"].get("step_error", 0) for r in runs)
    return (
        f"**Where the limit lies: block gas.** A liquidation inside a `liquidate_many` costs "
        f"{gas / 1000:.1f}k gas, so a {limit / 1e6:.0f}M-gas block holds at most "
        f"{limit / gas:,.0f}; the keeper sends batches of up to 1,000 positions, and two full "
        f"batches never fit one block, so a block carried at most {most:,} liquidations "
        f"(up to {max(full) * 100:.0f} % of its gas) whatever the number of "
        f"workers. Not the nonces: a worker sends all its batches in one pass at consecutive "
        f"nonces and the node mined up to {per_sender} of one sender's in a block, as gas "
        f"allowed. The RPC sets the reaction time: the first pass after the crash simulates "
        f"and estimates every batch on the node, "
        + ", ".join(f"{s:.1f} s with {w} worker{'s' if w > 1 else ''}" for w, s in firsts.items())
        + f" (the slowest worker), {runs[0]['block_time_s']} s blocks, before the first "
        f"liquidation can be mined; more workers split that work (each simulates only its "
        f"own batches), which can shorten the first pass but not the blocks that block gas "
        f"sets, and on 2 cores shared by the node, Redis, the runner and the workers it is "
        f"noisy. Batches that "
        f"wait for room in a block for 3 blocks are re-simulated and fee-bumped "
        f"({min(bumps)}-{max(bumps)} bumps per run). "
        + (
            f"A failed pass ({failed_passes} in all) is one whose view call met a race in "
            f"Anvil: with `--prune-history` and a block time, an `eth_call` at latest that a "
            f"new block overtakes can find its state pruned and fail (`BlockOutOfRangeError` or "
            f"an empty revert); no transaction failed and the next pass went on. "
            if failed_passes
            else ""
        )
        + "What a fleet buys is not throughput but "
        "continuity: no single process, account or nonce sequence whose failure stops "
        "liquidations."
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fleet", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--positions", type=int, default=5_000)
    parser.add_argument("--block-time", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--json-out")
    args = parser.parse_args(argv)
    workers = tuple(int(w) for w in args.workers.split(","))
    data = run(workers, args.positions, args.block_time)
    finish("fleet", data, argv, args.no_write, args.json_out)


if __name__ == "__main__":
    main()
