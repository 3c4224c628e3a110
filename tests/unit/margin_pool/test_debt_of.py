from bulkhead import risk
from tests.conftest import WAD


def test_debt_of__over_time__is_normalised_debt_times_rate_rounded_up(market, borrower, chain):
    position_id = market.open_at_ltv(borrower, 10_000 * WAD, 5_000)
    norm = market.pool.normalised_debt_of(position_id)
    chain.mine(timestamp=chain.blocks.head.timestamp + 7 * 86400)
    rate = market.pool.rate()
    assert rate > WAD
    assert market.pool.debt_of(position_id) == risk.debt(norm, rate) == -(-norm * rate // WAD)


def test_debt_of__unknown_position__is_zero(weth):
    assert weth.pool.debt_of(weth.pool.position_count() + 1) == 0
