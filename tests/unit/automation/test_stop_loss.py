"""`PositionAutomation.stop_loss`: once the oracle price is at or below the owner's price,
any keeper repays the whole debt and closes the position; it gets collateral worth at most
the debt x (1 + fee) at the oracle price, and the owner gets the rest in his wallet.

The laws are stated from balances: who paid what, who got what, what is left."""

from dataclasses import replace

import ape
import pytest

from tests.conftest import BPS, MAX_UINT256, WAD, at_head_time
from tests.unit.automation.conftest import fund_keeper

STOP = 9_500  # [bps] of the price at set-up: the stop-loss price
FEE = 100  # [bps] the owner's max fee


def armed(m, automation, stablecoin, owner, keeper, admin, ltv=None, fee=FEE) -> int:
    """A position at half max LTV (or `ltv` [bps]) with a stop-loss 5 % under the price, the
    automation its owner's operator, and a keeper with bhUSD that approved the automation;
    then the price falls 10 %: the stop-loss is due."""
    pid = m.open_at_ltv(owner, 30_000 * WAD, ltv or m.params.max_ltv // 2)
    automation.set_stop_loss(m.pool, pid, m.price() * STOP // BPS, fee, sender=owner)
    m.pool.set_operator(automation, True, sender=owner)
    fund_keeper(m, stablecoin, keeper, automation, 50_000 * WAD)
    m.move_price(9_000, admin)
    return pid


def wallets(m, stablecoin, *accounts) -> list[tuple[int, int]]:
    return [(stablecoin.balanceOf(a), m.token.balanceOf(a)) for a in accounts]


def test_stop_loss__due__keeper_paid_within_its_fee_and_owner_gets_the_rest(
    market, borrower, keeper, admin, automation, stablecoin, chain
):
    m, pool = market, market.pool
    pid = armed(m, automation, stablecoin, borrower, keeper, admin)
    at_head_time(chain)  # the call sees the debt the views see
    debt, coll, price = pool.debt_of(pid), pool.collateral_of(pid), pool.price()
    fee = min(FEE, m.params.liquidation_bonus)
    (keeper_before, owner_before) = wallets(m, stablecoin, keeper, borrower)
    supply, total = stablecoin.totalSupply(), pool.total_collateral()

    tx = automation.stop_loss(pool, pid, sender=keeper)

    out = tx.return_value
    keeper_after, owner_after = wallets(m, stablecoin, keeper, borrower)
    # the keeper paid exactly the whole debt, which is burned: nothing minted or kept
    assert keeper_after[0] == keeper_before[0] - debt
    assert stablecoin.totalSupply() == supply - debt
    assert pool.debt_of(pid) == pool.collateral_of(pid) == 0
    assert pool.total_collateral() == total - coll
    # the keeper's collateral is worth at most debt x (1 + fee) at the oracle price, and
    # short of it by less than one collateral unit (and one wei of flooring)
    assert keeper_after[1] - keeper_before[1] == out > 0
    assert out * m.scale * price * BPS <= debt * (BPS + fee) * WAD
    assert (out + 1) * m.scale * price * BPS > (debt * (BPS + fee) - BPS) * WAD
    # the owner got exactly the rest, and paid nothing
    assert owner_after == (owner_before[0], owner_before[1] + coll - out)
    assert wallets(m, stablecoin, automation) == [(0, 0)]  # holds nothing afterwards
    (event,) = tx.decode_logs(automation.StopLoss)
    assert (event.pool, event.id, event.keeper) == (pool.address, pid, keeper.address)
    assert (event.price, event.debt_repaid) == (price, debt)
    assert (event.keeper_collateral, event.owner_collateral) == (out, coll - out)
    assert tuple(automation.stop_loss_rule(pool, pid)) == (0, 0)  # the rule is spent


def test_stop_loss__at_exactly_the_price__is_due(
    weth, borrower, keeper, admin, automation, stablecoin
):
    pid = weth.open_at_ltv(borrower, 30_000 * WAD, 3_000)
    automation.set_stop_loss(weth.pool, pid, weth.price(), FEE, sender=borrower)
    weth.pool.set_operator(automation, True, sender=borrower)
    fund_keeper(weth, stablecoin, keeper, automation, 50_000 * WAD)
    automation.stop_loss(weth.pool, pid, sender=keeper)
    assert weth.pool.collateral_of(pid) == 0


def test_stop_loss__above_the_price__not_due(weth, borrower, keeper, admin, automation, stablecoin):
    pid = weth.open_at_ltv(borrower, 30_000 * WAD, 3_000)
    automation.set_stop_loss(weth.pool, pid, weth.price() - 1, FEE, sender=borrower)
    weth.pool.set_operator(automation, True, sender=borrower)
    fund_keeper(weth, stablecoin, keeper, automation, 50_000 * WAD)
    with ape.reverts("automation: stop-loss not due"):
        automation.stop_loss(weth.pool, pid, sender=keeper)


def test_stop_loss__under_water__keeper_gets_all_the_collateral_and_owner_none(
    weth, borrower, keeper, admin, automation, stablecoin, chain
):
    pid = armed(weth, automation, stablecoin, borrower, keeper, admin, ltv=weth.params.max_ltv)
    weth.move_price(6_000, admin)  # value now below the debt
    at_head_time(chain)
    coll, debt = weth.pool.collateral_of(pid), weth.pool.debt_of(pid)
    assert weth.value(coll) < debt
    owner_before = wallets(weth, stablecoin, borrower)
    assert automation.stop_loss(weth.pool, pid, sender=keeper).return_value == coll
    assert wallets(weth, stablecoin, borrower) == owner_before


def test_stop_loss__bonus_lowered_after_the_rule__fee_capped_by_the_bonus(
    weth, borrower, keeper, admin, automation, stablecoin, factory, chain
):
    bonus = weth.params.liquidation_bonus
    pid = armed(weth, automation, stablecoin, borrower, keeper, admin, fee=bonus)
    factory.set_risk_params(
        weth.pool, replace(weth.params, liquidation_bonus=100).as_tuple(), sender=admin
    )
    at_head_time(chain)
    debt, price = weth.pool.debt_of(pid), weth.pool.price()
    out = automation.stop_loss(weth.pool, pid, sender=keeper).return_value
    assert out * weth.scale * price * BPS <= debt * (BPS + 100) * WAD


@pytest.mark.parametrize("grace", [False, True], ids=["paused", "grace-window"])
def test_stop_loss__paused_or_in_grace__still_closes(
    grace, weth, borrower, keeper, admin, automation, stablecoin, factory, chain
):
    """Liquidations wait while paused and in the grace window; an owner's own rule does not."""
    pid = armed(weth, automation, stablecoin, borrower, keeper, admin)
    factory.set_paused(weth.pool, True, sender=admin)
    if grace:
        factory.set_paused(weth.pool, False, sender=admin)
        assert chain.blocks.head.timestamp < weth.pool.controls().grace_end
    automation.stop_loss(weth.pool, pid, sender=keeper)
    assert weth.pool.collateral_of(pid) == weth.pool.debt_of(pid) == 0


def test_stop_loss__no_rule__reverts(weth, borrower, keeper, automation):
    pid = weth.open_at_ltv(borrower, 30_000 * WAD, 3_000)
    with ape.reverts("automation: no rule"):
        automation.stop_loss(weth.pool, pid, sender=keeper)


def test_stop_loss__twice__second_finds_no_rule(
    weth, borrower, keeper, admin, automation, stablecoin
):
    pid = armed(weth, automation, stablecoin, borrower, keeper, admin)
    automation.stop_loss(weth.pool, pid, sender=keeper)
    with ape.reverts("automation: no rule"):
        automation.stop_loss(weth.pool, pid, sender=keeper)


def test_stop_loss__rule_turned_off__reverts(weth, borrower, keeper, admin, automation, stablecoin):
    pid = armed(weth, automation, stablecoin, borrower, keeper, admin)
    automation.set_stop_loss(weth.pool, pid, 0, 0, sender=borrower)
    with ape.reverts("automation: no rule"):
        automation.stop_loss(weth.pool, pid, sender=keeper)


def test_stop_loss__invalid_price__reverts_with_the_oracles_reason(
    weth, borrower, keeper, admin, automation, stablecoin
):
    pid = armed(weth, automation, stablecoin, borrower, keeper, admin)
    weth.feed.set_reverting(True, sender=admin)
    with ape.reverts("oracle: feed call failed"):
        automation.stop_loss(weth.pool, pid, sender=keeper)


def test_stop_loss__debt_repaid__reverts(weth, borrower, keeper, admin, automation, stablecoin):
    pid = armed(weth, automation, stablecoin, borrower, keeper, admin)
    weth.mint_bhusd(borrower, 1_000 * WAD)  # for the interest on top of what it borrowed
    weth.pool.repay(pid, MAX_UINT256, sender=borrower)
    with ape.reverts("automation: no debt"):
        automation.stop_loss(weth.pool, pid, sender=keeper)


def test_stop_loss__automation_not_the_operator__reverts(
    weth, borrower, keeper, admin, automation, stablecoin
):
    pid = armed(weth, automation, stablecoin, borrower, keeper, admin)
    weth.pool.set_operator(automation, False, sender=borrower)
    with ape.reverts("pool: not owner or operator"):
        automation.stop_loss(weth.pool, pid, sender=keeper)


def test_stop_loss__keeper_did_not_approve__reverts_in_the_transfer(
    weth, borrower, keeper, liquidator, admin, automation, stablecoin
):
    pid = armed(weth, automation, stablecoin, borrower, keeper, admin)
    weth.mint_bhusd(liquidator, 30_000 * WAD)  # bhUSD, but no allowance
    with ape.reverts("erc20: insufficient allowance"):
        automation.stop_loss(weth.pool, pid, sender=liquidator)


def test_stop_loss__keeper_without_bhusd__reverts_in_the_transfer(
    weth, borrower, keeper, attacker, admin, automation, stablecoin
):
    pid = armed(weth, automation, stablecoin, borrower, keeper, admin)
    stablecoin.approve(automation, MAX_UINT256, sender=attacker)
    with ape.reverts("erc20: transfer amount exceeds balance"):
        automation.stop_loss(weth.pool, pid, sender=attacker)
