"""`PositionAutomation.auto_deleverage`: a keeper carries out a due protection through
`pool.deleverage`, as the owner's operator. The keeper's repay comes from the mirror (what a
keeper bot sends); what it receives and where health lands are checked from their
definitions."""

import ape

from tests.conftest import BPS, WAD, at_head_time
from tests.unit.automation.conftest import (
    TARGET,
    deleverage_repay,
    due_protection,
    fund_keeper,
    open_at_max_ltv,
    protect,
)

MAX_DEBT_CEILING = 10**33
TOLERANCE = WAD // 100


def test_auto_deleverage__due__lands_at_target_and_pays_the_fee(
    market, borrower, keeper, admin, automation, stablecoin, chain
):
    pid, _ = due_protection(market, automation, stablecoin, borrower, keeper, admin)
    repay = deleverage_repay(market, pid, 100)
    coll, debt, price = market.pool.collateral_of(pid), market.pool.debt_of(pid), market.price()
    before = market.pool.health(pid)
    bhusd, tokens = stablecoin.balanceOf(keeper), market.token.balanceOf(keeper)
    owner_wallet = stablecoin.balanceOf(borrower), market.token.balanceOf(borrower)
    supply = stablecoin.totalSupply()
    at_head_time(chain)  # the deleverage sees the debt the views above saw

    tx = automation.auto_deleverage(market.pool, pid, repay, sender=keeper)

    out = tx.return_value
    # collateral worth the repay plus exactly the 1 % fee, at the oracle price, rounded down
    assert out == repay * (BPS + 100) // BPS * WAD // (price * market.scale)
    assert market.token.balanceOf(keeper) == tokens + out
    assert stablecoin.balanceOf(keeper) == bhusd - repay
    assert stablecoin.totalSupply() == supply - repay
    assert (stablecoin.balanceOf(borrower), market.token.balanceOf(borrower)) == owner_wallet
    # the automation keeps nothing
    assert stablecoin.balanceOf(automation) == 0
    assert market.token.balanceOf(automation) == 0
    assert market.pool.collateral_of(pid) == coll - out
    assert debt - repay <= market.pool.debt_of(pid) <= debt - repay + 2
    after = market.pool.health(pid)
    assert TARGET - TOLERANCE <= after <= TARGET and after > before
    (event,) = tx.decode_logs(automation.AutoDeleverage)
    assert (event.pool, event.id, event.keeper) == (market.pool.address, pid, keeper.address)
    assert (event.repaid, event.collateral_out) == (repay, out)
    assert (event.health_before, event.health_after) == (before, after)
    (pool_event,) = tx.decode_logs(market.pool.Deleverage)
    assert (pool_event.id, pool_event.caller) == (pid, automation.address)
    assert (pool_event.repaid, pool_event.collateral_out) == (repay, out)


def test_auto_deleverage__while_paused__works(
    weth, factory, borrower, keeper, admin, automation, stablecoin, chain
):
    pid, _ = due_protection(weth, automation, stablecoin, borrower, keeper, admin)
    factory.set_paused(weth.pool, True, sender=admin)
    repay = deleverage_repay(weth, pid, 100)
    at_head_time(chain)
    automation.auto_deleverage(weth.pool, pid, repay, sender=keeper)
    assert weth.pool.health(pid) <= TARGET


def test_auto_deleverage__second_keeper_after_the_first__not_due(
    weth, borrower, keeper, liquidator, admin, automation, stablecoin, chain
):
    pid, _ = due_protection(weth, automation, stablecoin, borrower, keeper, admin)
    repay = deleverage_repay(weth, pid, 100)
    at_head_time(chain)
    automation.auto_deleverage(weth.pool, pid, repay, sender=keeper)
    fund_keeper(weth, stablecoin, liquidator, automation, 10_000 * WAD)
    with ape.reverts("automation: protection not due"):
        automation.auto_deleverage(weth.pool, pid, repay, sender=liquidator)


def test_auto_deleverage__fee_above_a_lowered_bonus__pays_only_the_bonus(
    weth, factory, borrower, keeper, admin, automation, stablecoin, chain
):
    pid, _ = due_protection(weth, automation, stablecoin, borrower, keeper, admin, fee=500)
    params = weth.params
    lowered = params.__class__(**{**params.__dict__, "liquidation_bonus": 100})
    factory.set_risk_params(weth.pool, lowered.as_tuple(), sender=admin)
    repay = deleverage_repay(weth, pid, 100)
    price = weth.price()
    at_head_time(chain)
    out = automation.auto_deleverage(weth.pool, pid, repay, sender=keeper).return_value
    assert out == repay * (BPS + 100) // BPS * WAD // (price * weth.scale)


# -------------------------------------------------------------------- reverts


def test_auto_deleverage__zero_repay__reverts(weth, borrower, keeper, automation):
    pid = open_at_max_ltv(weth, borrower)
    with ape.reverts("automation: zero amount"):
        automation.auto_deleverage(weth.pool, pid, 0, sender=keeper)


def test_auto_deleverage__above_any_debt_ceiling__reverts(weth, borrower, keeper, automation):
    pid = open_at_max_ltv(weth, borrower)
    with ape.reverts("automation: amount too large"):
        automation.auto_deleverage(weth.pool, pid, MAX_DEBT_CEILING + 1, sender=keeper)


