from bulkhead import risk
from tests.conftest import WAD


def test_normalised_debt_of__after_borrow__is_amount_over_rate_rounded_up(weth, borrower):
    position_id = weth.open(borrower, weth.unit, 0)
    tx = weth.pool.borrow(position_id, 1_000 * WAD, sender=borrower)
    rate = weth.pool.rate(block_id=tx.block_number)
    assert weth.pool.normalised_debt_of(position_id) == risk.ceil_div(1_000 * WAD * WAD, rate)


def test_normalised_debt_of__over_time__does_not_change(weth, borrower, chain):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, 5_000)
    norm = weth.pool.normalised_debt_of(position_id)
    chain.mine(timestamp=chain.blocks.head.timestamp + 30 * 86400)
    assert weth.pool.normalised_debt_of(position_id) == norm
