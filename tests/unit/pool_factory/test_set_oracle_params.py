import ape
import pytest


def test_set_oracle_params__owner__replaces_them(weth, factory, admin):
    tx = factory.set_oracle_params(weth.pool, 86400, 1000, sender=admin)
    assert weth.pool.oracle_params() == (weth.feed.address, 86400, 1000)
    (event,) = tx.decode_logs(weth.pool.OracleParamsSet)
    assert (event.heartbeat, event.max_jump_bps) == (86400, 1000)


def test_set_oracle_params__longer_heartbeat__makes_a_stale_price_valid(
    weth, factory, admin, chain
):
    updated_at = weth.feed.latestRoundData()[3]
    chain.mine(timestamp=updated_at + 3601)
    assert weth.pool.price_status()[1] == 4
    factory.set_oracle_params(weth.pool, 7200, 5000, sender=admin)
    assert weth.pool.price_status()[1] == 0


@pytest.mark.parametrize("heartbeat", [60, 7 * 86400])
@pytest.mark.parametrize("max_jump", [100, 10_000])
def test_set_oracle_params__at_the_bounds__accepted(heartbeat, max_jump, weth, factory, admin):
    factory.set_oracle_params(weth.pool, heartbeat, max_jump, sender=admin)
    assert weth.pool.oracle_params()[1:] == (heartbeat, max_jump)


@pytest.mark.parametrize(
    "heartbeat, max_jump, reason",
    [
        (59, 5000, "oracle: heartbeat out of bounds"),
        (7 * 86400 + 1, 5000, "oracle: heartbeat out of bounds"),
        (3600, 99, "oracle: max jump out of bounds"),
        (3600, 10_001, "oracle: max jump out of bounds"),
    ],
)
def test_set_oracle_params__out_of_bounds__reverts(
    heartbeat, max_jump, reason, weth, factory, admin
):
    with ape.reverts(reason):
        factory.set_oracle_params(weth.pool, heartbeat, max_jump, sender=admin)


def test_set_oracle_params__stranger__reverts(weth, factory, attacker):
    with ape.reverts("ownable: caller is not the owner"):
        factory.set_oracle_params(weth.pool, 3600, 5000, sender=attacker)


def test_set_oracle_params__unknown_pool__reverts(weth, factory, admin):
    with ape.reverts("factory: unknown pool"):
        factory.set_oracle_params(weth.feed, 3600, 5000, sender=admin)
