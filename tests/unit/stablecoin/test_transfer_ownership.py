import ape

from tests.conftest import ZERO_ADDRESS


def test_transfer_ownership__owner__proposes_only(stablecoin, factory, keeper, as_factory):
    tx = stablecoin.transfer_ownership(keeper, sender=as_factory)
    assert stablecoin.pending_owner() == keeper
    assert stablecoin.owner() == factory.address
    (event,) = tx.decode_logs(stablecoin.OwnershipTransferStarted)
    assert (event.previous_owner, event.new_owner) == (factory.address, keeper)


def test_transfer_ownership__zero_address__cancels(stablecoin, keeper, as_factory):
    stablecoin.transfer_ownership(keeper, sender=as_factory)
    stablecoin.transfer_ownership(ZERO_ADDRESS, sender=as_factory)
    assert stablecoin.pending_owner() == ZERO_ADDRESS
    with ape.reverts("ownable_2step: caller is not the new owner"):
        stablecoin.accept_ownership(sender=keeper)


def test_transfer_ownership__stranger__reverts(stablecoin, attacker):
    with ape.reverts("ownable: caller is not the owner"):
        stablecoin.transfer_ownership(attacker, sender=attacker)