def test_auto_deleverage__no_rule__reverts(weth, borrower, keeper, automation):
    pid = open_at_max_ltv(weth, borrower)
    with ape.reverts("automation: no rule"):
        automation.auto_deleverage(weth.pool, pid, WAD, sender=keeper)
    # nor for an address that is no pool
    with ape.reverts("automation: no rule"):
        automation.auto_deleverage(weth.token, pid, WAD, sender=keeper)


def test_auto_deleverage__oracle_broken__reverts_with_its_reason(
    weth, borrower, keeper, admin, automation, stablecoin
):
    pid, _ = due_protection(weth, automation, stablecoin, borrower, keeper, admin)
    weth.feed.set_reverting(True, sender=admin)
    with ape.reverts("oracle: feed call failed"):
        automation.auto_deleverage(weth.pool, pid, WAD, sender=keeper)


def test_auto_deleverage__health_above_the_trigger__not_due(weth, borrower, keeper, automation):
    pid = open_at_max_ltv(weth, borrower)
    health = weth.pool.health(pid)
    protect(weth, automation, borrower, pid, trigger=health - WAD // 1_000, target=TARGET)
    with ape.reverts("automation: protection not due"):
        automation.auto_deleverage(weth.pool, pid, WAD, sender=keeper)


def test_auto_deleverage__repay_of_the_whole_debt__reverts(
    weth, borrower, keeper, admin, automation, stablecoin, chain
):
    pid, _ = due_protection(weth, automation, stablecoin, borrower, keeper, admin)
    at_head_time(chain)  # the call sees the debt the view saw
    debt = weth.pool.debt_of(pid)
    with ape.reverts("automation: repay above debt"):
        automation.auto_deleverage(weth.pool, pid, debt + WAD, sender=keeper)
    at_head_time(chain)
    with ape.reverts("automation: repay above debt"):
        automation.auto_deleverage(weth.pool, pid, debt, sender=keeper)


def test_auto_deleverage__keeper_did_not_approve__reverts_in_the_transfer(
    weth, borrower, keeper, liquidator, admin, automation, stablecoin
):
    pid, _ = due_protection(weth, automation, stablecoin, borrower, keeper, admin)
    weth.open(liquidator, 100 * weth.unit, 10_000 * WAD)  # bhUSD, but no allowance
    with ape.reverts("erc20: insufficient allowance"):
        automation.auto_deleverage(
            weth.pool, pid, deleverage_repay(weth, pid, 100), sender=liquidator
        )


def test_auto_deleverage__owner_never_approved_the_automation__reverts(
    weth, borrower, keeper, admin, automation, stablecoin
):
    pid = open_at_max_ltv(weth, borrower)
    trigger = protect(weth, automation, borrower, pid, operator=False)
    fund_keeper(weth, stablecoin, keeper, automation, 50_000 * WAD)
    weth.move_price((WAD + trigger) // 2 * BPS // weth.pool.health(pid), admin)
    with ape.reverts("pool: not owner or operator"):
        automation.auto_deleverage(weth.pool, pid, deleverage_repay(weth, pid, 100), sender=keeper)


def test_auto_deleverage__leaves_dust_debt__reverts(
    weth, borrower, keeper, admin, automation, stablecoin, chain
):
    pid, _ = due_protection(weth, automation, stablecoin, borrower, keeper, admin)
    at_head_time(chain)
    # 10 wei under the minimum: the normalised debt removed rounds down, by up to 2 wei
    repay = weth.pool.debt_of(pid) - weth.params.min_debt + 10
    at_head_time(chain)
    with ape.reverts("pool: debt below minimum"):
        automation.auto_deleverage(weth.pool, pid, repay, sender=keeper)


def _under_water(m, automation, stablecoin, owner, keeper, admin) -> int:
    """A VOL position at max LTV with a protection, after the price halved: worth less
    than its debt, so any repay at the oracle price plus a fee takes more collateral per
    debt than the position has."""
    pid = open_at_max_ltv(m, owner)
    protect(m, automation, owner, pid)
    fund_keeper(m, stablecoin, keeper, automation, 50_000 * WAD)
    m.move_price(BPS // 2, admin)
    assert m.value(m.pool.collateral_of(pid)) < m.pool.debt_of(pid)
    return pid


def test_auto_deleverage__collateral_cannot_pay__reverts(
    vol, borrower, keeper, admin, automation, stablecoin, chain
):
    pid = _under_water(vol, automation, stablecoin, borrower, keeper, admin)
    at_head_time(chain)
    repay = vol.pool.debt_of(pid) - vol.params.min_debt - WAD
    at_head_time(chain)
    with ape.reverts("pool: insufficient collateral"):
        automation.auto_deleverage(vol.pool, pid, repay, sender=keeper)


def test_auto_deleverage__under_water__health_would_fall(
    vol, borrower, keeper, admin, automation, stablecoin
):
    pid = _under_water(vol, automation, stablecoin, borrower, keeper, admin)
    with ape.reverts("pool: health would fall"):
        automation.auto_deleverage(vol.pool, pid, vol.pool.debt_of(pid) // 2, sender=keeper)


def test_auto_deleverage__overshoot_or_undershoot__result_off_target(
    weth, borrower, keeper, admin, automation, stablecoin
):
    pid, _ = due_protection(weth, automation, stablecoin, borrower, keeper, admin)
    repay = deleverage_repay(weth, pid, 100)
    with ape.reverts("automation: result off target"):
        automation.auto_deleverage(weth.pool, pid, repay * 3 // 2, sender=keeper)
    with ape.reverts("automation: result off target"):
        automation.auto_deleverage(weth.pool, pid, repay // 100, sender=keeper)
