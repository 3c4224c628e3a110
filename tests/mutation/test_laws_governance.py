"""Laws of governance, parameters, the oracle and bhUSD that mutation testing showed no
fast suite stated: who may change what, and where each bound lies (its edge value is
accepted or refused as the bound says)."""

from __future__ import annotations

import boa

from bulkhead.risk import WAD, RiskParams
from tests.audit.conftest import World, expect_revert
from tests.fuzz.system import deployer

NOT_OWNER = "ownable: caller is not the owner"


def _params(world: World, **changes) -> tuple:
    return RiskParams(**{**world.weth.params.__dict__, **changes}).as_tuple()


def test_set_risk_params__max_ltv_equal_to_threshold__reverts(world: World) -> None:
    """Max LTV is always below the liquidation threshold: a borrow at max LTV must not be
    liquidatable at once."""
    expect_revert(
        "risk: max ltv not below threshold",
        world.factory.set_risk_params,
        world.weth.pool.address,
        _params(world, max_ltv=7_000, liquidation_threshold=7_000),
        sender=world.admin,
    )


def test_set_risk_params__target_health_exactly_one__reverts(world: World) -> None:
    """A partial liquidation must leave the position healthier than the liquidation line."""
    expect_revert(
        "risk: target health out of bounds",
        world.factory.set_risk_params,
        world.weth.pool.address,
        _params(world, target_health=WAD),
        sender=world.admin,
    )


def test_set_risk_params__penalty_leaving_health_unchanged__reverts(world: World) -> None:
    """(1 + fee)(1 + bonus) x threshold must stay below 1: at 1.25 x 0.8 = 1.0 exactly a
    liquidation would not raise the health of the position it liquidates."""
    expect_revert(
        "risk: penalty too high for threshold",
        world.factory.set_risk_params,
        world.weth.pool.address,
        _params(
            world,
            liquidation_threshold=8_000,
            liquidation_bonus=2_500,
            liquidation_fee=0,
            liquidation_tip=0,
        ),
        sender=world.admin,
    )


def test_set_risk_params__smallest_allowed_bonus__is_accepted_and_read_back(
    world: World,
) -> None:
    pool = world.weth.pool
    params = _params(world, liquidation_bonus=50, liquidation_fee=70)
    with boa.env.prank(world.admin):
        world.factory.set_risk_params(pool.address, params)
    assert tuple(pool.risk_params()) == params


def test_set_risk_params__largest_of_every_field__read_back_exactly(world: World) -> None:
    """Each packed field holds its largest allowed value without spilling into another:
    what governance set is what the pool reads back."""
    pool = world.weth.pool
    params = _params(
        world,
        debt_ceiling=10**33,
        min_debt=10**24,
        stability_fee=21_979_553_151,
        liquidation_tip=1_000 * WAD,
    )
    with boa.env.prank(world.admin):
        world.factory.set_risk_params(pool.address, params)
    assert tuple(pool.risk_params()) == params


def test_set_oracle_params__shortest_allowed_heartbeat__is_accepted(world: World) -> None:
    pool = world.weth.pool
    with boa.env.prank(world.admin):
        world.factory.set_oracle_params(pool.address, 60, 5_000)
    assert tuple(pool.oracle_params())[1:] == (60, 5_000)


def test_price__exactly_one_heartbeat_old__is_valid_and_one_second_later_stale(
    world: World,
) -> None:
    pool = world.weth.pool
    world.weth.set_price_wad(3_000 * WAD)
    boa.env.time_travel(seconds=3_600)
    assert pool.price() == 3_000 * WAD
    boa.env.time_travel(seconds=1)
    expect_revert("oracle: stale price", pool.price, sender=world.keeper)


def test_price__move_of_exactly_the_jump_bound__is_valid_and_beyond_it_refused(
    world: World,
) -> None:
    """WETH's anchor is 3,000 and its jump bound 50 %: 1,500 is accepted, 1,499.99 not."""
    pool = world.weth.pool
    assert pool.price() == 3_000 * WAD and tuple(pool.oracle_params())[2] == 5_000
    world.weth.set_price_wad(1_500 * WAD)
    assert pool.price() == 1_500 * WAD
    world.weth.set_price_wad(1_500 * WAD - 10**16)
    expect_revert("oracle: price jump", pool.price, sender=world.keeper)


