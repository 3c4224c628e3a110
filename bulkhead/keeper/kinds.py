"""The keeper's table of action kinds: what differs from one kind to the next, in one place.

Each kind (liquidation, stop-loss, deleverage, top-up, boost) names how the keeper decides
it (`draft`: against unlimited balances, to rank the candidates by profit; `final`: against
what is left of its balances), how it encodes the transaction, what the keeper pays with
(the approval it needs), and how the keeper reads what it earned from the kind's event.
The plan (`planning.plan`) and the execution (`core.Keeper._request`,
`_earned` and the approvals) look a kind up here instead of branching on its name, so a
new kind is one more entry here and one decide function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bulkhead.keeper.decide.liquidate import liquidation
from bulkhead.keeper.decide.rules import boost, deleverage, top_up
from bulkhead.keeper.decide.stops import stop_loss
from bulkhead.keeper.model import KINDS, Action, Costs, Decision, Kind, PoolState, Position, Rule
from bulkhead.risk import MAX_UINT256, WAD

BHUSD = "bhUSD"  # the approval key of our bhUSD (a pool's address keys its collateral)


@dataclass
class Budget:
    """What one plan may spend and how it judges gas: the keeper's bhUSD and collateral
    left (spent as actions are chosen), the costs, the slippage allowed a liquidation, and
    whether liquidations go out in batches (and so at a batch member's gas)."""

    bhusd: int
    collateral: dict[str, int]
    costs: Costs
    slippage_bps: int
    batching: bool = False
    each_gas: str = field(init=False)

    def __post_init__(self) -> None:
        self.each_gas = "liquidate_many_each" if self.batching else "liquidate"


Decide = Callable[[Budget, PoolState, Position, Rule | None, bool], Decision]


def _liquidate(
    b: Budget, pool: PoolState, pos: Position, _rule: Rule | None, final: bool
) -> Decision:
    if not final:
        return liquidation(pool, pos, MAX_UINT256, b.costs, b.slippage_bps, gas_kind=b.each_gas)
    chosen = liquidation(pool, pos, b.bhusd, b.costs, b.slippage_bps, gas_kind=b.each_gas)
    if b.batching and isinstance(chosen, Action) and chosen.partial:
        chosen = liquidation(pool, pos, b.bhusd, b.costs, b.slippage_bps)  # alone
    return chosen


def _stop_loss(
    b: Budget, pool: PoolState, pos: Position, rule: Rule | None, final: bool
) -> Decision:
    return stop_loss(pool, pos, rule, b.bhusd if final else MAX_UINT256, b.costs)


def _deleverage(
    b: Budget, pool: PoolState, pos: Position, rule: Rule | None, final: bool
) -> Decision:
    return deleverage(pool, pos, rule, b.bhusd if final else MAX_UINT256, b.costs)


def _boost(b: Budget, pool: PoolState, pos: Position, rule: Rule | None, final: bool) -> Decision:
    budget = b.collateral.get(pos.pool, 0) if final else MAX_UINT256
    return boost(pool, pos, rule, budget, b.costs)


def _top_up(b: Budget, pool: PoolState, pos: Position, rule: Rule | None, _final: bool) -> Decision:
    return top_up(pool, pos, rule, b.costs)  # the owner pays: no budget of ours


@dataclass(frozen=True)
class ActionKind:
    name: Kind
    decide: Decide  # (budget, pool, position, rule, final) -> Action or Skip
    target: str  # "pool" or "automation": the contract the transaction calls
    encode: Callable[[Any, Action], Any]  # (that contract, action) -> bound web3 call
    event: str  # the event that carries the outcome
    earned: Callable[[dict[str, Any], Callable[[int], int], int], int]
    # (event args, collateral amount -> USD [wad], collateral scale) -> USD earned [wad]
    pays_with: str | None  # "bhusd", "collateral" or None: the approval it needs


def _stop_loss_earned(args: dict[str, Any], _value: Callable[[int], int], scale: int) -> int:
    # at the price it ran at, not the oracle's latest
    return args["keeper_collateral"] * scale * args["price"] // WAD - args["debt_repaid"]


TABLE: dict[str, ActionKind] = {
    k.name: k
    for k in (
        ActionKind(
            "liquidate",
            _liquidate,
            "pool",
            lambda pool, a: pool.functions.liquidate(a.id, a.amount, a.min_out),
            "Liquidate",
            lambda args, value, _s: value(args["collateral_out"]) - args["paid"],
            None,
        ),
        ActionKind(
            "stop_loss",
            _stop_loss,
            "automation",
            lambda auto, a: auto.functions.stop_loss(a.pool, a.id),
            "StopLoss",
            _stop_loss_earned,
            "bhusd",
        ),
        ActionKind(
            "deleverage",
            _deleverage,
            "automation",
            lambda auto, a: auto.functions.auto_deleverage(a.pool, a.id, a.amount),
            "AutoDeleverage",
            lambda args, value, _s: value(args["collateral_out"]) - args["repaid"],
            "bhusd",
        ),
        ActionKind(
            "top_up",
            _top_up,
            "automation",
            lambda auto, a: auto.functions.top_up(a.pool, a.id, a.amount),
            "TopUp",
            lambda args, value, _s: value(args["fee"]),
            None,
        ),
        ActionKind(
            "boost",
            _boost,
            "automation",
            lambda auto, a: auto.functions.boost(a.pool, a.id, a.amount),
            "Boost",
            lambda args, value, _s: args["borrowed"] - value(args["collateral_in"]),
            "collateral",
        ),
    )
}
assert tuple(TABLE) == KINDS  # dev: the table covers every kind, in plan order

BY_EVENT = {k.event: k for k in TABLE.values()}


def approval_key(kind: str, pool: str) -> str | None:
    """What an action of `kind` in `pool` needs the automation to pull from us: a boost our
    collateral (its pool's key), a protection or a stop-loss our bhUSD (BHUSD); None for
    the rest."""
    pays = TABLE[kind].pays_with
    return pool if pays == "collateral" else BHUSD if pays == "bhusd" else None


BHUSD_KINDS = tuple(k.name for k in TABLE.values() if k.pays_with == "bhusd")
