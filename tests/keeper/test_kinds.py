"""The keeper's table of action kinds (`bulkhead.keeper.kinds`), without a chain: each
kind's encoder calls the function the contracts name, what it earned is read from its
event as value received minus value paid, and the approvals follow who pays with what."""

from __future__ import annotations

import pytest

from bulkhead.keeper import decide
from bulkhead.keeper.decide import Action
from bulkhead.keeper.kinds import BHUSD, BHUSD_KINDS, BY_EVENT, TABLE, approval_key
from bulkhead.risk import WAD

POOL = "0x" + "11" * 20


class Recorder:
    """A stand-in contract: `functions.f(*args)` returns (f, args)."""

    class _Functions:
        def __getattr__(self, name):
            return lambda *args: (name, args)

    functions = _Functions()


def _action(kind: str) -> Action:
    return Action(
        kind, POOL, 7, amount=500, min_out=9, bhusd_in=0, collateral_in=0, expected_out=0,
        bounty=0, gas_cost=0, health=WAD,
    )  # fmt: skip


def test_table__every_kind_of_the_plan__in_plan_order():
    assert tuple(TABLE) == decide.KINDS
    assert {k.event for k in TABLE.values()} == set(BY_EVENT)
    assert all(BY_EVENT[TABLE[k].event] is TABLE[k] for k in decide.KINDS)
    assert all(callable(TABLE[k].decide) for k in decide.KINDS)


@pytest.mark.parametrize(
    ("kind", "call"),
    [
        ("liquidate", ("liquidate", (7, 500, 9))),
        ("stop_loss", ("stop_loss", (POOL, 7))),
        ("deleverage", ("auto_deleverage", (POOL, 7, 500))),
        ("top_up", ("top_up", (POOL, 7, 500))),
        ("boost", ("boost", (POOL, 7, 500))),
    ],
)
def test_encode__the_contract_function_of_each_kind(kind, call):
    assert TABLE[kind].encode(Recorder(), _action(kind)) == call
    assert TABLE[kind].target == ("pool" if kind == "liquidate" else "automation")


def test_earned__value_received_minus_value_paid():
    price = 2_000  # USD per collateral unit, wad scale 1

    def value(amount: int) -> int:
        return amount * price

    liquidation = {"collateral_out": 3 * WAD, "paid": 5_500 * WAD}
    assert TABLE["liquidate"].earned(liquidation, value, 1) == 500 * WAD
    deleverage = {"collateral_out": WAD, "repaid": 1_980 * WAD}
    assert TABLE["deleverage"].earned(deleverage, value, 1) == 20 * WAD
    boost = {"borrowed": 2_010 * WAD, "collateral_in": WAD}
    assert TABLE["boost"].earned(boost, value, 1) == 10 * WAD
    assert TABLE["top_up"].earned({"fee": WAD // 100}, value, 1) == 20 * WAD
    # a stop-loss is valued at the price it ran at, not the oracle's
    stop = {"keeper_collateral": WAD, "price": 1_010 * WAD, "debt_repaid": 1_000 * WAD}
    assert TABLE["stop_loss"].earned(stop, value, 1) == 10 * WAD


def test_approvals__bhusd_for_rules_paid_in_bhusd__collateral_for_boosts():
    assert set(BHUSD_KINDS) == {"deleverage", "stop_loss"}
    assert approval_key("boost", POOL) == POOL
    assert approval_key("stop_loss", POOL) == BHUSD
    assert approval_key("deleverage", POOL) == BHUSD
    assert approval_key("liquidate", POOL) is None  # the pool burns our bhUSD itself
    assert approval_key("top_up", POOL) is None  # the owner pays
