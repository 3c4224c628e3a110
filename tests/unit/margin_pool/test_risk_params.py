from bulkhead.deploy import Config


def test_risk_params__deployed__equal_the_config(markets):
    for pool_config in Config.load().pools:
        assert markets[pool_config.name].params == pool_config.params
