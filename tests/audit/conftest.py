"""Fixtures of the bad-input and attack catalogue (docs/AUDIT.md), on titanoboa.

The catalogue runs in-process so that `make audit` measures its line coverage of the Vyper
sources together with the fuzzer's; the access-control matrix stays on ape/Anvil.
"""

from __future__ import annotations

from dataclasses import dataclass

import boa
import pytest

from bulkhead.risk import WAD
from tests.fuzz.machine import revert_reason
from tests.fuzz.system import BoaMarket, BoaSystem, deploy_system

MAX_UINT = 2**256 - 1


@dataclass
class World:
    system: BoaSystem
    admin: str
    borrower: str
    operator: str
    keeper: str
    attacker: str

    @property
    def weth(self) -> BoaMarket:
        return self.system.markets["WETH"]

    @property
    def vol(self) -> BoaMarket:
        return self.system.markets["VOL"]

    @property
    def stablecoin(self):
        return self.system.stablecoin

    @property
    def factory(self):
        return self.system.factory

    def open(self, market: BoaMarket, who: str, collateral: int, debt: int) -> int:
        market.fund(who, collateral)
        with boa.env.prank(who):
            return market.pool.open(collateral, debt)

    def bhusd(self, who: str, amount: int) -> None:
        """Give `who` bhUSD from the keeper's funding position."""
        with boa.env.prank(self.keeper):
            self.stablecoin.transfer(who, amount)


@pytest.fixture(scope="module")
def world() -> World:
    system = deploy_system(("WETH", "WBTC", "VOL"))
    names = ("borrower", "operator", "keeper", "attacker")
    borrower, operator, keeper, attacker = (boa.env.generate_address(n) for n in names)
    w = World(system, system.admin, borrower, operator, keeper, attacker)
    # the keeper's funding position: 10,000 WETH, 1,000,000 bhUSD
    w.open(w.weth, keeper, 10_000 * WAD, 1_000_000 * WAD)
    return w


def expect_revert(reason: str, fn, *args, sender: str):
    """Call `fn(*args)` as `sender` and assert it reverts with exactly `reason`."""
    try:
        with boa.env.prank(sender):
            fn(*args)
    except boa.BoaError as err:
        got = revert_reason(err)
        assert got == reason, f"reverted with {got!r}, expected {reason!r}"
        return
    raise AssertionError(f"did not revert, expected {reason!r}")
