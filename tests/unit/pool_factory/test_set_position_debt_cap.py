"""`PoolFactory.set_position_debt_cap`: governance sets the most debt one position of a
pool may borrow up to, at most the pool's debt ceiling."""

import ape

from tests.conftest import WAD


def test_set_position_debt_cap__owner__sets_it_and_keeps_the_rest(weth, factory, admin):
    before = weth.pool.controls()
    tx = factory.set_position_debt_cap(weth.pool, 123_456 * WAD, sender=admin)
    after = weth.pool.controls()
    assert after.position_debt_cap == 123_456 * WAD
    assert (after.haircut, after.grace_period, after.grace_end) == (
        before.haircut,
        before.grace_period,
        before.grace_end,
    )
    (event,) = tx.decode_logs(weth.pool.ControlsSet)
    assert event.position_debt_cap == 123_456 * WAD
    assert event.grace_period == before.grace_period


def test_set_position_debt_cap__at_the_debt_ceiling__accepted_one_wei_more__reverts(
    weth, factory, admin
):
    ceiling = weth.params.debt_ceiling
    factory.set_position_debt_cap(weth.pool, ceiling, sender=admin)
    assert weth.pool.controls().position_debt_cap == ceiling
    with ape.reverts("risk: position cap above debt ceiling"):
        factory.set_position_debt_cap(weth.pool, ceiling + 1, sender=admin)


def test_set_position_debt_cap__zero__stops_every_borrow(weth, factory, admin, borrower):
    position_id = weth.open(borrower, weth.unit, 0)
    factory.set_position_debt_cap(weth.pool, 0, sender=admin)
    with ape.reverts("pool: position debt cap"):
        weth.pool.borrow(position_id, weth.params.min_debt, sender=borrower)


def test_set_position_debt_cap__stranger__reverts(weth, factory, attacker):
    with ape.reverts("ownable: caller is not the owner"):
        factory.set_position_debt_cap(weth.pool, WAD, sender=attacker)


def test_set_position_debt_cap__steward__reverts(weth, factory, admin, steward):
    factory.set_steward(steward, sender=admin)
    with ape.reverts("ownable: caller is not the owner"):
        factory.set_position_debt_cap(weth.pool, WAD, sender=steward)


def test_set_position_debt_cap__unknown_pool__reverts(factory, admin, stablecoin):
    with ape.reverts("factory: unknown pool"):
        factory.set_position_debt_cap(stablecoin, WAD, sender=admin)
