import ape

from tests.conftest import WAD


def test_transfer__holder__moves_balance(stablecoin, weth, borrower, keeper):
    weth.mint_bhusd(borrower, 500 * WAD)
    stablecoin.transfer(keeper, 200 * WAD, sender=borrower)
    assert stablecoin.balanceOf(keeper) == 200 * WAD
    assert stablecoin.balanceOf(borrower) == 300 * WAD


def test_transfer__more_than_balance__reverts(stablecoin, attacker, keeper):
    with ape.reverts("erc20: transfer amount exceeds balance"):
        stablecoin.transfer(keeper, 1, sender=attacker)
