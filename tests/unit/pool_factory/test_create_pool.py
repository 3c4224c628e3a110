from dataclasses import replace

import ape
import pytest

from tests.conftest import WAD, ZERO_ADDRESS


@pytest.fixture
def new_token(project, admin):
    return project.MockToken.deploy("Gold", "GLD", 12, sender=admin)


@pytest.fixture
def new_feed(project, admin):
    # 18 decimals, unlike the 8 of the default feeds: the guard scales either
    return project.MockAggregator.deploy(18, 2_000 * 10**18, "GLD / USD", sender=admin)


def test_create_pool__new_collateral__registers_a_working_pool(
    factory, stablecoin, weth, new_token, new_feed, admin, borrower, project
):
    params = replace(weth.params, max_ltv=6_000, liquidation_threshold=7_000)
    count = factory.pool_count()

    tx = factory.create_pool(new_token, new_feed, params.as_tuple(), 7200, 3000, sender=admin)

    address = tx.return_value
    (event,) = tx.decode_logs(factory.PoolCreated)
    assert (event.pool, event.collateral, event.feed, event.index) == (
        address,
        new_token,
        new_feed,
        count,
    )
    assert factory.pool_count() == count + 1
    assert factory.pools(count) == address
    assert factory.pool_of(new_token) == address
    assert factory.is_pool(address)
    assert stablecoin.is_minter(address)
    pool = project.MarginPool.at(address)
    assert pool.FACTORY() == factory.address
    assert pool.COLLATERAL() == new_token.address
    assert pool.STABLECOIN() == stablecoin.address
    assert pool.COLLATERAL_SCALE() == 10**6
    assert pool.risk_params() == params.as_tuple()
    assert pool.oracle_params() == (new_feed.address, 7200, 3000)
    assert pool.price() == 2_000 * WAD
    new_token.mint(borrower, 10**12, sender=borrower)
    new_token.approve(pool, 10**12, sender=borrower)
    position_id = pool.open(10**12, 1_000 * WAD, sender=borrower).return_value
    assert pool.debt_of(position_id) >= 1_000 * WAD
    assert stablecoin.balanceOf(borrower) == 1_000 * WAD


def test_create_pool__feed_invalid_at_creation__anchors_on_first_valid_price(
    factory, weth, new_token, new_feed, admin, project
):
    new_feed.set_answer(0, sender=admin)
    tx = factory.create_pool(new_token, new_feed, weth.pool.risk_params(), 3600, 5000, sender=admin)
    pool = project.MarginPool.at(tx.return_value)
    assert pool.price_status() == (0, 2)
    new_feed.set_answer(123 * 10**18, sender=admin)
    assert pool.price() == 123 * WAD


def test_create_pool__stranger__reverts(factory, weth, new_token, new_feed, attacker):
    with ape.reverts("ownable: caller is not the owner"):
        factory.create_pool(
            new_token, new_feed, weth.pool.risk_params(), 3600, 5000, sender=attacker
        )


def test_create_pool__zero_collateral__reverts(factory, weth, new_feed, admin):
    with ape.reverts("factory: zero collateral"):
        factory.create_pool(
            ZERO_ADDRESS, new_feed, weth.pool.risk_params(), 3600, 5000, sender=admin
        )


def test_create_pool__stablecoin_as_collateral__reverts(factory, weth, stablecoin, new_feed, admin):
    with ape.reverts("factory: stablecoin as collateral"):
        factory.create_pool(stablecoin, new_feed, weth.pool.risk_params(), 3600, 5000, sender=admin)


def test_create_pool__collateral_with_a_pool__reverts(factory, weth, new_feed, admin):
    with ape.reverts("factory: pool exists"):
        factory.create_pool(weth.token, new_feed, weth.pool.risk_params(), 3600, 5000, sender=admin)


def test_create_pool__invalid_risk_params__reverts(factory, weth, new_token, new_feed, admin):
    params = replace(weth.params, liquidation_bonus=0)
    with ape.reverts("risk: bonus out of bounds"):
        factory.create_pool(new_token, new_feed, params.as_tuple(), 3600, 5000, sender=admin)


def test_create_pool__invalid_oracle_params__reverts(factory, weth, new_token, new_feed, admin):
    with ape.reverts("oracle: heartbeat out of bounds"):
        factory.create_pool(new_token, new_feed, weth.pool.risk_params(), 59, 5000, sender=admin)


def test_create_pool__collateral_above_18_decimals__reverts(
    factory, weth, new_feed, admin, project
):
    token = project.MockToken.deploy("Odd", "ODD", 19, sender=admin)
    with ape.reverts("pool: collateral decimals above 18"):
        factory.create_pool(token, new_feed, weth.pool.risk_params(), 3600, 5000, sender=admin)


def test_create_pool__zero_feed__reverts(factory, weth, new_token, admin):
    with ape.reverts("oracle: zero feed"):
        factory.create_pool(
            new_token, ZERO_ADDRESS, weth.pool.risk_params(), 3600, 5000, sender=admin
        )


def test_create_pool__feed_above_18_decimals__reverts(factory, weth, new_token, admin, project):
    feed = project.MockAggregator.deploy(19, 10**19, "ODD / USD", sender=admin)
    with ape.reverts("oracle: feed decimals above 18"):
        factory.create_pool(new_token, feed, weth.pool.risk_params(), 3600, 5000, sender=admin)


def _pools_length_slot(factory, provider) -> int:
    """The storage slot of `pools`' length: the slot holding pool_count() followed by
    pools(0)."""
    count, first = factory.pool_count(), int(factory.pools(0), 16)
    for slot in range(64):
        here = int.from_bytes(provider.get_storage(factory.address, slot), "big")
        after = int.from_bytes(provider.get_storage(factory.address, slot + 1), "big")
        if here == count and after == first:
            return slot
    raise AssertionError("pools length slot not found")


def test_create_pool__256th_pool_works_and_257th_reverts(
    factory, weth, new_token, new_feed, admin, project, chain
):
    # creating 253 real pools would take most of the suite's time: set the length of
    # `pools` to 255 in storage (the slots of the missing entries stay empty)
    slot = _pools_length_slot(factory, chain.provider)
    chain.provider.set_storage(factory.address, slot, (255).to_bytes(32, "big"))
    assert factory.pool_count() == 255
    tx = factory.create_pool(new_token, new_feed, weth.pool.risk_params(), 3600, 5000, sender=admin)
    assert tx.decode_logs(factory.PoolCreated)[0].index == 255
    assert factory.pool_count() == 256
    other = project.MockToken.deploy("More", "MORE", 18, sender=admin)
    with ape.reverts("factory: too many pools"):
        factory.create_pool(other, new_feed, weth.pool.risk_params(), 3600, 5000, sender=admin)
