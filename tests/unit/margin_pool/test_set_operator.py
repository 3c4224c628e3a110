import ape

from tests.conftest import WAD, ZERO_ADDRESS


def test_set_operator__approve__records_and_logs(weth, borrower, operator):
    tx = weth.pool.set_operator(operator, True, sender=borrower)
    assert weth.pool.operators(borrower, operator)
    assert not weth.pool.operators(operator, borrower)
    (event,) = tx.decode_logs(weth.pool.OperatorSet)
    assert (event.owner, event.operator, bool(event.approved)) == (borrower, operator, True)


def test_set_operator__approved_operator__can_withdraw_borrow_and_close(
    market, borrower, operator, stablecoin
):
    position_id = market.open_at_ltv(borrower, 10_000 * WAD, 2_000)
    market.pool.set_operator(operator, True, sender=borrower)

    market.pool.withdraw(position_id, 1_000, sender=operator)
    assert market.token.balanceOf(operator) == 1_000
    market.pool.borrow(position_id, 500 * WAD, sender=operator)
    assert stablecoin.balanceOf(operator) == 500 * WAD
    market.mint_bhusd(operator, 3_000 * WAD)
    collateral = market.pool.collateral_of(position_id)
    market.pool.close(position_id, sender=operator)

    assert market.pool.debt_of(position_id) == 0
    assert market.token.balanceOf(operator) == 1_000 + collateral
    assert market.pool.owner_of(position_id) == borrower


def test_set_operator__stranger__cannot_withdraw_borrow_or_close(
    weth, borrower, operator, attacker
):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, 2_000)
    weth.pool.set_operator(operator, True, sender=borrower)
    with ape.reverts("pool: not owner or operator"):
        weth.pool.withdraw(position_id, 1, sender=attacker)
    with ape.reverts("pool: not owner or operator"):
        weth.pool.borrow(position_id, 100 * WAD, sender=attacker)
    with ape.reverts("pool: not owner or operator"):
        weth.pool.close(position_id, sender=attacker)


def test_set_operator__anyone__can_deposit_and_repay(weth, borrower, attacker):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, 2_000)
    weth.fund(attacker, weth.unit)
    weth.pool.deposit(position_id, weth.unit, sender=attacker)
    weth.mint_bhusd(attacker, 100 * WAD)
    assert weth.pool.repay(position_id, 100 * WAD, sender=attacker).return_value == 100 * WAD


def test_set_operator__revoked__loses_access(weth, borrower, operator):
    position_id = weth.open(borrower, weth.unit, 0)
    weth.pool.set_operator(operator, True, sender=borrower)
    tx = weth.pool.set_operator(operator, False, sender=borrower)
    assert not weth.pool.operators(borrower, operator)
    assert not tx.decode_logs(weth.pool.OperatorSet)[0].approved
    with ape.reverts("pool: not owner or operator"):
        weth.pool.withdraw(position_id, 1, sender=operator)


def test_set_operator__zero_address__reverts(weth, borrower):
    with ape.reverts("pool: zero operator"):
        weth.pool.set_operator(ZERO_ADDRESS, True, sender=borrower)


def test_set_operator__caller_itself__reverts(weth, borrower):
    with ape.reverts("pool: operator is caller"):
        weth.pool.set_operator(borrower, True, sender=borrower)
