import ape

from tests.conftest import WAD


def test_deposit__by_owner__adds_collateral(market, borrower):
    position_id = market.open_at_ltv(borrower, 10_000 * WAD, 3_000)
    before = market.pool.collateral_of(position_id)
    health = market.pool.health(position_id)
    amount = market.collateral_for(5_000 * WAD)
    market.fund(borrower, amount)

    tx = market.pool.deposit(position_id, amount, sender=borrower)

    assert market.pool.collateral_of(position_id) == before + amount
    assert market.pool.health(position_id) > health
    (event,) = tx.decode_logs(market.pool.Deposit)
    assert (event.id, event.payer, event.amount) == (position_id, borrower, amount)
    (updated,) = tx.decode_logs(market.pool.PositionUpdated)
    assert (updated.id, updated.owner, updated.collateral) == (
        position_id,
        borrower,
        before + amount,
    )


def test_deposit__by_stranger__credits_the_position(weth, borrower, attacker):
    position_id = weth.open(borrower, weth.unit, 0)
    weth.fund(attacker, weth.unit)
    weth.pool.deposit(position_id, weth.unit, sender=attacker)
    assert weth.pool.collateral_of(position_id) == 2 * weth.unit
    assert weth.pool.owner_of(position_id) == borrower
    assert weth.token.balanceOf(attacker) == 0


def test_deposit__while_paused__works(weth, factory, admin, borrower):
    position_id = weth.open(borrower, weth.unit, 0)
    factory.set_paused(weth.pool, True, sender=admin)
    weth.fund(borrower, weth.unit)
    weth.pool.deposit(position_id, weth.unit, sender=borrower)
    assert weth.pool.collateral_of(position_id) == 2 * weth.unit


def test_deposit__zero_amount__reverts(weth, borrower):
    position_id = weth.open(borrower, weth.unit, 0)
    with ape.reverts("pool: zero amount"):
        weth.pool.deposit(position_id, 0, sender=borrower)


def test_deposit__unknown_position__reverts(weth, borrower):
    weth.fund(borrower, weth.unit)
    with ape.reverts("pool: unknown position"):
        weth.pool.deposit(weth.pool.position_count() + 1, weth.unit, sender=borrower)


def test_deposit__collateral_too_large__reverts(weth, borrower):
    position_id = weth.open(borrower, weth.unit, 0)
    amount = 2**128 - weth.unit
    weth.fund(borrower, amount)
    with ape.reverts("pool: collateral too large"):
        weth.pool.deposit(position_id, amount, sender=borrower)


def test_deposit__token_takes_a_transfer_fee__reverts(quirky, borrower):
    token, pool = quirky
    token.mint(borrower, 2 * 10**18, sender=borrower)
    token.approve(pool, 2**256 - 1, sender=borrower)
    position_id = pool.open(10**18, 0, sender=borrower).return_value
    token.set_fee_bps(1, sender=borrower)
    with ape.reverts("pool: collateral not received"):
        pool.deposit(position_id, 10**18, sender=borrower)
