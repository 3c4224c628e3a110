"""Fee flow: a pool's stability fee goes to its reserve; anyone can sweep the reserve above
the pool's target into the savings vault, which streams it to its share price."""

from __future__ import annotations

import ape
import pytest

from bulkhead.risk import WAD
from bulkhead.vault import DEFAULT_RESERVE_TARGET, MAX_RESERVE_TARGET, MIN_RESERVE_TARGET

DAY = 86_400
ZERO = "0x0000000000000000000000000000000000000000"


def identity_gap(stablecoin, markets) -> int:
    """Σ debt + Σ bad debt - (supply + Σ reserve) at the head; 0 up to rounding toward the
    protocol when every pool with debt accrued in the head block."""
    pools = [m.pool for m in markets.values()]
    owed = sum(p.total_debt() + p.bad_debt() for p in pools)
    return owed - stablecoin.totalSupply() - sum(p.reserve() for p in pools)


@pytest.fixture
def fees(weth, vault, deposit, borrower, operator, chain):
    """A saver in the vault and a million bhUSD of WETH debt that has paid a month of fee."""
    deposit(operator, 10_000 * WAD)
    weth.open(borrower, 600 * weth.unit, 1_000_000 * WAD)
    chain.pending_timestamp += 30 * DAY
    chain.mine()
    return weth


def _sweep(factory, pool, sender):
    tx = factory.sweep(pool, sender=sender)
    [accrue] = tx.decode_logs(pool.Accrue)
    return tx, accrue.interest


def test_sweep__reserve_above_target__mints_excess_to_vault(
    fees, factory, vault, stablecoin, keeper, markets
):
    pool = fees.pool
    target = factory.reserve_target(pool)
    reserve, supply, tracked = pool.reserve(), stablecoin.totalSupply(), vault.tracked_assets()
    tx, interest = _sweep(factory, pool, keeper)  # anyone may sweep
    swept = reserve + interest - target
    assert swept > 0 and tx.return_value == swept
    assert pool.reserve() == target
    assert stablecoin.totalSupply() == supply + swept
    assert vault.tracked_assets() == tracked + swept
    [event] = tx.decode_logs(factory.Sweep)
    assert (event.pool, event.caller, event.netted, event.swept) == (pool.address, keeper, 0, swept)
    [minted] = tx.decode_logs(pool.ReserveMinted)
    assert (minted.receiver, minted.amount) == (vault.address, swept)
    [stream] = tx.decode_logs(vault.Stream)
    assert stream.added == swept
    assert 0 <= identity_gap(stablecoin, markets) <= 10


def test_sweep__then_time__raises_share_price(fees, factory, vault, operator, chain):
    price, total = vault.convertToAssets(WAD), vault.totalAssets()
    chain.pending_timestamp = chain.blocks.head.timestamp
    swept = factory.sweep(fees.pool, sender=operator).return_value
    assert vault.convertToAssets(WAD) == price  # released over time, not at once
    chain.pending_timestamp += vault.stream_period() // 2
    chain.mine()
    halfway = vault.convertToAssets(WAD)
    assert halfway > price
    chain.pending_timestamp += vault.stream_period()
    chain.mine()
    assert vault.convertToAssets(WAD) > halfway
    assert vault.totalAssets() == total + swept
    assert vault.maxWithdraw(operator) > 10_000 * WAD


def test_sweep__reserve_at_or_below_target__moves_nothing(
    weth,
    factory,
    vault,
    stablecoin,
    borrower,
    keeper,
    chain,
):
    weth.open(borrower, 600 * weth.unit, 1_000_000 * WAD)
    chain.pending_timestamp += DAY  # about 82 bhUSD of fee, below the 1,000 target
    supply, tracked = stablecoin.totalSupply(), vault.tracked_assets()
    tx = factory.sweep(weth.pool, sender=keeper)
    assert tx.return_value == 0
    assert tx.decode_logs(factory.Sweep) == []
    assert 0 < weth.pool.reserve() <= factory.reserve_target(weth.pool)
    assert (stablecoin.totalSupply(), vault.tracked_assets()) == (supply, tracked)


def test_sweep__unknown_pool__reverts(factory, keeper, stablecoin):
    with ape.reverts("factory: unknown pool"):
        factory.sweep(stablecoin, sender=keeper)


