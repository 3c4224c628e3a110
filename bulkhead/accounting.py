"""bhUSD's accounting identity, one statement for every tool that checks it.

Every bhUSD in circulation was minted against debt, and every unit of interest goes to a
pool's reserve; a liquidation that leaves debt without collateral records it as bad debt.
So, over every pool, after each accrued:

    supply + reserves == debts + bad debts

up to a few wei of rounding per operation (each divides once, always in the pool's
favour). The demo, the simulator and `bulkhead status` read the figures from the chain in
their own way and hand them here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bulkhead.risk import WAD

ROUNDING_PER_OPERATION = 10  # [wei] the most one operation may leave off the identity


@dataclass(frozen=True)
class PoolBook:
    """One pool's side of the identity, just after it accrued."""

    normalised_debt: int  # [wad] the sum over its positions
    rate: int  # [wad] the rate of that accrual
    reserve: int  # [wad]
    bad_debt: int  # [wad]
    operations: int  # how many operations it saw (a bound on its rounding)

    @property
    def debt(self) -> int:
        return self.normalised_debt * self.rate // WAD


@dataclass(frozen=True)
class Accounting:
    supply: int
    reserves: int
    debts: int
    bad_debt: int
    gap: int  # [wei] supply + reserves - (debts + bad debt)
    tolerance: int  # [wei]

    @property
    def ok(self) -> bool:
        return abs(self.gap) <= self.tolerance


def check(supply: int, pools: Iterable[PoolBook], operations: int = 0) -> Accounting:
    """The identity over `pools` for a bhUSD `supply`; `operations` beyond the pools' own
    widen the rounding tolerance."""
    books = list(pools)
    reserves = sum(b.reserve for b in books)
    debts = sum(b.debt for b in books)
    bad = sum(b.bad_debt for b in books)
    operations += sum(b.operations for b in books)
    return Accounting(
        supply=supply,
        reserves=reserves,
        debts=debts,
        bad_debt=bad,
        gap=supply + reserves - (debts + bad),
        tolerance=ROUNDING_PER_OPERATION * (operations + 10),
    )
