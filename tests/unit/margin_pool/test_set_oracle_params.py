import ape


def test_set_oracle_params__stranger__reverts(weth, attacker):
    with ape.reverts("pool: only factory"):
        weth.pool.set_oracle_params(7200, 2000, sender=attacker)


def test_set_oracle_params__from_factory__replaces_and_keeps_feed(weth, as_factory):
    tx = weth.pool.set_oracle_params(7200, 2000, sender=as_factory)
    assert weth.pool.oracle_params() == (weth.feed.address, 7200, 2000)
    (event,) = tx.decode_logs(weth.pool.OracleParamsSet)
    assert (event.heartbeat, event.max_jump_bps) == (7200, 2000)
    assert weth.price() > 0  # the feed and its decimals scale are kept
