"""The savings vault in integers, matching `SavingsVault.vy` to the wei, and its stats.

The vault accounts for its bhUSD itself: `tracked` is every bhUSD it owns, and a stream
(`locked` at `start`, released linearly until `end`) holds what has arrived but is not yet
released. Total assets = tracked - what is still locked. Every conversion carries a
virtual dead deposit of `VIRTUAL` shares backed by `VIRTUAL` assets.

`vault_stats` reads the vault and replays its events (ERC-4626 `Deposit`/`Withdraw`, and
`Stream`/`Cover`) to find the share price a day ago without historical state (the local
node prunes it), and from that the APY over the last day.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from web3 import Web3

from bulkhead import artifacts
from bulkhead.risk import SECONDS_PER_YEAR, WAD, ceil_div

VIRTUAL = 10**18  # [wad] `SavingsVault.VIRTUAL`
MIN_STREAM_PERIOD = 3_600  # [seconds]
MAX_STREAM_PERIOD = 30 * 86_400  # [seconds]
MAX_TOTAL_ASSETS = 2**128  # [wad]
MIN_RESERVE_TARGET = 1_000 * WAD  # [wad] `PoolFactory.MIN_RESERVE_TARGET`
MAX_RESERVE_TARGET = 10**33  # [wad]
DEFAULT_RESERVE_TARGET = 10_000 * WAD  # [wad]
MAX_COVER_BPS = 1_000  # [bps]
COVER_COOLDOWN = 86_400  # [seconds]
DAY = 86_400  # [seconds]


def validate_stream_period(period: int) -> None:
    """`SavingsVault._check_period`: ValueError with the contract's reason."""
    if not MIN_STREAM_PERIOD <= period <= MAX_STREAM_PERIOD:
        raise ValueError("vault: stream period out of bounds")


def validate_reserve_target(target: int) -> None:
    """`PoolFactory.set_reserve_target`'s bound: ValueError with the contract's reason."""
    if not MIN_RESERVE_TARGET <= target <= MAX_RESERVE_TARGET:
        raise ValueError("factory: reserve target out of bounds")


def mul_div(x: int, y: int, denominator: int, roundup: bool) -> int:
    """snekmate `math._mul_div`."""
    return ceil_div(x * y, denominator) if roundup else x * y // denominator


def still_locked(locked: int, start: int, end: int, now: int) -> int:
    """`SavingsVault._locked_now`: the part of the stream not released at `now` (rounded up)."""
    if locked == 0 or now >= end:
        return 0
    return locked - locked * (now - start) // (end - start)


def stream_end(still: int, end: int, added: int, period: int, now: int) -> int:
    """`SavingsVault.skim`: the end of the merged stream after `added` arrives at `now`."""
    if still == 0:
        return now + period
    remaining = end - now
    # the merged stream releases at still / remaining + added / period, rounded down
    return now + (still + added) * remaining * period // (still * period + added * remaining)


@dataclass(frozen=True)
class VaultState:
    """The vault's storage (and share supply) at one moment."""

    tracked: int = 0  # [wad]
    locked: int = 0  # [wad] locked at `start`
    start: int = 0  # [seconds]
    end: int = 0  # [seconds]
    supply: int = 0  # [wad] shares

    def locked_at(self, now: int) -> int:
        return still_locked(self.locked, self.start, self.end, now)

    def total_assets(self, now: int) -> int:
        return self.tracked - self.locked_at(now)

    def to_shares(self, assets: int, now: int, roundup: bool = False) -> int:
        return mul_div(assets, self.supply + VIRTUAL, self.total_assets(now) + VIRTUAL, roundup)

    def to_assets(self, shares: int, now: int, roundup: bool = False) -> int:
        return mul_div(shares, self.total_assets(now) + VIRTUAL, self.supply + VIRTUAL, roundup)

    def assets_out(self, shares: int, now: int) -> int:
        """`SavingsVault._assets_out`: what redeeming pays, at most the total assets."""
        return min(self.to_assets(shares, now), self.total_assets(now))

    def share_price(self, now: int) -> int:
        """`convertToAssets(1e18)` [wad]."""
        return self.to_assets(WAD, now)

    # state changes, one per contract event
    def deposit(self, assets: int, shares: int) -> VaultState:
        return replace(self, tracked=self.tracked + assets, supply=self.supply + shares)

    def withdraw(self, assets: int, shares: int) -> VaultState:
        return replace(self, tracked=self.tracked - assets, supply=self.supply - shares)

    def stream(self, now: int, added: int, locked: int, end: int) -> VaultState:
        return replace(self, tracked=self.tracked + added, locked=locked, start=now, end=end)

    def skim(self, now: int, added: int, period: int) -> VaultState:
        """What `skim` does when `added` bhUSD arrived; the event then carries the result."""
        if added == 0:
            return self
        still = self.locked_at(now)
        end = stream_end(still, self.end, added, period, now)
        return self.stream(now, added, still + added, end)

    def cover(self, now: int, amount: int) -> VaultState:
        still = self.locked_at(now)
        locked = still - min(amount, still)
        if locked == 0:
            return replace(self, tracked=self.tracked - amount, locked=0, start=0, end=0)
        return replace(self, tracked=self.tracked - amount, locked=locked, start=now)


