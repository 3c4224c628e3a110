"""The keeper's whole plan for a block: every due action decided, ranked by profit, paid
from the keeper's balances, and whole liquidations grouped into batches.

Each kind is decided by its entry in the table of action kinds (`kinds.TABLE`): first
against unlimited balances (to rank the candidates), then, most profitable first, against
what is left. Pure: no chain access.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from bulkhead.keeper.kinds import TABLE, Budget
from bulkhead.keeper.model import (
    KINDS,
    Action,
    Batch,
    Costs,
    Decision,
    Kind,
    PoolState,
    Position,
    Rule,
    Skip,
)
from bulkhead.keeper.reasons import (
    CLOSING,
    GRACE_WINDOW,
    IN_FLIGHT,
    LIQUIDATING,
    PAUSED,
    UNKNOWN_POSITION,
    UNPROFITABLE,
)


@dataclass(frozen=True)
class Due:
    """A view said this position needs `kind` now."""

    kind: Kind
    pool: str
    id: int


@dataclass(frozen=True)
class Scan:
    """One pass's reading of the chain, in one JSON-RPC batch at one block: each pool's
    state, what the views say is due, how many ids they covered, and the keeper's own
    balances (bhUSD; the collateral of pools with boost rules; the allowances read)."""

    states: dict[str, PoolState]
    due: list[Due]
    scanned: int
    block: int
    bhusd: int
    collateral: dict[str, int]
    allowance: dict[str, int]


@dataclass
class Plan:
    """`actions`: one per position, in the order to send them; `batches`: the liquidations
    among them that go out together (every other action is a transaction of its own)."""

    actions: list[Action] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    batches: list[Batch] = field(default_factory=list)

    def by_kind(self, kind: str) -> list[Action]:
        return [a for a in self.actions if a.kind == kind]

    def transactions(self) -> list[Action | Batch]:
        """What to send, in order: a batch where its first member stands, other actions
        one by one."""
        batch_of = {k: b for b in self.batches for k in b.keys}
        out: list[Action | Batch] = []
        for a in self.actions:
            b = batch_of.get(a.key)
            if b is None:
                out.append(a)
            elif a.key == b.actions[0].key:
                out.append(b)
        return out


def chunk_liquidations(
    actions: Iterable[Action], size: int, costs: Costs
) -> tuple[list[Action | Batch], list[Skip]]:
    """Group whole liquidations of one pool into transactions of at most `size` positions,
    most profitable first; what a chunk of one holds goes as a plain `liquidate`.

    A member is charged its marginal gas plus an even share of the batch's fixed gas
    (`batch_gas`), and a chunk is the largest whose weakest member still earns
    `costs.min_profit` above that charge; what no chunk can carry is skipped as
    unprofitable. (The charge falls as a chunk grows, so a position too small to
    liquidate alone may pay in a batch.) Liquidations under water sent for housekeeping
    (`Action.clearing`) go in chunks of their own, whatever they earn.
    """
    pending = list(actions)
    clearing = sorted((a for a in pending if a.clearing), key=lambda a: a.id)
    ranked = sorted((a for a in pending if not a.clearing), key=lambda a: (-a.bounty, a.id))
    fixed = costs.of("liquidate_many")
    each = costs.of("liquidate_many_each")

    def charge(k: int) -> int:  # [wad] USD per member of a chunk of k
        return costs.of("liquidate") if k == 1 else each + -(-fixed // k)

    out: list[Action | Batch] = []
    skips: list[Skip] = []
    while ranked:
        best = next(
            (
                k
                for k in range(min(size, len(ranked)), 0, -1)
                if ranked[k - 1].bounty - charge(k) >= costs.min_profit
            ),
            0,
        )
        if best == 0:
            skips += [
                Skip(
                    a.kind,
                    a.pool,
                    a.id,
                    UNPROFITABLE,
                    f"bounty {a.bounty} gas {charge(1)} alone, {charge(2)} in a batch of 2",
                )
                for a in ranked
            ]
            break
        members = tuple(replace(a, gas_cost=charge(best)) for a in ranked[:best])
        ranked = ranked[best:]
        out.append(members[0] if best == 1 else Batch(members[0].pool, members))
    # housekeeping under water goes out whatever it earns, in chunks of `size`
    for start in range(0, len(clearing), size):
        k = min(size, len(clearing) - start)
        members = tuple(replace(a, gas_cost=charge(k)) for a in clearing[start : start + k])
        out.append(members[0] if k == 1 else Batch(members[0].pool, members))
    return out, skips


def plan(
    due: Iterable[Due],
    pools: Mapping[str, PoolState],
    positions: Mapping[tuple[str, int], Position],
    rules: Mapping[tuple[str, str, int], Rule],
    bhusd: int,
    collateral: Mapping[str, int],
    costs: Costs,
    in_flight: Iterable[tuple[str, int]] = (),
    slippage_bps: int = 100,
    batch_size: int = 1,
) -> Plan:
    """Every action for this block, in the order to send them, with the keeper's balances spent.

    Liquidations come first (solvency before convenience), then stop-losses, deleverages,
    top-ups and boosts; within a kind the most profitable first, so that a short balance
    goes where it earns most. One action per position per block; positions with a
    transaction of ours still pending are skipped as already handled.

    A pool closed to liquidations (paused, or in its grace window after an unpause: see
    `PoolState.closed`) gets none: each due liquidation is skipped with that reason, and
    owners' rules go on (stop-losses, deleverages, top-ups; no boost while paused, since
    a boost borrows).

    With `batch_size` above 1, whole liquidations in one pool go out in `Batch`es of at
    most that many positions (`chunk_liquidations`), each position judged at its share
    of the batch's gas; a liquidation capped by the bhUSD balance (partial) cannot be
    batched (`liquidate_many` takes whole ones) and goes alone, at a lone liquidation's gas.
    With `batch_size` 1 every liquidation is a `liquidate` of its own.

    `rules` maps (kind, pool, id) to the rule; `collateral` maps a pool to the keeper's
    balance of its collateral token.
    """
    out = Plan()
    busy = set(in_flight)
    seen: set[tuple[str, Kind, int]] = set()
    by_kind: dict[Kind, list[Due]] = {k: [] for k in KINDS}
    for d in due:
        if (d.pool, d.kind, d.id) not in seen:
            seen.add((d.pool, d.kind, d.id))
            by_kind[d.kind].append(d)

    budget = Budget(bhusd, dict(collateral), costs, slippage_bps, batching=batch_size > 1)
    for kind in KINDS:
        decide = TABLE[kind].decide
        drafts: list[Decision] = []
        for d in by_kind[kind]:
            key = (d.pool, d.id)
            pool = pools.get(d.pool)
            pos = positions.get(key)
            if key in busy:
                first = _planned(out, key) or ""
                reason = {"liquidate": LIQUIDATING, "stop_loss": CLOSING}.get(first, IN_FLIGHT)
                out.skips.append(Skip(kind, d.pool, d.id, reason))
                continue
            if pool is None or pos is None:
                out.skips.append(Skip(kind, d.pool, d.id, UNKNOWN_POSITION))
                continue
            closed = _closed_to(kind, pool)
            if closed is not None:
                out.skips.append(Skip(kind, d.pool, d.id, *closed))
                continue
            # decide against unlimited balances first, then spend them in profit order
            drafts.append(decide(budget, pool, pos, rules.get((kind, d.pool, d.id)), False))
        actions = sorted(
            (d for d in drafts if isinstance(d, Action)), key=lambda a: (-a.profit, a.pool, a.id)
        )
        out.skips += [d for d in drafts if isinstance(d, Skip)]
        for a in actions:
            rule = rules.get((a.kind, a.pool, a.id))
            final = decide(budget, pools[a.pool], positions[a.key], rule, True)
            if isinstance(final, Skip):
                out.skips.append(final)
                continue
            budget.bhusd -= final.bhusd_in
            if final.collateral_in:
                left = budget.collateral.get(a.pool, 0)
                budget.collateral[a.pool] = left - final.collateral_in
            out.actions.append(final)
            busy.add(final.key)
        if kind == "liquidate" and budget.batching:
            budget.bhusd += _batch_liquidations(out, batch_size, costs, busy)
    return out


def _batch_liquidations(out: Plan, size: int, costs: Costs, busy: set[tuple[str, int]]) -> int:
    """Group the plan's whole liquidations into batches per pool (partial ones stay alone);
    the bhUSD [wad] of the liquidations that no batch could carry, given back."""
    planned = out.by_kind("liquidate")
    rest = [a for a in out.actions if a.kind != "liquidate"]
    by_pool: dict[str, list[Action]] = {}
    for a in planned:
        if not a.partial:
            by_pool.setdefault(a.pool, []).append(a)
    sends: list[Action | Batch] = []
    returned = 0
    for actions in by_pool.values():
        chunks, skips = chunk_liquidations(actions, size, costs)
        sends += chunks
        out.skips += skips
        for s in skips:
            busy.discard(s.key)
        returned += sum(a.bhusd_in for a in actions if a.key not in busy)
    sends.sort(key=lambda t: -(t.actions[0] if isinstance(t, Batch) else t).profit)
    sends += [a for a in planned if a.partial]
    out.actions = []
    for t in sends:
        if isinstance(t, Batch):
            out.batches.append(t)
            out.actions += t.actions
        else:
            out.actions.append(t)
    out.actions += rest
    return returned


def _closed_to(kind: Kind, pool: PoolState) -> tuple[str, str] | None:
    """(reason, detail) when `pool` refuses an action of `kind` now: a liquidation while
    paused or in the grace window, a boost (it borrows) while paused; None otherwise."""
    if kind == "liquidate" and pool.closed == GRACE_WINDOW:
        return GRACE_WINDOW, f"liquidations open at {pool.grace_end} ({pool.grace_left} s)"
    if kind in ("liquidate", "boost") and pool.paused:
        return PAUSED, "liquidations and borrowing are paused"
    return None


def _planned(p: Plan, key: tuple[str, int]) -> str | None:
    """The kind of the action planned for a position in this plan so far (None: none)."""
    return next((a.kind for a in p.actions if a.key == key), None)
