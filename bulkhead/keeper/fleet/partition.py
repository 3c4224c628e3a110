"""How a fleet splits the work: partitions of position ids, and who should hold each.

A partition is one pool's range of `size` position ids (`(pool, k)` covers ids
`k * size + 1` to `(k + 1) * size`): the unit a worker leases. Every action on a position
(liquidation, deleverage, top-up, boost) belongs to that position's partition, so one
lease covers them all and two workers never act on the same position.

`assign` is pure and deterministic: every worker computes the same target from the same
inputs (the live workers and the current holders) and the leases in Redis make it so.
"""

from __future__ import annotations

from typing import NamedTuple

DEFAULT_SIZE = 250  # position ids per partition


class Partition(NamedTuple):
    pool: str  # the pool's checksummed address
    k: int  # ids k * size + 1 ... (k + 1) * size

    def key(self) -> str:
        return f"{self.pool}:{self.k}"

    @classmethod
    def from_key(cls, key: str) -> Partition:
        pool, index = key.rsplit(":", 1)
        return cls(pool, int(index))


def partition_of(pool: str, position_id: int, size: int = DEFAULT_SIZE) -> Partition:
    """The partition of position `position_id` (ids start at 1)."""
    return Partition(pool, (position_id - 1) // size)


def partitions(counts: dict[str, int], size: int = DEFAULT_SIZE) -> list[Partition]:
    """Every partition of pools with `counts[pool]` positions (ids 1 to count), sorted."""
    return sorted(
        Partition(pool, k)
        for pool, count in counts.items()
        for k in range((count + size - 1) // size)
    )


def assign(
    parts: list[Partition], workers: list[str], holders: dict[Partition, str]
) -> dict[Partition, str]:
    """Which worker should hold each partition: as even as can be (the first
    `len(parts) % len(workers)` workers by name take one more), and sticky: a live worker
    keeps what it holds up to its share, so a join or a leave moves only what must move."""
    if not workers:
        return {}
    names = sorted(set(workers))
    even, extra = divmod(len(parts), len(names))
    room = {w: even + (1 if i < extra else 0) for i, w in enumerate(names)}
    target: dict[Partition, str] = {}
    ordered = sorted(parts)
    for p in ordered:
        holder = holders.get(p)
        if holder in room and room[holder] > 0:
            target[p] = holder
            room[holder] -= 1
    free = iter(p for p in ordered if p not in target)
    for w in names:
        for _ in range(room[w]):
            target[next(free)] = w
    return target
