import ape

from bulkhead import risk
from tests.conftest import WAD


def test_close__with_debt__burns_debt_and_returns_collateral(market, borrower, stablecoin):
    position_id = market.open_at_ltv(borrower, 10_000 * WAD, 4_000)
    market.mint_bhusd(borrower, 100 * WAD)  # the fee accrued since the borrow
    collateral = market.pool.collateral_of(position_id)
    norm = market.pool.normalised_debt_of(position_id)
    balance = stablecoin.balanceOf(borrower)
    total = market.pool.total_collateral()

    tx = market.pool.close(position_id, sender=borrower)

    debt = risk.debt(norm, market.pool.rate(block_id=tx.block_number))
    assert stablecoin.balanceOf(borrower) == balance - debt
    assert market.token.balanceOf(borrower) == collateral
    assert market.pool.collateral_of(position_id) == 0
    assert market.pool.normalised_debt_of(position_id) == 0
    assert market.pool.total_collateral() == total - collateral
    assert market.pool.owner_of(position_id) == borrower
    (event,) = tx.decode_logs(market.pool.Close)
    assert (event.id, event.caller, event.debt_repaid, event.collateral_returned) == (
        position_id,
        borrower,
        debt,
        collateral,
    )


def test_close__without_debt__returns_collateral(weth, borrower):
    position_id = weth.open(borrower, 2 * weth.unit, 0)
    tx = weth.pool.close(position_id, sender=borrower)
    assert weth.token.balanceOf(borrower) == 2 * weth.unit
    (event,) = tx.decode_logs(weth.pool.Close)
    assert event.debt_repaid == 0


def test_close__while_paused__works(weth, factory, admin, borrower):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, 4_000)
    weth.mint_bhusd(borrower, 100 * WAD)
    factory.set_paused(weth.pool, True, sender=admin)
    weth.pool.close(position_id, sender=borrower)
    assert weth.pool.debt_of(position_id) == 0


def test_close__twice__reverts(weth, borrower):
    position_id = weth.open(borrower, weth.unit, 0)
    weth.pool.close(position_id, sender=borrower)
    with ape.reverts("pool: position is empty"):
        weth.pool.close(position_id, sender=borrower)


def test_close__by_stranger__reverts(weth, borrower, attacker):
    position_id = weth.open(borrower, weth.unit, 0)
    with ape.reverts("pool: not owner or operator"):
        weth.pool.close(position_id, sender=attacker)


def test_close__unknown_position__reverts(weth, borrower):
    with ape.reverts("pool: unknown position"):
        weth.pool.close(weth.pool.position_count() + 1, sender=borrower)


def test_close__without_enough_bhusd__reverts(weth, borrower, stablecoin, attacker):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, 4_000)
    stablecoin.transfer(attacker, WAD, sender=borrower)
    with ape.reverts("erc20: burn amount exceeds balance"):
        weth.pool.close(position_id, sender=borrower)
