from dataclasses import replace

import ape

from bulkhead import risk
from tests.conftest import BPS, WAD


def test_borrow__within_max_ltv__mints_to_caller(market, borrower, stablecoin):
    position_id = market.open_at_ltv(borrower, 10_000 * WAD, 2_000)
    norm = market.pool.normalised_debt_of(position_id)
    balance = stablecoin.balanceOf(borrower)
    amount = 1_000 * WAD

    tx = market.pool.borrow(position_id, amount, sender=borrower)

    rate = market.pool.rate(block_id=tx.block_number)
    assert market.pool.normalised_debt_of(position_id) == norm + risk.ceil_div(amount * WAD, rate)
    assert stablecoin.balanceOf(borrower) == balance + amount
    (event,) = tx.decode_logs(market.pool.Borrow)
    assert (event.id, event.receiver, event.amount) == (position_id, borrower, amount)
    (updated,) = tx.decode_logs(market.pool.PositionUpdated)
    assert updated.debt == risk.debt(norm + risk.ceil_div(amount * WAD, rate), rate)


def test_borrow__on_position_without_debt__starts_debt(weth, borrower):
    position_id = weth.open(borrower, weth.unit, 0)
    weth.pool.borrow(position_id, weth.params.min_debt, sender=borrower)
    assert weth.pool.debt_of(position_id) >= weth.params.min_debt


def test_borrow__zero_amount__reverts(weth, borrower):
    position_id = weth.open(borrower, weth.unit, 0)
    with ape.reverts("pool: zero amount"):
        weth.pool.borrow(position_id, 0, sender=borrower)


def test_borrow__unknown_position__reverts(weth, borrower):
    with ape.reverts("pool: unknown position"):
        weth.pool.borrow(weth.pool.position_count() + 1, WAD, sender=borrower)


def test_borrow__by_stranger__reverts(weth, borrower, attacker):
    position_id = weth.open(borrower, weth.unit, 0)
    with ape.reverts("pool: not owner or operator"):
        weth.pool.borrow(position_id, 100 * WAD, sender=attacker)


def test_borrow__paused__reverts(weth, factory, admin, borrower):
    position_id = weth.open(borrower, weth.unit, 0)
    factory.set_paused(weth.pool, True, sender=admin)
    with ape.reverts("pool: paused"):
        weth.pool.borrow(position_id, 100 * WAD, sender=borrower)


def test_borrow__beyond_max_ltv__reverts(weth, borrower):
    usd = 10_000 * WAD
    headroom = 1_000  # [bps] below the pool's max LTV
    position_id = weth.open_at_ltv(borrower, usd, weth.params.max_ltv - headroom)
    with ape.reverts("pool: exceeds max ltv"):
        weth.pool.borrow(position_id, usd * headroom // BPS + WAD, sender=borrower)


def test_borrow__first_debt_below_minimum__reverts(weth, borrower):
    position_id = weth.open(borrower, weth.unit, 0)
    with ape.reverts("pool: debt below minimum"):
        weth.pool.borrow(position_id, weth.params.min_debt // 2, sender=borrower)


def test_borrow__beyond_debt_ceiling__reverts(weth, factory, admin, borrower):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, 2_000)
    p = weth.params
    ceiling = weth.pool.total_debt() + 500 * WAD
    factory.set_risk_params(weth.pool, replace(p, debt_ceiling=ceiling).as_tuple(), sender=admin)
    weth.pool.borrow(position_id, 400 * WAD, sender=borrower)
    with ape.reverts("pool: debt ceiling"):
        weth.pool.borrow(position_id, 200 * WAD, sender=borrower)
