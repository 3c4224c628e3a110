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
