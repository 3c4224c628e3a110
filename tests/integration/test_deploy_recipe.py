"""One deployment recipe for both runtimes: what the titanoboa fuzzer and audit suites test is
what `bulkhead deploy` puts on a node.

Both sides run `bulkhead.deploy.deploy_on`: the session's `deployment` fixture through web3
on ape's Anvil, `tests.fuzz.system.deploy_system` through titanoboa. The test reads the
same views from each (wiring, every pool's parameters, controls, steward rules, reserve
target and oracle settings) and asks that they agree with each other and with the config.
"""

from __future__ import annotations

import boa
import pytest

from bulkhead.chain import Sender
from bulkhead.deploy import Config, ConfigError, Deployment, deploy_on
from bulkhead.eth.backend import Web3Backend


def _same(a, b) -> bool:
    return str(a).lower() == str(b).lower()


def _system(backend, d: Deployment) -> dict:
    """What a user of deployment `d` finds on chain, with addresses replaced by what they
    must be (so two runtimes, with different addresses, compare equal)."""

    def factory(fn, *args):
        return backend.call("PoolFactory", d.factory, fn, *args)

    pools = {}
    for p in d.pools:

        def pool(fn, address=p.address):
            return backend.call("MarginPool", address, fn)

        feed, heartbeat, max_jump = pool("oracle_params")
        pools[p.name] = {
            "created by the factory": _same(factory("pool_of", p.collateral), p.address)
            and factory("is_pool", p.address),
            "knows its factory": _same(pool("FACTORY"), d.factory),
            "mints bhUSD": _same(pool("STABLECOIN"), d.stablecoin),
            "collateral": _same(pool("COLLATERAL"), p.collateral),
            "collateral decimals": backend.call("MockToken", p.collateral, "decimals"),
            "feed": _same(feed, p.feed),
            "feed answer": backend.call("MockAggregator", p.feed, "latestRoundData")[1],
            "oracle": (heartbeat, max_jump),
            "risk params": tuple(pool("risk_params")),
            "controls": tuple(pool("controls")),
            "reserve target": factory("reserve_target", p.address),
            "steward rules": tuple(factory("steward_rules", p.address)),
        }
    vault = d.vault
    return {
        "bhUSD owned by the factory": _same(
            backend.call("Stablecoin", d.stablecoin, "owner"), d.factory
        ),
        "factory's bhUSD": _same(factory("STABLECOIN"), d.stablecoin),
        "factory's blueprint": _same(factory("POOL_BLUEPRINT"), d.pool_blueprint),
        "vault named": _same(factory("vault"), vault),
        "automation named": _same(factory("automation"), d.automation),
        "vault's asset": _same(backend.call("SavingsVault", vault, "asset"), d.stablecoin),
        "vault's factory": _same(backend.call("SavingsVault", vault, "FACTORY"), d.factory),
        "vault's stream period": backend.call("SavingsVault", vault, "stream_period"),
        "pool count": factory("pool_count"),
        "pools": pools,
    }


@pytest.fixture(scope="module")
def boa_side():
    from tests.fuzz.system import deploy_system

    config = Config.load()
    with boa.env.anchor():
        system = deploy_system(tuple(p.name for p in config.pools))
        yield system.backend, system.deployment


def test_recipe__titanoboa_and_node__deploy_the_same_system(deployment, admin, chain, boa_side):
    w3 = chain.provider.web3
    on_node = _system(Web3Backend(w3, Sender(w3, admin.address)), deployment)
    in_boa = _system(*boa_side)
    assert in_boa == on_node
    assert [p.name for p in boa_side[1].pools] == [p.name for p in deployment.pools]


def test_recipe__both_runtimes__match_the_config(deployment, admin, chain, boa_side):
    """From the config, not from either runtime: every pool as configured."""
    config = Config.load()
    w3 = chain.provider.web3
    for backend, d in ((Web3Backend(w3, Sender(w3, admin.address)), deployment), boa_side):
        found = _system(backend, d)
        assert all(v is True for k, v in found.items() if isinstance(v, bool)), found
        assert found["vault's stream period"] == config.vault.stream_period
        assert found["pool count"] == len(config.pools) >= 3
        for cfg in config.pools:
            pool = found["pools"][cfg.name]
            assert all(v is True for v in pool.values() if isinstance(v, bool)), pool
            assert pool["risk params"] == cfg.params.as_tuple()
            assert pool["oracle"] == (cfg.heartbeat, cfg.max_jump_bps)
            assert pool["collateral decimals"] == cfg.decimals
            assert pool["feed answer"] == int(cfg.price * 10**cfg.feed_decimals)
            assert pool["reserve target"] == config.reserve_target(cfg)
            cap, haircut, grace_period, grace_end = pool["controls"]
            if cfg.position_debt_cap is not None:
                assert cap == cfg.position_debt_cap
            assert (haircut, grace_period, grace_end) == (0, cfg.grace_period, 0)
            ceiling, step, cooldown, last_change = pool["steward rules"]
            assert (ceiling, step, cooldown) == (cfg.steward_rules or (0, 0, 0))
            assert last_change == 0


def test_recipe__mock_collateral_off_a_dev_chain__refused_before_any_step():
    """The recipe's checks run before it sends anything, on any backend."""

    class Remote:
        address = "0x" + "11" * 20
        sent: list = []

        def chain_id(self):
            return 1

        def is_local(self):
            return False

        def __getattr__(self, name):  # any step at all is a failure of the test
            self.sent.append(name)
            raise AssertionError(f"the recipe sent {name} before refusing")

    with pytest.raises(ConfigError, match="mock tokens and feeds are refused on chain id 1"):
        deploy_on(Remote(), Config.load())
    with pytest.raises(ConfigError, match="steward must not be the deployer"):
        deploy_on(Remote(), Config.load(), steward=Remote.address)
    assert Remote.sent == []
