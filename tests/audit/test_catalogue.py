"""The bad-input and attack catalogue of docs/AUDIT.md, one test per entry (on titanoboa).

Each test's name is the catalogue's reference. Reverts are checked with the exact reason;
"handled" entries check the exact outcome instead.
"""

from __future__ import annotations

import boa
from eth_account import Account
from eth_utils import keccak

from bulkhead import risk
from bulkhead.risk import BPS, WAD, RiskParams
from tests import permit
from tests.audit.conftest import MAX_UINT, World, expect_revert
from tests.fuzz.system import create_pool, deployer

ONE_DAY = 86_400


def _healthy(w: World) -> int:
    """A WETH position of the borrower: 10 WETH (30,000 USD), 10,000 bhUSD."""
    return w.open(w.weth, w.borrower, 10 * WAD, 10_000 * WAD)


def _max_ltv_debt(market, coll: int) -> int:
    """One wei under the largest debt `coll` may carry at the pool's price (its max LTV)."""
    return risk.max_debt(coll, market.pool.price(), market.params.max_ltv, market.scale) - 1


def _fall_to_health(market, health_bps: int) -> None:
    """Post the price at which a position opened at max LTV has health `health_bps` [bps]:
    health = threshold / max LTV x price ratio."""
    p = market.params
    price = market.pool.price()
    market.set_price_wad(price * health_bps * p.max_ltv // (BPS * p.liquidation_threshold))


def _unhealthy(w: World) -> int:
    """A WETH position at max LTV after a price fall to health 0.96 (partial liquidation)."""
    pid = w.open(w.weth, w.borrower, 10 * WAD, _max_ltv_debt(w.weth, 10 * WAD))
    _fall_to_health(w.weth, 9_600)
    assert 0 < w.weth.pool.health(pid) < WAD
    return pid


def _params(market, **changes) -> tuple:
    return RiskParams(**{**market.params.__dict__, **changes}).as_tuple()


# ------------------------------------------------------------------ zero amounts


def test_open__zero_collateral__reverts(world: World) -> None:
    expect_revert("pool: zero collateral", world.weth.pool.open, 0, 0, sender=world.borrower)


def test_deposit__zero_amount__reverts(world: World) -> None:
    pid = _healthy(world)
    expect_revert("pool: zero amount", world.weth.pool.deposit, pid, 0, sender=world.borrower)


def test_withdraw__zero_amount__reverts(world: World) -> None:
    pid = _healthy(world)
    expect_revert("pool: zero amount", world.weth.pool.withdraw, pid, 0, sender=world.borrower)


def test_borrow__zero_amount__reverts(world: World) -> None:
    pid = _healthy(world)
    expect_revert("pool: zero amount", world.weth.pool.borrow, pid, 0, sender=world.borrower)


def test_repay__zero_amount__reverts(world: World) -> None:
    pid = _healthy(world)
    expect_revert("pool: zero amount", world.weth.pool.repay, pid, 0, sender=world.borrower)


def test_liquidate__zero_max_repay__reverts(world: World) -> None:
    pid = _unhealthy(world)
    expect_revert("pool: zero amount", world.weth.pool.liquidate, pid, 0, 0, sender=world.keeper)


# ------------------------------------------------------- unknown ids, others' positions


def test_deposit__unknown_id__reverts(world: World) -> None:
    world.weth.fund(world.borrower, WAD)
    expect_revert("pool: unknown position", world.weth.pool.deposit, 999, 1, sender=world.borrower)


def test_repay__position_id_zero__reverts(world: World) -> None:
    expect_revert("pool: unknown position", world.weth.pool.repay, 0, WAD, sender=world.keeper)


def test_liquidate__unknown_id__reverts(world: World) -> None:
    expect_revert(
        "pool: unknown position", world.weth.pool.liquidate, 999, WAD, 0, sender=world.keeper
    )


def test_withdraw__other_owners_position__reverts(world: World) -> None:
    pid = _healthy(world)
    expect_revert(
        "pool: not owner or operator", world.weth.pool.withdraw, pid, 1, sender=world.attacker
    )


def test_borrow__other_owners_position__reverts(world: World) -> None:
    pid = _healthy(world)
    expect_revert(
        "pool: not owner or operator", world.weth.pool.borrow, pid, WAD, sender=world.attacker
    )


def test_close__other_owners_position__reverts(world: World) -> None:
    pid = _healthy(world)
    expect_revert("pool: not owner or operator", world.weth.pool.close, pid, sender=world.attacker)


def test_borrow__revoked_operator__reverts(world: World) -> None:
    pid = _healthy(world)
    pool = world.weth.pool
    with boa.env.prank(world.borrower):
        pool.set_operator(world.operator, True)
        pool.set_operator(world.operator, False)
    expect_revert("pool: not owner or operator", pool.borrow, pid, WAD, sender=world.operator)


def test_set_operator__zero_address__reverts(world: World) -> None:
    zero = "0x" + "00" * 20
    expect_revert(
        "pool: zero operator", world.weth.pool.set_operator, zero, True, sender=world.borrower
    )


def test_set_operator__self__reverts(world: World) -> None:
    expect_revert(
        "pool: operator is caller",
        world.weth.pool.set_operator,
        world.borrower,
        True,
        sender=world.borrower,
    )


# ------------------------------------------------------------ amounts over balance


def test_withdraw__more_than_collateral__reverts(world: World) -> None:
    pid = _healthy(world)
    expect_revert(
        "pool: insufficient collateral",
        world.weth.pool.withdraw,
        pid,
        10 * WAD + 1,
        sender=world.borrower,
    )


def test_borrow__beyond_max_ltv__reverts(world: World) -> None:
    pid = _healthy(world)
    # 10 WETH x price x max LTV is the limit; one wei past the headroom left
    headroom = _max_ltv_debt(world.weth, 10 * WAD) + 1 - world.weth.pool.debt_of(pid)
    expect_revert(
        "pool: exceeds max ltv", world.weth.pool.borrow, pid, headroom + 1, sender=world.borrower
    )


def test_withdraw__breaking_max_ltv__reverts(world: World) -> None:
    pid = _healthy(world)
    expect_revert(
        "pool: exceeds max ltv", world.weth.pool.withdraw, pid, 6 * WAD, sender=world.borrower
    )


def test_open__more_collateral_than_balance__reverts(world: World) -> None:
    world.weth.fund(world.attacker, WAD)
    expect_revert(
        "erc20: transfer amount exceeds balance",
        world.weth.pool.open,
        2 * WAD,
        0,
        sender=world.attacker,
    )


def test_repay__more_bhusd_than_balance__reverts(world: World) -> None:
    pid = _healthy(world)
    expect_revert(
        "erc20: burn amount exceeds balance", world.weth.pool.repay, pid, WAD, sender=world.attacker
    )


def test_borrow__above_debt_ceiling__reverts(world: World) -> None:
    pid = world.open(world.weth, world.borrower, 30_000 * WAD, 0)
    # 50,000,000 ceiling; the keeper's funding position already holds 1,000,000; the
    # position debt cap (5,000,000 in local.toml) lifted to the ceiling
    with boa.env.prank(world.admin):
        world.factory.set_position_debt_cap(world.weth.pool.address, 50_000_000 * WAD)
    expect_revert(
        "pool: debt ceiling", world.weth.pool.borrow, pid, 49_000_001 * WAD, sender=world.borrower
    )


# ---------------------------------------------------------------- max uint256


def test_borrow__max_uint256__reverts_with_debt_ceiling(world: World) -> None:
    pid = _healthy(world)
    expect_revert(
        "pool: debt ceiling", world.weth.pool.borrow, pid, MAX_UINT, sender=world.borrower
    )


def test_open__max_uint256_collateral__reverts_with_collateral_too_large(world: World) -> None:
    for market in (world.weth, world.vol):
        expect_revert(
            "pool: collateral too large", market.pool.open, MAX_UINT, 10**20, sender=world.borrower
        )


def test_deposit__max_uint256__reverts_with_collateral_too_large(world: World) -> None:
    pid = _healthy(world)
    expect_revert(
        "pool: collateral too large", world.weth.pool.deposit, pid, MAX_UINT, sender=world.borrower
    )


def test_deposit__past_2_pow_128_in_total__reverts_with_collateral_too_large(world: World) -> None:
    pid = world.open(world.weth, world.borrower, 2**127, 0)
    world.weth.fund(world.borrower, 2**127)
    expect_revert(
        "pool: collateral too large", world.weth.pool.deposit, pid, 2**127, sender=world.borrower
    )


def test_repay__max_uint256__repays_exactly_the_debt(world: World) -> None:
    pid = _healthy(world)
    pool = world.weth.pool
    boa.env.time_travel(seconds=ONE_DAY)
    debt = pool.debt_of(pid)
    world.bhusd(world.borrower, debt)
    before = world.stablecoin.balanceOf(world.borrower)
    with boa.env.prank(world.borrower):
        paid = pool.repay(pid, MAX_UINT)
    assert paid == debt > 10_000 * WAD
    assert world.stablecoin.balanceOf(world.borrower) == before - debt
    assert pool.debt_of(pid) == 0


def test_liquidate__max_uint256_max_repay__liquidates(world: World) -> None:
    pid = _unhealthy(world)
    with boa.env.prank(world.keeper):
        out = world.weth.pool.liquidate(pid, MAX_UINT, 0)
    assert out > 0 and world.weth.pool.health(pid) > WAD


def test_positions_to_liquidate__max_uint256_start__returns_empty(world: World) -> None:
    assert world.weth.pool.positions_to_liquidate(MAX_UINT, 5_000) == []


def test_positions_to_liquidate__limit_above_5000__reverts(world: World) -> None:
    expect_revert(
        "pool: limit above 5000",
        world.weth.pool.positions_to_liquidate,
        1,
        5_001,
        sender=world.keeper,
    )


# ------------------------------------------------------------------------ dust


def test_open__debt_below_minimum__reverts(world: World) -> None:
    world.weth.fund(world.borrower, WAD)
    expect_revert(
        "pool: debt below minimum", world.weth.pool.open, WAD, 99 * WAD, sender=world.borrower
    )


def test_repay__leaving_dust_debt__reverts(world: World) -> None:
    pid = world.open(world.weth, world.borrower, WAD, 150 * WAD)
    expect_revert(
        "pool: debt below minimum", world.weth.pool.repay, pid, 60 * WAD, sender=world.keeper
    )


def test_repay__one_wei_after_interest__reverts_too_small(world: World) -> None:
    pid = _healthy(world)
    boa.env.time_travel(seconds=30 * ONE_DAY)
    world.weth.set_price_wad(3_000 * WAD)
    # rate > 1: one wei of bhUSD removes zero normalised debt
    assert world.weth.pool.rate() > WAD
    expect_revert("pool: repay too small", world.weth.pool.repay, pid, 1, sender=world.keeper)


def test_open__one_unit_of_collateral_without_debt__is_accepted(world: World) -> None:
    pid = world.open(world.vol, world.borrower, 1, 0)
    assert world.vol.pool.collateral_of(pid) == 1
    with boa.env.prank(world.borrower):
        world.vol.pool.close(pid)
    assert world.vol.pool.collateral_of(pid) == 0


def test_close__empty_position__reverts(world: World) -> None:
    pid = world.open(world.vol, world.borrower, 1, 0)
    with boa.env.prank(world.borrower):
        world.vol.pool.close(pid)
    expect_revert("pool: position is empty", world.vol.pool.close, pid, sender=world.borrower)


def test_repay__position_without_debt__reverts(world: World) -> None:
    pid = world.open(world.weth, world.borrower, WAD, 0)
    expect_revert("pool: no debt", world.weth.pool.repay, pid, WAD, sender=world.keeper)


# ----------------------------------------------------------------------- oracle


def test_borrow__zero_price__reverts(world: World) -> None:
    pid = _healthy(world)
    world.weth.feed.set_answer(0)
    expect_revert(
        "oracle: non-positive price", world.weth.pool.borrow, pid, WAD, sender=world.borrower
    )


def test_borrow__negative_price__reverts(world: World) -> None:
    pid = _healthy(world)
    world.weth.feed.set_answer(-1)
    expect_revert(
        "oracle: non-positive price", world.weth.pool.borrow, pid, WAD, sender=world.borrower
    )


def test_withdraw__stale_price__reverts(world: World) -> None:
    pid = _healthy(world)
    boa.env.time_travel(seconds=3_601)
    expect_revert("oracle: stale price", world.weth.pool.withdraw, pid, 1, sender=world.borrower)


def test_borrow__round_from_the_future__reverts(world: World) -> None:
    pid = _healthy(world)
    now = boa.env.timestamp
    world.weth.feed.set_round_data(9, 3_000 * 10**8, now, now + 1, 9)
    expect_revert(
        "oracle: incomplete round", world.weth.pool.borrow, pid, WAD, sender=world.borrower
    )


def test_borrow__answered_in_earlier_round__reverts(world: World) -> None:
    pid = _healthy(world)
    now = boa.env.timestamp
    world.weth.feed.set_round_data(9, 3_000 * 10**8, now, now, 8)
    expect_revert(
        "oracle: incomplete round", world.weth.pool.borrow, pid, WAD, sender=world.borrower
    )


def test_borrow__zero_updated_at__reverts(world: World) -> None:
    pid = _healthy(world)
    world.weth.feed.set_updated_at(0)
    expect_revert(
        "oracle: incomplete round", world.weth.pool.borrow, pid, WAD, sender=world.borrower
    )


def test_liquidate__reverting_feed__reverts(world: World) -> None:
    pid = _unhealthy(world)
    world.weth.feed.set_reverting(True)
    expect_revert(
        "oracle: feed call failed", world.weth.pool.liquidate, pid, MAX_UINT, 0, sender=world.keeper
    )
    assert world.weth.pool.positions_to_liquidate(1, 100) == []


def test_borrow__price_above_max__reverts(world: World) -> None:
    pid = _healthy(world)
    world.weth.feed.set_answer(10**23)  # 1e15 USD: above MAX_PRICE (1e30 wad)
    expect_revert(
        "oracle: price out of range", world.weth.pool.borrow, pid, WAD, sender=world.borrower
    )


def test_borrow__price_jump_past_bound__reverts_then_heals_after_a_heartbeat(world: World) -> None:
    pid = _healthy(world)
    pool = world.weth.pool
    world.weth.set_price_wad(6_001 * WAD)  # +100.03 % against a 50 % bound
    expect_revert("oracle: price jump", pool.borrow, pid, WAD, sender=world.borrower)
    boa.env.time_travel(seconds=3_600)
    world.weth.set_price_wad(6_001 * WAD)  # fresh round; the bound is now 2 x 50 %
    expect_revert("oracle: price jump", pool.borrow, pid, WAD, sender=world.borrower)
    boa.env.time_travel(seconds=3_600)
    world.weth.set_price_wad(6_001 * WAD)  # 3 x 50 % >= 100.03 %
    with boa.env.prank(world.borrower):
        pool.borrow(pid, WAD)
    assert pool.price() == 6_001 * WAD


def test_crash__past_jump_bound__blocks_liquidation_until_governance_resets_anchor(
    world: World,
) -> None:
    pid = _healthy(world)
    pool = world.weth.pool
    world.weth.set_price_wad(1_000 * WAD)  # -66 %: past the 50 % bound
    expect_revert("oracle: price jump", pool.liquidate, pid, MAX_UINT, 0, sender=world.keeper)
    expect_revert("pool: only factory", pool.reset_price_anchor, sender=world.attacker)
    with boa.env.prank(world.admin):
        world.factory.reset_price_anchor(pool.address)
    with boa.env.prank(world.keeper):
        assert pool.liquidate(pid, MAX_UINT, 0) > 0


def test_repay_and_deposit__oracle_down__still_work(world: World) -> None:
    pid = _healthy(world)
    world.weth.feed.set_reverting(True)
    world.bhusd(world.borrower, WAD)
    world.weth.fund(world.borrower, WAD)
    with boa.env.prank(world.borrower):
        world.weth.pool.repay(pid, WAD)
        world.weth.pool.deposit(pid, WAD)
    assert world.weth.pool.collateral_of(pid) == 11 * WAD


def test_close__oracle_down_and_paused__still_works(world: World) -> None:
    pid = _healthy(world)
    pool = world.weth.pool
    world.weth.feed.set_reverting(True)
    with boa.env.prank(world.admin):
        world.factory.set_paused(pool.address, True)
    world.bhusd(world.borrower, 1_000 * WAD)
    with boa.env.prank(world.borrower):
        pool.close(pid)
    assert pool.debt_of(pid) == 0 and pool.collateral_of(pid) == 0
    assert world.weth.token.balanceOf(world.borrower) >= 10 * WAD


# ----------------------------------------------------------------------- paused


def test_open__paused_pool__reverts(world: World) -> None:
    with boa.env.prank(world.admin):
        world.factory.set_paused(world.weth.pool.address, True)
    world.weth.fund(world.borrower, WAD)
    expect_revert("pool: paused", world.weth.pool.open, WAD, 0, sender=world.borrower)


def test_borrow__paused_pool__reverts_while_withdraw_works_and_liquidations_wait(
    world: World,
) -> None:
    """Pause stops new debt and liquidations; withdraw, repay and deposit go on. After the
    unpause liquidations wait for the grace window, then go on."""
    pid = _healthy(world)
    bad = _unhealthy(world)
    pool = world.weth.pool
    with boa.env.prank(world.admin):
        world.factory.set_paused(pool.address, True)
    expect_revert("pool: paused", pool.borrow, pid, WAD, sender=world.borrower)
    with boa.env.prank(world.borrower):
        pool.withdraw(pid, WAD)
    expect_revert("pool: paused", pool.liquidate, bad, MAX_UINT, 0, sender=world.keeper)
    with boa.env.prank(world.admin):
        world.factory.set_paused(pool.address, False)
    expect_revert("pool: grace window", pool.liquidate, bad, MAX_UINT, 0, sender=world.keeper)
    boa.env.time_travel(seconds=pool.controls()[2])  # the grace period
    with boa.env.prank(world.keeper):
        assert pool.liquidate(bad, MAX_UINT, 0) > 0


# ------------------------------------------------------------------ liquidation


def test_liquidate__healthy_position__reverts(world: World) -> None:
    pid = _healthy(world)
    expect_revert(
        "pool: position is healthy",
        world.weth.pool.liquidate,
        pid,
        MAX_UINT,
        0,
        sender=world.keeper,
    )


def test_liquidate__position_without_debt__reverts(world: World) -> None:
    pid = world.open(world.weth, world.borrower, WAD, 0)
    expect_revert("pool: no debt", world.weth.pool.liquidate, pid, MAX_UINT, 0, sender=world.keeper)


def test_liquidate__min_collateral_out_above_outcome__reverts(world: World) -> None:
    pid = _unhealthy(world)
    pool = world.weth.pool
    with boa.env.anchor(), boa.env.prank(world.keeper):
        out = pool.liquidate(pid, MAX_UINT, 0)
    expect_revert(
        "pool: collateral out below minimum",
        pool.liquidate,
        pid,
        MAX_UINT,
        out + 1,
        sender=world.keeper,
    )


def test_liquidate__max_repay_below_minimum_remainder__reverts(world: World) -> None:
    pid = _unhealthy(world)
    expect_revert(
        "pool: max repay too low", world.weth.pool.liquidate, pid, 1, 0, sender=world.keeper
    )


def test_liquidate__by_owner__is_not_profitable(world: World) -> None:
    """Self-liquidation: the owner's equity (bhUSD + collateral value - debt) falls by the fee."""
    pid = _unhealthy(world)
    pool, token = world.weth.pool, world.weth.token
    world.bhusd(world.borrower, 30_000 * WAD)
    price = pool.price()
    owner = world.borrower

    def equity() -> int:
        wallet = world.stablecoin.balanceOf(owner) + token.balanceOf(owner) * price // WAD
        return wallet + pool.collateral_of(pid) * price // WAD - pool.debt_of(pid)

    before = equity()
    with boa.env.prank(owner):
        pool.liquidate(pid, MAX_UINT, 0)
    assert equity() < before


def test_repay__sandwiched_by_a_liquidation__burns_only_the_remaining_debt(world: World) -> None:
    """A keeper front-runs the owner's rescue repay: the liquidation happens, the owner's repay
    of 'everything' burns only what is left, and the keeper cannot liquidate again after it."""
    pid = _unhealthy(world)
    pool = world.weth.pool
    rescue = pool.debt_of(pid)  # the victim's rescue: repay the whole debt it saw
    world.bhusd(world.borrower, rescue)
    with boa.env.prank(world.keeper):  # front-run
        pool.liquidate(pid, MAX_UINT, 0)
    remaining = pool.debt_of(pid)
    before = world.stablecoin.balanceOf(world.borrower)
    with boa.env.prank(world.borrower):
        paid = pool.repay(pid, rescue)
    assert 0 < paid == remaining < rescue
    assert world.stablecoin.balanceOf(world.borrower) == before - remaining
    expect_revert(
        "pool: no debt", pool.liquidate, pid, MAX_UINT, 0, sender=world.keeper
    )  # back-run


def test_liquidate__twice_in_a_row__second_finds_position_healthy(world: World) -> None:
    pid = _unhealthy(world)
    with boa.env.prank(world.keeper):
        world.weth.pool.liquidate(pid, MAX_UINT, 0)
    expect_revert(
        "pool: position is healthy",
        world.weth.pool.liquidate,
        pid,
        MAX_UINT,
        0,
        sender=world.keeper,
    )


def test_liquidate__deep_underwater__reserve_then_bad_debt_absorb_shortfall(world: World) -> None:
    pool = world.vol.pool
    pid = world.open(world.vol, world.borrower, 10_000 * 10**6, 10_999 * WAD)
    world.vol.set_price_wad(WAD)  # -50 %: within the 60 % bound, deep under water
    reserve = pool.reserve()
    with boa.env.prank(world.keeper):
        pool.liquidate(pid, MAX_UINT, 0)
    assert pool.collateral_of(pid) == 0 and pool.debt_of(pid) == 0
    assert pool.reserve() == 0 and pool.bad_debt() > 0
    assert reserve < pool.bad_debt()
    # nothing reached the other pools
    assert world.weth.pool.bad_debt() == 0


def test_liquidate_many__unknown_debt_free_healthy_and_repeated_ids__are_skipped(
    world: World,
) -> None:
    pool = world.weth.pool
    debt_free = world.open(world.weth, world.borrower, WAD, 0)
    safe = _healthy(world)
    due = _unhealthy(world)
    unknown = pool.position_count() + 1
    with boa.env.prank(world.keeper):
        pool.liquidate_many([0, unknown, debt_free, safe, due, due], MAX_UINT, 0)
    assert pool.health(due) > WAD  # liquidated once, to the target
    assert pool.collateral_of(debt_free) == WAD and pool.collateral_of(safe) == 10 * WAD
    expect_revert(
        "pool: nothing to liquidate",
        pool.liquidate_many,
        [0, unknown, debt_free, safe, due],
        MAX_UINT,
        0,
        sender=world.keeper,
    )


def test_liquidate_many__budget_below_a_position__skips_it(world: World) -> None:
    pool = world.weth.pool
    first, second = (
        world.open(world.weth, world.borrower, coll, _max_ltv_debt(world.weth, coll))
        for coll in (10 * WAD, 20 * WAD)
    )
    _fall_to_health(world.weth, 9_600)
    p, price = world.weth.params, pool.price()
    cost = risk.liquidation_amounts(
        pool.collateral_of(first), pool.debt_of(first), price, p, world.weth.scale
    ).paid
    expect_revert(
        "pool: nothing to liquidate",
        pool.liquidate_many,
        [first, second],
        cost - 1,
        0,
        sender=world.keeper,
    )
    with boa.env.prank(world.keeper):
        pool.liquidate_many([first, second], cost, 0)
    assert pool.health(first) > WAD and pool.health(second) < WAD


def test_liquidate_many__min_collateral_out_above_outcome__reverts(world: World) -> None:
    pool = world.weth.pool
    pid = _unhealthy(world)
    p = world.weth.params
    out = risk.liquidation_amounts(
        pool.collateral_of(pid), pool.debt_of(pid), pool.price(), p, world.weth.scale
    ).collateral_out
    expect_revert(
        "pool: collateral out below minimum",
        pool.liquidate_many,
        [pid],
        MAX_UINT,
        out + 1,
        sender=world.keeper,
    )


# ------------------------------------------------------------- exotic collateral


def _exotic_pool(world: World, name: str, token):
    cfg = world.system.markets["WETH"].config
    from dataclasses import replace

    market = create_pool(world.system, replace(cfg, name=name), token=token)
    return market


def test_open__fee_on_transfer_token__reverts_collateral_not_received(world: World) -> None:
    token = deployer("mocks/MockFeeToken").deploy(18)
    market = _exotic_pool(world, "FEE", token)
    token.mint(world.borrower, 10 * WAD)
    with boa.env.prank(world.borrower):
        token.approve(market.pool.address, MAX_UINT)
    expect_revert("pool: collateral not received", market.pool.open, WAD, 0, sender=world.borrower)


def test_open__no_return_value_token__is_handled(world: World) -> None:
    token = deployer("mocks/MockNoReturnToken").deploy(18)
    market = _exotic_pool(world, "NORET", token)
    token.mint(world.borrower, 10 * WAD)
    with boa.env.prank(world.borrower):
        token.approve(market.pool.address, MAX_UINT)
        pid = market.pool.open(10 * WAD, 1_000 * WAD)
        market.pool.withdraw(pid, WAD)
    assert token.balanceOf(market.pool.address) == 9 * WAD
    world.bhusd(world.borrower, 10 * WAD)
    with boa.env.prank(world.borrower):
        market.pool.close(pid)
    assert token.balanceOf(world.borrower) == 10 * WAD


def _hook_market(world: World):
    token = deployer("mocks/MockHookToken").deploy(18)
    market = _exotic_pool(world, "HOOK", token)
    token.mint(world.borrower, 100 * WAD)
    with boa.env.prank(world.borrower):
        token.approve(market.pool.address, MAX_UINT)
        pid = market.pool.open(10 * WAD, 1_000 * WAD)
    return token, market, pid


def test_withdraw__reentry_through_collateral_hook__is_refused(world: World) -> None:
    """The collateral calls back into the pool while the pool pays it out: the reentrancy
    lock refuses the inner withdraw, the outer one completes, nothing is paid twice."""
    token, market, pid = _hook_market(world)
    pool = market.pool
    with boa.env.prank(world.borrower):
        pool.set_operator(token.address, True)  # the token may act on the position it re-enters
    # the token itself is an operator now, so the inner call would be authorised
    inner = pool.withdraw.prepare_calldata(pid, WAD)
    token.arm(pool.address, inner)
    with boa.env.prank(token.address):
        pool.withdraw(pid, WAD)
    assert token.hook_called() and not token.hook_succeeded()
    assert token.hook_return() == b""  # the lock reverts without data
    assert pool.collateral_of(pid) == 9 * WAD
    assert token.balanceOf(pool.address) == 9 * WAD


def test_deposit__hook_reads_pool_views_mid_transfer__is_refused(world: World) -> None:
    """Read-only reentrancy: a view called from inside the pool's token transfer is locked
    too (`# pragma nonreentrancy on` covers views), so no one sees half-updated state."""
    token, market, pid = _hook_market(world)
    pool = market.pool
    token.arm(pool.address, pool.debt_of.prepare_calldata(pid))
    with boa.env.prank(world.borrower):
        pool.deposit(pid, WAD)
    assert token.hook_called() and not token.hook_succeeded()
    assert pool.collateral_of(pid) == 11 * WAD


def test_liquidate__hook_reenters_liquidate__is_refused(world: World) -> None:
    token, market, pid = _hook_market(world)
    pool = market.pool
    with boa.env.prank(world.borrower):
        pool.borrow(pid, _max_ltv_debt(market, 10 * WAD) - pool.debt_of(pid))
    _fall_to_health(market, 9_600)
    assert pool.health(pid) < WAD
    token.arm(pool.address, pool.liquidate.prepare_calldata(pid, MAX_UINT, 0))
    with boa.env.prank(world.keeper):
        out = pool.liquidate(pid, MAX_UINT, 0)
    assert out > 0 and token.hook_called() and not token.hook_succeeded()


def test_liquidate_many__hook_reenters_liquidate__is_refused(world: World) -> None:
    token, market, pid = _hook_market(world)
    pool = market.pool
    with boa.env.prank(world.borrower):
        pool.borrow(pid, _max_ltv_debt(market, 10 * WAD) - pool.debt_of(pid))
    _fall_to_health(market, 9_600)
    token.arm(pool.address, pool.liquidate.prepare_calldata(pid, MAX_UINT, 0))
    with boa.env.prank(world.keeper):
        out = pool.liquidate_many([pid], MAX_UINT, 0)
    assert out > 0 and token.hook_called() and not token.hook_succeeded()
    assert pool.health(pid) > WAD


def test_deleverage__hook_reenters_deleverage__is_refused(world: World) -> None:
    """The collateral calls back into `deleverage` while the pool pays it out: the lock
    refuses the inner call; the outer one repays and pays out once."""
    token, market, pid = _hook_market(world)
    pool = market.pool
    with boa.env.prank(world.borrower):
        pool.set_operator(token.address, True)
    world.bhusd(token.address, 200 * WAD)
    token.arm(pool.address, pool.deleverage.prepare_calldata(pid, 100 * WAD, WAD))
    with boa.env.prank(token.address):
        pool.deleverage(pid, 100 * WAD, WAD)
    assert token.hook_called() and not token.hook_succeeded()
    assert pool.collateral_of(pid) == 9 * WAD
    assert world.stablecoin.balanceOf(token.address) == 100 * WAD


# ------------------------------------------------------------------ deleverage


def test_deleverage__zero_repay__reverts(world: World) -> None:
    pid = _healthy(world)
    expect_revert(
        "pool: zero amount", world.weth.pool.deleverage, pid, 0, WAD, sender=world.borrower
    )


def test_deleverage__unknown_id__reverts(world: World) -> None:
    expect_revert(
        "pool: unknown position", world.weth.pool.deleverage, 999, WAD, 0, sender=world.borrower
    )


def test_deleverage__other_owners_position__reverts(world: World) -> None:
    """A stranger (or a keeper) with bhUSD cannot buy the owner's collateral at the ratio of
    the position: only the owner and its operators choose when it shrinks."""
    pid = _healthy(world)
    world.bhusd(world.attacker, 5_000 * WAD)
    expect_revert(
        "pool: not owner or operator",
        world.weth.pool.deleverage,
        pid,
        5_000 * WAD,
        5 * WAD,
        sender=world.attacker,
    )


def test_deleverage__more_collateral_than_held__reverts(world: World) -> None:
    pid = _healthy(world)
    expect_revert(
        "pool: insufficient collateral",
        world.weth.pool.deleverage,
        pid,
        MAX_UINT,
        MAX_UINT,
        sender=world.borrower,
    )


def test_deleverage__collateral_out_above_the_repaid_share__reverts(world: World) -> None:
    pid = _healthy(world)  # 10 WETH against 10,000 bhUSD
    expect_revert(
        "pool: health would fall",
        world.weth.pool.deleverage,
        pid,
        1_000 * WAD,
        WAD + 1,
        sender=world.borrower,
    )


def test_deleverage__max_uint256_repay__repays_exactly_the_debt(world: World) -> None:
    pid = _healthy(world)
    pool = world.weth.pool
    boa.env.time_travel(seconds=ONE_DAY)
    debt = pool.debt_of(pid)
    world.bhusd(world.borrower, debt)
    before = world.stablecoin.balanceOf(world.borrower)
    with boa.env.prank(world.borrower):
        pool.deleverage(pid, MAX_UINT, 10 * WAD)
    assert world.stablecoin.balanceOf(world.borrower) == before - debt
    assert (pool.collateral_of(pid), pool.debt_of(pid)) == (0, 0)


def test_deleverage__oracle_down_and_paused__still_works(world: World) -> None:
    """Shrinking a position needs no price and no permission from governance."""
    pid = _healthy(world)
    pool = world.weth.pool
    with boa.env.prank(world.admin):
        world.factory.set_paused(pool.address, True)
    world.weth.feed.set_reverting(True)
    with boa.env.prank(world.borrower):
        pool.deleverage(pid, 5_000 * WAD, 5 * WAD)
    assert pool.collateral_of(pid) == 5 * WAD


def test_set_protection__other_owners_position__reverts(world: World) -> None:
    pid = _healthy(world)
    auto = world.system.automation
    expect_revert(
        "automation: not owner or operator",
        auto.set_protection,
        world.weth.pool.address,
        pid,
        12 * WAD // 10,
        15 * WAD // 10,
        100,
        sender=world.attacker,
    )


def test_auto_deleverage__owner_never_approved_the_automation__reverts(world: World) -> None:
    """A protection acts only while its owner keeps the automation as operator: revoking
    the approval stops every keeper at once."""
    pid = _healthy(world)
    pool, auto = world.weth.pool, world.system.automation
    health = pool.health(pid)
    with boa.env.prank(world.borrower):
        auto.set_protection(pool.address, pid, health + WAD // 20, health + WAD // 4, 100)
    repay = world.system.lens.preview_auto_deleverage(pool.address, pid)[0]
    assert repay > 0
    with boa.env.prank(world.keeper):
        world.stablecoin.approve(auto.address, MAX_UINT)
    expect_revert(
        "pool: not owner or operator",
        auto.auto_deleverage,
        pool.address,
        pid,
        repay,
        sender=world.keeper,
    )


# ------------------------------------------------------------------------ permit


def _permit(
    world: World, owner_key, spender: str, value: int, deadline: int, nonce: int | None = None
):
    stable = world.stablecoin
    owner = Account.from_key(owner_key).address
    domain = {
        "name": "Bulkhead USD",
        "version": "1",
        "chainId": boa.env.evm.patch.chain_id,
        "verifyingContract": stable.address,
    }
    nonce = stable.nonces(owner) if nonce is None else nonce
    v, r, s = permit.sign_permit(owner_key, domain, owner, spender, value, nonce, deadline)
    return (owner, spender, value, deadline, v, r, s)


def test_permit__valid_then_replayed__second_reverts(world: World) -> None:
    key = keccak(b"bulkhead permit owner")
    args = _permit(world, key, world.attacker, WAD, boa.env.timestamp + 3_600)
    with boa.env.prank(world.attacker):
        world.stablecoin.permit(*args)
    assert world.stablecoin.allowance(args[0], world.attacker) == WAD
    expect_revert("erc20: invalid signature", world.stablecoin.permit, *args, sender=world.attacker)


def test_permit__expired_deadline__reverts(world: World) -> None:
    key = keccak(b"bulkhead permit owner")
    args = _permit(world, key, world.attacker, WAD, boa.env.timestamp - 1)
    expect_revert("erc20: expired deadline", world.stablecoin.permit, *args, sender=world.attacker)


def test_permit__signed_for_another_spender__reverts(world: World) -> None:
    key = keccak(b"bulkhead permit owner")
    owner, _, value, deadline, v, r, s = _permit(
        world, key, world.keeper, WAD, boa.env.timestamp + 60
    )
    expect_revert(
        "erc20: invalid signature",
        world.stablecoin.permit,
        owner,
        world.attacker,
        value,
        deadline,
        v,
        r,
        s,
        sender=world.attacker,
    )


# ------------------------------------------------------------ setters out of bounds


RISK_BOUNDS = [
    ({"liquidation_threshold": 999}, "risk: threshold out of bounds"),
    ({"liquidation_threshold": 9_501}, "risk: threshold out of bounds"),
    ({"max_ltv": 499}, "risk: max ltv out of bounds"),
    ({"max_ltv": 8_500}, "risk: max ltv not below threshold"),
    ({"liquidation_bonus": 49}, "risk: bonus out of bounds"),
    ({"liquidation_bonus": 2_501}, "risk: bonus out of bounds"),
    ({"liquidation_fee": 1_001}, "risk: liquidation fee out of bounds"),
    ({"liquidation_tip": 1_000 * WAD + 1}, "risk: tip out of bounds"),
    ({"target_health": WAD}, "risk: target health out of bounds"),
    ({"target_health": 3 * WAD + 1}, "risk: target health out of bounds"),
    ({"min_debt": WAD - 1}, "risk: min debt out of bounds"),
    ({"min_debt": 10**24 + 1}, "risk: min debt out of bounds"),
    ({"debt_ceiling": 10**33 + 1}, "risk: debt ceiling out of bounds"),
    ({"stability_fee": 21_979_553_152}, "risk: stability fee out of bounds"),
    (
        {"liquidation_threshold": 9_500, "liquidation_bonus": 2_500},
        "risk: penalty too high for threshold",
    ),
]


def test_set_risk_params__every_bound__reverts_with_its_reason(world: World) -> None:
    pool = world.weth.pool.address
    for changes, reason in RISK_BOUNDS:
        expect_revert(
            reason,
            world.factory.set_risk_params,
            pool,
            _params(world.weth, **changes),
            sender=world.admin,
        )
        # the factory is the only gate: nobody else reaches the pool's setter
        expect_revert(
            "pool: only factory",
            world.weth.pool.set_risk_params,
            _params(world.weth, **changes),
            sender=world.admin,
        )


def test_set_oracle_params__out_of_bounds__reverts(world: World) -> None:
    pool = world.weth.pool.address
    for heartbeat, jump, reason in [
        (59, 5_000, "oracle: heartbeat out of bounds"),
        (7 * ONE_DAY + 1, 5_000, "oracle: heartbeat out of bounds"),
        (3_600, 99, "oracle: max jump out of bounds"),
        (3_600, 10_001, "oracle: max jump out of bounds"),
    ]:
        expect_revert(
            reason, world.factory.set_oracle_params, pool, heartbeat, jump, sender=world.admin
        )


def test_governance__unknown_pool__reverts(world: World) -> None:
    for fn, args in [
        (world.factory.set_paused, (world.attacker, True)),
        (world.factory.set_oracle_params, (world.attacker, 3_600, 5_000)),
        (world.factory.reset_price_anchor, (world.attacker,)),
        (world.factory.set_risk_params, (world.attacker, _params(world.weth))),
    ]:
        expect_revert("factory: unknown pool", fn, *args, sender=world.admin)


def test_create_pool__bad_collateral_or_feed__reverts(world: World) -> None:
    zero = "0x" + "00" * 20
    feed, params = world.weth.feed.address, _params(world.weth)
    create = world.factory.create_pool
    expect_revert(
        "factory: zero collateral", create, zero, feed, params, 3_600, 5_000, sender=world.admin
    )
    expect_revert(
        "factory: stablecoin as collateral",
        create,
        world.stablecoin.address,
        feed,
        params,
        3_600,
        5_000,
        sender=world.admin,
    )
    expect_revert(
        "factory: pool exists",
        create,
        world.weth.token.address,
        feed,
        params,
        3_600,
        5_000,
        sender=world.admin,
    )
    token = deployer("mocks/MockToken").deploy("X", "X", 18)
    expect_revert(
        "oracle: zero feed", create, token.address, zero, params, 3_600, 5_000, sender=world.admin
    )
    wide = deployer("mocks/MockAggregator").deploy(19, 1, "too precise")
    expect_revert(
        "oracle: feed decimals above 18",
        create,
        token.address,
        wide.address,
        params,
        3_600,
        5_000,
        sender=world.admin,
    )
    big = deployer("mocks/MockToken").deploy("B", "B", 19)
    expect_revert(
        "pool: collateral decimals above 18",
        create,
        big.address,
        feed,
        params,
        3_600,
        5_000,
        sender=world.admin,
    )
    expect_revert(
        "oracle: heartbeat out of bounds",
        create,
        token.address,
        feed,
        params,
        1,
        5_000,
        sender=world.admin,
    )


def test_initialize__second_call__reverts(world: World) -> None:
    with boa.env.prank(world.factory.address):
        expect_revert(
            "pool: already initialized",
            world.weth.pool.initialize,
            _params(world.weth),
            3_600,
            5_000,
            sender=world.factory.address,
        )


def test_factory__zero_constructor_address__reverts(world: World) -> None:
    zero = "0x" + "00" * 20
    try:
        deployer("PoolFactory").deploy(zero, world.system.blueprint)
    except boa.BoaError as err:
        from tests.fuzz.machine import revert_reason

        assert revert_reason(err) == "factory: zero address"
    else:
        raise AssertionError("deployed with a zero stablecoin")


# ------------------------------------------------------------------ ownership


def test_factory_ownership__accept_by_stranger__reverts_and_owner_keeps_control(
    world: World,
) -> None:
    factory = world.factory
    with boa.env.prank(world.admin):
        factory.transfer_ownership(world.operator)
    expect_revert(
        "ownable_2step: caller is not the new owner",
        factory.accept_ownership,
        sender=world.attacker,
    )
    assert factory.owner() == world.admin  # still the old owner until accepted
    with boa.env.prank(world.admin):
        factory.set_paused(world.weth.pool.address, True)
    with boa.env.prank(world.operator):
        factory.accept_ownership()
    assert factory.owner() == world.operator
    expect_revert(
        "ownable: caller is not the owner",
        factory.set_paused,
        world.weth.pool.address,
        False,
        sender=world.admin,
    )


def test_factory_ownership__transfer_to_zero__cancels_pending(world: World) -> None:
    factory = world.factory
    zero = "0x" + "00" * 20
    with boa.env.prank(world.admin):
        factory.transfer_ownership(world.operator)
        factory.transfer_ownership(zero)
    expect_revert(
        "ownable_2step: caller is not the new owner",
        factory.accept_ownership,
        sender=world.operator,
    )


def test_stablecoin_ownership__accept_by_stranger__reverts(world: World) -> None:
    expect_revert(
        "ownable_2step: caller is not the new owner",
        world.stablecoin.accept_ownership,
        sender=world.attacker,
    )
    expect_revert(
        "ownable: caller is not the owner",
        world.stablecoin.transfer_ownership,
        world.attacker,
        sender=world.admin,
    )


def test_stablecoin__mint_and_pool_burn_by_non_minter__revert(world: World) -> None:
    expect_revert(
        "erc20: access is denied", world.stablecoin.mint, world.attacker, WAD, sender=world.attacker
    )
    expect_revert(
        "bhusd: caller is not a minter",
        world.stablecoin.pool_burn,
        world.keeper,
        WAD,
        sender=world.attacker,
    )
    # the factory owns bhUSD but is not a minter
    expect_revert(
        "erc20: access is denied",
        world.stablecoin.mint,
        world.admin,
        WAD,
        sender=world.factory.address,
    )


# ------------------------------------------------------------------ lens views


def test_lens__previews_match_what_the_pool_does(world: World) -> None:
    """Keepers act on the lens: its preview of a liquidation and its max borrow must be exact."""
    lens, pool = world.system.lens, world.weth.pool
    healthy = _healthy(world)
    max_borrow = lens.max_borrow(pool.address, healthy)
    with boa.env.prank(world.borrower):
        pool.borrow(healthy, max_borrow)  # the lens keeps one wei for rounding
    expect_revert("pool: exceeds max ltv", pool.borrow, healthy, 2, sender=world.borrower)
    bad = _unhealthy(world)
    preview = lens.preview_liquidate(pool.address, bad, MAX_UINT)
    with boa.env.prank(world.keeper):
        out = pool.liquidate(bad, MAX_UINT, 0)
    assert out in tuple(preview)
    page = lens.positions(pool.address, 1, 50)
    assert {p[0] for p in page} >= {healthy, bad}


def test_accrue__by_anyone__moves_fees_to_reserve_without_changing_debt(world: World) -> None:
    pid = _healthy(world)
    pool = world.weth.pool
    boa.env.time_travel(seconds=365 * ONE_DAY)
    world.weth.set_price_wad(3_000 * WAD)
    debt = pool.debt_of(pid)
    reserve = pool.reserve()
    with boa.env.prank(world.attacker):
        pool.accrue()
    assert pool.debt_of(pid) == debt
    assert pool.reserve() > reserve
    assert risk.debt(pool.normalised_debt_of(pid), pool.rate()) == debt
    assert BPS  # units in this module: bps and wad


def test_liquidation_price__matches_mirror_and_is_the_health_boundary(world: World) -> None:
    """A keeper or owner reading `liquidation_price`: at that price the position is liquidatable,
    one wei above it is not; 0 without debt. Oracle and factory views report the settings."""
    pool = world.weth.pool
    pid = _healthy(world)
    p = world.weth.params
    lp = pool.liquidation_price(pid)
    debt = pool.debt_of(pid)
    assert lp == risk.liquidation_price(10 * WAD, debt, p.liquidation_threshold, 1)
    assert risk.is_liquidatable(10 * WAD, debt, lp - 1, p.liquidation_threshold, 1)
    assert not risk.is_liquidatable(10 * WAD, debt, lp + 1, p.liquidation_threshold, 1)
    empty = world.open(world.weth, world.borrower, WAD, 0)
    assert pool.liquidation_price(empty) == 0
    assert pool.oracle_params() == (world.weth.feed.address, 3_600, 5_000)
    assert world.factory.pool_count() == 3


# ------------------------------------------------------------------ savings vault


def _vault(world: World):
    """The savings vault that `deploy_system` deployed and named in the factory (a one-day
    stream, from bulkhead/configs/local.toml)."""
    assert world.system.vault.stream_period() == ONE_DAY
    return world.system.vault


def _save(world: World, vault, who: str, amount: int) -> int:
    world.bhusd(who, amount)
    with boa.env.prank(who):
        world.stablecoin.approve(vault.address, amount)
        return vault.deposit(amount, who)


def test_vault__first_depositor_donation__does_not_dilute_the_next_depositor(
    world: World,
) -> None:
    """The inflation attack: the first depositor mints 1 wei of shares, then donates a lot
    of bhUSD straight to the vault to make one share worth more than the next deposit.
    The vault counts only what it tracks, so the donation buys the attacker nothing."""
    vault = _vault(world)
    _save(world, vault, world.attacker, 1)
    world.bhusd(world.attacker, 10_000 * WAD)
    with boa.env.prank(world.attacker):
        world.stablecoin.transfer(vault.address, 10_000 * WAD)
    shares = _save(world, vault, world.borrower, 1_000 * WAD)
    assert shares > 0
    assert vault.previewRedeem(shares) >= 1_000 * WAD - 1
    assert vault.previewRedeem(vault.balanceOf(world.attacker)) <= 1


def test_vault__cover_by_anyone_but_the_factory__reverts(world: World) -> None:
    vault = _vault(world)
    _save(world, vault, world.borrower, 1_000 * WAD)
    for who in (world.attacker, world.admin, world.weth.pool.address):
        expect_revert("vault: only factory", vault.cover, WAD, sender=who)


def test_vault__stream_period_by_stranger_or_out_of_bounds__reverts(world: World) -> None:
    vault = _vault(world)
    expect_revert("vault: only governance", vault.set_stream_period, ONE_DAY, sender=world.attacker)
    for period in (vault.MIN_STREAM_PERIOD() - 1, vault.MAX_STREAM_PERIOD() + 1):
        expect_revert(
            "vault: stream period out of bounds",
            vault.set_stream_period,
            period,
            sender=world.admin,
        )
    with boa.env.prank(world.admin):
        vault.set_stream_period(2 * ONE_DAY)
    assert vault.stream_period() == 2 * ONE_DAY


def test_vault__limits__match_what_the_vault_accepts(world: World) -> None:
    """ERC-4626 `max*` and `convert*` views agree with what the vault does at the edge."""
    vault = _vault(world)
    shares = _save(world, vault, world.borrower, 1_000 * WAD)
    assert vault.convertToShares(1_000 * WAD) == vault.previewDeposit(1_000 * WAD) == shares
    assert vault.maxRedeem(world.borrower) == shares
    assert vault.maxMint(world.borrower) == vault.convertToShares(vault.maxDeposit(world.borrower))
    most = vault.maxWithdraw(world.borrower)
    expect_revert(
        "vault: withdraw above maximum",
        vault.withdraw,
        most + 1,
        world.borrower,
        world.borrower,
        sender=world.borrower,
    )
    expect_revert(
        "vault: redeem above maximum",
        vault.redeem,
        shares + 1,
        world.borrower,
        world.borrower,
        sender=world.borrower,
    )
    with boa.env.prank(world.borrower):
        assert vault.withdraw(most, world.borrower, world.borrower) == shares
    assert vault.balanceOf(world.borrower) == 0


def test_cover_bad_debt__cap_cooldown_and_roles__bound_what_governance_takes(
    world: World,
) -> None:
    """Governance covers a pool's bad debt from the vault: never more than 10 % of the
    vault's assets, once a day, and only governance; the yield still streaming pays first."""
    vault = _vault(world)
    pool = world.vol.pool
    pid = world.open(world.vol, world.borrower, 10_000 * 10**6, 10_999 * WAD)
    world.vol.set_price_wad(WAD)  # -50 %: deep under water (catalogue C60)
    with boa.env.prank(world.keeper):
        pool.liquidate(pid, MAX_UINT, 0)
    bad = pool.bad_debt()
    assert bad > 0
    _save(world, vault, world.borrower, 5_000 * WAD)  # cap 500 bhUSD, below the bad debt
    world.bhusd(vault.address, 1_000 * WAD)  # a donation, streamed by skim
    vault.skim()
    assert vault.locked_assets() == 1_000 * WAD and vault.unlock_end() > boa.env.timestamp
    cap = vault.totalAssets() * world.factory.MAX_COVER_BPS() // BPS
    assert cap < bad
    amount = cap
    factory = world.factory
    expect_revert(
        "ownable: caller is not the owner",
        factory.cover_bad_debt,
        pool.address,
        amount,
        sender=world.attacker,
    )
    expect_revert(
        "factory: cover above cap",
        factory.cover_bad_debt,
        pool.address,
        cap + 1,
        sender=world.admin,
    )
    supply = world.stablecoin.totalSupply()
    assets = vault.totalAssets()
    with boa.env.prank(world.admin):
        factory.cover_bad_debt(pool.address, amount)
    assert pool.bad_debt() == bad - amount
    assert world.stablecoin.totalSupply() == supply - amount
    # the streaming 1,000 bhUSD absorbed the first 1,000 of the loss
    assert vault.totalAssets() == assets - max(amount - 1_000 * WAD, 0)
    expect_revert(
        "factory: cover cooldown", factory.cover_bad_debt, pool.address, 1, sender=world.admin
    )
    boa.env.time_travel(seconds=ONE_DAY)
    with boa.env.prank(world.admin):
        factory.cover_bad_debt(pool.address, 1)
    assert pool.bad_debt() == bad - amount - 1


# -------------------------------------- pool-level controls (position cap, haircut, grace)


def _set_cap(world: World, market, cap: int) -> None:
    with boa.env.prank(world.admin):
        world.factory.set_position_debt_cap(market.pool.address, cap)


def _set_haircut(world: World, market, haircut: int) -> None:
    with boa.env.prank(world.admin):
        world.factory.set_haircut(market.pool.address, haircut)


def test_borrow__above_position_debt_cap__reverts(world: World) -> None:
    """C103: within max LTV and the debt ceiling, but above the position debt cap."""
    pid = _healthy(world)  # 10,000 bhUSD on 30,000 USD
    _set_cap(world, world.weth, 12_000 * WAD)
    pool = world.weth.pool
    expect_revert("pool: position debt cap", pool.borrow, pid, 2_001 * WAD, sender=world.borrower)
    world.weth.fund(world.borrower, 10 * WAD)
    expect_revert(
        "pool: position debt cap", pool.open, 10 * WAD, 12_001 * WAD, sender=world.borrower
    )
    with boa.env.prank(world.borrower):
        pool.borrow(pid, 1_999 * WAD)
    assert pool.debt_of(pid) <= 12_000 * WAD


def test_borrow__position_above_a_lowered_cap__only_borrowing_is_refused(world: World) -> None:
    """C104: lowering the cap under a position traps nothing: it repays, deposits and
    withdraws within max LTV; it cannot borrow."""
    pid = _healthy(world)
    pool = world.weth.pool
    _set_cap(world, world.weth, 5_000 * WAD)
    expect_revert("pool: position debt cap", pool.borrow, pid, 100 * WAD, sender=world.borrower)
    world.weth.fund(world.borrower, WAD)
    with boa.env.prank(world.borrower):
        pool.repay(pid, 1_000 * WAD)
        pool.deposit(pid, WAD)
        pool.withdraw(pid, 2 * WAD)
    assert pool.collateral_of(pid) == 9 * WAD and pool.debt_of(pid) > 5_000 * WAD


def test_borrow__within_max_ltv_but_past_the_haircut__reverts(world: World) -> None:
    """C105: a haircut of 20 % lowers the borrow limit from 60 % to 48 %: a borrow or a
    withdrawal to 50 % is refused, while the liquidation threshold stays where it was."""
    pid = _healthy(world)  # LTV 33 %
    pool = world.weth.pool
    _set_haircut(world, world.weth, 2_000)
    expect_revert("pool: exceeds max ltv", pool.borrow, pid, 5_001 * WAD, sender=world.borrower)
    # 10,000 bhUSD at 48 % needs 20,834 USD of collateral: 6.95 WETH; 6.6 would be 50 %
    expect_revert(
        "pool: exceeds max ltv", pool.withdraw, pid, 34 * WAD // 10, sender=world.borrower
    )
    with boa.env.prank(world.borrower):
        pool.borrow(pid, 4_000 * WAD)  # 14,000 of 30,000 USD: 47 %
        pool.withdraw(pid, WAD // 100)


def test_set_haircut__at_its_bound__makes_no_position_liquidatable(world: World) -> None:
    """C106: governance's largest haircut on a position at max LTV: its health, the keepers'
    list and a liquidation's refusal are unchanged."""
    pid = world.open(world.weth, world.borrower, 10 * WAD, _max_ltv_debt(world.weth, 10 * WAD))
    pool = world.weth.pool
    health = pool.health(pid)
    listed = list(pool.positions_to_liquidate(1, 5_000))
    _set_haircut(world, world.weth, 5_000)  # `risk.MAX_HAIRCUT`
    assert pool.health(pid) == health
    assert list(pool.positions_to_liquidate(1, 5_000)) == listed
    expect_revert(
        "pool: position is healthy", pool.liquidate, pid, MAX_UINT, 0, sender=world.keeper
    )


def test_set_controls__out_of_bounds__reverts_with_their_reasons(world: World) -> None:
    """C107: a cap above the debt ceiling, a haircut above 50 %, a grace period above 4 h,
    through the factory; straight at the pool, nobody but the factory."""
    pool = world.weth.pool.address
    f = world.factory
    ceiling = world.weth.params.debt_ceiling
    for fn, value, reason in [
        (f.set_position_debt_cap, ceiling + 1, "risk: position cap above debt ceiling"),
        (f.set_haircut, 5_001, "risk: haircut out of bounds"),
        (f.set_grace_period, 4 * 3_600 + 1, "risk: grace period out of bounds"),
    ]:
        expect_revert(reason, fn, pool, value, sender=world.admin)
    for who in (world.admin, world.attacker):
        expect_revert("pool: only factory", world.weth.pool.set_controls, 0, 5_000, 0, sender=who)


def test_set_steward_rules__out_of_bounds__reverts_with_their_reasons(world: World) -> None:
    """C108: a steward ceiling above 50 %, a zero step or one above the ceiling, a cooldown
    under a minute or above 30 days."""
    pool = world.weth.pool.address
    for rules, reason in [
        ((5_001, 100, 3_600), "factory: steward haircut out of bounds"),
        ((1_000, 0, 3_600), "factory: steward step out of bounds"),
        ((1_000, 1_001, 3_600), "factory: steward step out of bounds"),
        ((1_000, 100, 59), "factory: steward cooldown out of bounds"),
        ((1_000, 100, 30 * ONE_DAY + 1), "factory: steward cooldown out of bounds"),
    ]:
        expect_revert(reason, world.factory.set_steward_rules, pool, *rules, sender=world.admin)


def test_set_haircut__steward_outside_its_rules__reverts(world: World) -> None:
    """C109: a stranger; the steward on a pool without rules, above its ceiling, by more
    than a step, twice within its cooldown. Refusals change nothing."""
    f = world.factory
    steward = boa.env.generate_address("steward")
    with boa.env.prank(world.admin):
        f.set_steward(steward)
    pool = world.weth.pool.address  # rules from local.toml: 3,000 bps, 500 a step, hourly
    expect_revert("factory: not owner or steward", f.set_haircut, pool, 100, sender=world.attacker)
    bare = _exotic_pool(world, "BARE", deployer("mocks/MockToken").deploy("B", "B", 18))
    expect_revert("factory: no steward rules", f.set_haircut, bare.pool.address, 1, sender=steward)
    expect_revert("factory: haircut step too large", f.set_haircut, pool, 501, sender=steward)
    with boa.env.prank(world.admin):
        f.set_haircut(pool, 2_800)
    boa.env.time_travel(seconds=3_600)
    expect_revert("factory: above steward limit", f.set_haircut, pool, 3_001, sender=steward)
    with boa.env.prank(steward):
        f.set_haircut(pool, 3_000)
    expect_revert("factory: steward cooldown", f.set_haircut, pool, 2_500, sender=steward)
    assert world.weth.pool.controls()[1] == 3_000


def test_governance_setters__by_the_steward__revert(world: World) -> None:
    """C110: the steward moves haircuts, nothing else: caps, grace periods, steward rules,
    the steward itself and pauses stay governance's."""
    f = world.factory
    steward = boa.env.generate_address("steward")
    with boa.env.prank(world.admin):
        f.set_steward(steward)
    pool = world.weth.pool.address
    for fn, args in [
        (f.set_position_debt_cap, (pool, 10**30)),
        (f.set_grace_period, (pool, 0)),
        (f.set_steward_rules, (pool, 5_000, 5_000, 60)),
        (f.set_steward, (world.attacker,)),
        (f.set_paused, (pool, False)),
    ]:
        expect_revert("ownable: caller is not the owner", fn, *args, sender=steward)


def test_set_haircut__after_the_kill_switch__still_moves(world: World) -> None:
    """C111 (finding 15-1): governance cuts the debt ceiling to 0, under the position debt
    cap; the steward's haircut and governance's grace period still change."""
    f = world.factory
    steward = boa.env.generate_address("steward")
    pool = world.weth.pool.address
    with boa.env.prank(world.admin):
        f.set_steward(steward)
        f.set_risk_params(pool, _params(world.weth, debt_ceiling=0))
    assert world.weth.pool.controls()[0] > 0
    with boa.env.prank(steward):
        f.set_haircut(pool, 500)
    with boa.env.prank(world.admin):
        f.set_grace_period(pool, 0)
    assert tuple(world.weth.pool.controls())[1:3] == (500, 0)


def test_liquidate__paused__waits_while_the_owner_rescues_the_position(world: World) -> None:
    """C112: while paused, `liquidate` and `liquidate_many` refuse; the owner repays,
    deposits and deleverages the position back to health."""
    bad = _unhealthy(world)
    pool = world.weth.pool
    with boa.env.prank(world.admin):
        world.factory.set_paused(pool.address, True)
    expect_revert("pool: paused", pool.liquidate, bad, MAX_UINT, 0, sender=world.keeper)
    expect_revert("pool: paused", pool.liquidate_many, [bad], MAX_UINT, 0, sender=world.keeper)
    world.weth.fund(world.borrower, WAD)
    with boa.env.prank(world.borrower):
        pool.repay(bad, 1_000 * WAD)
        pool.deposit(bad, WAD)
        pool.deleverage(bad, 1_000 * WAD, 0)
    assert pool.health(bad) > WAD


def test_liquidate__grace_window__waits_until_exactly_its_end(world: World) -> None:
    """C113: after an unpause, `liquidate`, `liquidate_many` and the lens preview refuse
    until the grace end; at the grace end they liquidate."""
    bad = _unhealthy(world)
    pool = world.weth.pool
    lens = world.system.lens
    with boa.env.prank(world.admin):
        world.factory.set_paused(pool.address, True)
        world.factory.set_paused(pool.address, False)
    end = pool.controls()[3]
    assert end == boa.env.timestamp + world.weth.config.grace_period
    boa.env.time_travel(seconds=end - 1 - boa.env.timestamp)
    expect_revert("pool: grace window", pool.liquidate, bad, MAX_UINT, 0, sender=world.keeper)
    expect_revert(
        "pool: grace window", pool.liquidate_many, [bad], MAX_UINT, 0, sender=world.keeper
    )
    expect_revert(
        "pool: grace window",
        lens.preview_liquidate,
        pool.address,
        bad,
        MAX_UINT,
        sender=world.keeper,
    )
    boa.env.time_travel(seconds=1)
    out = lens.preview_liquidate(pool.address, bad, MAX_UINT)[2]
    with boa.env.prank(world.keeper):
        assert pool.liquidate(bad, MAX_UINT, 0) == out > 0


def test_controls_setters__unknown_pool__revert(world: World) -> None:
    """C114: every new governance call naming an address that is not a pool."""
    f = world.factory
    for fn, args in [
        (f.set_position_debt_cap, (world.attacker, 0)),
        (f.set_grace_period, (world.attacker, 0)),
        (f.set_haircut, (world.attacker, 0)),
        (f.set_steward_rules, (world.attacker, 1_000, 100, 3_600)),
    ]:
        expect_revert("factory: unknown pool", fn, *args, sender=world.admin)


# ------------------------------------------------------------------------ stop-loss


def _stop_loss_ready(world: World, below_bps: int = 10_000) -> int:
    """A healthy WETH position with a stop-loss at `below_bps` of the price (due at once at
    10,000), the automation its owner's operator, the keeper's bhUSD approved."""
    pid = _healthy(world)
    pool, auto = world.weth.pool, world.system.automation
    with boa.env.prank(world.borrower):
        auto.set_stop_loss(pool.address, pid, pool.price() * below_bps // BPS, 100)
        pool.set_operator(auto.address, True)
    with boa.env.prank(world.keeper):
        world.stablecoin.approve(auto.address, MAX_UINT)
    return pid


def test_set_stop_loss__other_owner_unknown_pool_or_position__reverts(world: World) -> None:
    """C115: a stranger on someone's position; an address that is not a pool; an id that
    was never opened."""
    pid = _healthy(world)
    auto = world.system.automation
    pool = world.weth.pool.address
    for who, target, position, reason in [
        (world.attacker, pool, pid, "automation: not owner or operator"),
        (world.borrower, world.weth.token.address, pid, "automation: unknown pool"),
        (world.borrower, pool, 10**9, "automation: unknown position"),
    ]:
        expect_revert(reason, auto.set_stop_loss, target, position, WAD, 100, sender=who)


def test_set_stop_loss__absurd_price_or_fee__reverts(world: World) -> None:
    """C116: a price above any oracle quote (1e30 wad) or a fee above the pool's bonus."""
    pid = _healthy(world)
    auto = world.system.automation
    pool = world.weth.pool.address
    bonus = world.weth.params.liquidation_bonus
    expect_revert(
        "automation: price out of bounds",
        auto.set_stop_loss,
        pool,
        pid,
        10**30 + 1,
        100,
        sender=world.borrower,
    )
    expect_revert(
        "automation: fee above pool cap",
        auto.set_stop_loss,
        pool,
        pid,
        WAD,
        bonus + 1,
        sender=world.borrower,
    )


def test_stop_loss__not_set_not_due_no_debt_or_not_operator__reverts(world: World) -> None:
    """C117: no rule; a price above the rule's; a position without debt; an owner who
    revoked the automation."""
    auto = world.system.automation
    pool = world.weth.pool
    bare = _healthy(world)
    expect_revert("automation: no rule", auto.stop_loss, pool.address, bare, sender=world.keeper)
    early = _stop_loss_ready(world, below_bps=9_000)
    expect_revert(
        "automation: stop-loss not due", auto.stop_loss, pool.address, early, sender=world.keeper
    )
    pid = _stop_loss_ready(world)
    with boa.env.prank(world.borrower):
        pool.set_operator(auto.address, False)
    expect_revert(
        "pool: not owner or operator", auto.stop_loss, pool.address, pid, sender=world.keeper
    )
    world.bhusd(world.borrower, 1_000 * WAD)
    with boa.env.prank(world.borrower):
        pool.repay(pid, MAX_UINT)
    expect_revert("automation: no debt", auto.stop_loss, pool.address, pid, sender=world.keeper)


def test_stop_loss__raced_by_a_second_keeper__second_finds_no_rule(world: World) -> None:
    """C118: two keepers race for one stop-loss: the first closes, the second gets the
    rule's absence, and pays nothing."""
    pid = _stop_loss_ready(world)
    auto, pool = world.system.automation, world.weth.pool
    with boa.env.prank(world.keeper):
        auto.stop_loss(pool.address, pid)
    world.bhusd(world.attacker, 20_000 * WAD)
    with boa.env.prank(world.attacker):
        world.stablecoin.approve(auto.address, MAX_UINT)
    expect_revert("automation: no rule", auto.stop_loss, pool.address, pid, sender=world.attacker)
    assert world.stablecoin.balanceOf(world.attacker) == 20_000 * WAD


def test_stop_loss__under_water__keeper_takes_the_loss_not_the_pool(world: World) -> None:
    """C119: a stop-loss on a position worth less than its debt: the keeper still repays
    all of it and gets all the collateral; the owner gets nothing, the reserve and the
    bad debt are untouched."""
    pid = world.open(world.weth, world.borrower, 10 * WAD, _max_ltv_debt(world.weth, 10 * WAD))
    pool, auto = world.weth.pool, world.system.automation
    with boa.env.prank(world.borrower):
        auto.set_stop_loss(pool.address, pid, pool.price(), 100)
        pool.set_operator(auto.address, True)
    with boa.env.prank(world.keeper):
        world.stablecoin.approve(auto.address, MAX_UINT)
    world.weth.set_price_wad(pool.price() * 55 // 100)
    assert risk.value(10 * WAD, pool.price(), 1) < pool.debt_of(pid)
    reserve, bad = pool.reserve(), pool.bad_debt()
    owner_tokens = world.weth.token.balanceOf(world.borrower)
    with boa.env.prank(world.keeper):
        assert auto.stop_loss(pool.address, pid) == 10 * WAD
    assert world.weth.token.balanceOf(world.borrower) == owner_tokens
    assert pool.bad_debt() == bad and pool.reserve() >= reserve


def test_stop_loss__paused_or_in_grace__still_closes(world: World) -> None:
    """C120: liquidations wait while paused and in the grace window; an owner's stop-loss
    does not."""
    auto, pool = world.system.automation, world.weth.pool
    first = _stop_loss_ready(world)
    second = _stop_loss_ready(world)
    with boa.env.prank(world.admin):
        world.factory.set_paused(pool.address, True)
    with boa.env.prank(world.keeper):
        auto.stop_loss(pool.address, first)
    with boa.env.prank(world.admin):
        world.factory.set_paused(pool.address, False)
    assert boa.env.timestamp < pool.controls()[3]
    with boa.env.prank(world.keeper):
        auto.stop_loss(pool.address, second)
    assert pool.debt_of(first) == pool.debt_of(second) == 0


def test_stop_loss__hook_reenters_stop_loss__is_refused(world: World) -> None:
    """C121: the collateral calls back into `stop_loss` while it is paid out: the
    automation's lock refuses the inner call; the outer one settles once."""
    token, market, pid = _hook_market(world)
    pool, auto = market.pool, world.system.automation
    with boa.env.prank(world.borrower):
        auto.set_stop_loss(pool.address, pid, pool.price(), 100)
        pool.set_operator(auto.address, True)
    with boa.env.prank(world.keeper):
        world.stablecoin.approve(auto.address, MAX_UINT)
    token.arm(auto.address, auto.stop_loss.prepare_calldata(pool.address, pid))
    debt = pool.debt_of(pid)
    supply = world.stablecoin.totalSupply()
    with boa.env.prank(world.keeper):
        out = auto.stop_loss(pool.address, pid)
    assert token.hook_called() and not token.hook_succeeded()
    assert world.stablecoin.totalSupply() == supply - debt
    assert token.balanceOf(world.keeper) == out
    assert token.balanceOf(world.borrower) == 100 * WAD - out  # 90 in the wallet + 10 - out
