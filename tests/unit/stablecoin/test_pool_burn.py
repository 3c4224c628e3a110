import ape

from tests.conftest import WAD


def test_pool_burn__by_a_pool__burns_without_allowance(
    stablecoin, weth, wbtc, borrower, impersonate
):
    weth.mint_bhusd(borrower, 500 * WAD)
    supply = stablecoin.totalSupply()
    # any registered pool may burn: pools pass only their own caller
    stablecoin.pool_burn(borrower, 200 * WAD, sender=impersonate(wbtc.pool.address))
    assert stablecoin.balanceOf(borrower) == 300 * WAD
    assert stablecoin.totalSupply() == supply - 200 * WAD


def test_pool_burn__by_a_holder__reverts(stablecoin, weth, borrower, attacker):
    weth.mint_bhusd(borrower, 500 * WAD)
    with ape.reverts("bhusd: caller is not a minter"):
        stablecoin.pool_burn(borrower, WAD, sender=attacker)


def test_pool_burn__by_the_owner_factory__reverts(stablecoin, weth, borrower, as_factory):
    weth.mint_bhusd(borrower, 500 * WAD)
    with ape.reverts("bhusd: caller is not a minter"):
        stablecoin.pool_burn(borrower, WAD, sender=as_factory)


def test_pool_burn__more_than_balance__reverts(stablecoin, borrower, impersonate, weth):
    with ape.reverts("erc20: burn amount exceeds balance"):
        stablecoin.pool_burn(borrower, 1, sender=impersonate(weth.pool.address))
