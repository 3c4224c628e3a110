"""The fleet's operations: Redis restarted mid-crash, workers joining and leaving, a dry run
of the whole fleet, the log naming each worker."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter

from bulkhead.keeper.fleet.local import WorkerSpec

from .conftest import (
    PATIENCE,
    WORKER_ACCOUNTS,
    Lockstep,
    crash,
    liquidatable,
    liquidation_failures,
    liquidations,
    start_fleet,
)


def _wait_connected(fleet, names: list[str]) -> None:
    """Until every named worker's Redis connection is back (its beacon reconnects)."""
    deadline = time.monotonic() + PATIENCE
    while True:
        clients = fleet.board.redis.client_list()
        have = {
            c["name"].rsplit(".", 1)[-1] for c in clients if c["name"].startswith("bulkhead-fleet.")
        }
        if set(names) <= have:
            return
        assert time.monotonic() < deadline, f"connected: {have}"
        time.sleep(0.2)


def test_redis_restarted_mid_crash__fleet_reconnects_and_liquidates_each_once(
    chain, manifest, tmp_path
):
    fleet = start_fleet(chain, manifest, 3, tmp_path).start()
    try:
        step = Lockstep(chain, fleet)
        step.settle()
        crash_block = crash(chain, 0.80)
        due = liquidatable(chain)
        step.wait()  # liquidations sent, pending
        fleet.restart_redis()
        restarted_at = chain.block
        fleet.wait_listening(3)
        _wait_connected(fleet, ["w1", "w2", "w3"])
        while any(liquidatable(chain).values()):
            step.round()
        step.round()
        after = step.stepped()
        assert fleet.runner.poll() is None and sorted(fleet.alive()) == ["w1", "w2", "w3"]
        metrics = fleet.metrics()
    finally:
        fleet.stop()
    assert fleet.redis.starts == 2
    assert all(block > restarted_at for block in after.values())  # every worker carried on
    events = liquidations(chain, crash_block + 1)
    for name, ids in due.items():
        counts = Counter(pid for pid, _b, _who in events[name])
        assert set(counts) == ids and max(counts.values(), default=1) == 1, name
    assert metrics["fleet"]["failures"] == {}
    assert metrics["fleet"]["liquidations"] == sum(map(len, due.values()))


def test_worker_joins_then_one_leaves__partitions_rebalance_each_held_once(
    chain, manifest, tmp_path
):
    fleet = start_fleet(chain, manifest, 2, tmp_path).start()
    try:
        step = Lockstep(chain, fleet)
        step.settle()
        parts = step.partitions()
        two = {w: r["partitions"] for w, r in fleet.board.records().items()}
        assert sorted(map(len, two.values())) == [len(parts) // 2, len(parts) - len(parts) // 2]
        fleet.start_worker(WorkerSpec("w3", account=WORKER_ACCOUNTS[2]))
        fleet.wait_listening(3)
        step.settle()
        three = {w: fleet.board.records()[w]["partitions"] for w in fleet.alive()}
        assert sorted(three) == ["w1", "w2", "w3"]
        assert max(map(len, three.values())) - min(map(len, three.values())) <= 1
        assert sorted(p for ps in three.values() for p in ps) == sorted(parts)
        fleet.kill("w1", signal.SIGTERM)
        step.settle()
        left = {w: fleet.board.records()[w]["partitions"] for w in fleet.alive()}
        assert sorted(left) == ["w2", "w3"]
        assert sorted(p for ps in left.values() for p in ps) == sorted(parts)
        # the stayers kept what they had and shared w1's
        for w in ("w2", "w3"):
            assert set(three[w]) <= set(left[w]), w
    finally:
        fleet.stop()


def test_dry_run__whole_fleet_simulates_each_liquidation_once_sends_nothing(
    chain, manifest, tmp_path
):
    fleet = start_fleet(chain, manifest, 3, tmp_path, dry_run=True).start()
    try:
        step = Lockstep(chain, fleet)
        step.settle()
        crash_block = crash(chain)
        due = liquidatable(chain)
        for _ in range(3):
            step.round()
        metrics = fleet.metrics()
    finally:
        fleet.stop()
    assert liquidatable(chain) == due  # nothing sent
    assert all(not evs for evs in liquidations(chain, crash_block + 1).values())
    total = metrics["fleet"]
    assert total["simulated"]["liquidate"] == sum(map(len, due.values()))
    assert total["txs_sent"] == 0
    assert liquidation_failures(tmp_path, ["w1", "w2", "w3"]) == []
    # every keeper log line names its worker
    for name in ("w1", "w2", "w3"):
        lines = [
            json.loads(x)
            for x in (tmp_path / f"{name}.log").read_text().splitlines()
            if x.startswith("{")
        ]
        assert {e["event"] for e in lines} >= {"keeper_start", "lease", "would_send", "summary"}
        assert {e["worker"] for e in lines} == {name}
