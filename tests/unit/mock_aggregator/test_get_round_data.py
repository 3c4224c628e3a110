"""MockAggregator keeps every round it wrote readable, as a Chainlink aggregator does."""

import ape

FEED_UNIT = 10**8


def test_get_round_data__past_rounds__each_as_written(weth, admin, chain):
    first = weth.feed.latestRound()
    rounds = {}
    for answer in (2_900, 3_100, 3_050):
        tx = weth.feed.set_answer(answer * FEED_UNIT, sender=admin)
        now = chain.blocks[tx.block_number].timestamp
        rid = weth.feed.latestRound()
        rounds[rid] = (rid, answer * FEED_UNIT, now, now, rid)
    assert sorted(rounds) == [first + 1, first + 2, first + 3]
    for rid, data in rounds.items():
        assert weth.feed.getRoundData(rid) == data
    assert weth.feed.latestRoundData() == rounds[first + 3]


def test_get_round_data__set_round_data__readable_by_its_id(weth, admin):
    weth.feed.set_round_data(77, 1_234 * FEED_UNIT, 1_000, 2_000, 76, sender=admin)
    assert weth.feed.getRoundData(77) == (77, 1_234 * FEED_UNIT, 1_000, 2_000, 76)
    assert weth.feed.latestRound() == 77


def test_get_round_data__round_never_written__reverts(weth):
    with ape.reverts("mock: no data present"):
        weth.feed.getRoundData(weth.feed.latestRound() + 1)


def test_get_round_data__reverting__reverts(weth, admin):
    rid = weth.feed.latestRound()
    weth.feed.set_reverting(True, sender=admin)
    with ape.reverts("mock: feed reverts"):
        weth.feed.getRoundData(rid)


def test_get_round_data__after_set_updated_at__agrees_with_latest_round_data(weth, admin):
    weth.feed.set_updated_at(1_234, sender=admin)
    assert weth.feed.getRoundData(weth.feed.latestRound()) == weth.feed.latestRoundData()


def test_get_round_data__round_of_zeros__readable(weth, admin):
    weth.feed.set_round_data(0, 5, 0, 0, 0, sender=admin)
    assert weth.feed.getRoundData(0) == (0, 5, 0, 0, 0)
