"""Keeper reaction: after a price crash makes 1,000 positions liquidatable, how many blocks
and seconds until the keeper has liquidated the last one?

The harness is keeper-agnostic: it runs the real keeper (`bulkhead keeper run`, from the
`bulkhead.keeper` package) as a separate process against a fresh Anvil, exactly as a user
would, and watches the chain. It never liquidates anything itself. Without `bulkhead.keeper`
on the branch, `run` reports the benchmark as pending (and docs/PERFORMANCE.md says so)
instead of inventing a number.

One run:
1. fresh Anvil (automine) with the system deployed; `--positions` positions opened by real
   `open` transactions (sent as JSON-RPC batches, then mined with `evm_mine`) at 0.1 %
   inside max LTV (collateral worth 1,000 USD each) in one pool; the keeper account gets
   bhUSD from its own position at 50 % LTV;
2. the keeper process starts (command template `--keeper-cmd`, given the RPC URL, the manifest
   path and the keeper's dev-account index) and gets 5 seconds to start;
3. mode `automine` keeps one block per transaction; mode `2s` switches Anvil to a block every
   2 seconds (`evm_setIntervalMining`);
4. just after the keeper logs its next `cycle` (so that the crash falls at the same point of
   its 2-second poll interval in every run), the feed drops 3 % below where a max-LTV
   position reaches health 1.0 (one transaction: the crash block); every position is now
   liquidatable;
5. the harness polls `positions_to_liquidate` until none of the positions is liquidatable,
   then reads the `Liquidate` logs: blocks = last liquidation block - crash block, seconds =
   wall time from the crash receipt until the harness saw the last one gone, and chain seconds
   = timestamp difference of those blocks.

    python -m bench.reaction                     # 1,000 positions, automine and 2 s, 3 runs each
    python -m bench.reaction --positions 100 --runs 1 --modes automine
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import (
    ROOT,
    Market,
    Node,
    summarize,
    wait_until,
    write_result,
)
from bench.scan import scan_paginated
from bulkhead import risk
from bulkhead.node import retry_pruned
from bulkhead.risk import WAD

KEEPER_MODULE = "bulkhead.keeper"
DEFAULT_KEEPER_CMD = (
    "{python} -m bulkhead keeper run --rpc-url {rpc_url} --manifest {manifest} --account {account}"
)
KEEPER_ACCOUNT = 9  # dev account the keeper sends from
OWNERS = range(1, 9)  # dev accounts that own the positions
CRASH_MARGIN = 0.97  # the crash goes this much below the price that brings max LTV to health 1


def crash_fraction(params) -> float:
    """The feed's answer after the crash, as a fraction of before: a position opened at max
    LTV reaches health 1.0 at max LTV / threshold of the price; the crash goes 3 % below."""
    return params.max_ltv / params.liquidation_threshold * CRASH_MARGIN


POSITION_USD = 1_000  # collateral value of each position at the start


def keeper_available() -> bool:
    """True when the keeper package exists on this branch."""
    try:
        return importlib.util.find_spec(KEEPER_MODULE) is not None
    except ModuleNotFoundError:
        return False


def open_many(node: Node, market: Market, count: int, ltv_bps: int) -> list[int]:
    """Open `count` positions by real `open` transactions, sent as JSON-RPC batches without
    waiting for each receipt; return their ids."""
    pool = market.pool
    price = pool.functions.price().call()
    coll = int(POSITION_USD * WAD) * WAD // (price * market.scale)
    debt = risk.max_debt(coll, price, ltv_bps, market.scale)
    owners = [node.accounts[i] for i in OWNERS]
    per_owner = -(-count // len(owners))
    for index in OWNERS:
        node.fund(market, index, coll * per_owner)
    first_id = pool.functions.position_count().call() + 1
    data = pool.functions.open(coll, debt)._encode_transaction_data()
    gas = pool.functions.open(coll, debt).estimate_gas({"from": owners[0]}) * 2 + 100_000
    nonces = {o: node.w3.eth.get_transaction_count(o, "pending") for o in owners}
    calls = []
    for n in range(count):
        owner = owners[n % len(owners)]
        tx = {
            "from": owner,
            "to": pool.address,
            "data": data,
            "gas": hex(gas),
            "nonce": hex(nonces[owner]),
        }
        nonces[owner] += 1
        calls.append(("eth_sendTransaction", [tx]))
    # automine off while the batch goes in (under automine Anvil can drop a transaction of a
    # large concurrent batch, leaving a nonce gap), then mine until the pool is empty
    node.rpc.request("evm_setAutomine", [False])
    try:
        hashes: list[str] = []
        for start in range(0, len(calls), 500):
            hashes += node.rpc.batch(calls[start : start + 500], strict=True)
        assert len(hashes) == count
        for _block in range(count + 1):
            if int(node.rpc.request("txpool_status", [])["pending"], 16) == 0:
                break
            node.rpc.request("evm_mine", [])
    finally:
        node.rpc.request("evm_setAutomine", [True])
    assert all(node.w3.eth.get_transaction_count(o, "latest") == nonces[o] for o in owners), (
        "reaction: the opens were not mined"
    )
    last_id = pool.functions.position_count().call()
    assert last_id - first_id + 1 == count, "reaction: an open reverted"
    return list(range(first_id, last_id + 1))


def _params(market: Market) -> risk.RiskParams:
    return risk.RiskParams(*market.pool.functions.risk_params().call())


def prepare(node: Node, market: Market, count: int) -> list[int]:
    """Positions just inside max LTV, and bhUSD for the keeper; nothing liquidatable yet."""
    params = risk.RiskParams(*market.pool.functions.risk_params().call())
    ids = open_many(node, market, count, params.max_ltv - 10)
    price = market.pool.functions.price().call()
    keeper_debt = count * POSITION_USD * WAD
    keeper_coll = 2 * keeper_debt * WAD // (price * market.scale)
    node.fund(market, KEEPER_ACCOUNT, keeper_coll)
    node.sender(KEEPER_ACCOUNT).transact(market.pool.functions.open(keeper_coll, keeper_debt))
    assert not scan_paginated(
        node, market.pool.address, market.pool.functions.position_count().call()
    )
    return ids


def check_crash_bites(node: Node, market: Market, ids: list[int]) -> None:
    """With the Python mirror: every position in `ids` is liquidatable after the crash.

    (Checked before it: the node keeps no history to ask afterwards, `--prune-history`.)
    """
    pool = market.pool
    answer = market.feed.functions.latestAnswer().call()
    params = _params(market)
    new_price = pool.functions.price().call() * int(answer * crash_fraction(params)) // answer
    threshold = params.liquidation_threshold
    for position_id in ids:
        coll = pool.functions.collateral_of(position_id).call()
        debt = pool.functions.debt_of(position_id).call()
        assert risk.is_liquidatable(coll, debt, new_price, threshold, market.scale), (
            f"reaction: position {position_id} would stay healthy after the crash"
        )


def crash(node: Node, market: Market) -> tuple[int, float]:
    """Drop the feed past every position's liquidation price; return the crash block and the wall time its receipt was seen.

    Sent raw with a fixed gas limit and polled for, so that it works the same under
    automine and interval mining.
    """
    feed = market.feed
    answer = feed.functions.latestAnswer().call()
    fraction = crash_fraction(_params(market))
    data = feed.functions.set_answer(int(answer * fraction))._encode_transaction_data()
    tx = {"from": node.accounts[0], "to": feed.address, "data": data, "gas": hex(300_000)}
    tx_hash = node.rpc.request("eth_sendTransaction", [tx])
    receipts: list[dict] = []

    def mined() -> bool:
        receipt = node.rpc.request("eth_getTransactionReceipt", [tx_hash])
        if receipt:
            receipts.append(receipt)
        return bool(receipt)

    assert wait_until(mined, timeout=60, interval=0.01), "reaction: the crash was not mined"
    seen = time.monotonic()
    assert int(receipts[0]["status"], 16) == 1, "reaction: the crash reverted"
    return int(receipts[0]["blockNumber"], 16), seen


def still_liquidatable(node: Node, market: Market, ids: list[int]) -> list[int]:
    """Which of `ids` the pool reports liquidatable now."""
    wanted = set(ids)
    count = retry_pruned(market.pool.functions.position_count().call)
    return [i for i in scan_paginated(node, market.pool.address, count) if i in wanted]


def _liquidation_blocks(
    node: Node, market: Market, ids: list[int], from_block: int
) -> dict[int, int]:
    """Block of each position's last liquidation since `from_block`."""
    event = market.pool.events.Liquidate()
    logs = retry_pruned(
        lambda: node.w3.eth.get_logs(
            {
                "address": market.pool.address,
                "fromBlock": from_block,
                "toBlock": "latest",
                "topics": [event.topic],
            }
        )
    )
    wanted = set(ids)
    blocks: dict[int, int] = {}
    for log in logs:
        position_id = int.from_bytes(bytes(log["topics"][1]), "big")
        if position_id in wanted:
            blocks[position_id] = log["blockNumber"]
    return blocks


