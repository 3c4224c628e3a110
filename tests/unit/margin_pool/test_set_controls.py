"""`MarginPool.set_controls`: the factory (which checks the bounds) replaces the pool's
position debt cap, haircut and grace period; a grace window already running keeps its end."""

import ape

from tests.conftest import WAD


def test_set_controls__from_factory__stores_and_logs(weth, as_factory):
    tx = weth.pool.set_controls(7 * WAD, 25, 90, sender=as_factory)
    assert tuple(weth.pool.controls()) == (7 * WAD, 25, 90, 0)
    (event,) = tx.decode_logs(weth.pool.ControlsSet)
    assert (event.position_debt_cap, event.haircut, event.grace_period, event.grace_end) == (
        7 * WAD,
        25,
        90,
        0,
    )


def test_set_controls__during_a_grace_window__keeps_its_end(weth, as_factory, chain):
    weth.pool.set_paused(True, sender=as_factory)
    tx = weth.pool.set_paused(False, sender=as_factory)
    end = chain.blocks[tx.block_number].timestamp + weth.pool.controls().grace_period
    assert end > chain.blocks.head.timestamp

    weth.pool.set_controls(WAD, 0, 0, sender=as_factory)

    assert weth.pool.controls().grace_end == end
    assert weth.pool.controls().grace_period == 0


def test_set_controls__stranger__reverts(weth, attacker):
    with ape.reverts("pool: only factory"):
        weth.pool.set_controls(0, 0, 0, sender=attacker)


def test_set_controls__factory_owner__reverts(weth, admin):
    # governance goes through the factory, which checks the bounds
    with ape.reverts("pool: only factory"):
        weth.pool.set_controls(0, 5_000, 0, sender=admin)
