import ape

from bulkhead import risk
from tests.conftest import WAD


def test_repay__part_of_debt__burns_amount_and_lowers_debt(market, borrower, stablecoin):
    position_id = market.open_at_ltv(borrower, 10_000 * WAD, 4_000)
    norm = market.pool.normalised_debt_of(position_id)
    supply = stablecoin.totalSupply()
    amount = 1_000 * WAD

    tx = market.pool.repay(position_id, amount, sender=borrower)

    assert tx.return_value == amount
    rate = market.pool.rate(block_id=tx.block_number)
    # the normalised debt removed rounds down: a partial repay never clears more than paid
    assert market.pool.normalised_debt_of(position_id) == norm - amount * WAD // rate
    assert stablecoin.totalSupply() == supply - amount
    (event,) = tx.decode_logs(market.pool.Repay)
    assert (event.id, event.payer, event.amount) == (position_id, borrower, amount)
    (updated,) = tx.decode_logs(market.pool.PositionUpdated)
    assert updated.normalised_debt == norm - amount * WAD // rate


def test_repay__more_than_debt__burns_exactly_the_debt(weth, borrower, stablecoin, chain):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, 4_000)
    weth.mint_bhusd(borrower, 1_000 * WAD)
    balance = stablecoin.balanceOf(borrower)
    norm = weth.pool.normalised_debt_of(position_id)

    tx = weth.pool.repay(position_id, 2**256 - 1, sender=borrower)

    debt = risk.debt(norm, weth.pool.rate(block_id=tx.block_number))
    assert tx.return_value == debt
    assert stablecoin.balanceOf(borrower) == balance - debt
    assert weth.pool.debt_of(position_id) == 0
    assert weth.pool.normalised_debt_of(position_id) == 0
    assert weth.pool.health(position_id) == 2**256 - 1


def test_repay__by_stranger__lowers_owner_debt(weth, borrower, attacker, stablecoin):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, 4_000)
    weth.mint_bhusd(attacker, 500 * WAD)
    debt = weth.pool.debt_of(position_id)
    weth.pool.repay(position_id, 500 * WAD, sender=attacker)
    assert weth.pool.debt_of(position_id) < debt - 499 * WAD
    assert stablecoin.balanceOf(attacker) == 0
    assert stablecoin.balanceOf(borrower) > 0


def test_repay__while_paused__works(weth, factory, admin, borrower):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, 4_000)
    factory.set_paused(weth.pool, True, sender=admin)
    assert weth.pool.repay(position_id, 100 * WAD, sender=borrower).return_value == 100 * WAD


def test_repay__zero_amount__reverts(weth, borrower):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, 4_000)
    with ape.reverts("pool: zero amount"):
        weth.pool.repay(position_id, 0, sender=borrower)


def test_repay__unknown_position__reverts(weth, borrower):
    with ape.reverts("pool: unknown position"):
        weth.pool.repay(weth.pool.position_count() + 1, WAD, sender=borrower)


def test_repay__position_without_debt__reverts(weth, borrower):
    position_id = weth.open(borrower, weth.unit, 0)
    with ape.reverts("pool: no debt"):
        weth.pool.repay(position_id, WAD, sender=borrower)


def test_repay__one_wei_after_fee_accrued__reverts(weth, borrower, chain):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, 4_000)
    chain.pending_timestamp += 86400
    # 1 wei is less than one unit of normalised debt once the rate is above 1.0
    with ape.reverts("pool: repay too small"):
        weth.pool.repay(position_id, 1, sender=borrower)


def test_repay__leaving_less_than_min_debt__reverts(weth, borrower):
    position_id = weth.open(borrower, weth.unit, 150 * WAD)
    with ape.reverts("pool: debt below minimum"):
        weth.pool.repay(position_id, 100 * WAD, sender=borrower)


def test_repay__more_than_balance__reverts(weth, borrower, attacker):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, 4_000)
    with ape.reverts("erc20: burn amount exceeds balance"):
        weth.pool.repay(position_id, 100 * WAD, sender=attacker)
