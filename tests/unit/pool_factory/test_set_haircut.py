"""`PoolFactory.set_haircut`: governance sets a pool's volatility haircut up to the bound of
`modules/risk.vy` at any time; the risk steward only within the pool's steward rules (a
ceiling, a largest step, a cooldown since the last change by either role)."""

from dataclasses import replace

import ape
import pytest

from tests.conftest import WAD, at_head_time

MAX_HAIRCUT = 5_000  # [bps] `risk.MAX_HAIRCUT`
CEILING, STEP, COOLDOWN = 1_000, 300, 3_600  # [bps], [bps], [seconds] the rules set below


@pytest.fixture
def stewarded(weth, factory, admin, steward):
    """Governance names the steward and fixes WETH's rules: up to 10 %, 3 % a step, hourly."""
    factory.set_steward(steward, sender=admin)
    factory.set_steward_rules(weth.pool, CEILING, STEP, COOLDOWN, sender=admin)
    return weth


def _haircut(market) -> int:
    return market.pool.controls().haircut


def _last_change(factory, market) -> int:
    return factory.steward_rules(market.pool).last_change


# ------------------------------------------------------------------ governance


def test_set_haircut__owner__sets_it_and_logs_both_contracts(weth, factory, admin, chain):
    before = weth.pool.controls()

    tx = factory.set_haircut(weth.pool, 1_234, sender=admin)

    after = weth.pool.controls()
    assert after.haircut == 1_234
    # the other controls are untouched
    assert (after.position_debt_cap, after.grace_period, after.grace_end) == (
        before.position_debt_cap,
        before.grace_period,
        before.grace_end,
    )
    (event,) = tx.decode_logs(factory.HaircutSet)
    assert (event.pool, event.caller, event.haircut, event.previous) == (
        weth.pool.address,
        admin.address,
        1_234,
        0,
    )
    (controls,) = tx.decode_logs(weth.pool.ControlsSet)
    assert controls.haircut == 1_234
    assert _last_change(factory, weth) == chain.blocks[tx.block_number].timestamp


def test_set_haircut__owner_at_the_bound__accepted_one_more__reverts(weth, factory, admin):
    factory.set_haircut(weth.pool, MAX_HAIRCUT, sender=admin)
    assert _haircut(weth) == MAX_HAIRCUT
    with ape.reverts("risk: haircut out of bounds"):
        factory.set_haircut(weth.pool, MAX_HAIRCUT + 1, sender=admin)


def test_set_haircut__owner__ignores_steward_limit_step_and_cooldown(stewarded, factory, admin):
    factory.set_haircut(stewarded.pool, CEILING + STEP + 1, sender=admin)  # above both
    factory.set_haircut(stewarded.pool, 0, sender=admin)  # at once, a step of 1,301 bps
    assert _haircut(stewarded) == 0


def test_set_haircut__unknown_pool__reverts(factory, admin, stablecoin):
    with ape.reverts("factory: unknown pool"):
        factory.set_haircut(stablecoin, 100, sender=admin)


def test_set_haircut__stranger__reverts(stewarded, factory, attacker):
    with ape.reverts("factory: not owner or steward"):
        factory.set_haircut(stewarded.pool, 100, sender=attacker)


def test_set_haircut__no_steward_named__nobody_but_the_owner(weth, factory, steward):
    assert factory.steward() == "0x" + "00" * 20
    with ape.reverts("factory: not owner or steward"):
        factory.set_haircut(weth.pool, 100, sender=steward)


def test_set_haircut__removed_steward__reverts(stewarded, factory, admin, steward):
    factory.set_steward("0x" + "00" * 20, sender=admin)
    with ape.reverts("factory: not owner or steward"):
        factory.set_haircut(stewarded.pool, 100, sender=steward)


# ------------------------------------------------------------------ the steward


def test_set_haircut__steward_within_rules__sets_it(stewarded, factory, steward, chain):
    tx = factory.set_haircut(stewarded.pool, STEP, sender=steward)
    assert _haircut(stewarded) == STEP
    (event,) = tx.decode_logs(factory.HaircutSet)
    assert (event.caller, event.haircut, event.previous) == (steward.address, STEP, 0)
    assert _last_change(factory, stewarded) == chain.blocks[tx.block_number].timestamp


