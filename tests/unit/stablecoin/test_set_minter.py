import ape


def test_set_minter__owner_factory__adds_and_removes(stablecoin, weth, keeper, as_factory):
    stablecoin.set_minter(keeper, True, sender=as_factory)
    assert stablecoin.is_minter(keeper)
    stablecoin.set_minter(weth.pool, False, sender=as_factory)
    assert not stablecoin.is_minter(weth.pool)


def test_set_minter__removed_pool__cannot_mint_or_burn(stablecoin, weth, borrower, as_factory):
    stablecoin.set_minter(weth.pool, False, sender=as_factory)
    weth.fund(borrower, weth.unit)
    with ape.reverts("erc20: access is denied"):
        weth.pool.open(weth.unit, 100 * 10**18, sender=borrower)


def test_set_minter__stranger__reverts(stablecoin, attacker):
    with ape.reverts("ownable: caller is not the owner"):
        stablecoin.set_minter(attacker, True, sender=attacker)


def test_set_minter__owner_itself__reverts(stablecoin, factory, as_factory):
    with ape.reverts("erc20: minter is owner address"):
        stablecoin.set_minter(factory, True, sender=as_factory)
