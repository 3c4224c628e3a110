"""`PoolFactory.steward_rules`: what the steward may do to a pool's haircut, and when the
haircut last changed."""

from bulkhead.deploy import Config


def test_steward_rules__deployed__are_the_configs(factory, markets):
    config = {p.name: p for p in Config.load().pools}
    for name, m in markets.items():
        ceiling, step, cooldown = config[name].steward_rules
        assert tuple(factory.steward_rules(m.pool)) == (ceiling, step, cooldown, 0)


def test_steward_rules__unknown_pool__all_zero(factory, stablecoin):
    assert tuple(factory.steward_rules(stablecoin)) == (0, 0, 0, 0)
