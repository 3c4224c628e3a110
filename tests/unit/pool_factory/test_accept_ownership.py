import ape


def test_accept_ownership__pending_owner__takes_over(factory, admin, keeper, weth):
    factory.transfer_ownership(keeper, sender=admin)
    factory.accept_ownership(sender=keeper)
    assert factory.owner() == keeper
    assert factory.pending_owner() == "0x" + "00" * 20
    factory.set_paused(weth.pool, True, sender=keeper)
    with ape.reverts("ownable: caller is not the owner"):
        factory.set_paused(weth.pool, False, sender=admin)


def test_accept_ownership__wrong_accepter__reverts(factory, admin, keeper, attacker):
    factory.transfer_ownership(keeper, sender=admin)
    with ape.reverts("ownable_2step: caller is not the new owner"):
        factory.accept_ownership(sender=attacker)
    assert factory.owner() == admin