def test_set_haircut__steward_on_a_new_pool__no_steward_rules(stewarded, quirky, factory, steward):
    _token, pool = quirky  # created through the factory after deployment: no rules
    assert factory.steward_rules(pool).max_step == 0
    with ape.reverts("factory: no steward rules"):
        factory.set_haircut(pool, 1, sender=steward)


def test_set_haircut__steward_above_its_ceiling__reverts(stewarded, factory, admin, steward, chain):
    tx = factory.set_haircut(stewarded.pool, CEILING - 100, sender=admin)
    chain.pending_timestamp = chain.blocks[tx.block_number].timestamp + COOLDOWN
    with ape.reverts("factory: above steward limit"):
        factory.set_haircut(stewarded.pool, CEILING + 1, sender=steward)
    chain.pending_timestamp = chain.blocks[tx.block_number].timestamp + COOLDOWN + 1
    factory.set_haircut(stewarded.pool, CEILING, sender=steward)  # exactly the ceiling
    assert _haircut(stewarded) == CEILING


def test_set_haircut__steward_lowers_a_haircut_above_its_ceiling__accepted(
    stewarded, factory, admin, steward, chain
):
    # governance went above the steward's ceiling; the steward may only bring it down
    tx = factory.set_haircut(stewarded.pool, CEILING + 2 * STEP, sender=admin)
    chain.pending_timestamp = chain.blocks[tx.block_number].timestamp + COOLDOWN
    with ape.reverts("factory: above steward limit"):
        factory.set_haircut(stewarded.pool, CEILING + 2 * STEP + 1, sender=steward)
    chain.pending_timestamp = chain.blocks[tx.block_number].timestamp + COOLDOWN + 1
    factory.set_haircut(stewarded.pool, CEILING + STEP, sender=steward)
    assert _haircut(stewarded) == CEILING + STEP


def test_set_haircut__steward_step_too_large__reverts_either_way(
    stewarded, factory, admin, steward, chain
):
    with ape.reverts("factory: haircut step too large"):
        factory.set_haircut(stewarded.pool, STEP + 1, sender=steward)
    tx = factory.set_haircut(stewarded.pool, CEILING, sender=admin)
    chain.pending_timestamp = chain.blocks[tx.block_number].timestamp + COOLDOWN
    with ape.reverts("factory: haircut step too large"):
        factory.set_haircut(stewarded.pool, CEILING - STEP - 1, sender=steward)
    chain.pending_timestamp = chain.blocks[tx.block_number].timestamp + COOLDOWN + 1
    factory.set_haircut(stewarded.pool, CEILING - STEP, sender=steward)  # exactly one step
    assert _haircut(stewarded) == CEILING - STEP


def test_set_haircut__steward_cooldown__waits_exactly_the_cooldown(
    stewarded, factory, steward, chain
):
    first = factory.set_haircut(stewarded.pool, STEP, sender=steward)
    start = chain.blocks[first.block_number].timestamp
    chain.pending_timestamp = start + COOLDOWN - 1
    with ape.reverts("factory: steward cooldown"):
        factory.set_haircut(stewarded.pool, 2 * STEP, sender=steward)
    chain.pending_timestamp = start + COOLDOWN
    factory.set_haircut(stewarded.pool, 2 * STEP, sender=steward)
    assert _haircut(stewarded) == 2 * STEP
    assert _last_change(factory, stewarded) == start + COOLDOWN


def test_set_haircut__owner_overrule__restarts_the_steward_cooldown(
    stewarded, factory, admin, steward, chain
):
    first = factory.set_haircut(stewarded.pool, STEP, sender=steward)
    start = chain.blocks[first.block_number].timestamp
    # governance overrules half-way through the steward's cooldown
    chain.pending_timestamp = start + COOLDOWN // 2
    factory.set_haircut(stewarded.pool, 0, sender=admin)
    assert _last_change(factory, stewarded) == start + COOLDOWN // 2
    # the steward's own cooldown is over, but the clock restarted at the overrule
    chain.pending_timestamp = start + COOLDOWN
    with ape.reverts("factory: steward cooldown"):
        factory.set_haircut(stewarded.pool, STEP, sender=steward)
    chain.pending_timestamp = start + COOLDOWN // 2 + COOLDOWN
    factory.set_haircut(stewarded.pool, STEP, sender=steward)
    assert _haircut(stewarded) == STEP


