import ape


def test_accept_stablecoin_ownership__after_handover__factory_owns_bhusd(
    factory, stablecoin, admin, as_factory
):
    # move bhUSD's ownership out to the admin and back, the second time via the factory
    stablecoin.transfer_ownership(admin, sender=as_factory)
    stablecoin.accept_ownership(sender=admin)
    assert stablecoin.owner() == admin
    stablecoin.transfer_ownership(factory, sender=admin)

    factory.accept_stablecoin_ownership(sender=admin)

    assert stablecoin.owner() == factory.address
    assert stablecoin.pending_owner() == "0x" + "00" * 20


def test_accept_stablecoin_ownership__not_pending__reverts(factory, admin):
    with ape.reverts("ownable_2step: caller is not the new owner"):
        factory.accept_stablecoin_ownership(sender=admin)


def test_accept_stablecoin_ownership__stranger__reverts(factory, attacker):
    with ape.reverts("ownable: caller is not the owner"):
        factory.accept_stablecoin_ownership(sender=attacker)
