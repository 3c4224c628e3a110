from tests.conftest import WAD


def test_total_debt__several_positions__covers_their_sum(market, borrower, keeper):
    ids = [
        market.open_at_ltv(borrower, 10_000 * WAD, 3_000),
        market.open_at_ltv(keeper, 20_000 * WAD, 4_000),
    ]
    total = market.pool.total_debt()
    debts = sum(market.pool.debt_of(i) for i in range(1, market.pool.position_count() + 1))
    # each position rounds up on its own, the total once
    assert debts - len(ids) <= total <= debts
    assert total >= 10_999 * WAD
