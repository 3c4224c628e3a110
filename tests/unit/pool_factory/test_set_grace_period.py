"""`PoolFactory.set_grace_period`: governance sets how long a pool's liquidations wait
after an unpause, at most 4 hours (as Aave v3.1)."""

import ape

MAX_GRACE_PERIOD = 4 * 3_600  # [seconds] `risk.MAX_GRACE_PERIOD`


def test_set_grace_period__owner__sets_it_and_keeps_the_rest(weth, factory, admin):
    before = weth.pool.controls()
    tx = factory.set_grace_period(weth.pool, 600, sender=admin)
    after = weth.pool.controls()
    assert after.grace_period == 600
    assert (after.position_debt_cap, after.haircut, after.grace_end) == (
        before.position_debt_cap,
        before.haircut,
        before.grace_end,
    )
    (event,) = tx.decode_logs(weth.pool.ControlsSet)
    assert event.grace_period == 600


def test_set_grace_period__at_the_bound__accepted_one_second_more__reverts(weth, factory, admin):
    factory.set_grace_period(weth.pool, MAX_GRACE_PERIOD, sender=admin)
    assert weth.pool.controls().grace_period == MAX_GRACE_PERIOD
    with ape.reverts("risk: grace period out of bounds"):
        factory.set_grace_period(weth.pool, MAX_GRACE_PERIOD + 1, sender=admin)


def test_set_grace_period__during_a_window__keeps_its_end(weth, factory, admin, chain):
    factory.set_paused(weth.pool, True, sender=admin)
    tx = factory.set_paused(weth.pool, False, sender=admin)
    end = chain.blocks[tx.block_number].timestamp + weth.pool.controls().grace_period
    assert weth.pool.controls().grace_end == end

    factory.set_grace_period(weth.pool, 0, sender=admin)

    assert weth.pool.controls().grace_end == end  # the running window is not cut short


def test_set_grace_period__next_unpause__uses_the_new_period(weth, factory, admin, chain):
    factory.set_grace_period(weth.pool, 60, sender=admin)
    factory.set_paused(weth.pool, True, sender=admin)
    tx = factory.set_paused(weth.pool, False, sender=admin)
    assert weth.pool.controls().grace_end == chain.blocks[tx.block_number].timestamp + 60


def test_set_grace_period__stranger__reverts(weth, factory, attacker):
    with ape.reverts("ownable: caller is not the owner"):
        factory.set_grace_period(weth.pool, 60, sender=attacker)


def test_set_grace_period__unknown_pool__reverts(factory, admin, stablecoin):
    with ape.reverts("factory: unknown pool"):
        factory.set_grace_period(stablecoin, 60, sender=admin)
