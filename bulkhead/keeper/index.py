"""The keeper's own index of positions and rules, rebuilt from event logs alone.

Every change to a position emits `PositionUpdated` with its full new state; every rule
change emits `ProtectionSet`, `BoostSet`, `TopUpSet` or `StopLossSet` (all from the
automation); a top-up spends its allowance (`TopUp`), a stop-loss carried out is spent
(`StopLoss`). The index applies them in log order and so knows, per
pool, the position count, each position's collateral and normalised debt, and which ids
carry which rule, without one call per position.

`EventIndex.apply` is pure (logs in, state out); `sync` fetches the logs in block chunks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from eth_utils import to_checksum_address

from bulkhead.eth.abi import Abi
from bulkhead.eth.rpc import Rpc, RpcError, to_int
from bulkhead.keeper.model import Position, Rule

POOL_EVENTS = ("PositionUpdated",)
AUTOMATION_EVENTS = ("ProtectionSet", "BoostSet", "TopUpSet", "TopUp", "StopLossSet", "StopLoss")


@dataclass
class PoolIndex:
    address: str
    count: int = 0  # highest position id seen
    positions: dict[int, Position] = field(default_factory=dict)
    protections: dict[int, Rule] = field(default_factory=dict)  # deleverage, active only
    boosts: dict[int, Rule] = field(default_factory=dict)
    top_ups: dict[int, Rule] = field(default_factory=dict)
    stop_losses: dict[int, Rule] = field(default_factory=dict)  # trigger = the price [wad]

    def by_kind(self) -> dict[str, dict[int, Rule]]:
        return {
            "deleverage": self.protections,
            "boost": self.boosts,
            "top_up": self.top_ups,
            "stop_loss": self.stop_losses,
        }

    def rule_ids(self, *kinds: str) -> list[int]:
        ids: set[int] = set()
        rules = self.by_kind()
        for kind in kinds:
            ids |= set(rules[kind])
        return sorted(ids)


@dataclass
class EventIndex:
    """Positions and rules of every pool of one deployment, as of block `synced`."""

    pools: dict[str, PoolIndex]
    automation: str
    start_block: int
    synced: int = -1  # last block applied
    synced_hash: str | None = None
    logs_applied: int = 0

    @classmethod
    def empty(cls, pools: Iterable[str], automation: str, start_block: int) -> EventIndex:
        return cls(
            pools={to_checksum_address(p): PoolIndex(to_checksum_address(p)) for p in pools},
            automation=to_checksum_address(automation),
            start_block=start_block,
        )

    def reset(self) -> None:
        for address in list(self.pools):
            self.pools[address] = PoolIndex(address)
        self.synced, self.synced_hash, self.logs_applied = -1, None, 0

    # ---------------------------------------------------------- applying

    def apply(self, name: str, emitter: str, args: dict) -> None:
        """Apply one decoded event (pure: no chain access)."""
        emitter = to_checksum_address(emitter)
        if emitter == self.automation:
            pool = self.pools.get(to_checksum_address(args["pool"]))
            if pool is None:
                return
            pid = args["id"]
            if name == "ProtectionSet":
                _set_rule(
                    pool.protections,
                    pid,
                    Rule(args["trigger_health"], args["target_health"], args["max_fee"]),
                )
            elif name == "BoostSet":
                _set_rule(
                    pool.boosts,
                    pid,
                    Rule(args["trigger_health"], args["target_health"], args["max_fee"]),
                )
            elif name == "TopUpSet":
                rule = Rule(
                    args["trigger_health"],
                    args["target_health"],
                    args["max_fee"],
                    args["allowance"],
                )
                _set_rule(pool.top_ups, pid, rule)
            elif name == "StopLossSet":
                _set_rule(pool.stop_losses, pid, Rule(args["price"], 0, args["max_fee"]))
            elif name == "StopLoss":
                pool.stop_losses.pop(pid, None)  # carried out: the contract deleted it
            elif name == "TopUp" and pid in pool.top_ups:
                rule = pool.top_ups[pid]
                spent = args["collateral_in"] + args["fee"]
                pool.top_ups[pid] = Rule(
                    rule.trigger, rule.target, rule.fee, max(rule.allowance - spent, 0)
                )
            return
        pool = self.pools.get(emitter)
        if pool is None:
            return
        pid = args["id"]
        if name == "PositionUpdated":
            pool.positions[pid] = Position(
                emitter,
                pid,
                to_checksum_address(args["owner"]),
                args["collateral"],
                args["normalised_debt"],
            )
            pool.count = max(pool.count, pid)

    # ------------------------------------------------------------ views

    def position(self, pool: str, pid: int) -> Position | None:
        return self.pools[pool].positions.get(pid)

    def rules(self) -> dict[tuple[str, str, int], Rule]:
        out: dict[tuple[str, str, int], Rule] = {}
        for address, p in self.pools.items():
            for kind, rules in p.by_kind().items():
                for pid, rule in rules.items():
                    out[(kind, address, pid)] = rule
        return out

    @property
    def position_count(self) -> int:
        return sum(p.count for p in self.pools.values())


def _set_rule(rules: dict[int, Rule], pid: int, rule: Rule) -> None:
    if rule.active:
        rules[pid] = rule
    else:
        rules.pop(pid, None)


class LogSource:
    """Fetches and decodes the index's logs from a node, in chunks of blocks."""

    def __init__(
        self, rpc: Rpc, pool_abi: list[dict], automation_abi: list[dict], chunk: int = 10_000
    ):
        self.rpc = rpc
        self.pool_codec = Abi(pool_abi, POOL_EVENTS)
        self.automation_codec = Abi(automation_abi, AUTOMATION_EVENTS)
        self.chunk = chunk

    def sync(self, index: EventIndex, head: int) -> int:
        """Apply every log from the block after `index.synced` through `head`; return how many."""
        start = max(index.synced + 1, index.start_block)
        if start > head:
            return 0
        addresses = [*index.pools, index.automation]
        topics = [[*self.pool_codec.topics.values(), *self.automation_codec.topics.values()]]
        ranges = []
        while start <= head:
            end = min(start + self.chunk - 1, head)
            ranges.append((start, end))
            start = end + 1
        requests = [
            (
                "eth_getLogs",
                [{"fromBlock": hex(a), "toBlock": hex(b), "address": addresses, "topics": topics}],
            )
            for a, b in ranges
        ]
        requests.append(("eth_getBlockByNumber", cast(Any, [hex(head), False])))
        *chunks, block = self.rpc.batch(requests)
        applied = 0
        for logs in chunks:
            if isinstance(logs, RpcError):
                raise logs
            for log in sorted(
                logs, key=lambda lg: (to_int(lg["blockNumber"]), to_int(lg["logIndex"]))
            ):
                emitter = to_checksum_address(log["address"])
                codec = self.automation_codec if emitter == index.automation else self.pool_codec
                decoded = codec.event(log)
                if decoded is not None:
                    index.apply(decoded[0], emitter, decoded[1])
                    applied += 1
        if isinstance(block, RpcError) or block is None:
            raise RpcError(-32000, f"block {head} not found")
        index.synced = head
        index.synced_hash = block["hash"]
        index.logs_applied += applied
        return applied