def test_pool_governance__called_by_anyone_but_the_factory__reverts(world: World) -> None:
    pool = world.weth.pool
    for who in (world.attacker, world.admin):
        for call, args in (
            (pool.set_risk_params, (_params(world),)),
            (pool.set_oracle_params, (3_600, 5_000)),
            (pool.reset_price_anchor, ()),
            (pool.set_paused, (True,)),
            (pool.mint_reserve, (who, 0)),
            (pool.cover_bad_debt, (0,)),
            (pool.initialize, (_params(world), 3_600, 5_000)),
        ):
            expect_revert("pool: only factory", call, *args, sender=who)


def test_factory_governance__called_by_a_stranger__reverts(world: World) -> None:
    factory, pool = world.factory, world.weth.pool.address
    token = deployer("mocks/MockToken").deploy("X", "X", 18)
    feed = deployer("mocks/MockAggregator").deploy(8, 10**8, "X / USD")
    for call, args in (
        (factory.create_pool, (token.address, feed.address, _params(world), 3_600, 5_000)),
        (factory.set_risk_params, (pool, _params(world))),
        (factory.set_oracle_params, (pool, 3_600, 5_000)),
        (factory.reset_price_anchor, (pool,)),
        (factory.set_paused, (pool, True)),
        (factory.set_reserve_target, (pool, 2_000 * WAD)),
        (factory.set_vault, (world.attacker,)),
    ):
        expect_revert(NOT_OWNER, call, *args, sender=world.attacker)
    assert factory.pool_of(token.address) == "0x" + "00" * 20
    assert not world.weth.pool.paused()


def test_set_reserve_target__smallest_allowed__is_accepted(world: World) -> None:
    factory, pool = world.factory, world.weth.pool.address
    smallest = factory.MIN_RESERVE_TARGET()
    with boa.env.prank(world.admin):
        factory.set_reserve_target(pool, smallest)
    assert factory.reserve_target(pool) == smallest


def test_set_vault__second_time__reverts(world: World) -> None:
    """The savings vault is set once: governance cannot redirect the fee sweeps later."""
    factory, first = world.factory, world.system.vault
    assert factory.vault() == first.address
    with boa.env.prank(world.admin):
        second = deployer("SavingsVault").deploy(world.stablecoin.address, factory.address, 86_400)
    expect_revert(
        "factory: vault already set", factory.set_vault, second.address, sender=world.admin
    )
    assert factory.vault() == first.address


def test_lens_positions__page_above_1000__reverts(world: World) -> None:
    expect_revert(
        "lens: limit above 1000",
        world.system.lens.positions,
        world.weth.pool.address,
        1,
        1_001,
        sender=world.keeper,
    )


def test_stablecoin_transfer_ownership__by_a_stranger__reverts(world: World) -> None:
    coin = world.stablecoin
    expect_revert(NOT_OWNER, coin.transfer_ownership, world.attacker, sender=world.attacker)
    assert coin.pending_owner() == "0x" + "00" * 20
    assert coin.owner() == world.factory.address


def test_stablecoin_transfer_ownership__only_proposes(world: World) -> None:
    """bhUSD's ownership moves in two steps: the proposed owner holds nothing until it
    accepts, so a typo cannot hand the minter list to an address no one controls."""
    coin = world.stablecoin
    with boa.env.prank(world.factory.address):
        coin.transfer_ownership(world.attacker)
    assert coin.owner() == world.factory.address
    assert coin.pending_owner() == world.attacker
    with boa.env.prank(world.attacker):
        coin.accept_ownership()
    assert coin.owner() == world.attacker


def test_stablecoin__renounce_ownership__is_not_exported(world: World) -> None:
    """Without an owner no pool could ever be added or removed as a minter."""
    assert not hasattr(world.stablecoin, "renounce_ownership")


def test_stablecoin__deployer__is_not_a_minter(world: World) -> None:
    """Only pools mint bhUSD: whoever deployed it (here governance's account) cannot."""
    coin = world.stablecoin
    assert not coin.is_minter(world.admin)
    expect_revert("erc20: access is denied", coin.mint, world.admin, WAD, sender=world.admin)


def test_price__jump_bound__is_measured_from_the_last_price_a_state_change_used(
    world: World,
) -> None:
    """The anchor follows the prices the pool acts on: after an accrual at 2,000 (a third
    below the 3,000 anchor), 3,100 is a 55 % jump from it and is refused, although it is
    within 50 % of the old anchor."""
    pool = world.weth.pool
    world.weth.set_price_wad(2_000 * WAD)
    pool.accrue()
    world.weth.set_price_wad(3_100 * WAD)
    expect_revert("oracle: price jump", pool.price, sender=world.keeper)
