"""Loss waterfall per pool: the position's collateral, then that pool's reserve, then that
pool's recorded bad debt. Nothing reaches the savings vault or another pool, except by
governance's explicit, bounded and logged `cover_bad_debt`; a pool's own later fees
cancel its bad debt at the next sweep before anything is swept."""

from __future__ import annotations

from dataclasses import dataclass

import ape
import pytest

from bulkhead import artifacts
from bulkhead.risk import WAD
from bulkhead.vault import COVER_COOLDOWN, MAX_COVER_BPS, replay, vault_events

DAY = 86_400


@dataclass
class Crash:
    pool: object
    bad_debt: int  # [wad] recorded by the liquidation
    reserve_used: int  # [wad]


def _snapshot(vault, markets, skip):
    """What a crash in `skip` must leave alone: the vault and every other pool."""
    state = {
        "vault": (
            vault.totalAssets(),
            vault.totalSupply(),
            vault.tracked_assets(),
            vault.convertToAssets(WAD),
        )
    }
    for name, m in markets.items():
        if m.pool != skip:
            state[name] = (
                m.pool.reserve(),
                m.pool.bad_debt(),
                m.pool.total_collateral(),
                m.pool.total_debt(),
            )
    return state


@pytest.fixture
def savers(vault, deposit, operator):
    """The savings vault holds 100,000 bhUSD of deposits."""
    deposit(operator, 100_000 * WAD)
    return vault


@pytest.fixture
def crash(vol, savers, give_bhusd, borrower, liquidator, admin, chain, markets):
    """VOL falls from 2.00 to 0.90 USD; a position borrowed at 50 % LTV is liquidated with
    a shortfall larger than the pool's reserve (a month of 8 % fee on 10,000 bhUSD)."""
    pid = vol.open(borrower, 10_000 * vol.unit, 10_000 * WAD)
    chain.pending_timestamp += 30 * DAY
    chain.mine()
    vol.set_price(2.0, admin)
    vol.pool.accrue(sender=admin)
    give_bhusd(liquidator, 20_000 * WAD)
    reserve = vol.pool.reserve()
    assert reserve > 0
    before = _snapshot(savers, markets, vol.pool)
    # the crash happens within the second of the snapshot, so debts elsewhere cannot grow
    chain.pending_timestamp = chain.blocks.head.timestamp
    vol.set_price(0.9, admin)
    chain.pending_timestamp = chain.blocks.head.timestamp
    tx = vol.pool.liquidate(pid, 20_000 * WAD, 0, sender=liquidator)
    [event] = tx.decode_logs(vol.pool.Liquidate)
    assert _snapshot(savers, markets, vol.pool) == before
    return Crash(vol.pool, event.bad_debt, event.reserve_used)


def test_crash__shortfall_above_reserve__bad_debt_in_that_pool_only(crash, vol):
    assert crash.reserve_used > 0
    assert crash.bad_debt > 0
    assert vol.pool.reserve() == 0  # the reserve went first
    assert vol.pool.bad_debt() == crash.bad_debt
    assert vol.pool.total_debt() == 0 and vol.pool.total_collateral() == 0
    # the vault and the other pools are checked unchanged inside the fixture


def test_cover_bad_debt__governance_within_cap__burns_vault_bhusd_for_pool(
    crash, factory, savers, stablecoin, admin, chain
):
    amount = crash.bad_debt // 2
    total, supply, price = (
        savers.totalAssets(),
        stablecoin.totalSupply(),
        savers.convertToAssets(WAD),
    )
    chain.pending_timestamp = chain.blocks.head.timestamp
    tx = factory.cover_bad_debt(crash.pool, amount, sender=admin)
    assert crash.pool.bad_debt() == crash.bad_debt - amount
    assert savers.totalAssets() == total - amount
    assert stablecoin.totalSupply() == supply - amount
    assert savers.convertToAssets(WAD) < price  # the savers pay, and only through this call
    assert factory.last_cover() == chain.blocks.head.timestamp
    [covered] = tx.decode_logs(factory.BadDebtCovered)
    assert (covered.pool, covered.vault, covered.amount) == (
        crash.pool.address,
        savers.address,
        amount,
    )
    [sent] = tx.decode_logs(savers.Cover)
    assert (sent.receiver, sent.amount, sent.from_locked) == (factory.address, amount, 0)
    [burned] = tx.decode_logs(crash.pool.BadDebtCovered)
    assert (burned.payer, burned.amount) == (factory.address, amount)
    assert stablecoin.balanceOf(factory) == 0


def test_cover_bad_debt__share_price_below_one__every_holder_can_still_exit(
    crash, factory, savers, deposit, stablecoin, keeper, operator, admin
):
    deposit(keeper, 30_000 * WAD + 1)
    factory.cover_bad_debt(crash.pool, crash.bad_debt, sender=admin)
    assert savers.convertToAssets(WAD) < WAD
    for holder in (operator, keeper):  # the last one out takes what is left
        shares = savers.maxRedeem(holder)
        expected = savers.previewRedeem(shares)
        assert savers.maxWithdraw(holder) == expected
        assert savers.redeem(shares, holder, holder, sender=holder).return_value == expected
    assert savers.totalSupply() == 0
    assert savers.totalAssets() < WAD  # what the virtual shares kept: under one bhUSD
    assert stablecoin.balanceOf(savers) == savers.tracked_assets()