@dataclass(frozen=True)
class VaultEvent:
    """One state-changing vault event, in chain order."""

    block: int
    index: int  # log index in the block
    timestamp: int  # [seconds]
    name: str  # Deposit, Withdraw, Stream or Cover
    args: dict


def replay(events: Iterable[VaultEvent], until: int | None = None) -> VaultState:
    """The vault's state after every event at or before timestamp `until` (all if None)."""
    state = VaultState()
    for ev in sorted(events, key=lambda e: (e.block, e.index)):
        if until is not None and ev.timestamp > until:
            break
        a = ev.args
        if ev.name == "Deposit":
            state = state.deposit(a["assets"], a["shares"])
        elif ev.name == "Withdraw":
            state = state.withdraw(a["assets"], a["shares"])
        elif ev.name == "Stream":
            state = state.stream(ev.timestamp, a["added"], a["locked"], a["unlock_end"])
        elif ev.name == "Cover":
            state = state.cover(ev.timestamp, a["amount"])
        else:
            raise ValueError(f"unknown vault event {ev.name!r}")
    return state


def annualise(price_then: int, price_now: int, elapsed: int) -> float:
    """Compounded yearly growth of a share price that went from `price_then` to `price_now`."""
    if elapsed <= 0 or price_then <= 0:
        return 0.0
    try:
        return math.exp(math.log(price_now / price_then) * SECONDS_PER_YEAR / elapsed) - 1
    except OverflowError:
        return math.inf


@dataclass(frozen=True)
class VaultStats:
    address: str
    total_assets: int  # [wad] bhUSD the shares own now
    total_supply: int  # [wad] shares
    share_price: int  # [wad] bhUSD per share
    locked: int  # [wad] arrived, still streaming
    unlock_end: int  # [seconds] 0 when nothing streams
    stream_period: int  # [seconds]
    share_price_day_ago: int  # [wad] at `window_start`
    window_start: int  # [seconds] a day before `timestamp`, or the vault's first block
    timestamp: int  # [seconds] of the block read
    apy_1d: float  # share-price growth over the window, compounded over a year

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class PoolReserve:
    name: str
    address: str
    reserve: int  # [wad] as of the pool's last accrual
    bad_debt: int  # [wad]
    reserve_target: int  # [wad]
    sweepable: int  # [wad] what `sweep` would mint to the vault now, before new accrual


def vault_events(w3: Web3, vault: Any, from_block: int, to_block: int) -> list[VaultEvent]:
    """Every state-changing event of `vault` in [from_block, to_block], with timestamps."""
    raw = []
    for name in ("Deposit", "Withdraw", "Stream", "Cover"):
        raw += getattr(vault.events, name).get_logs(from_block=from_block, to_block=to_block)
    times: dict[int, int] = {}
    events = []
    for log in raw:
        block = log["blockNumber"]
        if block not in times:
            times[block] = w3.eth.get_block(block)["timestamp"]
        events.append(
            VaultEvent(block, log["logIndex"], times[block], log["event"], dict(log["args"]))
        )
    events.sort(key=lambda e: (e.block, e.index))
    return events


def vault_stats(w3: Web3, deployment: Any, window: int = DAY) -> VaultStats:
    """Address, total assets, share price and APY over the last day of the deployment's vault."""
    vault = artifacts.contract(w3, "SavingsVault", deployment.vault)
    head = w3.eth.get_block("latest")
    now, number = head["timestamp"], head["number"]
    events = vault_events(w3, vault, deployment.deploy_block, number)
    first = w3.eth.get_block(min(deployment.deploy_block, number))["timestamp"]
    window_start = max(now - window, first)
    price_now = vault.functions.convertToAssets(WAD).call(block_identifier=number)
    price_then = replay(events, until=window_start).share_price(window_start)
    return VaultStats(
        address=vault.address,
        total_assets=vault.functions.totalAssets().call(block_identifier=number),
        total_supply=vault.functions.totalSupply().call(block_identifier=number),
        share_price=price_now,
        locked=vault.functions.locked_assets().call(block_identifier=number),
        unlock_end=vault.functions.unlock_end().call(block_identifier=number),
        stream_period=vault.functions.stream_period().call(block_identifier=number),
        share_price_day_ago=price_then,
        window_start=window_start,
        timestamp=now,
        apy_1d=annualise(price_then, price_now, now - window_start),
    )


def pool_reserves(w3: Web3, deployment: Any) -> list[PoolReserve]:
    """Each pool's reserve, bad debt, reserve target and what a sweep would move now."""
    factory = artifacts.contract(w3, "PoolFactory", deployment.factory)
    out = []
    for info in deployment.pools:
        pool = artifacts.contract(w3, "MarginPool", info.address)
        reserve = pool.functions.reserve().call()
        bad = pool.functions.bad_debt().call()
        target = factory.functions.reserve_target(pool.address).call()
        left = reserve - min(reserve, bad)
        out.append(
            PoolReserve(info.name, pool.address, reserve, bad, target, max(left - target, 0))
        )
    return out
