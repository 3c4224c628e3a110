# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title Mock Chainlink aggregator
@license MIT
@notice A settable `AggregatorV3Interface` feed that emits the events a real aggregator
        emits (`AnswerUpdated`, `NewRound`). Local chains and tests only.
@dev `set_answer` starts a new round at the current block time. `set_round_data` writes
     any round fields, so tests can make a round stale, incomplete or from the future.
     `set_reverting` makes every read revert, like a broken or paused feed. Every round
     stays readable through `getRoundData` (tools estimate volatility from them).
@custom:kill Not for production; there is nothing to stop.
"""

# ---------------------------------------------------------------- storage

decimals: public(uint8)
description: public(String[64])
version: public(uint256)

# the latest round in two words, as Chainlink's OCR aggregator keeps it (a word of round
# ids and times beside the answer), so a read costs what a real feed's storage costs:
# reverting flag (bits 248..255) | round id (168..247) | answered in round (88..167) |
# started at [seconds] (40..87) | updated at [seconds] (0..39)
_latest: uint256
_answer: int256
# every round, for getRoundData: answer, and the packed word above with bit 248 set (so a
# round of zeros still reads as written)
_round_answer: HashMap[uint256, int256]
_round_word: HashMap[uint256, uint256]

_MASK40: constant(uint256) = 2**40 - 1
_MASK48: constant(uint256) = 2**48 - 1
_MASK80: constant(uint256) = 2**80 - 1
_WRITTEN: constant(uint256) = 1 << 248

# ----------------------------------------------------------------- events

event AnswerUpdated:
    current: indexed(int256)
    roundId: indexed(uint256)
    updatedAt: uint256

event NewRound:
    roundId: indexed(uint256)
    startedBy: indexed(address)
    startedAt: uint256


@deploy
def __init__(_decimals: uint8, _answer: int256, _description: String[64]):
    """
    @notice Deploy a feed with a first round at the current block.
    @param _decimals Decimals of the answer (Chainlink USD feeds use 8).
    @param _answer First answer [feed units].
    @param _description Feed description, e.g. "ETH / USD".
    """
    self.decimals = _decimals
    self.description = _description
    self.version = 4
    self._set(_answer, block.timestamp)


@external
@view
def latestRoundData() -> (uint80, int256, uint256, uint256, uint80):
    """
    @notice The latest round, as Chainlink returns it.
    @return roundId, answer, startedAt, updatedAt, answeredInRound
    """
    word: uint256 = self._latest
    assert word >> 248 == 0, "mock: feed reverts"
    return self._unpack(word, self._answer)


@external
@view
def getRoundData(_round_id: uint80) -> (uint80, int256, uint256, uint256, uint80):
    """
    @notice A past round, as Chainlink returns it; reverts for a round never written.
    @param _round_id Round id.
    @return roundId, answer, startedAt, updatedAt, answeredInRound
    """
    assert self._latest >> 248 == 0, "mock: feed reverts"
    word: uint256 = self._round_word[convert(_round_id, uint256)]
    assert word != 0, "mock: no data present"
    return self._unpack(word, self._round_answer[convert(_round_id, uint256)])


@external
@view
def latestAnswer() -> int256:
    """
    @notice The latest answer [feed units].
    @return The answer.
    """
    assert self._latest >> 248 == 0, "mock: feed reverts"
    return self._answer


@external
@view
def latestRound() -> uint256:
    """
    @notice The latest round id.
    @return The round id.
    """
    return (self._latest >> 168) & _MASK80


@external
@view
def reverting() -> bool:
    """
    @notice Whether every read reverts.
    @return True while reads revert.
    """
    return self._latest >> 248 != 0


@external
def set_answer(_answer: int256):
    """
    @notice Start a new round with `_answer` at the current block time.
    @param _answer New answer [feed units].
    """
    self._set(_answer, block.timestamp)


@external
def set_round_data(
    _round_id: uint80,
    _answer: int256,
    _started_at: uint256,
    _updated_at: uint256,
    _answered_in_round: uint80,
):
    """
    @notice Overwrite every field of the latest round (stale, future or incomplete rounds).
    @param _round_id Round id.
    @param _answer Answer [feed units].
    @param _started_at Round start [seconds], below 2**48.
    @param _updated_at Round update time [seconds], below 2**40.
    @param _answered_in_round Round in which the answer was computed.
    """
    self._write(_round_id, _answer, _started_at, _updated_at, _answered_in_round)
    log AnswerUpdated(current=_answer, roundId=convert(_round_id, uint256), updatedAt=_updated_at)


@external
def set_updated_at(_updated_at: uint256):
    """
    @notice Move the latest round's `updatedAt` (for staleness tests).
    @param _updated_at New update time [seconds], below 2**40.
    """
    assert _updated_at <= _MASK40, "mock: time too large"
    latest: uint256 = (self._latest >> 40) << 40 | _updated_at
    self._latest = latest
    # the round's history reads the same as latestRoundData
    round_id: uint256 = (latest >> 168) & _MASK80
    self._round_word[round_id] = _WRITTEN | (latest & (2**248 - 1))


@external
def set_reverting(_reverting: bool):
    """
    @notice Make every read revert (or stop doing so).
    @param _reverting True to revert.
    """
    flag: uint256 = 0
    if _reverting:
        flag = 1
    self._latest = flag << 248 | (self._latest & (2**248 - 1))


@internal
def _set(_answer: int256, _now: uint256):
    round_id: uint80 = convert((self._latest >> 168) & _MASK80, uint80) + 1
    self._write(round_id, _answer, _now, _now, round_id)
    log NewRound(roundId=convert(round_id, uint256), startedBy=msg.sender, startedAt=_now)
    log AnswerUpdated(current=_answer, roundId=convert(round_id, uint256), updatedAt=_now)


@internal
def _write(_round_id: uint80, _answer: int256, _started_at: uint256, _updated_at: uint256, _answered_in_round: uint80):
    assert _started_at <= _MASK48 and _updated_at <= _MASK40, "mock: time too large"
    word: uint256 = (
        convert(_round_id, uint256) << 168
        | convert(_answered_in_round, uint256) << 88
        | _started_at << 40
        | _updated_at
    )
    self._latest = (self._latest >> 248) << 248 | word
    self._answer = _answer
    self._round_word[convert(_round_id, uint256)] = _WRITTEN | word
    self._round_answer[convert(_round_id, uint256)] = _answer


@internal
@pure
def _unpack(_word: uint256, _answer: int256) -> (uint80, int256, uint256, uint256, uint80):
    return (
        convert((_word >> 168) & _MASK80, uint80),
        _answer,
        (_word >> 40) & _MASK48,
        _word & _MASK40,
        convert((_word >> 88) & _MASK80, uint80),
    )
