"""`PoolLens.preview_auto_deleverage`: what a keeper would repay and receive for a due
protection, with the rule read from the factory's `PositionAutomation`."""

from tests.conftest import WAD, at_head_time
from tests.unit.automation.conftest import TARGET, due_protection, open_at_max_ltv


def test_preview_auto_deleverage__no_rule__zeros(weth, borrower, lens):
    pid = open_at_max_ltv(weth, borrower)
    assert tuple(lens.preview_auto_deleverage(weth.pool, pid)) == (0, 0, 0)


def test_preview_auto_deleverage__not_due__zeros(weth, borrower, lens, automation):
    pid = open_at_max_ltv(weth, borrower)
    health = weth.pool.health(pid)
    automation.set_protection(weth.pool, pid, health - WAD // 100, TARGET, 100, sender=borrower)
    assert tuple(lens.preview_auto_deleverage(weth.pool, pid)) == (0, 0, 0)


def test_preview_auto_deleverage__due__is_what_the_automation_does(
    market, borrower, keeper, admin, lens, automation, stablecoin, chain
):
    pid, _ = due_protection(market, automation, stablecoin, borrower, keeper, admin)
    at_head_time(chain)
    repay, out, after = lens.preview_auto_deleverage(market.pool, pid)
    assert repay > 0 and out > 0 and after <= TARGET
    tokens = market.token.balanceOf(keeper)
    at_head_time(chain)  # the call sees the state the preview saw
    automation.auto_deleverage(market.pool, pid, repay, sender=keeper)
    assert market.token.balanceOf(keeper) == tokens + out
    # the pool removes the normalised debt rounded down: its debt may be a wei above the
    # preview's debt - repay, so health lands at the preview or a hair under it
    assert after - after // 10**12 <= market.pool.health(pid) <= after
