"""The keeper's decisions, without a chain: amounts from the risk mirror, bounty against gas,
what is skipped and why, the order of a plan, and fee bumps."""

from __future__ import annotations

import math

import pytest

from bulkhead import risk
from bulkhead.deploy import Config
from bulkhead.eth import fees
from bulkhead.keeper import decide, planning
from bulkhead.keeper.decide import Action, Batch, Costs, PoolState, Position, Rule, Skip
from bulkhead.keeper.planning import Due
from bulkhead.risk import BPS, WAD

PARAMS = {p.name: p.params for p in Config.load().pools}
POOL = "0x00000000000000000000000000000000000000A1"
OWNER = "0x00000000000000000000000000000000000000B2"
GWEI = 10**9


def weth(price: float = 3_000, status: int = 0, rate: int = WAD) -> PoolState:
    return PoolState(
        POOL, "WETH", PARAMS["WETH"], 1, int(price * WAD) if status == 0 else 0, status, rate
    )


def cheap_gas(**kw) -> Costs:
    return Costs(gas_price=GWEI, native_price=3_000 * WAD, **kw)  # 150k gas = 0.45 USD


def at_health(pool: PoolState, health: float, debt: int, pid: int = 1) -> Position:
    """A position with `debt` [wad] whose health is `health` at the pool's price."""
    value = int(debt * health) * BPS // pool.params.liquidation_threshold
    return Position(POOL, pid, OWNER, math.ceil(value * WAD / (pool.price * pool.scale)), debt)


def health_of(pool: PoolState, pos: Position) -> float:
    return (
        risk.health(
            pos.collateral, pos.debt(pool.rate), pool.price, pool.params.liquidation_threshold, 1
        )
        / WAD
    )


# ------------------------------------------------------------ liquidation


def test_liquidation__healthy_position__skipped_not_due():
    pool = weth()
    d = decide.liquidation(pool, at_health(pool, 1.05, 2_000 * WAD), 10**24, cheap_gas())
    assert isinstance(d, Skip) and d.reason == decide.NOT_DUE


def test_liquidation__oracle_invalid__skipped_with_the_status():
    pool = weth(status=4)
    d = decide.liquidation(pool, Position(POOL, 1, OWNER, WAD, 2_000 * WAD), 10**24, cheap_gas())
    assert isinstance(d, Skip) and (d.reason, d.detail) == (decide.ORACLE_INVALID, "stale price")


def test_liquidation__enough_bhusd__amounts_from_the_risk_mirror():
    pool = weth()
    pos = at_health(pool, 0.95, 2_000 * WAD)
    d = decide.liquidation(pool, pos, 10**24, cheap_gas(), slippage_bps=100, slack_bps=10)
    expected = risk.liquidation_amounts(
        pos.collateral, pos.normalised_debt, pool.price, pool.params, 1
    )
    assert isinstance(d, Action) and not d.partial
    assert d.expected_out == expected.collateral_out
    assert d.amount == d.bhusd_in == expected.paid + expected.paid * 10 // BPS + 1
    assert d.min_out == expected.collateral_out * 99 // 100
    assert d.bounty == pool.value(expected.collateral_out) - expected.paid > 0
    assert d.gas_cost == GWEI * decide.DEFAULT_GAS["liquidate"] * 3_000


def test_liquidation__balance_short_but_a_partial_allowed__capped_at_the_balance():
    pool = weth()
    pos = at_health(pool, 0.95, 20_000 * WAD)
    d = decide.liquidation(pool, pos, 500 * WAD, cheap_gas())
    capped = risk.liquidation_amounts(
        pos.collateral, pos.normalised_debt, pool.price, pool.params, 1, 500 * WAD
    )
    assert isinstance(d, Action) and d.partial
    assert d.amount == d.bhusd_in == 500 * WAD
    assert d.expected_out == capped.collateral_out
    assert capped.paid <= 500 * WAD


