"""`MarginPool.controls`: the pool-level risk controls."""

from bulkhead.deploy import Config
from tests.conftest import WAD


def test_controls__new_pool__cap_is_the_debt_ceiling_and_nothing_else(quirky):
    _token, pool = quirky  # created through the factory, no controls set
    assert tuple(pool.controls()) == (pool.risk_params().debt_ceiling, 0, 0, 0)


def test_controls__deployed__are_the_configs(markets):
    config = {p.name: p for p in Config.load().pools}
    for name, m in markets.items():
        c = m.pool.controls()
        assert (c.position_debt_cap, c.haircut, c.grace_period, c.grace_end) == (
            config[name].position_debt_cap,
            0,
            config[name].grace_period,
            0,
        )
    assert markets["WETH"].pool.controls().position_debt_cap == 5_000_000 * WAD
