import ape

from tests.conftest import ZERO_ADDRESS


def test_accept_ownership__pending_owner__takes_over_without_minting(
    stablecoin, keeper, as_factory
):
    stablecoin.transfer_ownership(keeper, sender=as_factory)
    stablecoin.accept_ownership(sender=keeper)
    assert stablecoin.owner() == keeper
    assert stablecoin.pending_owner() == ZERO_ADDRESS
    assert not stablecoin.is_minter(keeper)
    with ape.reverts("ownable: caller is not the owner"):
        stablecoin.set_minter(keeper, True, sender=as_factory)


def test_accept_ownership__wrong_accepter__reverts(
    stablecoin, factory, keeper, attacker, as_factory
):
    stablecoin.transfer_ownership(keeper, sender=as_factory)
    with ape.reverts("bhusd: caller is not the pending owner"):
        stablecoin.accept_ownership(sender=attacker)
    assert stablecoin.owner() == factory.address
