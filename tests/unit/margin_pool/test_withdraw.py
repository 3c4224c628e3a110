import ape

from bulkhead import risk
from tests.conftest import BPS, WAD, at_head_time


def test_withdraw__within_max_ltv__sends_collateral(market, borrower):
    position_id = market.open_at_ltv(borrower, 10_000 * WAD, 2_000)
    collateral = market.pool.collateral_of(position_id)
    amount = collateral // 4

    tx = market.pool.withdraw(position_id, amount, sender=borrower)

    assert market.pool.collateral_of(position_id) == collateral - amount
    assert market.token.balanceOf(borrower) == amount
    (event,) = tx.decode_logs(market.pool.Withdraw)
    assert (event.id, event.receiver, event.amount) == (position_id, borrower, amount)
    (updated,) = tx.decode_logs(market.pool.PositionUpdated)
    assert updated.collateral == collateral - amount


def test_withdraw__without_debt__takes_everything(weth, borrower):
    position_id = weth.open(borrower, 2 * weth.unit, 0)
    weth.pool.withdraw(position_id, 2 * weth.unit, sender=borrower)
    assert weth.pool.collateral_of(position_id) == 0
    assert weth.token.balanceOf(borrower) == 2 * weth.unit


def test_withdraw__to_exactly_max_ltv__works_and_one_more_unit_reverts(weth, borrower, chain):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, 4_000)
    at_head_time(chain)  # the withdrawals see the debt the views see
    debt = weth.pool.debt_of(position_id)
    price = weth.price()
    p = weth.params
    # the least collateral that keeps debt x BPS <= value x max_ltv
    needed = risk.ceil_div(risk.ceil_div(debt * BPS, p.max_ltv) * WAD, price * weth.scale)
    free = weth.pool.collateral_of(position_id) - needed
    with ape.reverts("pool: exceeds max ltv"):
        weth.pool.withdraw(position_id, free + 1, sender=borrower)
    at_head_time(chain)  # the reverted transaction was mined at the same time
    weth.pool.withdraw(position_id, free, sender=borrower)
    assert weth.pool.collateral_of(position_id) == needed


def test_withdraw__while_paused__works(weth, factory, admin, borrower):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, 2_000)
    factory.set_paused(weth.pool, True, sender=admin)
    weth.pool.withdraw(position_id, 1, sender=borrower)
    assert weth.token.balanceOf(borrower) == 1


def test_withdraw__beyond_max_ltv__reverts(weth, borrower):
    # at 7/8 of the max LTV, withdrawing a fifth of the collateral lifts the LTV to 35/32 of it
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, weth.params.max_ltv * 7 // 8)
    with ape.reverts("pool: exceeds max ltv"):
        weth.pool.withdraw(position_id, weth.pool.collateral_of(position_id) // 5, sender=borrower)


def test_withdraw__more_than_collateral__reverts(weth, borrower):
    position_id = weth.open(borrower, weth.unit, 0)
    with ape.reverts("pool: insufficient collateral"):
        weth.pool.withdraw(position_id, weth.unit + 1, sender=borrower)


def test_withdraw__zero_amount__reverts(weth, borrower):
    position_id = weth.open(borrower, weth.unit, 0)
    with ape.reverts("pool: zero amount"):
        weth.pool.withdraw(position_id, 0, sender=borrower)


def test_withdraw__unknown_position__reverts(weth, borrower):
    with ape.reverts("pool: unknown position"):
        weth.pool.withdraw(weth.pool.position_count() + 1, 1, sender=borrower)


def test_withdraw__by_stranger__reverts(weth, borrower, attacker):
    position_id = weth.open(borrower, weth.unit, 0)
    with ape.reverts("pool: not owner or operator"):
        weth.pool.withdraw(position_id, 1, sender=attacker)


def test_withdraw__token_returns_false__reverts(quirky, borrower):
    token, pool = quirky
    token.mint(borrower, 10**18, sender=borrower)
    token.approve(pool, 2**256 - 1, sender=borrower)
    position_id = pool.open(10**18, 0, sender=borrower).return_value
    token.set_failing(True, sender=borrower)
    with ape.reverts("pool: collateral transfer failed"):
        pool.withdraw(position_id, 10**18, sender=borrower)


def test_withdraw__haircut__limits_withdrawals_to_the_lowered_limit(
    weth, factory, admin, borrower, chain
):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, 4_000)  # 2/3 of max LTV (60 %)
    factory.set_haircut(weth.pool, 2_000, sender=admin)  # borrow limit 48 %
    at_head_time(chain)
    debt = weth.pool.debt_of(position_id)
    price = weth.price()
    # the least collateral that keeps debt x BPS <= value x max LTV x (1 - haircut)
    ltv = weth.params.max_ltv * 8_000 // BPS
    needed = risk.ceil_div(risk.ceil_div(debt * BPS, ltv) * WAD, price * weth.scale)
    free = weth.pool.collateral_of(position_id) - needed
    with ape.reverts("pool: exceeds max ltv"):
        weth.pool.withdraw(position_id, free + 1, sender=borrower)
    at_head_time(chain)  # the reverted transaction was mined at the same time
    weth.pool.withdraw(position_id, free, sender=borrower)
    assert weth.pool.collateral_of(position_id) == needed


def test_withdraw__haircut_without_debt__takes_everything(weth, factory, admin, borrower):
    position_id = weth.open(borrower, weth.unit, 0)
    factory.set_haircut(weth.pool, 5_000, sender=admin)
    weth.pool.withdraw(position_id, weth.unit, sender=borrower)
    assert weth.pool.collateral_of(position_id) == 0
