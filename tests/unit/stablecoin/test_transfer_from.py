import ape

from tests.conftest import WAD


def test_transfer_from__with_allowance__moves_and_spends_it(stablecoin, weth, borrower, keeper):
    weth.mint_bhusd(borrower, 500 * WAD)
    stablecoin.approve(keeper, 300 * WAD, sender=borrower)
    stablecoin.transferFrom(borrower, keeper, 200 * WAD, sender=keeper)
    assert stablecoin.balanceOf(keeper) == 200 * WAD
    assert stablecoin.allowance(borrower, keeper) == 100 * WAD


def test_transfer_from__without_allowance__reverts(stablecoin, weth, borrower, attacker):
    weth.mint_bhusd(borrower, 500 * WAD)
    with ape.reverts("erc20: insufficient allowance"):
        stablecoin.transferFrom(borrower, attacker, 1, sender=attacker)
