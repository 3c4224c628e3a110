import ape

from tests.conftest import WAD


def test_burn__holder__burns_own_balance(stablecoin, weth, borrower):
    weth.mint_bhusd(borrower, 500 * WAD)
    supply = stablecoin.totalSupply()
    stablecoin.burn(200 * WAD, sender=borrower)
    assert stablecoin.balanceOf(borrower) == 300 * WAD
    assert stablecoin.totalSupply() == supply - 200 * WAD


def test_burn__more_than_balance__reverts(stablecoin, attacker):
    with ape.reverts("erc20: burn amount exceeds balance"):
        stablecoin.burn(1, sender=attacker)


def test_burn_from__with_allowance__burns_and_spends_it(stablecoin, weth, borrower, keeper):
    weth.mint_bhusd(borrower, 500 * WAD)
    stablecoin.approve(keeper, 300 * WAD, sender=borrower)
    stablecoin.burn_from(borrower, 100 * WAD, sender=keeper)
    assert stablecoin.balanceOf(borrower) == 400 * WAD
    assert stablecoin.allowance(borrower, keeper) == 200 * WAD


def test_burn_from__without_allowance__reverts(stablecoin, weth, borrower, attacker):
    weth.mint_bhusd(borrower, 500 * WAD)
    with ape.reverts("erc20: insufficient allowance"):
        stablecoin.burn_from(borrower, WAD, sender=attacker)
