import ape


def test_latest_round_data__set_answer__starts_a_round_at_block_time(weth, admin, chain):
    round_id = weth.feed.latestRoundData()[0]
    tx = weth.feed.set_answer(4_000 * 10**8, sender=admin)
    now = chain.blocks[tx.block_number].timestamp
    assert weth.feed.latestRoundData() == (round_id + 1, 4_000 * 10**8, now, now, round_id + 1)
    (event,) = tx.decode_logs(weth.feed.AnswerUpdated)
    assert (event.current, event.roundId, event.updatedAt) == (4_000 * 10**8, round_id + 1, now)


def test_latest_round_data__reverting__reverts(weth, admin):
    weth.feed.set_reverting(True, sender=admin)
    with ape.reverts("mock: feed reverts"):
        weth.feed.latestRoundData()
    with ape.reverts("mock: feed reverts"):
        weth.feed.latestAnswer()
