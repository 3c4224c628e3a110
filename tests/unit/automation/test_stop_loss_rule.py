"""`PositionAutomation.stop_loss_rule`: a position's stop-loss (price, max fee)."""

from tests.conftest import WAD
from tests.unit.automation.conftest import open_at_max_ltv


def test_stop_loss_rule__none_set__zeros(weth, borrower, automation):
    pid = open_at_max_ltv(weth, borrower)
    assert tuple(automation.stop_loss_rule(weth.pool, pid)) == (0, 0)


def test_stop_loss_rule__per_pool_and_position(weth, wbtc, borrower, automation):
    first = open_at_max_ltv(weth, borrower)
    second = open_at_max_ltv(weth, borrower)
    automation.set_stop_loss(weth.pool, first, 2_500 * WAD, 50, sender=borrower)
    assert tuple(automation.stop_loss_rule(weth.pool, first)) == (2_500 * WAD, 50)
    assert tuple(automation.stop_loss_rule(weth.pool, second)) == (0, 0)
    assert tuple(automation.stop_loss_rule(wbtc.pool, first)) == (0, 0)
