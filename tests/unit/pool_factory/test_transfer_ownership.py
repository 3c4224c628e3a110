import ape


def test_transfer_ownership__owner__proposes_without_handing_over(factory, admin, keeper):
    tx = factory.transfer_ownership(keeper, sender=admin)
    assert factory.pending_owner() == keeper
    assert factory.owner() == admin
    (event,) = tx.decode_logs(factory.OwnershipTransferStarted)
    assert (event.previous_owner, event.new_owner) == (admin, keeper)


def test_transfer_ownership__stranger__reverts(factory, attacker):
    with ape.reverts("ownable: caller is not the owner"):
        factory.transfer_ownership(attacker, sender=attacker)
