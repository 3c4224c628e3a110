import ape


def test_reset_price_anchor__after_a_jump__accepts_the_new_price(weth, factory, admin, borrower):
    crashed = weth.move_price(4_000, admin)  # -60 %, beyond the 50 % bound
    with ape.reverts("oracle: price jump"):
        weth.pool.price()
    tx = factory.reset_price_anchor(weth.pool, sender=admin)
    (event,) = tx.decode_logs(weth.pool.PriceAnchorSet)
    assert event.price == crashed
    assert weth.pool.price() == crashed
    weth.open(borrower, weth.unit, 100 * 10**18)  # borrowing works again


def test_reset_price_anchor__invalid_feed__reverts_with_its_reason(weth, factory, admin, chain):
    chain.mine(timestamp=weth.feed.latestRoundData()[3] + 3601)
    with ape.reverts("oracle: stale price"):
        factory.reset_price_anchor(weth.pool, sender=admin)


def test_reset_price_anchor__stranger__reverts(weth, factory, attacker):
    with ape.reverts("ownable: caller is not the owner"):
        factory.reset_price_anchor(weth.pool, sender=attacker)


def test_reset_price_anchor__unknown_pool__reverts(factory, admin, attacker):
    with ape.reverts("factory: unknown pool"):
        factory.reset_price_anchor(attacker, sender=admin)
