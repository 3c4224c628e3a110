import ape

from tests.conftest import WAD, ZERO_ADDRESS


def test_transfer_position__by_owner__moves_control(weth, borrower, attacker, keeper):
    position_id = weth.open_at_ltv(borrower, 10_000 * WAD, 2_000)
    collateral = weth.pool.collateral_of(position_id)
    norm = weth.pool.normalised_debt_of(position_id)

    tx = weth.pool.transfer_position(position_id, keeper, sender=borrower)

    assert weth.pool.owner_of(position_id) == keeper
    (moved,) = tx.decode_logs(weth.pool.PositionTransferred)
    assert (moved.id, moved.sender, moved.receiver) == (position_id, borrower, keeper)
    (updated,) = tx.decode_logs(weth.pool.PositionUpdated)
    assert (updated.owner, updated.collateral, updated.normalised_debt) == (
        keeper,
        collateral,
        norm,
    )
    weth.pool.withdraw(position_id, 1, sender=keeper)
    with ape.reverts("pool: not owner or operator"):
        weth.pool.withdraw(position_id, 1, sender=borrower)


def test_transfer_position__old_owners_operator__loses_access(weth, borrower, operator, keeper):
    position_id = weth.open(borrower, weth.unit, 0)
    weth.pool.set_operator(operator, True, sender=borrower)
    weth.pool.transfer_position(position_id, keeper, sender=borrower)
    with ape.reverts("pool: not owner or operator"):
        weth.pool.withdraw(position_id, 1, sender=operator)


def test_transfer_position__by_operator__reverts(weth, borrower, operator, keeper):
    position_id = weth.open(borrower, weth.unit, 0)
    weth.pool.set_operator(operator, True, sender=borrower)
    with ape.reverts("pool: not owner"):
        weth.pool.transfer_position(position_id, keeper, sender=operator)


def test_transfer_position__to_zero_address__reverts(weth, borrower):
    position_id = weth.open(borrower, weth.unit, 0)
    with ape.reverts("pool: zero receiver"):
        weth.pool.transfer_position(position_id, ZERO_ADDRESS, sender=borrower)


def test_transfer_position__unknown_position__reverts(weth, borrower, keeper):
    with ape.reverts("pool: unknown position"):
        weth.pool.transfer_position(weth.pool.position_count() + 1, keeper, sender=borrower)