def test_liquidation__balance_too_small_for_any_liquidation__insufficient_bhusd():
    pool = weth()
    pos = at_health(pool, 0.95, 120 * WAD)  # a 40 bhUSD partial would leave 81 < 100 minimum
    d = decide.liquidation(pool, pos, 40 * WAD, cheap_gas())
    assert isinstance(d, Skip) and d.reason == decide.INSUFFICIENT_BHUSD
    assert isinstance(decide.liquidation(pool, pos, 0, cheap_gas()), Skip)


def test_liquidation__gas_worth_more_than_the_bounty__unprofitable():
    pool = weth()
    pos = at_health(pool, 0.99, 150 * WAD)
    assert isinstance(decide.liquidation(pool, pos, 10**24, cheap_gas()), Action)
    d = decide.liquidation(
        pool, pos, 10**24, Costs(gas_price=10_000 * GWEI, native_price=3_000 * WAD)
    )
    assert isinstance(d, Skip) and d.reason == decide.UNPROFITABLE
    d = decide.liquidation(pool, pos, 10**24, cheap_gas(min_profit=1_000 * WAD))
    assert isinstance(d, Skip) and d.reason == decide.UNPROFITABLE


def test_liquidation__equity_below_the_penalty__all_collateral_bounty_is_the_equity():
    """Worth 1.04x the debt (health 0.73 at a 70 % threshold): the whole debt plus the fee
    buys all the collateral, and the bounty is what is left of the equity."""
    pool = weth()
    pos = at_health(pool, 0.73, 2_000 * WAD)
    d = decide.liquidation(pool, pos, 10**24, cheap_gas())
    debt = pos.debt(pool.rate)
    paid = risk.ceil_div(debt * (BPS + pool.params.liquidation_fee), BPS)
    assert isinstance(d, Action)
    assert d.expected_out == pos.collateral and d.bhusd_in >= paid  # slack for accrual
    assert d.bounty == pool.value(pos.collateral) - paid > 0


def test_liquidation__underwater_position__no_bounty_skipped_by_a_profit_only_keeper():
    """Worth less than debt x (1 + fee): the keeper would pay the collateral's worth for it
    and earn nothing (the reserve pays no bounty), so the gas makes it unprofitable."""
    pool = weth()
    pos = at_health(pool, 0.5, 2_000 * WAD)
    d = decide.liquidation(pool, pos, 10**24, cheap_gas(clear_under_water=False))
    assert isinstance(d, Skip) and d.reason == decide.UNPROFITABLE


def test_liquidation__underwater_position__cleared_for_no_bounty_by_default():
    """The bundled keeper clears it anyway (housekeeping): it pays the collateral's worth and
    the pool records the loss."""
    pool = weth()
    pos = at_health(pool, 0.5, 2_000 * WAD)
    d = decide.liquidation(pool, pos, 10**24, cheap_gas())
    assert isinstance(d, Action) and d.clearing and d.expected_out == pos.collateral
    assert d.bounty <= 1 and d.bhusd_in >= pool.value(pos.collateral)


def test_chunk__under_water_and_profitable__housekeeping_in_chunks_of_its_own():
    pool = weth()
    book = {1: at_health(pool, 0.5, 2_000 * WAD, 1), 2: at_health(pool, 0.73, 2_000 * WAD, 2)}
    actions = [decide.liquidation(pool, pos, 10**24, cheap_gas()) for pos in book.values()]
    assert all(isinstance(a, Action) for a in actions)
    out, skips = planning.chunk_liquidations(actions, 10, cheap_gas())
    assert skips == []
    assert sorted((a.id, a.clearing) for a in out) == [(1, True), (2, False)]


# ------------------------------------------------------------- deleverage

RULE = Rule(int(1.5 * WAD), int(1.8 * WAD), 100)


def test_deleverage__due__amounts_from_the_lens_mirror_fee_capped_at_the_pool_bonus():
    pool = weth()
    pos = at_health(pool, 1.3, 5_000 * WAD)
    greedy = Rule(RULE.trigger, RULE.target, 900)  # above the WETH bonus of 500
    d = decide.deleverage(pool, pos, greedy, 10**24, cheap_gas())
    repay, out, after = risk.deleverage_amounts(
        pos.collateral,
        pos.normalised_debt,
        pool.price,
        pool.params.liquidation_threshold,
        500,
        RULE.target,
        1,
    )
    assert isinstance(d, Action)
    assert (d.amount, d.expected_out, d.bhusd_in) == (repay, out, repay)
    assert RULE.target - risk.PROTECTION_TOLERANCE <= after <= RULE.target
    assert d.bounty == pool.value(out) - repay > 0


