"""Regressions for the outside review of issue 12, one test (or a few) per finding, on titanoboa.

Each test is named after its finding (`test_r1_...` to `test_r5_...`, then the review's
"fix or refuse" items) and states what must hold from first principles: who may lose what,
what must add up. None asks the Python mirror what the contract returns. Every one of them
failed on the contracts before the fix (recorded in docs/THREAT_MODEL.md, "Review of issue 12").
"""

from __future__ import annotations

import math

import boa
import pytest

from bulkhead import risk
from bulkhead.risk import BPS, WAD, RiskParams
from tests.audit.conftest import MAX_UINT, World, expect_revert
from tests.fuzz.system import deployer

ONE_DAY = 86_400
YEAR = 365 * ONE_DAY
MAX_FEE = 21_979_553_151  # [wad per second] `risk.MAX_STABILITY_FEE`


def _wealth(w: World, market, who: str) -> int:
    """What `who` holds outside the pool [wad]: bhUSD plus collateral at the oracle price."""
    price = market.pool.price()
    return w.stablecoin.balanceOf(who) + risk.value(
        market.token.balanceOf(who), price, market.scale
    )


def _move_to_value_ratio(market, pid: int, ratio_bps: int) -> None:
    """Post the price at which the position's collateral is worth `ratio_bps` of its debt."""
    pool = market.pool
    coll, debt = pool.collateral_of(pid), pool.debt_of(pid)
    market.set_price_wad(debt * ratio_bps * WAD // (BPS * coll * market.scale) + 1)
    assert pool.price()  # within the jump bound


def _at_max_ltv(w: World, market, who: str, coll: int) -> int:
    price = market.pool.price()
    debt = risk.max_debt(coll, price, market.params.max_ltv, market.scale) - 1
    return w.open(market, who, coll, debt)


def _self_liquidation_vs_close(w: World, ratio_bps: int) -> tuple[int, int, int, int, int]:
    """Open at max LTV, fall to collateral worth `ratio_bps` of the debt; return the owner's
    wealth before, after closing instead, after liquidating himself, and the reserve and bad
    debt the self-liquidation left minus what was there before it."""
    m = w.weth
    pid = _at_max_ltv(w, m, w.borrower, 100 * WAD)
    _move_to_value_ratio(m, pid, ratio_bps)
    w.bhusd(w.borrower, 2 * m.pool.debt_of(pid))
    before = _wealth(w, m, w.borrower)
    with boa.env.anchor():
        with boa.env.prank(w.borrower):
            w.stablecoin.approve(m.pool.address, MAX_UINT)
            m.pool.close(pid)
        closed = _wealth(w, m, w.borrower)
    reserve, bad = m.pool.reserve(), m.pool.bad_debt()
    with boa.env.prank(w.borrower):
        m.pool.liquidate(pid, MAX_UINT, 0)
    liquidated = _wealth(w, m, w.borrower)
    return before, closed, liquidated, m.pool.reserve() - reserve, m.pool.bad_debt() - bad


# --------------------------------------------- finding 1: liquidation at the equity edge


def test_r1_equity_band__self_liquidation__never_beats_close(world: World) -> None:
    """Collateral worth 1.04x the debt: between debt x (1 + fee) and the full penalty. The
    owner who liquidates himself must end with no more than `close` gives him."""
    before, closed, liquidated, _, _ = _self_liquidation_vs_close(world, 10_400)
    assert closed >= before - 2  # close swaps debt for collateral worth more than it
    assert liquidated <= closed + 2, f"self-liquidation beat close by {liquidated - closed}"


def test_r1_equity_band__liquidation__takes_nothing_from_the_reserve(world: World) -> None:
    """While value >= debt x (1 + fee) the reserve only gains (the fee) and no bad debt is
    recorded: the keeper's bonus shrinks to what the equity funds."""
    _, _, _, reserve_change, bad_debt_change = _self_liquidation_vs_close(world, 10_400)
    assert reserve_change >= 0
    assert bad_debt_change == 0


def test_r1_equity_band__keeper__is_paid_from_the_equity_only(world: World) -> None:
    """A keeper liquidating in the band repays the whole debt plus the fee and gets all the
    collateral: its gain is the equity above debt x (1 + fee), never more."""
    m = world.weth
    pid = _at_max_ltv(world, m, world.borrower, 100 * WAD)
    _move_to_value_ratio(m, pid, 10_400)
    debt, coll = m.pool.debt_of(pid), m.pool.collateral_of(pid)
    value = risk.value(coll, m.pool.price(), m.scale)
    before = _wealth(world, m, world.keeper)
    with boa.env.prank(world.keeper):
        m.pool.liquidate(pid, MAX_UINT, 0)
    gain = _wealth(world, m, world.keeper) - before
    fee = m.params.liquidation_fee
    assert m.pool.debt_of(pid) == 0 and m.pool.collateral_of(pid) == 0
    assert 0 <= gain <= value - debt * (BPS + fee) // BPS


def test_r1_under_water__self_liquidation__gains_nothing(world: World) -> None:
    """Collateral worth 0.9x the debt: the owner could walk away with the bhUSD he minted.
    Liquidating himself must give him no more than that (nor than close), so the reserve
    pays no bounty that an owner could farm."""
    before, closed, liquidated, _, _ = _self_liquidation_vs_close(world, 9_000)
    assert liquidated <= max(before, closed) + 2, f"gained {liquidated - before}"


def test_r1_under_water__reserve__covers_only_what_the_collateral_cannot(world: World) -> None:
    """Below debt x (1 + fee) the pool's reserve and bad debt together absorb exactly the
    debt the collateral cannot cover (debt - value), within rounding, and nothing more."""
    m = world.weth
    pid = _at_max_ltv(world, m, world.borrower, 100 * WAD)
    _move_to_value_ratio(m, pid, 9_000)
    debt = m.pool.debt_of(pid)
    value = risk.value(m.pool.collateral_of(pid), m.pool.price(), m.scale)
    reserve, bad = m.pool.reserve(), m.pool.bad_debt()
    with boa.env.prank(world.keeper):
        m.pool.liquidate(pid, MAX_UINT, 0)
    loss = (reserve - m.pool.reserve()) + (m.pool.bad_debt() - bad)
    assert debt - value - 2 <= loss <= debt - value + 2


def test_r1_between_debt_and_fee__reserve__does_not_fall(world: World) -> None:
    """Collateral worth 1.005x the debt (less than debt x 1.01): the debt is covered, only
    part of the fee is not; the reserve must not pay anything out."""
    _, _, _, reserve_change, bad_debt_change = _self_liquidation_vs_close(world, 10_050)
    assert reserve_change >= 0 and bad_debt_change == 0


# --------------------------------------------------------- finding 2: totals wrap


def test_r2_total_collateral__would_pass_2_128__reverts_with_reason(world: World) -> None:
    """Positions are bounded below 2**128 each; their total is packed into 128 bits too and
    must be refused before it wraps, so that ordinary positions can still close."""
    m = world.weth
    half = 2**127 + 1
    first = world.open(m, world.borrower, half, 0)
    m.fund(world.attacker, half)
    expect_revert("pool: total collateral too large", m.pool.open, half, 0, sender=world.attacker)
    with boa.env.prank(world.borrower):
        m.pool.close(first)
    assert m.token.balanceOf(world.borrower) == half


# ---------------------------------------- finding 3: deleverage preview close to target


def test_r3_preview_auto_deleverage__target_within_0_005_of_trigger__finds_the_amount(
    world: World,
) -> None:
    """A protection whose target is 0.003 above its trigger, with health 0.001 under the
    trigger: due and executable. The preview must not revert and its amount must work."""
    m = world.weth
    pid = world.open(m, world.borrower, 10 * WAD, 12_000 * WAD)
    health = m.pool.health(pid)
    trigger, target = health + 10**15, health + 4 * 10**15
    auto = world.system.automation
    with boa.env.prank(world.borrower):
        auto.set_protection(m.pool.address, pid, trigger, target, 100)
        m.pool.set_operator(auto.address, True)
    repay, out, after = world.system.lens.preview_auto_deleverage(m.pool.address, pid)
    assert repay > 0 and out > 0 and health < after <= target
    with boa.env.prank(world.keeper):
        world.stablecoin.approve(auto.address, repay)
        auto.auto_deleverage(m.pool.address, pid, repay)
    assert health < m.pool.health(pid) <= target


def test_r3_mirror__target_within_0_005_of_trigger__finds_an_amount() -> None:
    """The keeper's mirror finds a repay in the same state (it returned zeros)."""
    coll, price, threshold, fee = 10 * WAD, 3_000 * WAD, 7_000, 100
    debt = 12_000 * WAD
    health = risk.health(coll, debt, price, threshold, 1)
    repay, out, after = risk.deleverage_amounts(
        coll, debt, price, threshold, fee, health + 4 * 10**15, 1
    )
    assert repay > 0 and health < after <= health + 4 * 10**15


# ---------------------------------------------- finding 4: dust skims stall the stream


def test_r4_skim__dust_donations__do_not_delay_the_stream(world: World) -> None:
    """Yield is streaming; an attacker donates 1 wei and skims, 200 times. What was streaming
    must be fully released by its original end, and the end must not move."""
    vault = world.system.vault
    world.bhusd(world.borrower, 1_000 * WAD)
    with boa.env.prank(world.borrower):
        world.stablecoin.approve(vault.address, MAX_UINT)
        vault.deposit(1_000 * WAD, world.borrower)
    world.bhusd(vault.address, 5_000 * WAD)
    vault.skim()
    end = vault.unlock_end()
    boa.env.time_travel(seconds=vault.stream_period() // 2)
    world.bhusd(world.attacker, 200)
    for _ in range(200):
        with boa.env.prank(world.attacker):
            world.stablecoin.transfer(vault.address, 1)
        vault.skim()
        boa.env.time_travel(seconds=1)
    assert vault.unlock_end() <= end
    boa.env.time_travel(seconds=end - boa.env.evm.patch.timestamp)
    assert vault.locked_assets() == 0


# ------------------------------------------- finding 5: accrual depends on frequency


def _max_fee(world: World, market) -> None:
    params = RiskParams(*market.pool.risk_params())
    fast = RiskParams(**{**params.__dict__, "stability_fee": MAX_FEE})
    with boa.env.prank(world.admin):
        world.factory.set_risk_params(market.pool.address, fast.as_tuple())


def _exp_growth(fee: int, seconds: int) -> float:
    return math.exp(fee * seconds / WAD)


def test_r5_accrual__once_after_five_years_or_monthly__same_rate(world: World) -> None:
    """At the highest fee (about ln 2 per year), an idle pool accrued once after five years
    must reach the same rate as one accrued every 30 days, within 1e-9, and both must be
    exp(fee x time) within 1e-9 (the cubic cut gave 17.4x instead of 32x)."""
    m = world.weth
    _max_fee(world, m)
    start = m.pool.rate()
    with boa.env.anchor():
        boa.env.time_travel(seconds=5 * YEAR)
        m.pool.accrue()
        once = m.pool.rate()
    for _ in range(5 * 365 // 30):
        boa.env.time_travel(seconds=30 * ONE_DAY)
        m.pool.accrue()
    boa.env.time_travel(seconds=5 * YEAR - (5 * 365 // 30) * 30 * ONE_DAY)
    m.pool.accrue()
    often = m.pool.rate()
    assert abs(once - often) * 10**9 <= once
    assert abs(once / start / _exp_growth(MAX_FEE, 5 * YEAR) - 1) <= 1e-9


def test_r5_accrual__one_year_at_the_highest_fee__doubles(world: World) -> None:
    """About ln 2 per year compounds to 2x in a year (1.99x before the fix)."""
    m = world.weth
    _max_fee(world, m)
    start = m.pool.rate()
    boa.env.time_travel(seconds=YEAR)
    m.pool.accrue()
    assert abs(m.pool.rate() / start / _exp_growth(MAX_FEE, YEAR) - 1) <= 1e-9


# ------------------------------------------------ automation: fee caps, contradictions


def _lower_bonus(world: World, market, bonus: int) -> None:
    params = RiskParams(*market.pool.risk_params())
    lower = RiskParams(**{**params.__dict__, "liquidation_bonus": bonus})
    with boa.env.prank(world.admin):
        world.factory.set_risk_params(market.pool.address, lower.as_tuple())


def test_fee_cap_boost__bonus_lowered_after_the_rule__keeper_paid_at_most_the_bonus(
    world: World,
) -> None:
    """A boost rule set at a 5 % fee; governance then lowers the pool's bonus to 1 %. The
    keeper's discount on the collateral it supplies must be at most 1 % of what it borrows."""
    m, auto = world.weth, world.system.automation
    pid = world.open(m, world.borrower, 10 * WAD, 5_000 * WAD)
    with boa.env.prank(world.borrower):
        m.pool.set_operator(auto.address, True)
        auto.set_boost(m.pool.address, pid, 3 * WAD, int(1.5 * WAD), 500)
    _lower_bonus(world, m, 100)
    m.fund(world.keeper, 100 * WAD)
    with boa.env.prank(world.keeper):
        m.token.approve(auto.address, MAX_UINT)
    p = m.params
    borrow, _ = risk.boost_amounts(
        10 * WAD,
        m.pool.debt_of(pid),
        m.pool.price(),
        p.liquidation_threshold,
        100,
        int(1.5 * WAD),
        m.scale,
    )
    before = _wealth(world, m, world.keeper)
    with boa.env.prank(world.keeper):
        auto.boost(m.pool.address, pid, borrow)
    gain = _wealth(world, m, world.keeper) - before
    assert gain <= borrow * 100 // BPS + 1


def test_fee_cap_top_up__bonus_lowered_after_the_rule__keeper_paid_at_most_the_bonus(
    world: World,
) -> None:
    m, auto = world.weth, world.system.automation
    pid = _at_max_ltv(world, m, world.borrower, 10 * WAD)
    health = m.pool.health(pid)
    m.fund(world.borrower, 10 * WAD)
    with boa.env.prank(world.borrower):
        m.token.approve(auto.address, MAX_UINT)
        auto.set_top_up(m.pool.address, pid, health + WAD // 10, health + WAD // 2, 500, 10 * WAD)
    _lower_bonus(world, m, 100)
    p = m.params
    amount = risk.top_up_amount(
        10 * WAD,
        m.pool.debt_of(pid),
        m.pool.price(),
        p.liquidation_threshold,
        100,
        health + WAD // 2,
        m.scale,
    )
    with boa.env.prank(world.keeper):
        fee = auto.top_up(m.pool.address, pid, amount)
    assert fee <= amount * 100 // BPS


def test_contradiction__boost_trigger_at_a_top_up_target__reverts(world: World) -> None:
    m, auto = world.weth, world.system.automation
    pid = world.open(m, world.borrower, 10 * WAD, 5_000 * WAD)
    with boa.env.prank(world.borrower):
        auto.set_top_up(m.pool.address, pid, int(1.5 * WAD), 2 * WAD, 50, WAD)
    expect_revert(
        "automation: contradicts another rule",
        auto.set_boost,
        m.pool.address,
        pid,
        2 * WAD,
        int(1.6 * WAD),
        50,
        sender=world.borrower,
    )


def test_contradiction__top_up_target_at_a_boost_trigger__reverts(world: World) -> None:
    m, auto = world.weth, world.system.automation
    pid = world.open(m, world.borrower, 10 * WAD, 5_000 * WAD)
    with boa.env.prank(world.borrower):
        auto.set_boost(m.pool.address, pid, 3 * WAD, 2 * WAD, 50)
    expect_revert(
        "automation: contradicts another rule",
        auto.set_top_up,
        m.pool.address,
        pid,
        int(1.5 * WAD),
        3 * WAD,
        50,
        WAD,
        sender=world.borrower,
    )
    # the boost stopping under where the top-up starts is refused as well
    expect_revert(
        "automation: contradicts another rule",
        auto.set_top_up,
        m.pool.address,
        pid,
        int(2.1 * WAD),
        int(2.5 * WAD),
        50,
        WAD,
        sender=world.borrower,
    )
    with boa.env.prank(world.borrower):
        auto.set_top_up(m.pool.address, pid, int(1.5 * WAD), int(1.9 * WAD), 50, WAD)


def test_contradiction__boost_after_a_deleverage_protection__reverts(world: World) -> None:
    m, auto = world.weth, world.system.automation
    pid = world.open(m, world.borrower, 10 * WAD, 5_000 * WAD)
    with boa.env.prank(world.borrower):
        auto.set_protection(m.pool.address, pid, int(1.3 * WAD), int(1.8 * WAD), 50)
    expect_revert(
        "automation: contradicts another rule",
        auto.set_boost,
        m.pool.address,
        pid,
        int(1.7 * WAD),
        int(1.5 * WAD),
        50,
        sender=world.borrower,
    )


def test_contradiction__protection_after_a_boost__reverts(world: World) -> None:
    m, auto = world.weth, world.system.automation
    pid = world.open(m, world.borrower, 10 * WAD, 5_000 * WAD)
    with boa.env.prank(world.borrower):
        auto.set_boost(m.pool.address, pid, 2 * WAD, int(1.6 * WAD), 50)
    expect_revert(
        "automation: contradicts another rule",
        auto.set_protection,
        m.pool.address,
        pid,
        int(1.3 * WAD),
        2 * WAD,
        50,
        sender=world.borrower,
    )
    with boa.env.prank(world.borrower):
        auto.set_protection(m.pool.address, pid, int(1.3 * WAD), int(1.5 * WAD), 50)


# ------------------------------------------------ overflow reverts without a reason


def test_overflow__lens_positions_near_2_256__returns_an_empty_page(world: World) -> None:
    assert world.system.lens.positions(world.weth.pool.address, MAX_UINT - 5, 1_000) == []


def test_overflow__automation_due_near_2_256__returns_empty_pages(world: World) -> None:
    auto = world.system.automation
    assert auto.due(world.weth.pool.address, MAX_UINT - 5, 1_000) == []


@pytest.mark.parametrize("action", ["boost", "top_up", "auto_deleverage"])
def test_overflow__boost_or_top_up_with_a_huge_amount__reverts_with_reason(
    world: World, action: str
) -> None:
    auto = world.system.automation
    call = getattr(auto, action)
    expect_revert(
        "automation: amount too large", call, world.weth.pool.address, 1, 2**255,
        sender=world.keeper,
    )  # fmt: skip


# ------------------------------------------------ the factory names the automation


def test_set_automation__wrong_factory_or_zero__reverts_then_sets_once(world: World) -> None:
    """The pools ask the automation the factory names; governance names it once, and only
    one that serves this factory."""
    with boa.env.prank(world.admin):
        factory = deployer("PoolFactory").deploy(world.stablecoin.address, world.system.blueprint)
        foreign = deployer("PositionAutomation").deploy(
            world.factory.address, world.stablecoin.address
        )
        own = deployer("PositionAutomation").deploy(factory.address, world.stablecoin.address)
    expect_revert(
        "ownable: caller is not the owner",
        factory.set_automation,
        own.address,
        sender=world.attacker,
    )
    expect_revert(
        "factory: zero address",
        factory.set_automation,
        "0x0000000000000000000000000000000000000000",
        sender=world.admin,
    )
    expect_revert(
        "factory: automation factory mismatch",
        factory.set_automation,
        foreign.address,
        sender=world.admin,
    )
    with boa.env.prank(world.admin):
        factory.set_automation(own.address)
    assert factory.automation() == own.address
    expect_revert(
        "factory: automation already set", factory.set_automation, own.address, sender=world.admin
    )
