"""The keeper's decisions for issue 15's controls, without a chain: stop-losses (amounts from
first principles, when they are skipped) and pools closed to liquidations (paused, or in
their grace window after an unpause) while owners' rules go on."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bulkhead.keeper import Metrics, decide, planning
from bulkhead.keeper.cli import format_summary
from bulkhead.keeper.decide import Action, Rule, Skip
from bulkhead.keeper.index import EventIndex
from bulkhead.keeper.metrics import PoolWindow
from bulkhead.keeper.planning import Due
from bulkhead.keeper.prometheus import parse, render
from bulkhead.risk import BPS, WAD

from .test_decide import BOOST, OWNER, POOL, RULE, _book, at_health, cheap_gas, weth

STOP = Rule(int(2_900 * WAD), 0, 100)  # close at or below 2,900 USD, 1 % fee
NOW = 1_800_000_000  # [seconds] the block time the keeper saw


# -------------------------------------------------------------- stop-loss


def test_stop_loss__price_at_the_stop__keeper_pays_the_debt_for_collateral_worth_debt_plus_fee():
    pool = weth(price=2_900)
    pos = at_health(pool, 2.0, 10_000 * WAD)
    d = decide.stop_loss(pool, pos, STOP, 10**24, cheap_gas())
    assert isinstance(d, Action) and d.kind == "stop_loss"
    debt = pos.debt(pool.rate)
    assert d.amount == debt
    # collateral worth debt x 1.01 at 2,900 USD, rounded down: never above the fee
    worth = debt * (BPS + 100) // BPS
    assert d.expected_out * 2_900 * WAD <= worth * WAD < (d.expected_out + 1) * 2_900 * WAD
    assert d.bounty == d.expected_out * 2_900 - debt > 0
    assert d.bounty <= debt * 100 // BPS
    assert debt < d.bhusd_in <= debt + debt * 10 // BPS + 1  # slack for accrual until mined
    assert d.gas_cost == 10**9 * decide.DEFAULT_GAS["stop_loss"] * 3_000


def test_stop_loss__price_above_the_stop__skipped_not_due():
    pool = weth(price=2_901)
    d = decide.stop_loss(pool, at_health(pool, 2.0, 10_000 * WAD), STOP, 10**24, cheap_gas())
    assert isinstance(d, Skip) and d.reason == decide.NOT_DUE


@pytest.mark.parametrize("rule", [None, Rule(0, 0, 100)])
def test_stop_loss__no_rule_or_cleared__skipped(rule):
    pool = weth(price=2_000)
    d = decide.stop_loss(pool, at_health(pool, 2.0, 10_000 * WAD), rule, 10**24, cheap_gas())
    assert isinstance(d, Skip) and d.reason == decide.NO_RULE


def test_stop_loss__rule_fee_above_the_pool_bonus__keeper_expects_only_the_bonus():
    pool = weth(price=2_900)
    pos = at_health(pool, 2.0, 10_000 * WAD)
    greedy = decide.stop_loss(pool, pos, replace(STOP, fee=900), 10**24, cheap_gas())
    capped = decide.stop_loss(pool, pos, replace(STOP, fee=500), 10**24, cheap_gas())
    assert isinstance(greedy, Action) and greedy == capped  # WETH's bonus is 500 bps


def test_stop_loss__bhusd_below_the_debt__insufficient_with_the_need():
    pool = weth(price=2_900)
    pos = at_health(pool, 2.0, 10_000 * WAD)
    d = decide.stop_loss(pool, pos, STOP, 9_999 * WAD, cheap_gas())
    assert isinstance(d, Skip) and d.reason == decide.INSUFFICIENT_BHUSD
    assert d.need == pos.debt(pool.rate)


def test_stop_loss__collateral_worth_less_than_the_debt__unprofitable():
    pool = weth(price=900)  # a gap far below the stop
    pos = at_health(pool, 0.6, 10_000 * WAD)  # collateral worth 0.6 / 0.7 of the debt
    d = decide.stop_loss(pool, pos, STOP, 10**24, cheap_gas())
    assert isinstance(d, Skip) and d.reason == decide.UNPROFITABLE


def test_stop_loss__oracle_invalid__skipped_with_the_status():
    pool = weth(status=4)
    pos = decide.Position(POOL, 1, OWNER, WAD, 1_000 * WAD)
    d = decide.stop_loss(pool, pos, STOP, 10**24, cheap_gas())
    assert isinstance(d, Skip) and (d.reason, d.detail) == (decide.ORACLE_INVALID, "stale price")


def test_plan__stop_loss_and_protection_due__stop_loss_first_the_protection_waits():
    pool = weth(price=2_900)
    positions = _book(pool, {1: (1.3, 5_000 * WAD)})
    rules = {("stop_loss", POOL, 1): STOP, ("deleverage", POOL, 1): RULE}
    due = [Due("deleverage", POOL, 1), Due("stop_loss", POOL, 1)]
    p = planning.plan(due, {POOL: pool}, positions, rules, 10**24, {}, cheap_gas())
    assert [(a.kind, a.id) for a in p.actions] == [("stop_loss", 1)]
    assert [(s.kind, s.reason) for s in p.skips] == [("deleverage", decide.CLOSING)]


def test_plan__stop_loss_spends_the_bhusd_balance_after_liquidations():
    pool = weth(price=2_900)
    positions = _book(pool, {1: (0.95, 5_000 * WAD), 2: (2.0, 5_000 * WAD)})
    liquidation = decide.liquidation(pool, positions[(POOL, 1)], 10**24, cheap_gas())
    assert isinstance(liquidation, Action)
    due = [Due("stop_loss", POOL, 2), Due("liquidate", POOL, 1)]
    rules = {("stop_loss", POOL, 2): STOP}
    p = planning.plan(
        due, {POOL: pool}, positions, rules, liquidation.bhusd_in + 1_000 * WAD, {}, cheap_gas()
    )
    assert [(a.kind, a.id) for a in p.actions] == [("liquidate", 1)]
    assert [(s.kind, s.reason) for s in p.skips] == [("stop_loss", decide.INSUFFICIENT_BHUSD)]


# ----------------------------------------------------- paused, grace window


def _closed_book():
    """One liquidatable position (1), one with a due protection (2), a stop-loss (3), a
    boost (4); their rules and what is due."""
    pool = weth(price=2_900)
    positions = _book(
        pool, {1: (0.95, 5_000 * WAD), 2: (1.3, 5_000 * WAD), 3: (2.0, 5_000 * WAD)}
    ) | _book(pool, {4: (4.0, 2_000 * WAD)})
    rules = {
        ("deleverage", POOL, 2): RULE,
        ("stop_loss", POOL, 3): STOP,
        ("boost", POOL, 4): BOOST,
    }
    due = [
        Due("liquidate", POOL, 1),
        Due("deleverage", POOL, 2),
        Due("stop_loss", POOL, 3),
        Due("boost", POOL, 4),
    ]
    return pool, positions, rules, due


def test_plan__paused_pool__no_liquidation_no_boost_the_other_rules_go_on():
    pool, positions, rules, due = _closed_book()
    paused = replace(pool, paused=True, grace_end=NOW - 100, now=NOW)
    assert paused.closed == decide.PAUSED and paused.grace_left == 0
    p = planning.plan(due, {POOL: paused}, positions, rules, 10**24, {POOL: 10**24}, cheap_gas())
    assert [(a.kind, a.id) for a in p.actions] == [("stop_loss", 3), ("deleverage", 2)]
    assert sorted((s.kind, s.id, s.reason) for s in p.skips) == [
        ("boost", 4, decide.PAUSED),
        ("liquidate", 1, decide.PAUSED),
    ]


def test_plan__grace_window__no_liquidation_until_its_end_every_rule_goes_on():
    pool, positions, rules, due = _closed_book()
    grace = replace(pool, grace_end=NOW + 600, now=NOW)
    assert grace.closed == decide.GRACE_WINDOW and grace.grace_left == 600
    p = planning.plan(due, {POOL: grace}, positions, rules, 10**24, {POOL: 10**24}, cheap_gas())
    assert [(a.kind, a.id) for a in p.actions] == [
        ("stop_loss", 3),
        ("deleverage", 2),
        ("boost", 4),
    ]
    [skip] = p.skips
    assert (skip.kind, skip.id, skip.reason) == ("liquidate", 1, decide.GRACE_WINDOW)
    assert str(NOW + 600) in skip.detail and "600 s" in skip.detail


@pytest.mark.parametrize("now", [NOW + 600, NOW + 601])
def test_plan__grace_window_ended__liquidated(now):
    pool, positions, rules, due = _closed_book()
    over = replace(pool, grace_end=NOW + 600, now=now)
    assert over.closed is None
    p = planning.plan(due, {POOL: over}, positions, rules, 10**24, {POOL: 10**24}, cheap_gas())
    assert [(a.kind, a.id) for a in p.actions][0] == ("liquidate", 1)
    assert not p.skips


@pytest.mark.parametrize(
    "reason, bucket",
    [
        ("automation: stop-loss not due", decide.LOST_RACE),
        ("automation: no rule", decide.LOST_RACE),
        ("automation: no debt", decide.LOST_RACE),
        ("pool: paused", decide.PAUSED),
        ("pool: grace window", decide.GRACE_WINDOW),
    ],
)
def test_classify_revert__stop_loss_and_closed_pool_reasons__bucket(reason, bucket):
    assert decide.classify_revert(reason) == bucket


# ------------------------------------------------------ index and reports

AUTOMATION = "0x00000000000000000000000000000000000000C3"


def test_index__stop_loss_set_changed_cleared_and_spent():
    index = EventIndex.empty([POOL], AUTOMATION, start_block=5)

    def stop_loss_set(pid: int, price: int, fee: int) -> None:
        args = {"pool": POOL, "id": pid, "owner": OWNER, "price": price, "max_fee": fee}
        index.apply("StopLossSet", AUTOMATION, args)

    stop_loss_set(1, 2_000 * WAD, 100)
    stop_loss_set(2, 1_500 * WAD, 50)
    stop_loss_set(1, 2_100 * WAD, 80)
    assert index.rules() == {
        ("stop_loss", POOL, 1): Rule(2_100 * WAD, 0, 80),
        ("stop_loss", POOL, 2): Rule(1_500 * WAD, 0, 50),
    }
    assert index.pools[POOL].rule_ids("stop_loss") == [1, 2]
    stop_loss_set(2, 0, 0)  # turned off
    index.apply(
        "StopLoss",
        AUTOMATION,
        {
            "pool": POOL,
            "id": 1,
            "keeper": OWNER,
            "price": 2_000 * WAD,
            "debt_repaid": 1,
            "keeper_collateral": 1,
            "owner_collateral": 1,
        },
    )
    assert index.rules() == {}


def test_metrics__closed_pools__summary_table_and_gauges():
    m = Metrics()
    m.windows = {
        "WETH": PoolWindow("open", 0, 0),
        "WBTC": PoolWindow("paused", 0, 0),
        "VOL": PoolWindow("grace_window", NOW + 600, 600),
    }
    m.done["stop_loss"] += 1
    m.pool_done[("WETH", "stop_loss")] += 1
    s = m.summary()
    assert (s["stop_losses"], s["adjustments"]) == (1, 1)
    assert s["pools"]["WETH"]["stop_loss"] == 1
    vol = s["pools"]["VOL"]
    assert (vol["liquidations"], vol["grace_end"], vol["grace_seconds_left"]) == (
        "grace_window",
        NOW + 600,
        600,
    )
    assert s["pools"]["WBTC"]["liquidations"] == "paused"
    rows = dict(line.split("  ", 1) for line in format_summary(s).splitlines())
    assert rows["stop-losses"].strip() == "1"
    assert rows["liquidations held"].strip() == (
        "VOL grace window until 2027-01-15 08:10:00 UTC (600 s), WBTC paused"
    )
    samples = parse(render(m))
    assert samples['bulkhead_keeper_liquidations_open{pool="WETH"}'] == 1
    assert samples['bulkhead_keeper_liquidations_open{pool="VOL"}'] == 0
    assert samples['bulkhead_keeper_pool_paused{pool="WBTC"}'] == 1
    assert samples['bulkhead_keeper_grace_seconds_left{pool="VOL"}'] == 600
    assert samples['bulkhead_keeper_actions_total{kind="stop_loss",pool="WETH"}'] == 1
