"""`PoolFactory.set_steward`: governance names the risk steward; the empty address removes
the role."""

import ape

from tests.conftest import ZERO_ADDRESS


def test_set_steward__owner__names_it_and_logs(factory, admin, steward):
    tx = factory.set_steward(steward, sender=admin)
    assert factory.steward() == steward.address
    (event,) = tx.decode_logs(factory.StewardSet)
    assert event.steward == steward.address


def test_set_steward__zero_address__removes_the_role(weth, factory, admin, steward):
    factory.set_steward(steward, sender=admin)
    tx = factory.set_steward(ZERO_ADDRESS, sender=admin)
    assert factory.steward() == ZERO_ADDRESS
    assert tx.decode_logs(factory.StewardSet)[0].steward == ZERO_ADDRESS
    with ape.reverts("factory: not owner or steward"):
        factory.set_haircut(weth.pool, 100, sender=steward)


def test_set_steward__stranger__reverts(factory, attacker):
    with ape.reverts("ownable: caller is not the owner"):
        factory.set_steward(attacker, sender=attacker)


def test_set_steward__by_the_steward__reverts(factory, admin, steward, attacker):
    factory.set_steward(steward, sender=admin)
    with ape.reverts("ownable: caller is not the owner"):
        factory.set_steward(attacker, sender=steward)
