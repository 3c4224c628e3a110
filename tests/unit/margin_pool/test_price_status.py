def test_price_status__valid__is_price_and_ok(weth):
    assert weth.pool.price_status() == (weth.price(), 0)


def test_price_status__each_failure__has_its_code_and_no_price(weth, admin, chain):
    feed = weth.feed
    codes = {}
    with chain.isolate():
        feed.set_reverting(True, sender=admin)
        codes["feed failed"] = weth.pool.price_status()
    with chain.isolate():
        feed.set_answer(-1, sender=admin)
        codes["non-positive"] = weth.pool.price_status()
    with chain.isolate():
        round_id, answer, started, updated, _ = feed.latestRoundData()
        feed.set_round_data(round_id, answer, started, updated, round_id - 1, sender=admin)
        codes["incomplete"] = weth.pool.price_status()
    with chain.isolate():
        chain.mine(timestamp=feed.latestRoundData()[3] + 3601)
        codes["stale"] = weth.pool.price_status()
    with chain.isolate():
        feed.set_answer(10**31, sender=admin)
        codes["out of range"] = weth.pool.price_status()
    with chain.isolate():
        weth.move_price(16_000, admin)
        codes["jump"] = weth.pool.price_status()
    assert codes == {
        "feed failed": (0, 1),
        "non-positive": (0, 2),
        "incomplete": (0, 3),
        "stale": (0, 4),
        "out of range": (0, 5),
        "jump": (0, 6),
    }
