from bulkhead import risk


def test_deployment__three_pools__registered_as_minters(deployment, stablecoin, factory, markets):
    assert factory.pool_count() == 3
    for m in markets.values():
        assert stablecoin.is_minter(m.pool)
        assert factory.is_pool(m.pool)
    assert stablecoin.owner() == factory.address
    assert not stablecoin.is_minter(factory)


def test_open__borrow_within_ltv__mints(weth, borrower, stablecoin):
    pid = weth.open(borrower, 10 * weth.unit, 10_000 * 10**18)
    assert weth.pool.owner_of(pid) == borrower
    # the fee accrues from the first second, and debt rounds up: never below what was minted
    assert weth.pool.debt_of(pid) == risk.debt(weth.pool.normalised_debt_of(pid), weth.pool.rate())
    assert weth.pool.debt_of(pid) >= 10_000 * 10**18
    assert stablecoin.balanceOf(borrower) == 10_000 * 10**18