def _after_a_cycle(log_path: Path, timeout: float = 30.0) -> bool:
    """Return as soon as the keeper logs its next `cycle` (True), so that the crash lands at
    the same point of the keeper's poll interval in every run: the keeper waits the interval
    after each pass, so the run's seconds hold about one interval and then the keeper's own
    work. False (not aligned) if no cycle is logged within `timeout`: a `--keeper-cmd` keeper
    that logs no `cycle` events."""

    def cycles() -> int:
        return log_path.read_text().count('"event": "cycle"')

    seen = cycles()
    return wait_until(lambda: cycles() > seen, timeout=timeout, interval=0.005)


def run_once(
    mode: str,
    count: int,
    keeper_cmd: str,
    pool_name: str = "WETH",
    warmup: float = 5.0,
    timeout: float = 600.0,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    with Node() as node, tempfile.TemporaryDirectory() as tmp:
        market = node.market(pool_name)
        ids = prepare(node, market, count)
        manifest = Path(tmp) / "deployment.json"
        node.deployment.save(manifest)
        argv = shlex.split(
            keeper_cmd.format(
                python=sys.executable,
                rpc_url=node.rpc_url,
                manifest=manifest,
                account=KEEPER_ACCOUNT,
            )
        )
        env = {
            **os.environ,
            "BULKHEAD_RPC_URL": node.rpc_url,
            "BULKHEAD_MANIFEST": str(manifest),
            "BULKHEAD_LOG_FORMAT": "json",  # `_after_a_cycle` reads the keeper's JSON events
        }
        log_path = Path(tmp) / "keeper.log"
        with open(log_path, "w") as log:
            keeper = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            time.sleep(warmup)
            if keeper.poll() is not None:
                raise RuntimeError(
                    f"reaction: the keeper exited with {keeper.returncode}: {log_path.read_text()[-500:]}"
                )
            check_crash_bites(node, market, ids)
            if mode == "2s":
                node.rpc.request("evm_setAutomine", [False])
                node.rpc.request("evm_setIntervalMining", [2])
            aligned = _after_a_cycle(log_path)
            crash_block, crash_wall = crash(node, market)
            done_wall = None
            deadline = crash_wall + timeout
            while time.monotonic() < deadline:
                if not still_liquidatable(node, market, ids):
                    done_wall = time.monotonic()
                    break
                time.sleep(0.05)
        finally:
            if keeper.poll() is None:
                os.killpg(keeper.pid, 15)
                try:
                    keeper.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(keeper.pid, 9)
                    keeper.wait()
        blocks = _liquidation_blocks(node, market, ids, crash_block)
        left = len(still_liquidatable(node, market, ids))
        result: dict[str, Any] = {
            "mode": mode,
            "positions": count,
            "liquidated": len(blocks),
            "left": left,
            "aligned": aligned,
        }
        if done_wall is None or not blocks:
            result["timed_out"] = True
            result["keeper_log_tail"] = log_path.read_text()[-2_000:]
            return result
        last_block = max(blocks.values())
        ts = {
            b: retry_pruned(lambda b=b: node.w3.eth.get_block(b))["timestamp"]
            for b in (crash_block, last_block)
        }
        result.update(
            blocks=last_block - crash_block,
            seconds=done_wall - crash_wall,
            chain_seconds=ts[last_block] - ts[crash_block],
            timed_out=False,
        )
        progress(
            f"reaction {mode:<8} {count} positions: {result['blocks']} blocks, {result['seconds']:.2f} s"
        )
        return result


def run(
    count: int = 1_000,
    modes: tuple[str, ...] = ("automine", "2s"),
    runs: int = 3,
    keeper_cmd: str = DEFAULT_KEEPER_CMD,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    if not keeper_available():
        return {
            "status": "pending",
            "reason": f"`{KEEPER_MODULE}` does not exist on this branch yet (the keeper issue)",
            "positions": count,
            "keeper_cmd": keeper_cmd,
        }
    results = []
    for mode in modes:
        attempts = [run_once(mode, count, keeper_cmd, progress=progress) for _ in range(runs)]
        done = [a for a in attempts if not a["timed_out"]]
        summary: dict[str, Any] = {
            "mode": mode,
            "attempts": attempts,
            "timed_out": len(attempts) - len(done),
        }
        if done:
            summary["blocks"] = summarize([a["blocks"] for a in done])
            summary["seconds"] = summarize([a["seconds"] for a in done])
            summary["chain_seconds"] = summarize([a["chain_seconds"] for a in done])
        results.append(summary)
    return {"status": "measured", "positions": count, "keeper_cmd": keeper_cmd, "modes": results}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.reaction", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--positions", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--modes", default="automine,2s", help="automine and/or 2s")
    parser.add_argument(
        "--keeper-cmd", default=DEFAULT_KEEPER_CMD, help="{python} {rpc_url} {manifest} {account}"
    )
    parser.add_argument(
        "--no-write", action="store_true", help="do not write bench/results/reaction.json"
    )
    args = parser.parse_args(argv)
    data = run(args.positions, tuple(args.modes.split(",")), args.runs, args.keeper_cmd)
    data["command"] = " ".join(
        ["python -m bench.reaction", *(sys.argv[1:] if argv is None else argv)]
    )
    if data["status"] == "pending":
        print(f"reaction: pending: {data['reason']}")
    if not args.no_write:
        print(f"wrote {write_result('reaction', data)}")


if __name__ == "__main__":
    main()