def test_deleverage__health_above_trigger__not_due():
    pool = weth()
    d = decide.deleverage(pool, at_health(pool, 1.6, 5_000 * WAD), RULE, 10**24, cheap_gas())
    assert isinstance(d, Skip) and d.reason == decide.NOT_DUE
    d = decide.deleverage(pool, at_health(pool, 1.3, 5_000 * WAD), None, 10**24, cheap_gas())
    assert isinstance(d, Skip) and d.reason == decide.NO_RULE


def test_deleverage__remaining_debt_below_minimum__no_amount():
    pool = weth()
    d = decide.deleverage(pool, at_health(pool, 1.3, 150 * WAD), RULE, 10**24, cheap_gas())
    assert isinstance(d, Skip) and d.reason == decide.NO_AMOUNT


def test_deleverage__bhusd_short__insufficient():
    pool = weth()
    d = decide.deleverage(pool, at_health(pool, 1.3, 5_000 * WAD), RULE, 100 * WAD, cheap_gas())
    assert isinstance(d, Skip) and d.reason == decide.INSUFFICIENT_BHUSD


# ------------------------------------------------------------ boost, top-up

BOOST = Rule(int(2.5 * WAD), int(1.6 * WAD), 50)
TOP_UP = Rule(int(1.5 * WAD), int(1.7 * WAD), 50, allowance=100 * WAD)


