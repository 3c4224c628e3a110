import ape


def test_initialize__stranger__reverts(weth, attacker):
    with ape.reverts("pool: only factory"):
        weth.pool.initialize(weth.pool.risk_params(), 3600, 5000, sender=attacker)


def test_initialize__factory_again__reverts(weth, as_factory):
    with ape.reverts("pool: already initialized"):
        weth.pool.initialize(weth.pool.risk_params(), 3600, 5000, sender=as_factory)


def test_initialize__at_creation__sets_parameters(weth, deployment):
    info = deployment.pool("WETH")
    params = weth.params
    assert params.as_tuple() == tuple(info.params[k] for k in params.__dataclass_fields__)
    feed, heartbeat, max_jump = weth.pool.oracle_params()
    assert (feed, heartbeat, max_jump) == (weth.feed.address, 3600, 5000)
    assert weth.pool.rate() >= 10**18
    assert not weth.pool.paused()
