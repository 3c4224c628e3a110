"""One fleet worker: the ordinary `Keeper`, acting only on the partitions it leases.

Each step (one per block task from the runner):
1. bring the keeper's event index to the head, to know every pool's position count and so
   the partitions;
2. read the fleet (`Board.view`): the live workers and who holds what; compute the target
   (`partition.assign`); renew our leases, take free ones of our target, and take those of
   a dead holder once its account has no transaction pending (what it sent is mined, so
   our simulation sees it: no second liquidation of the same position);
3. step the keeper with `owns` = our partitions and `fence` = a last check, right before
   sending, that the leases are still ours;
4. release partitions no longer ours by the target once nothing of ours is in flight on
   them (a rebalance after a join), and publish our record and metrics.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from bulkhead.eth.rpc import RpcError, to_int
from bulkhead.keeper.core import Keeper, StepReport
from bulkhead.keeper.fleet.board import Board, View
from bulkhead.keeper.fleet.partition import (
    DEFAULT_SIZE,
    Partition,
    assign,
    partition_of,
    partitions,
)

BEACON_S = 1.0  # [s] between the beacon's pings (keeps our named connection up)


class FleetWorker:
    def __init__(self, keeper: Keeper, board: Board, size: int = DEFAULT_SIZE):
        self.keeper, self.board, self.size = keeper, board, size
        self.name = board.worker or "worker"
        self.owned: set[Partition] = set()
        self.counts: Counter = Counter()  # takeovers, releases, lease_lost, waits
        self.last_head = -1
        keeper.config.owns = self.owns
        keeper.config.fence = self.fence
        self._stop = threading.Event()
        self._beacon = threading.Thread(target=self._ping, name="fleet-beacon", daemon=True)
        self._beacon.start()

    # ------------------------------------------------------------ hooks

    def owns(self, pool: str, position_id: int) -> bool:
        return partition_of(pool, position_id, self.size) in self.owned

    def fence(self) -> bool:
        kept = self.board.still_mine(self.owned)
        lost = self.owned - kept
        if lost:
            self.counts["lease_lost"] += len(lost)
            self.keeper.log("lease_lost", partitions=sorted(p.key() for p in lost))
            self.owned = kept
            return False
        return True

    # ------------------------------------------------------------- step

    def step(self) -> StepReport | None:
        """One pass; None when the chain has not moved since our last one."""
        keeper = self.keeper
        started = time.perf_counter()
        head = to_int(keeper.rpc.request("eth_blockNumber", []))
        if head <= self.last_head:
            return None
        keeper.logs.sync(keeper.index, head)
        counts = {a: p.count for a, p in keeper.index.pools.items()}
        parts = partitions(counts, self.size)
        view = self.board.view(parts)
        self._lease(parts, view)
        report = keeper.step()
        self.last_head = report.block
        self._release(parts)
        self.publish(report.block)
        keeper.log(
            "fleet_step",
            block=report.block,
            seconds=round(time.perf_counter() - started, 4),
            partitions=len(self.owned),
            sent=report.sent,
        )
        return report

    def _lease(self, parts: list[Partition], view: View) -> None:
        holders = {p: view.leases.get(p) or view.last.get(p) for p in parts}
        live = sorted(set(view.live) | {self.name})
        target = assign(parts, live, {p: h for p, h in holders.items() if h})
        wanted: dict[Partition, str | None] = {}
        check: dict[Partition, str] = {}  # partition -> previous holder to wait for
        for p in parts:
            lease = view.leases.get(p)
            if lease == self.name:
                wanted[p] = self.name  # renew (ours, by target or until released)
            elif target.get(p) != self.name:
                continue
            elif lease is None:
                last = view.last.get(p)
                if last and last != self.name:
                    check[p] = last
                else:
                    wanted[p] = None
            elif lease not in view.live:
                check[p] = lease  # a dead holder's
            else:
                self.counts["waits"] += 1  # a live holder releases it when its work is done
        clear = self._clear({a for a in map(view.address, check.values()) if a})
        for p, previous in check.items():
            if view.address(previous) in clear:
                wanted[p] = view.leases.get(p)  # None (expired) or the dead holder
        got = self.board.claim(wanted)
        new = got - self.owned
        if new:
            taken = sorted(p.key() for p in new if p in check)
            self.counts["takeovers"] += len(taken)
            self.keeper.log(
                "lease",
                taken=sorted(p.key() for p in new),
                from_dead=taken,
                holding=len(got),
            )
        self.owned = got

    def _clear(self, addresses: set[str]) -> set[str]:
        """Of `addresses`, those with no transaction pending (all they sent is mined)."""
        ordered = sorted(addresses)
        requests = [
            ("eth_getTransactionCount", [a, tag]) for a in ordered for tag in ("pending", "latest")
        ]
        if not requests:
            return set()
        results = self.keeper.rpc.batch(requests)
        out = set()
        for k, a in enumerate(ordered):
            pending, latest = results[2 * k], results[2 * k + 1]
            if isinstance(pending, RpcError) or isinstance(latest, RpcError):
                continue
            if to_int(pending) <= to_int(latest):
                out.add(a)
        return out

    def _release(self, parts: list[Partition]) -> None:
        """Give back what the target gives others, once nothing of ours is in flight on it."""
        view = self.board.view(parts)
        live = sorted(set(view.live) | {self.name})
        holders = {p: h for p, h in view.leases.items()}
        target = assign(parts, live, holders)
        busy = {partition_of(pool, pid, self.size) for pool, pid in self.keeper._busy()}
        give = {p for p in self.owned if target.get(p) != self.name and p not in busy}
        gone = {p for p in self.owned if p not in set(parts)}
        give |= gone
        if give:
            self.board.release(give)
            self.owned -= give
            self.counts["releases"] += len(give)
            self.keeper.log("release", partitions=sorted(p.key() for p in give))

    # ---------------------------------------------------------- reports

    def record(self, block: int) -> dict[str, Any]:
        return {
            "address": self.keeper.address,
            "block": block,
            "partitions": sorted(p.key() for p in self.owned),
            "dry_run": self.keeper.config.dry_run,
        }

    def summary(self) -> dict[str, Any]:
        return {**self.keeper.metrics.summary(), "fleet": dict(self.counts)}

    def publish(self, block: int) -> None:
        self.board.publish(self.record(block), self.summary())

    def stop(self) -> dict[str, Any]:
        """Give back every lease (the others take over at their next step) and publish."""
        self._stop.set()
        summary = self.summary()
        try:
            self.board.release(set(self.owned))
            self.owned = set()
            self.publish(self.last_head)
        except Exception as exc:  # noqa: BLE001 - Redis away at shutdown: the leases expire
            self.keeper.log("release_failed", error=f"{type(exc).__name__}: {exc}"[:200])
        return summary

    def _ping(self) -> None:
        while not self._stop.wait(BEACON_S):
            self.board.ping()
