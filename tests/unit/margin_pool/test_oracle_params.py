def test_oracle_params__deployed__are_feed_heartbeat_and_jump(markets, deployment):
    for market in markets.values():
        info = deployment.pool(market.info.name)
        assert market.pool.oracle_params() == (
            market.feed.address,
            info.oracle["heartbeat"],
            info.oracle["max_jump_bps"],
        )
