"""`MarginPool.deleverage`: the owner (or operator) repays debt and takes collateral out in one
step, allowed whenever the position's collateral per unit of debt does not fall.

Health is value x threshold / debt, and value is collateral x price, so at any one price
health does not fall exactly when collateral / debt does not. The laws below are stated that
way, cross-multiplied on the stored collateral and normalised debt (debt = normalised debt x
rate), never by asking the Python mirror.
"""

import ape

from tests.conftest import BPS, WAD, YEAR, at_head_time


def _position(m, pid) -> tuple[int, int]:
    return m.pool.collateral_of(pid), m.pool.normalised_debt_of(pid)


def _per_debt_never_falls(before: tuple[int, int], after: tuple[int, int]) -> None:
    """collateral / normalised debt after >= before (a repaid position has no debt to fall)."""
    (coll, norm), (new_coll, new_norm) = before, after
    assert new_coll * norm >= coll * new_norm


def _most_out(coll: int, norm: int, new_norm: int) -> int:
    """The most collateral that keeps collateral / normalised debt from falling:
    (coll - out) x norm >= coll x new_norm."""
    return coll - -(-coll * new_norm // norm)


def _removed(amount: int, rate: int) -> int:
    """Normalised debt a partial repay removes: rounded down, never more than paid."""
    return amount * WAD // rate


def _open(m, owner) -> int:
    """A position at half of max LTV, so that its owner holds the bhUSD it borrowed."""
    return m.open_at_ltv(owner, 30_000 * WAD, m.params.max_ltv // 2)


# ---------------------------------------------------------------- happy paths


def test_deleverage__owner__repays_and_takes_collateral_in_proportion(
    market, borrower, stablecoin, chain
):
    pid = _open(market, borrower)
    coll, norm = _position(market, pid)
    repay = market.pool.debt_of(pid) // 4
    at_head_time(chain)  # the deleverage accrues at the block the views saw
    rate = market.pool.rate()
    new_norm = norm - _removed(repay, rate)
    out = _most_out(coll, norm, new_norm)
    supply = stablecoin.totalSupply()
    bhusd = stablecoin.balanceOf(borrower)
    tokens = market.token.balanceOf(borrower)
    total_coll = market.pool.total_collateral()

    tx = market.pool.deleverage(pid, repay, out, sender=borrower)

    assert _position(market, pid) == (coll - out, new_norm)
    _per_debt_never_falls((coll, norm), _position(market, pid))
    assert stablecoin.totalSupply() == supply - repay
    assert stablecoin.balanceOf(borrower) == bhusd - repay
    assert market.token.balanceOf(borrower) == tokens + out
    assert market.pool.total_collateral() == total_coll - out
    (event,) = tx.decode_logs(market.pool.Deleverage)
    assert (event.id, event.caller, event.repaid, event.collateral_out) == (
        pid,
        borrower,
        repay,
        out,
    )
    (updated,) = tx.decode_logs(market.pool.PositionUpdated)
    assert (updated.id, updated.owner, updated.collateral, updated.normalised_debt) == (
        pid,
        borrower,
        coll - out,
        new_norm,
    )
    assert updated.debt == market.pool.debt_of(pid)


def test_deleverage__one_unit_more_than_in_proportion__reverts(weth, borrower, chain):
    pid = _open(weth, borrower)
    coll, norm = _position(weth, pid)
    repay = weth.pool.debt_of(pid) // 3
    at_head_time(chain)
    new_norm = norm - _removed(repay, weth.pool.rate())
    out = _most_out(coll, norm, new_norm)
    with ape.reverts("pool: health would fall"):
        weth.pool.deleverage(pid, repay, out + 1, sender=borrower)
    at_head_time(chain)  # the reverted transaction was mined at the same time
    weth.pool.deleverage(pid, repay, out, sender=borrower)
    _per_debt_never_falls((coll, norm), _position(weth, pid))


def test_deleverage__health_at_the_price__does_not_fall(weth, borrower, chain):
    pid = _open(weth, borrower)
    at_head_time(chain)
    health = weth.pool.health(pid)
    value, debt = weth.value(weth.pool.collateral_of(pid)), weth.pool.debt_of(pid)
    repay = debt // 2
    out = weth.pool.collateral_of(pid) // 2 - 1
    at_head_time(chain)
    weth.pool.deleverage(pid, repay, out, sender=borrower)
    # value / debt after >= value / debt before, cross-multiplied
    new_value, new_debt = weth.value(weth.pool.collateral_of(pid)), weth.pool.debt_of(pid)
    assert new_value * debt >= value * new_debt - debt  # one wei of value flooring
    assert weth.pool.health(pid) >= health


def test_deleverage__repay_only__raises_health(weth, borrower):
    pid = _open(weth, borrower)
    health = weth.pool.health(pid)
    coll = weth.pool.collateral_of(pid)
    weth.pool.deleverage(pid, 1_000 * WAD, 0, sender=borrower)
    assert weth.pool.collateral_of(pid) == coll
    assert weth.pool.health(pid) > health


def test_deleverage__operator__gets_the_collateral_and_pays_the_bhusd(
    weth, borrower, operator, stablecoin
):
    pid = _open(weth, borrower)
    weth.pool.set_operator(operator, True, sender=borrower)
    repay = 1_000 * WAD
    stablecoin.transfer(operator, repay, sender=borrower)
    owner_bhusd = stablecoin.balanceOf(borrower)
    out = weth.pool.collateral_of(pid) // 100

    tx = weth.pool.deleverage(pid, repay, out, sender=operator)

    assert stablecoin.balanceOf(operator) == 0
    assert stablecoin.balanceOf(borrower) == owner_bhusd
    assert weth.token.balanceOf(operator) == out
    (event,) = tx.decode_logs(weth.pool.Deleverage)
    assert event.caller == operator


def test_deleverage__above_max_ltv__works_where_withdraw_does_not(weth, borrower, admin, chain):
    pid = weth.open_at_ltv(borrower, 30_000 * WAD, weth.params.max_ltv)
    weth.move_price(9_000, admin)  # health falls, still above 1.0
    assert weth.pool.health(pid) > WAD
    coll, norm = _position(weth, pid)
    with ape.reverts("pool: exceeds max ltv"):
        weth.pool.withdraw(pid, 1, sender=borrower)
    repay = weth.pool.debt_of(pid) // 5
    at_head_time(chain)
    out = _most_out(coll, norm, norm - _removed(repay, weth.pool.rate()))
    weth.pool.deleverage(pid, repay, out, sender=borrower)
    _per_debt_never_falls((coll, norm), _position(weth, pid))


def test_deleverage__while_paused__works(weth, factory, admin, borrower):
    pid = _open(weth, borrower)
    factory.set_paused(weth.pool, True, sender=admin)
    coll, norm = _position(weth, pid)
    weth.pool.deleverage(pid, 1_000 * WAD, coll // 100, sender=borrower)
    _per_debt_never_falls((coll, norm), _position(weth, pid))


def test_deleverage__oracle_broken__works_without_a_price(weth, admin, borrower):
    pid = _open(weth, borrower)
    weth.feed.set_reverting(True, sender=admin)
    with ape.reverts("oracle: feed call failed"):
        weth.pool.price()
    coll, norm = _position(weth, pid)
    weth.pool.deleverage(pid, 1_000 * WAD, coll // 100, sender=borrower)
    _per_debt_never_falls((coll, norm), _position(weth, pid))


def test_deleverage__more_than_debt__repays_exactly_the_debt_and_frees_everything(
    weth, borrower, stablecoin
):
    pid = _open(weth, borrower)
    weth.mint_bhusd(borrower, 1_000 * WAD)  # interest on top of what it borrowed
    coll = weth.pool.collateral_of(pid)
    supply = stablecoin.totalSupply()
    bhusd = stablecoin.balanceOf(borrower)

    tx = weth.pool.deleverage(pid, 2**256 - 1, coll, sender=borrower)

    (event,) = tx.decode_logs(weth.pool.Deleverage)
    debt = event.repaid
    assert 0 < debt < 2**256 - 1
    assert stablecoin.balanceOf(borrower) == bhusd - debt
    assert stablecoin.totalSupply() == supply - debt
    assert _position(weth, pid) == (0, 0)
    assert weth.token.balanceOf(borrower) == coll
    assert event.collateral_out == coll


def test_deleverage__accrues_first__reserve_gains_the_interest(weth, borrower, chain):
    pid = _open(weth, borrower)
    reserve = weth.pool.reserve()
    chain.pending_timestamp += YEAR // 12
    tx = weth.pool.deleverage(pid, 1_000 * WAD, 0, sender=borrower)
    (accrual,) = tx.decode_logs(weth.pool.Accrue)
    assert accrual.interest > 0
    assert weth.pool.reserve() == reserve + accrual.interest


# -------------------------------------------------------------------- reverts


def test_deleverage__zero_repay__reverts_first(weth, borrower):
    pid = _open(weth, borrower)
    with ape.reverts("pool: zero amount"):
        weth.pool.deleverage(pid, 0, 1, sender=borrower)
    # checked before the position: an unknown id gets the same reason
    with ape.reverts("pool: zero amount"):
        weth.pool.deleverage(10**9, 0, 0, sender=borrower)


def test_deleverage__unknown_position__reverts(weth, borrower):
    with ape.reverts("pool: unknown position"):
        weth.pool.deleverage(10**9, WAD, 0, sender=borrower)


def test_deleverage__stranger__reverts(weth, borrower, attacker, stablecoin):
    pid = _open(weth, borrower)
    stablecoin.transfer(attacker, 1_000 * WAD, sender=borrower)
    with ape.reverts("pool: not owner or operator"):
        weth.pool.deleverage(pid, 1_000 * WAD, 0, sender=attacker)


def test_deleverage__revoked_operator__reverts(weth, borrower, operator, stablecoin):
    pid = _open(weth, borrower)
    weth.pool.set_operator(operator, True, sender=borrower)
    weth.pool.set_operator(operator, False, sender=borrower)
    stablecoin.transfer(operator, 1_000 * WAD, sender=borrower)
    with ape.reverts("pool: not owner or operator"):
        weth.pool.deleverage(pid, 1_000 * WAD, 0, sender=operator)


def test_deleverage__no_debt__reverts(weth, borrower):
    pid = weth.open(borrower, weth.unit, 0)
    with ape.reverts("pool: no debt"):
        weth.pool.deleverage(pid, WAD, 0, sender=borrower)


def test_deleverage__repay_removes_no_normalised_debt__reverts(weth, borrower, admin, chain):
    pid = _open(weth, borrower)
    chain.pending_timestamp += YEAR  # the rate is above 1, so 1 wei removes 0 normalised debt
    with ape.reverts("pool: repay too small"):
        weth.pool.deleverage(pid, 1, 0, sender=borrower)


def test_deleverage__leaves_dust_debt__reverts(weth, borrower, chain):
    pid = _open(weth, borrower)
    at_head_time(chain)
    # 10 wei under the minimum: the normalised debt removed rounds down, by up to 2 wei
    dust = weth.pool.debt_of(pid) - weth.params.min_debt + 10
    at_head_time(chain)
    with ape.reverts("pool: debt below minimum"):
        weth.pool.deleverage(pid, dust, 0, sender=borrower)


def test_deleverage__more_collateral_than_held__reverts(weth, borrower):
    pid = _open(weth, borrower)
    coll = weth.pool.collateral_of(pid)
    # even with the whole debt repaid (where any collateral could go)
    with ape.reverts("pool: insufficient collateral"):
        weth.pool.deleverage(pid, 2**256 - 1, coll + 1, sender=borrower)


def test_deleverage__collateral_out_without_repay_share__reverts(weth, borrower):
    pid = _open(weth, borrower)
    # 1 % of the debt repaid cannot free 5 % of the collateral
    with ape.reverts("pool: health would fall"):
        weth.pool.deleverage(
            pid, weth.pool.debt_of(pid) // 100, weth.pool.collateral_of(pid) // 20, sender=borrower
        )


def test_deleverage__caller_without_bhusd__reverts_in_the_burn(weth, borrower, operator):
    pid = _open(weth, borrower)
    weth.pool.set_operator(operator, True, sender=borrower)
    with ape.reverts("erc20: burn amount exceeds balance"):
        weth.pool.deleverage(pid, 1_000 * WAD, 0, sender=operator)


def test_deleverage__under_water__only_more_debt_than_collateral_share_passes(
    vol, borrower, admin, chain
):
    """A position worth less than its debt: repaying a share of the debt still frees the
    same share of collateral; one unit more is refused (the pool never asks the price)."""
    pid = vol.open_at_ltv(borrower, 30_000 * WAD, vol.params.max_ltv)
    vol.move_price(BPS // 2, admin)
    assert vol.pool.health(pid) < WAD
    coll, norm = _position(vol, pid)
    repay = vol.pool.debt_of(pid) // 2
    at_head_time(chain)
    out = _most_out(coll, norm, norm - _removed(repay, vol.pool.rate()))
    with ape.reverts("pool: health would fall"):
        vol.pool.deleverage(pid, repay, out + 1, sender=borrower)
    at_head_time(chain)
    vol.pool.deleverage(pid, repay, out, sender=borrower)
    _per_debt_never_falls((coll, norm), _position(vol, pid))
