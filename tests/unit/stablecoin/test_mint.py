import ape

from tests.conftest import WAD


def test_mint__by_a_pool__mints(stablecoin, weth, keeper, impersonate):
    stablecoin.mint(keeper, 5 * WAD, sender=impersonate(weth.pool.address))
    assert stablecoin.balanceOf(keeper) == 5 * WAD


def test_mint__by_a_stranger__reverts(stablecoin, attacker):
    with ape.reverts("erc20: access is denied"):
        stablecoin.mint(attacker, WAD, sender=attacker)


def test_mint__by_the_owner_factory__reverts(stablecoin, attacker, as_factory):
    with ape.reverts("erc20: access is denied"):
        stablecoin.mint(attacker, WAD, sender=as_factory)