def test_boost__due__keeper_supplies_collateral_and_earns_the_fee():
    pool = weth()
    pos = at_health(pool, 4.0, 2_000 * WAD)
    d = decide.boost(pool, pos, BOOST, 10**24, cheap_gas())
    borrow, coll_in = risk.boost_amounts(
        pos.collateral,
        pos.normalised_debt,
        pool.price,
        pool.params.liquidation_threshold,
        50,
        BOOST.target,
        1,
    )
    assert isinstance(d, Action)
    assert (d.amount, d.collateral_in, d.expected_out, d.bhusd_in) == (borrow, coll_in, borrow, 0)
    assert d.bounty == borrow - pool.value(coll_in)
    assert abs(d.bounty - borrow * 50 // BPS) <= WAD // 10**6


def test_boost__rule_fee_above_the_pool_bonus__keeper_expects_only_the_bonus():
    """The pool's bonus was lowered under the rule's fee: PositionAutomation pays the bonus,
    so the keeper's amounts and bounty use it (else its boost would miss the target)."""
    pool = weth()
    bonus = pool.params.liquidation_bonus
    pos = at_health(pool, 4.0, 2_000 * WAD)
    d = decide.boost(pool, pos, Rule(BOOST.trigger, BOOST.target, bonus + 200), 10**24, cheap_gas())
    capped = decide.boost(pool, pos, Rule(BOOST.trigger, BOOST.target, bonus), 10**24, cheap_gas())
    assert isinstance(d, Action) and d == capped
    assert d.bounty <= d.amount * bonus // BPS + 1


def test_top_up__rule_fee_above_the_pool_bonus__keeper_expects_only_the_bonus():
    pool = weth()
    bonus = pool.params.liquidation_bonus
    pos = at_health(pool, 1.3, 5_000 * WAD)
    over = Rule(TOP_UP.trigger, TOP_UP.target, bonus + 200, allowance=TOP_UP.allowance)
    d = decide.top_up(pool, pos, over, cheap_gas())
    assert isinstance(d, Action) and d.expected_out == d.amount * bonus // BPS


def test_boost__keeper_lacks_collateral__insufficient_collateral():
    pool = weth()
    d = decide.boost(pool, at_health(pool, 4.0, 2_000 * WAD), BOOST, WAD // 100, cheap_gas())
    assert isinstance(d, Skip) and d.reason == decide.INSUFFICIENT_COLLATERAL


def test_top_up__due_within_allowance__the_fee_is_the_bounty():
    pool = weth()
    pos = at_health(pool, 1.3, 5_000 * WAD)
    d = decide.top_up(pool, pos, TOP_UP, cheap_gas())
    amount = risk.top_up_amount(
        pos.collateral,
        pos.normalised_debt,
        pool.price,
        pool.params.liquidation_threshold,
        50,
        TOP_UP.target,
        1,
    )
    assert isinstance(d, Action)
    assert (d.amount, d.expected_out, d.bhusd_in, d.collateral_in) == (
        amount,
        amount * 50 // BPS,
        0,
        0,
    )
    assert d.bounty == pool.value(amount * 50 // BPS)


def test_top_up__amount_above_the_allowance__skipped():
    pool = weth()
    small = Rule(TOP_UP.trigger, TOP_UP.target, TOP_UP.fee, allowance=WAD // 100)
    d = decide.top_up(pool, at_health(pool, 1.3, 5_000 * WAD), small, cheap_gas())
    assert isinstance(d, Skip) and d.reason == decide.ALLOWANCE


# ------------------------------------------------------------------- plan


def _book(pool: PoolState, spec: dict[int, tuple[float, int]]) -> dict[tuple[str, int], Position]:
    return {(POOL, pid): at_health(pool, h, debt, pid) for pid, (h, debt) in spec.items()}


def test_plan__liquidations_first_then_protections_each_kind_most_profitable_first():
    pool = weth()
    positions = _book(
        pool,
        {
            1: (0.95, 1_000 * WAD),
            2: (0.95, 9_000 * WAD),
            3: (1.3, 5_000 * WAD),
            4: (1.3, 5_000 * WAD),
        },
    )
    rules = {("deleverage", POOL, 3): RULE, ("top_up", POOL, 4): TOP_UP}
    due = [
        Due("top_up", POOL, 4),
        Due("deleverage", POOL, 3),
        Due("liquidate", POOL, 1),
        Due("liquidate", POOL, 2),
    ]
    p = planning.plan(due, {POOL: pool}, positions, rules, 10**24, {}, cheap_gas())
    assert [(a.kind, a.id) for a in p.actions] == [
        ("liquidate", 2),
        ("liquidate", 1),
        ("deleverage", 3),
        ("top_up", 4),
    ]
    assert not p.skips


def test_plan__short_balance__spent_on_the_most_profitable_the_rest_skipped():
    pool = weth()
    positions = _book(
        pool, {1: (0.73, 1_000 * WAD), 2: (0.73, 3_000 * WAD), 3: (0.73, 2_000 * WAD)}
    )
    due = [Due("liquidate", POOL, i) for i in (1, 2, 3)]
    full = {
        pid: decide.liquidation(pool, positions[(POOL, pid)], 10**24, cheap_gas())
        for pid in (1, 2, 3)
    }
    balance = full[2].bhusd_in + full[3].bhusd_in  # enough for the two largest, not the third
    p = planning.plan(due, {POOL: pool}, positions, {}, balance, {}, cheap_gas())
    assert [a.id for a in p.actions] == [2, 3]
    assert [(s.id, s.reason) for s in p.skips] == [(1, decide.INSUFFICIENT_BHUSD)]
    assert sum(a.bhusd_in for a in p.actions) <= balance


def test_plan__position_with_a_pending_transaction__skipped_as_already_handled():
    pool = weth()
    positions = _book(pool, {1: (0.95, 1_000 * WAD), 2: (0.95, 1_000 * WAD)})
    due = [Due("liquidate", POOL, 1), Due("liquidate", POOL, 2)]
    p = planning.plan(
        due, {POOL: pool}, positions, {}, 10**24, {}, cheap_gas(), in_flight=[(POOL, 1)]
    )
    assert [a.id for a in p.actions] == [2]
    assert [(s.id, s.reason) for s in p.skips] == [(1, decide.IN_FLIGHT)]


def test_plan__liquidatable_and_protected__liquidated_first_the_protection_waits():
    pool = weth()
    positions = _book(pool, {1: (0.95, 5_000 * WAD)})
    due = [Due("deleverage", POOL, 1), Due("liquidate", POOL, 1)]
    p = planning.plan(
        due, {POOL: pool}, positions, {("deleverage", POOL, 1): RULE}, 10**24, {}, cheap_gas()
    )
    assert [(a.kind, a.id) for a in p.actions] == [("liquidate", 1)]
    assert [(s.kind, s.reason) for s in p.skips] == [("deleverage", decide.LIQUIDATING)]


def test_plan__repeated_or_unknown_positions__once_and_reported():
    pool = weth()
    positions = _book(pool, {1: (0.95, 1_000 * WAD)})
    due = [Due("liquidate", POOL, 1), Due("liquidate", POOL, 1), Due("liquidate", POOL, 9)]
    p = planning.plan(due, {POOL: pool}, positions, {}, 10**24, {}, cheap_gas())
    assert [a.id for a in p.actions] == [1]
    assert [(s.id, s.reason) for s in p.skips] == [(9, decide.UNKNOWN_POSITION)]


def test_plan__boosts_share_the_keepers_collateral():
    pool = weth()
    positions = _book(pool, {1: (4.0, 2_000 * WAD), 2: (4.0, 2_000 * WAD)})
    rules = {("boost", POOL, 1): BOOST, ("boost", POOL, 2): BOOST}
    one = decide.boost(pool, positions[(POOL, 1)], BOOST, 10**24, cheap_gas())
    due = [Due("boost", POOL, 1), Due("boost", POOL, 2)]
    p = planning.plan(
        due, {POOL: pool}, positions, rules, 0, {POOL: one.collateral_in}, cheap_gas()
    )
    assert len(p.actions) == 1
    assert [s.reason for s in p.skips] == [decide.INSUFFICIENT_COLLATERAL]


# ---------------------------------------------------------------- batches


def alone_costs(usd: int, **kw) -> Costs:
    """Gas priced so that one lone `liquidate` (the table's 150k) costs `usd` [wad]."""
    gas_price = usd // (decide.DEFAULT_GAS["liquidate"] * 3_000)
    return Costs(gas_price=gas_price, native_price=3_000 * WAD, **kw)


def test_batch_capacity__30m_block__1000_positions_at_the_table_gas():
    gas = decide.DEFAULT_GAS
    assert decide.batch_capacity(30_000_000, gas) == 1_000
    assert decide.batch_gas(1_000, gas) <= 30_000_000 * decide.BATCH_BLOCK_SHARE_BPS // BPS
    assert decide.batch_capacity(30_000_000, gas, most=50) == 50
    # 75 % of a 10M block: (7.5M - 150k fixed) // 20k per position
    assert decide.batch_capacity(10_000_000, gas) == 367
    # a measured 30k per position: (22.5M - 150k) // 30k
    assert decide.batch_capacity(30_000_000, {**gas, "liquidate_many_each": 30_000}) == 745
    assert decide.batch_capacity(100_000, gas) == 1  # never below one position


def test_batch_gas__one_position_is_a_liquidate_more_share_the_fixed_part():
    gas = decide.DEFAULT_GAS
    assert decide.batch_gas(1, gas) == gas["liquidate"]
    assert decide.batch_gas(10, gas) == gas["liquidate_many"] + 10 * gas["liquidate_many_each"]


def test_chunk_liquidations__more_than_one_batch__chunks_of_the_size_most_profitable_first():
    pool = weth()
    debts = {pid: (1_000 + 500 * pid) * WAD for pid in range(1, 8)}
    costs = cheap_gas()
    actions = [
        decide.liquidation(pool, at_health(pool, 0.95, d, pid), 10**24, costs)
        for pid, d in debts.items()
    ]
    chunks, skips = planning.chunk_liquidations(actions, 3, costs)
    assert not skips
    first, second, last = chunks
    assert isinstance(first, Batch) and isinstance(second, Batch)
    assert (first.ids, second.ids) == ([7, 6, 5], [4, 3, 2])
    assert isinstance(last, Action) and last.id == 1  # a chunk of one is a plain liquidate
    share = costs.of("liquidate_many_each") + -(-costs.of("liquidate_many") // 3)
    assert {a.gas_cost for a in first.actions + second.actions} == {share}
    assert last.gas_cost == costs.of("liquidate")
    assert share < last.gas_cost


def test_batch__budget_is_the_planned_sum__least_out_is_the_smallest_member():
    pool = weth()
    actions = [
        decide.liquidation(pool, at_health(pool, 0.9, d * WAD, pid), 10**24, cheap_gas())
        for pid, d in ((1, 3_000), (2, 1_000), (3, 2_000))
    ]
    (batch,), _ = planning.chunk_liquidations(actions, 10, cheap_gas())
    assert batch.kind == "liquidate_many" and batch.ids == [1, 3, 2]
    assert batch.amount == batch.bhusd_in == sum(a.amount for a in actions)
    # a member another keeper takes first leaves the total; one member must still pass
    assert batch.min_out == actions[1].min_out == min(a.min_out for a in actions)
    assert batch.expected_out == sum(a.expected_out for a in actions)


def test_plan__batching__positions_unprofitable_alone_liquidated_in_one_batch():
    pool = weth()
    positions = _book(pool, {pid: (0.99, 150 * WAD) for pid in range(1, 11)})
    due = [Due("liquidate", POOL, pid) for pid in range(1, 11)]
    bounty = decide.liquidation(pool, positions[(POOL, 1)], 10**24, cheap_gas()).bounty
    costs = alone_costs(2 * bounty)  # alone: gas twice the bounty
    assert costs.of("liquidate") > bounty

    alone = planning.plan(due, {POOL: pool}, positions, {}, 10**24, {}, costs, batch_size=1)
    assert not alone.actions and not alone.batches
    assert {s.reason for s in alone.skips} == {decide.UNPROFITABLE}

    p = planning.plan(due, {POOL: pool}, positions, {}, 10**24, {}, costs, batch_size=1_000)
    assert not p.skips
    (batch,) = p.batches
    assert sorted(batch.ids) == list(range(1, 11))
    assert p.transactions() == [batch]
    # each pays 20k of its own plus a tenth of the 150k fixed part: 35k gas, under the bounty
    assert all(
        a.gas_cost == costs.of("liquidate_many_each") + costs.of("liquidate_many") // 10
        for a in batch.actions
    )
    assert all(a.profit > 0 for a in p.actions)

    # batches of two cannot carry them: 20k + 75k per position is still above the bounty
    two = planning.plan(due, {POOL: pool}, positions, {}, 10**24, {}, costs, batch_size=2)
    assert not two.actions and len(two.skips) == 10
    # nor can a lone position, whatever the batch size
    one = planning.plan(due[:1], {POOL: pool}, positions, {}, 10**24, {}, costs, batch_size=1_000)
    assert not one.actions and [s.reason for s in one.skips] == [decide.UNPROFITABLE]


def test_plan__batching__short_balance__whole_ones_batched_the_partial_alone():
    pool = weth()
    positions = _book(
        pool, {1: (0.95, 30_000 * WAD), 2: (0.95, 25_000 * WAD), 3: (0.95, 20_000 * WAD)}
    )
    costs = cheap_gas()
    full = {
        pid: decide.liquidation(pool, positions[(POOL, pid)], 10**24, costs) for pid in (1, 2, 3)
    }
    balance = full[1].bhusd_in + full[2].bhusd_in + 500 * WAD
    due = [Due("liquidate", POOL, pid) for pid in (3, 2, 1)]
    p = planning.plan(due, {POOL: pool}, positions, {}, balance, {}, costs, batch_size=1_000)
    (batch,) = p.batches
    assert batch.ids == [1, 2]
    assert batch.amount == full[1].amount + full[2].amount
    partial = p.transactions()[1]
    assert isinstance(partial, Action) and partial.id == 3 and partial.partial
    assert partial.amount == 500 * WAD
    assert partial.gas_cost == costs.of("liquidate")  # it goes alone
    assert [a.id for a in p.actions] == [1, 2, 3] and not p.skips
    assert sum(a.bhusd_in for a in p.actions) <= balance


def test_plan__batch_size_1__every_liquidation_alone_at_a_liquidates_gas():
    pool = weth()
    positions = _book(pool, {1: (0.95, 1_000 * WAD), 2: (0.95, 9_000 * WAD)})
    due = [Due("liquidate", POOL, 1), Due("liquidate", POOL, 2)]
    p = planning.plan(due, {POOL: pool}, positions, {}, 10**24, {}, cheap_gas(), batch_size=1)
    assert not p.batches
    assert p.transactions() == p.actions and [a.id for a in p.actions] == [2, 1]
    assert {a.gas_cost for a in p.actions} == {cheap_gas().of("liquidate")}


def test_plan__batching__protections_still_one_transaction_each():
    pool = weth()
    positions = _book(pool, {1: (0.95, 1_000 * WAD), 2: (0.95, 9_000 * WAD), 3: (1.3, 5_000 * WAD)})
    due = [Due("deleverage", POOL, 3), Due("liquidate", POOL, 1), Due("liquidate", POOL, 2)]
    rules = {("deleverage", POOL, 3): RULE}
    p = planning.plan(due, {POOL: pool}, positions, rules, 10**24, {}, cheap_gas(), batch_size=50)
    batch, deleverage = p.transactions()
    assert isinstance(batch, Batch) and batch.ids == [2, 1]
    assert isinstance(deleverage, Action) and (deleverage.kind, deleverage.id) == ("deleverage", 3)


# ------------------------------------------------------------------- fees


def test_initial_fees__two_base_fees_plus_tip__capped_and_refused_under_the_base_fee():
    assert fees.initial_fees(10 * GWEI, 2 * GWEI, None) == (22 * GWEI, 2 * GWEI)
    assert fees.initial_fees(10 * GWEI, 2 * GWEI, 15 * GWEI) == (15 * GWEI, 2 * GWEI)
    assert fees.initial_fees(10 * GWEI, 2 * GWEI, 9 * GWEI) is None


def test_bumped_fees__both_at_least_12_5_percent_higher():
    max_fee, tip = fees.bumped_fees(20 * GWEI, 2 * GWEI, 5 * GWEI, 2 * GWEI, None)
    assert max_fee * 8 >= 20 * GWEI * 9 and tip * 8 >= 2 * GWEI * 9
    # a risen base fee lifts the max fee beyond the bump
    max_fee, tip = fees.bumped_fees(20 * GWEI, 2 * GWEI, 50 * GWEI, 2 * GWEI, None)
    assert max_fee >= 2 * 50 * GWEI + tip
    # a zero tip still goes up
    assert fees.bumped_fees(10, 0, 1, 0, None)[1] >= 1


def test_bumped_fees__cap_leaves_no_room__none():
    assert fees.bumped_fees(20 * GWEI, 2 * GWEI, 5 * GWEI, 2 * GWEI, 22 * GWEI) is None
    assert fees.bumped_fees(20 * GWEI, 2 * GWEI, 5 * GWEI, 2 * GWEI, 23 * GWEI) == (
        22_500_000_000,
        2_250_000_000,
    )


def test_effective_gas_price__base_plus_tip_at_most_the_max_fee():
    assert fees.effective_gas_price(30, 2, 10) == 12
    assert fees.effective_gas_price(11, 2, 10) == 11


@pytest.mark.parametrize(
    "reason, bucket",
    [
        ("pool: position is healthy", decide.LOST_RACE),
        ("pool: no debt", decide.LOST_RACE),
        ("automation: protection not due", decide.LOST_RACE),
        ("automation: boost not due", decide.LOST_RACE),
        ("automation: top-up not due", decide.LOST_RACE),
        ("pool: nothing to liquidate", decide.LOST_RACE),
        ("oracle: stale price", decide.ORACLE_INVALID),
        ("pool: collateral out below minimum", decide.REVERTED),
    ],
)
def test_classify_revert__reason__bucket(reason, bucket):
    assert decide.classify_revert(reason) == bucket


def test_gas_cost_usd__gas_price_times_gas_times_native_price():
    assert decide.gas_cost_usd(2 * GWEI, 100_000, 3_000 * WAD) == 2 * GWEI * 100_000 * 3_000
