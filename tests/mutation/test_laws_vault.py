"""Laws of the savings vault that mutation testing showed no fast suite stated: the
ERC-4626 previews never promise more than the action gives, no holder's action lowers the
share price, the vault never accounts for more than it holds, and an arrival is released
linearly over the stream period, never ahead of it."""

from __future__ import annotations

from fractions import Fraction

import boa
import pytest

from bulkhead.risk import WAD
from tests.audit.conftest import World

PERIOD = 86_400  # [seconds]
ODD = 333_333_333_333_333_333_337  # [wad] a yield that divides evenly by nothing


@pytest.fixture
def vault(world: World):
    """The savings vault `deploy_system` deployed and named in the factory."""
    assert world.system.vault.stream_period() == PERIOD
    return world.system.vault


def _save(world: World, vault, who: str, amount: int) -> int:
    world.bhusd(who, amount)
    with boa.env.prank(who):
        world.stablecoin.approve(vault.address, 2**256 - 1)
        return vault.deposit(amount, who)


def _odd_share_price(world: World, vault) -> None:
    """Deposits, then a third of an odd yield released: a share price that is no round
    number."""
    _save(world, vault, world.borrower, 1_000 * WAD + 7)
    world.bhusd(vault.address, ODD)
    vault.skim()
    boa.env.time_travel(seconds=PERIOD // 3 + 17)
    world.bhusd(world.operator, 10_000 * WAD)
    with boa.env.prank(world.operator):
        world.stablecoin.approve(vault.address, 2**256 - 1)


def _share_price(vault) -> Fraction:
    virtual = vault.VIRTUAL()
    return Fraction(vault.totalAssets() + virtual, vault.totalSupply() + virtual)


def _amounts() -> list[int]:
    return [1, 3, 10**9 + 7, WAD - 1, 17 * WAD + 123_457, 101 * WAD + 99]


def test_previews__never_promise_more_than_the_action_gives(world: World, vault) -> None:
    """ERC-4626: previewDeposit and previewRedeem never exceed what deposit and redeem
    give; previewMint and previewWithdraw never fall short of what mint and withdraw take."""
    _odd_share_price(world, vault)
    saver = world.operator
    with boa.env.prank(saver):
        vault.deposit(1_000 * WAD, saver)  # shares enough for every exit below
    for amount in _amounts():
        preview = vault.previewDeposit(amount)
        if preview > 0:
            with boa.env.prank(saver):
                assert vault.deposit(amount, saver) >= preview
        preview = vault.previewMint(amount)
        with boa.env.prank(saver):
            assert vault.mint(amount, saver) <= preview
    for amount in _amounts():
        preview = vault.previewWithdraw(amount)
        with boa.env.prank(saver):
            assert vault.withdraw(amount, saver, saver) <= preview
        preview = vault.previewRedeem(amount)
        if preview > 0:
            with boa.env.prank(saver):
                assert vault.redeem(amount, saver, saver) >= preview


def test_holder_actions__never_lower_the_share_price_or_overdraw_the_vault(
    world: World, vault
) -> None:
    """Rounding is the vault's: no deposit, mint, withdraw or redeem lowers what one share
    is worth, and the vault never accounts for more bhUSD than it holds."""
    _odd_share_price(world, vault)
    saver = world.operator
    actions = (
        lambda a: vault.deposit(a, saver),
        lambda a: vault.mint(a, saver),
        lambda a: vault.withdraw(a, saver, saver),
        lambda a: vault.redeem(a, saver, saver),
    )
    for act in actions:
        for amount in _amounts():
            price = _share_price(vault)
            try:
                with boa.env.prank(saver):
                    act(amount)
            except boa.BoaError:
                continue  # a zero-share or zero-asset action is refused; nothing changed
            assert _share_price(vault) >= price
            held = world.stablecoin.balanceOf(vault.address)
            assert vault.totalAssets() + vault.locked_assets() <= held


def test_stream__one_arrival__is_released_linearly_never_ahead(world: World, vault) -> None:
    """An arrival of X is released as X x elapsed / period, rounded down: never faster, and
    all of it at the end of the period."""
    _save(world, vault, world.borrower, 1_000 * WAD)
    world.bhusd(vault.address, ODD)
    vault.skim()
    start = vault.totalAssets()
    elapsed = 0
    for step in (1, 997, PERIOD // 7, PERIOD // 3, PERIOD // 2 - 1):
        boa.env.time_travel(seconds=step)
        elapsed += step
        released = vault.totalAssets() - start
        assert released == ODD * elapsed // PERIOD, f"after {elapsed} s"
    boa.env.time_travel(seconds=PERIOD - elapsed)
    assert vault.totalAssets() - start == ODD
    assert vault.locked_assets() == 0


def test_redeem__share_price_below_one__last_holder_exits_with_at_most_the_total(
    world: World, vault
) -> None:
    """After a cover took 10 % of the assets, the only holder can still redeem every share
    (maxRedeem), and is paid at most what the vault holds for him: a pay-out never exceeds
    the total assets."""
    pool = world.vol.pool
    pid = world.open(world.vol, world.borrower, 10_000 * 10**6, 10_999 * WAD)
    world.vol.set_price_wad(WAD)  # -50 %: under water, bad debt recorded
    with boa.env.prank(world.keeper):
        pool.liquidate(pid, 2**256 - 1, 0)
    assert pool.bad_debt() >= 500 * WAD
    saver = world.operator
    _save(world, vault, saver, 5_000 * WAD)
    with boa.env.prank(world.admin):
        world.factory.cover_bad_debt(pool.address, 500 * WAD)
    total = vault.totalAssets()
    assert total < vault.totalSupply()  # a share is worth less than 1 bhUSD
    before = world.stablecoin.balanceOf(saver)
    with boa.env.prank(saver):
        paid = vault.redeem(vault.maxRedeem(saver), saver, saver)
    assert paid <= total
    assert world.stablecoin.balanceOf(saver) - before == paid
    assert vault.totalSupply() == 0
