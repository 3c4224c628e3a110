"""bhUSD's accounting identity (`bulkhead.accounting`), stated from its parts: what was
minted plus what the reserves hold must equal what borrowers owe plus the bad debt."""

from __future__ import annotations

from bulkhead.accounting import ROUNDING_PER_OPERATION, PoolBook, check
from bulkhead.risk import WAD


def test_check__minted_plus_reserve_equals_debt_plus_bad_debt__ok():
    # 1,000 bhUSD minted at rate 1.0; the rate grew 5 %: 50 of interest sits in the reserve
    weth = PoolBook(1_000 * WAD, WAD * 105 // 100, 50 * WAD, 0, operations=3)
    # a liquidation left 7 of debt without collateral: bad debt; 7 bhUSD still circulate
    wbtc = PoolBook(0, WAD, 0, 7 * WAD, operations=2)
    acc = check(1_007 * WAD, [weth, wbtc])
    assert (acc.supply, acc.reserves, acc.debts, acc.bad_debt) == (
        1_007 * WAD,
        50 * WAD,
        1_050 * WAD,
        7 * WAD,
    )
    assert acc.gap == 0 and acc.ok


def test_check__a_wei_more_than_rounding_allows__not_ok():
    book = PoolBook(100 * WAD, WAD, 0, 0, operations=1)
    tolerance = ROUNDING_PER_OPERATION * (1 + 5 + 10)
    assert check(100 * WAD + tolerance, [book], operations=5).ok
    minted_without_debt = check(100 * WAD + tolerance + 1, [book], operations=5)
    assert minted_without_debt.gap == tolerance + 1 and not minted_without_debt.ok
    interest_lost = check(100 * WAD - tolerance - 1, [book], operations=5)
    assert interest_lost.gap == -(tolerance + 1) and not interest_lost.ok


def test_pool_book_debt__normalised_times_rate__rounded_down():
    assert PoolBook(3, WAD + WAD // 2, 0, 0, 0).debt == 4  # 4.5: rounded down, within the tolerance
