import ape


def test_set_paused__stranger__reverts(weth, attacker):
    with ape.reverts("pool: only factory"):
        weth.pool.set_paused(True, sender=attacker)


def test_set_paused__from_factory__toggles_and_keeps_params(weth, as_factory):
    params = weth.params
    tx = weth.pool.set_paused(True, sender=as_factory)
    assert weth.pool.paused()
    assert weth.params == params
    assert tx.decode_logs(weth.pool.Paused)[0].paused
    weth.pool.set_paused(False, sender=as_factory)
    assert not weth.pool.paused()


def test_set_paused__pause__starts_no_grace_window(weth, as_factory):
    controls = weth.pool.controls()
    tx = weth.pool.set_paused(True, sender=as_factory)
    assert weth.pool.controls() == controls
    assert tx.decode_logs(weth.pool.ControlsSet) == []


def test_set_paused__unpause__starts_the_grace_window(weth, as_factory, chain):
    weth.pool.set_paused(True, sender=as_factory)
    period = weth.pool.controls().grace_period
    assert period > 0

    tx = weth.pool.set_paused(False, sender=as_factory)

    end = chain.blocks[tx.block_number].timestamp + period
    assert weth.pool.controls().grace_end == end
    (event,) = tx.decode_logs(weth.pool.ControlsSet)
    assert (event.grace_period, event.grace_end) == (period, end)


def test_set_paused__unpause_of_an_unpaused_pool__starts_no_window(weth, as_factory):
    controls = weth.pool.controls()
    tx = weth.pool.set_paused(False, sender=as_factory)
    assert weth.pool.controls() == controls
    assert tx.decode_logs(weth.pool.ControlsSet) == []


def test_set_paused__zero_grace_period__liquidations_open_at_the_unpause(weth, as_factory, chain):
    weth.pool.set_controls(weth.pool.controls().position_debt_cap, 0, 0, sender=as_factory)
    weth.pool.set_paused(True, sender=as_factory)
    tx = weth.pool.set_paused(False, sender=as_factory)
    assert weth.pool.controls().grace_end == chain.blocks[tx.block_number].timestamp