def test_set_haircut__steward_refusals__change_nothing(stewarded, factory, steward, chain):
    factory.set_haircut(stewarded.pool, STEP, sender=steward)
    controls = stewarded.pool.controls()
    rules = factory.steward_rules(stewarded.pool)
    with ape.reverts("factory: steward cooldown"):
        factory.set_haircut(stewarded.pool, 2 * STEP, sender=steward)
    assert stewarded.pool.controls() == controls
    assert factory.steward_rules(stewarded.pool) == rules


# ------------------------------------------------------------------ the laws


def test_set_haircut__at_the_bound__makes_nobody_liquidatable(
    market, factory, admin, borrower, liquidator, chain
):
    """A haircut lowers the borrow limit only: health, the liquidation list and a
    liquidation's refusal are what they were for a position at max LTV."""
    pool = market.pool
    p = market.params
    position_id = market.open_at_ltv(borrower, 20_000 * WAD, p.max_ltv)
    health = pool.health(position_id)
    price = pool.liquidation_price(position_id)
    listed = list(pool.positions_to_liquidate(1, 5_000))
    at_head_time(chain)  # no interest between the two readings

    factory.set_haircut(pool, MAX_HAIRCUT, sender=admin)

    assert pool.health(position_id) == health > WAD
    assert pool.liquidation_price(position_id) == price
    assert list(pool.positions_to_liquidate(1, 5_000)) == listed
    assert position_id not in listed
    market.mint_bhusd(liquidator, 50_000 * WAD)
    with ape.reverts("pool: position is healthy"):
        pool.liquidate(position_id, 2**256 - 1, 0, sender=liquidator)


def test_set_haircut__position_over_the_new_limit__repays_deposits_withdraws_within_it(
    weth, factory, admin, borrower
):
    """Above the lowered borrow limit a position cannot borrow or withdraw; repaying and
    depositing work, and once back within the limit it withdraws again."""
    pool = weth.pool
    position_id = weth.open_at_ltv(borrower, 20_000 * WAD, weth.params.max_ltv)
    collateral = pool.collateral_of(position_id)
    factory.set_haircut(pool, 2_000, sender=admin)
    with ape.reverts("pool: exceeds max ltv"):
        pool.borrow(position_id, 100 * WAD, sender=borrower)
    with ape.reverts("pool: exceeds max ltv"):
        pool.withdraw(position_id, 1, sender=borrower)
    pool.repay(position_id, 1_000 * WAD, sender=borrower)
    weth.fund(borrower, collateral)
    pool.deposit(position_id, collateral, sender=borrower)  # twice the collateral
    pool.withdraw(position_id, collateral // 4, sender=borrower)
    assert pool.collateral_of(position_id) == collateral * 2 - collateral // 4


# ------------------------------------------- the kill switch must not block the steward


def test_set_haircut__debt_ceiling_cut_below_the_cap__haircut_and_grace_still_change(
    weth, factory, admin, steward
):
    """Governance's kill switch sets a pool's debt ceiling to 0 (under its position debt
    cap). The steward must still raise the haircut, and governance still move it and the
    grace period: the cap is checked against the ceiling where the cap is set, not by
    every change of another control."""
    pool = weth.pool
    factory.set_risk_params(pool, replace(weth.params, debt_ceiling=0).as_tuple(), sender=admin)
    assert pool.controls().position_debt_cap > 0  # the cap was set under the old ceiling
    factory.set_steward(steward, sender=admin)
    step = factory.steward_rules(pool).max_step

    factory.set_haircut(pool, step, sender=steward)
    factory.set_haircut(pool, 2 * step, sender=admin)
    factory.set_grace_period(pool, 60, sender=admin)

    assert (pool.controls().haircut, pool.controls().grace_period) == (2 * step, 60)
    # a cap is still bounded by the ceiling where it is set
    with ape.reverts("risk: position cap above debt ceiling"):
        factory.set_position_debt_cap(pool, 1, sender=admin)
    factory.set_position_debt_cap(pool, 0, sender=admin)