def test_sweep__sandwiched__gains_at_most_the_streamed_part(
    fees,
    factory,
    vault,
    stablecoin,
    give_bhusd,
    attacker,
    chain,
):
    give_bhusd(attacker, 1_000_000 * WAD)
    stablecoin.approve(vault, 2**256 - 1, sender=attacker)
    shares = vault.deposit(1_000_000 * WAD, attacker, sender=attacker).return_value
    swept = factory.sweep(fees.pool, sender=attacker).return_value
    start = chain.blocks.head.timestamp
    supply = vault.totalSupply()
    out = vault.redeem(shares, attacker, attacker, sender=attacker).return_value
    streamed = swept * (chain.blocks.head.timestamp - start) // vault.stream_period()
    gain = out - 1_000_000 * WAD
    # holding 99 % of the shares, the attacker gets its share of what streamed meanwhile
    assert gain <= streamed * shares // supply + 1
    assert gain * 1_000 < swept * shares // supply


def test_reserve_target__default__until_governance_sets_it(factory, deployment, markets):
    for m in markets.values():
        assert factory.reserve_target(m.pool) == m.info.reserve_target
    assert factory.reserve_target(ZERO) == DEFAULT_RESERVE_TARGET


def test_set_reserve_target__governance__sets_and_logs(factory, weth, admin):
    for target in (MIN_RESERVE_TARGET, MAX_RESERVE_TARGET, 50_000 * WAD):
        tx = factory.set_reserve_target(weth.pool, target, sender=admin)
        [event] = tx.decode_logs(factory.ReserveTargetSet)
        assert (event.pool, event.target) == (weth.pool.address, target)
        assert factory.reserve_target(weth.pool) == target


def test_set_reserve_target__out_of_bounds__reverts(factory, weth, admin):
    for target in (0, MIN_RESERVE_TARGET - 1, MAX_RESERVE_TARGET + 1):
        with ape.reverts("factory: reserve target out of bounds"):
            factory.set_reserve_target(weth.pool, target, sender=admin)


def test_set_reserve_target__not_owner_or_unknown_pool__reverts(
    factory, weth, admin, attacker, stablecoin
):
    with ape.reverts("ownable: caller is not the owner"):
        factory.set_reserve_target(weth.pool, MIN_RESERVE_TARGET, sender=attacker)
    with ape.reverts("factory: unknown pool"):
        factory.set_reserve_target(stablecoin, MIN_RESERVE_TARGET, sender=admin)


def test_pool_reserve_functions__not_factory__revert(weth, admin, attacker):
    for caller in (admin, attacker):
        with ape.reverts("pool: only factory"):
            weth.pool.mint_reserve(caller, 1, sender=caller)
        with ape.reverts("pool: only factory"):
            weth.pool.cover_bad_debt(1, sender=caller)


# ------------------------------------------------------------- set_vault


@pytest.fixture
def bare_factory(project, deployment, stablecoin, admin):
    """A second factory with no vault and no pool, for the checks the deployed one passed."""
    return project.PoolFactory.deploy(stablecoin, deployment.pool_blueprint, sender=admin)


def test_set_vault__deployed__set_once(factory, vault, admin):
    assert factory.vault() == vault.address
    with ape.reverts("factory: vault already set"):
        factory.set_vault(vault, sender=admin)


def test_set_vault__matching_vault__sets_and_logs(
    project, bare_factory, stablecoin, admin, attacker
):
    own = project.SavingsVault.deploy(stablecoin, bare_factory, DAY, sender=admin)
    with ape.reverts("ownable: caller is not the owner"):
        bare_factory.set_vault(own, sender=attacker)
    tx = bare_factory.set_vault(own, sender=admin)
    assert [e.vault for e in tx.decode_logs(bare_factory.VaultSet)] == [own.address]
    assert bare_factory.vault() == own.address


def test_set_vault__mismatched_vault__reverts(project, bare_factory, vault, weth, admin):
    with ape.reverts("factory: zero address"):
        bare_factory.set_vault(ZERO, sender=admin)
    other_asset = project.SavingsVault.deploy(weth.token, bare_factory, DAY, sender=admin)
    with ape.reverts("factory: vault asset mismatch"):
        bare_factory.set_vault(other_asset, sender=admin)
    with ape.reverts("factory: vault factory mismatch"):
        bare_factory.set_vault(vault, sender=admin)  # names the deployed factory


def test_sweep_and_cover__no_vault__revert(bare_factory, weth, admin):
    with ape.reverts("factory: no vault"):
        bare_factory.sweep(weth.pool, sender=admin)
    with ape.reverts("factory: no vault"):
        bare_factory.cover_bad_debt(weth.pool, WAD, sender=admin)
