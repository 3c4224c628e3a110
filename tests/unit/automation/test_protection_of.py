"""`PositionAutomation.protection_of` and `protection_rule`: a position's protection."""

from tests.conftest import WAD
from tests.unit.automation.conftest import open_at_max_ltv

TRIGGER, TARGET = 12 * WAD // 10, 15 * WAD // 10


def test_protection_of__never_set__zeros(weth, borrower, automation):
    pid = open_at_max_ltv(weth, borrower)
    assert tuple(automation.protection_of(weth.pool, pid)) == (0, 0, 0)
    assert tuple(automation.protection_of(weth.pool, 10**9)) == (0, 0, 0)


def test_protection_of__set__trigger_target_fee(weth, borrower, automation):
    pid = open_at_max_ltv(weth, borrower)
    automation.set_protection(weth.pool, pid, TRIGGER, TARGET, 75, sender=borrower)
    assert tuple(automation.protection_of(weth.pool, pid)) == (TRIGGER, TARGET, 75)
    # the full rule: a protection has no allowance
    assert tuple(automation.protection_rule(weth.pool, pid)) == (TRIGGER, TARGET, 75, 0)


def test_protection_of__same_id_in_another_pool__untouched(weth, wbtc, borrower, automation):
    pid = open_at_max_ltv(weth, borrower)
    other = open_at_max_ltv(wbtc, borrower)
    automation.set_protection(weth.pool, pid, TRIGGER, TARGET, 75, sender=borrower)
    assert tuple(automation.protection_of(wbtc.pool, other)) == (0, 0, 0)
    assert tuple(automation.protection_of(wbtc.pool, pid)) == (0, 0, 0)
