import ape

from bulkhead import risk
from tests.conftest import WAD, ZERO_ADDRESS


def test_open__with_debt__mints_and_records_position(market, borrower, stablecoin):
    pool = market.pool
    price = market.price()
    collateral = market.collateral_for(10_000 * WAD, price)
    debt = 5_000 * WAD
    market.fund(borrower, collateral)
    count = pool.position_count()
    supply = stablecoin.totalSupply()

    tx = pool.open(collateral, debt, sender=borrower)

    position_id = tx.return_value
    assert position_id == count + 1 == pool.position_count()
    assert pool.owner_of(position_id) == borrower
    assert pool.collateral_of(position_id) == collateral
    assert pool.total_collateral() >= collateral
    rate = pool.rate(block_id=tx.block_number)
    assert pool.normalised_debt_of(position_id) == risk.ceil_div(debt * WAD, rate)
    assert pool.debt_of(position_id) >= debt
    assert stablecoin.balanceOf(borrower) == debt
    assert stablecoin.totalSupply() == supply + debt
    assert market.token.balanceOf(pool) >= collateral
    assert market.token.balanceOf(borrower) == 0
    (opened,) = tx.decode_logs(pool.Open)
    assert (opened.id, opened.owner) == (position_id, borrower)
    (deposit,) = tx.decode_logs(pool.Deposit)
    assert (deposit.id, deposit.payer, deposit.amount) == (position_id, borrower, collateral)
    (borrow,) = tx.decode_logs(pool.Borrow)
    assert (borrow.id, borrow.receiver, borrow.amount) == (position_id, borrower, debt)
    (updated,) = tx.decode_logs(pool.PositionUpdated)
    assert updated.collateral == collateral
    assert updated.normalised_debt == pool.normalised_debt_of(position_id)
    assert updated.debt == risk.debt(updated.normalised_debt, rate)


def test_open__without_debt__holds_collateral_only(market, borrower, stablecoin):
    collateral = 3 * market.unit
    position_id = market.open(borrower, collateral, 0)
    assert market.pool.collateral_of(position_id) == collateral
    assert market.pool.debt_of(position_id) == 0
    assert market.pool.health(position_id) == 2**256 - 1
    assert stablecoin.balanceOf(borrower) == 0


def test_open__twice__gives_increasing_ids_to_the_caller(weth, borrower, attacker):
    first = weth.open(borrower, weth.unit, 0)
    second = weth.open(attacker, weth.unit, 0)
    assert second == first + 1
    assert weth.pool.owner_of(first) == borrower
    assert weth.pool.owner_of(second) == attacker
    assert weth.pool.owner_of(second + 1) == ZERO_ADDRESS


def test_open__zero_collateral__reverts(weth, borrower):
    with ape.reverts("pool: zero collateral"):
        weth.pool.open(0, 0, sender=borrower)


def test_open__paused__reverts(weth, factory, admin, borrower):
    factory.set_paused(weth.pool, True, sender=admin)
    weth.fund(borrower, weth.unit)
    with ape.reverts("pool: paused"):
        weth.pool.open(weth.unit, 0, sender=borrower)


def test_open__above_max_ltv__reverts(weth, borrower):
    price = weth.price()
    collateral = 10 * weth.unit
    limit = risk.max_debt(collateral, price, weth.params.max_ltv, weth.scale)
    weth.fund(borrower, collateral)
    with ape.reverts("pool: exceeds max ltv"):
        weth.pool.open(collateral, limit + 1, sender=borrower)


def test_open__below_min_debt__reverts(weth, borrower):
    weth.fund(borrower, weth.unit)
    with ape.reverts("pool: debt below minimum"):
        weth.pool.open(weth.unit, weth.params.min_debt - 2, sender=borrower)


def test_open__above_debt_ceiling__reverts(vol, borrower):
    ceiling = vol.params.debt_ceiling
    collateral = vol.collateral_for(4 * ceiling)
    vol.fund(borrower, collateral)
    with ape.reverts("pool: debt ceiling"):
        vol.pool.open(collateral, ceiling + WAD, sender=borrower)


def test_open__collateral_too_large__reverts(weth, borrower):
    collateral = 2**128 // weth.scale
    weth.fund(borrower, collateral)
    with ape.reverts("pool: collateral too large"):
        weth.pool.open(collateral, 0, sender=borrower)


def test_open__token_takes_a_transfer_fee__reverts(quirky, borrower):
    token, pool = quirky
    token.mint(borrower, 10**18, sender=borrower)
    token.approve(pool, 2**256 - 1, sender=borrower)
    token.set_fee_bps(10, sender=borrower)
    with ape.reverts("pool: collateral not received"):
        pool.open(10**18, 0, sender=borrower)


def test_open__token_returns_false__reverts(quirky, borrower):
    token, pool = quirky
    token.mint(borrower, 10**18, sender=borrower)
    token.approve(pool, 2**256 - 1, sender=borrower)
    token.set_failing(True, sender=borrower)
    with ape.reverts("pool: collateral transfer failed"):
        pool.open(10**18, 0, sender=borrower)


def test_open__above_position_debt_cap__reverts_and_just_under_it_opens(vol, borrower):
    cap = vol.pool.controls().position_debt_cap  # 500,000 bhUSD: bulkhead/configs/local.toml
    assert cap < vol.params.debt_ceiling
    collateral = vol.collateral_for(4 * cap)  # LTV 25 %: only the cap refuses it
    vol.fund(borrower, 2 * collateral)
    with ape.reverts("pool: position debt cap"):
        vol.pool.open(collateral, cap + WAD, sender=borrower)
    position_id = vol.pool.open(collateral, cap - WAD, sender=borrower).return_value
    assert cap - WAD <= vol.pool.debt_of(position_id) <= cap


def test_open__haircut__refuses_a_debt_max_ltv_alone_allows(weth, factory, admin, borrower):
    collateral = 10 * weth.unit
    limit = risk.max_debt(collateral, weth.price(), weth.params.max_ltv, weth.scale)
    factory.set_haircut(weth.pool, 1_000, sender=admin)
    weth.fund(borrower, collateral)
    with ape.reverts("pool: exceeds max ltv"):
        weth.pool.open(collateral, limit * 95 // 100, sender=borrower)
    position_id = weth.pool.open(collateral, limit * 89 // 100, sender=borrower).return_value
    assert weth.pool.debt_of(position_id) > 0