def test_cover_bad_debt__yield_streaming__takes_the_locked_part_first(
    crash,
    factory,
    savers,
    stablecoin,
    give_bhusd,
    admin,
    chain,
    deployment,
):
    give_bhusd(admin, 5_000 * WAD)
    stablecoin.transfer(savers, 5_000 * WAD, sender=admin)
    savers.skim(sender=admin)
    chain.pending_timestamp = chain.blocks.head.timestamp
    total, locked = savers.totalAssets(), savers.locked_assets()
    amount = min(crash.bad_debt, locked)
    tx = factory.cover_bad_debt(crash.pool, amount, sender=admin)
    [sent] = tx.decode_logs(savers.Cover)
    assert sent.from_locked == amount
    assert savers.totalAssets() == total  # unreleased yield absorbed it
    assert savers.locked_assets() == locked - amount
    # the mirror replays the cover too, later in the stream as well
    chain.pending_timestamp += savers.stream_period() // 3
    chain.mine()
    w3 = chain.provider.web3
    contract = w3.eth.contract(address=savers.address, abi=artifacts.load("SavingsVault").abi)
    head = chain.blocks.head
    state = replay(vault_events(w3, contract, deployment.deploy_block, head.number))
    assert state.total_assets(head.timestamp) == savers.totalAssets()
    assert state.locked_at(head.timestamp) == savers.locked_assets()


def test_cover_bad_debt__not_owner__reverts(crash, factory, attacker):
    with ape.reverts("ownable: caller is not the owner"):
        factory.cover_bad_debt(crash.pool, WAD, sender=attacker)


def test_cover_bad_debt__unknown_pool__reverts(crash, factory, admin, stablecoin):
    with ape.reverts("factory: unknown pool"):
        factory.cover_bad_debt(stablecoin, WAD, sender=admin)


def test_cover_bad_debt__zero_amount__reverts(crash, factory, admin):
    with ape.reverts("factory: zero amount"):
        factory.cover_bad_debt(crash.pool, 0, sender=admin)


def test_cover_bad_debt__above_bad_debt__reverts(crash, factory, admin, weth):
    with ape.reverts("factory: amount above bad debt"):
        factory.cover_bad_debt(crash.pool, crash.bad_debt + 1, sender=admin)
    with ape.reverts("factory: amount above bad debt"):
        factory.cover_bad_debt(weth.pool, 1, sender=admin)  # a pool without bad debt


def test_cover_bad_debt__above_cap__reverts(crash, factory, savers, operator, admin):
    # leave the vault with ten times the bad debt minus a little: the cap is a tenth of it
    keep = crash.bad_debt * 10_000 // MAX_COVER_BPS - WAD
    savers.withdraw(savers.totalAssets() - keep, operator, operator, sender=operator)
    with ape.reverts("factory: cover above cap"):
        factory.cover_bad_debt(crash.pool, crash.bad_debt, sender=admin)
    factory.cover_bad_debt(crash.pool, savers.totalAssets() * MAX_COVER_BPS // 10_000, sender=admin)


def test_cover_bad_debt__within_cooldown__reverts(crash, factory, admin, chain):
    factory.cover_bad_debt(crash.pool, WAD, sender=admin)
    last = factory.last_cover()
    chain.pending_timestamp = last + COVER_COOLDOWN - 1
    with ape.reverts("factory: cover cooldown"):
        factory.cover_bad_debt(crash.pool, WAD, sender=admin)
    chain.pending_timestamp = last + COVER_COOLDOWN
    factory.cover_bad_debt(crash.pool, WAD, sender=admin)
    assert crash.pool.bad_debt() == crash.bad_debt - 2 * WAD


def test_sweep__pool_with_bad_debt__cancels_it_with_reserve_first(
    crash, vol, factory, savers, stablecoin, borrower, keeper, admin, chain
):
    # new borrowing in the crashed pool pays fees into its empty reserve
    vol.set_price(0.9, admin)
    vol.open(borrower, 1_000_000 * vol.unit, 400_000 * WAD)
    chain.pending_timestamp += 2 * DAY
    chain.mine()
    supply, tracked = stablecoin.totalSupply(), savers.tracked_assets()
    tx = factory.sweep(vol.pool, sender=keeper)
    [accrue] = tx.decode_logs(vol.pool.Accrue)
    assert 0 < accrue.interest < crash.bad_debt  # not enough to cancel all of it
    [event] = tx.decode_logs(factory.Sweep)
    assert (event.netted, event.swept) == (accrue.interest, 0)
    assert vol.pool.bad_debt() == crash.bad_debt - accrue.interest
    assert vol.pool.reserve() == 0
    # the pool's own fee paid its own loss: no bhUSD moved, the vault got nothing
    assert stablecoin.totalSupply() == supply
    assert savers.tracked_assets() == tracked


def test_sweep__bad_debt_cancelled__sweeps_only_what_is_above_target(
    crash, vol, factory, savers, borrower, keeper, admin, chain
):
    vol.set_price(0.9, admin)
    vol.open(borrower, 1_000_000 * vol.unit, 400_000 * WAD)
    chain.pending_timestamp += 60 * DAY
    chain.mine()
    reserve_before = vol.pool.reserve()
    tx = factory.sweep(vol.pool, sender=keeper)
    [accrue] = tx.decode_logs(vol.pool.Accrue)
    target = factory.reserve_target(vol.pool)
    [event] = tx.decode_logs(factory.Sweep)
    assert event.netted == crash.bad_debt
    assert event.swept == reserve_before + accrue.interest - crash.bad_debt - target > 0
    assert vol.pool.bad_debt() == 0
    assert vol.pool.reserve() == target
