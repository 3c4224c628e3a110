# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title Mock Chainlink aggregator
@license MIT
@notice A settable `AggregatorV3Interface` feed that emits the events a real aggregator
        emits (`AnswerUpdated`, `NewRound`). Local chains and tests only.
@dev `set_answer` starts a new round at the current block time. `set_round_data` writes
     any round fields, so tests can make a round stale, incomplete or from the future.
     `set_reverting` makes every read revert, like a broken or paused feed.
@custom:kill Not for production; there is nothing to stop.
"""

# ---------------------------------------------------------------- storage

decimals: public(uint8)
description: public(String[64])
version: public(uint256)
reverting: public(bool)

_round_id: uint80
_answer: int256
_started_at: uint256  # [seconds]
_updated_at: uint256  # [seconds]
_answered_in_round: uint80

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
    assert not self.reverting, "mock: feed reverts"
    return self._round_id, self._answer, self._started_at, self._updated_at, self._answered_in_round


@external
@view
def latestAnswer() -> int256:
    """
    @notice The latest answer [feed units].
    @return The answer.
    """
    assert not self.reverting, "mock: feed reverts"
    return self._answer


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
    @param _started_at Round start [seconds].
    @param _updated_at Round update time [seconds].
    @param _answered_in_round Round in which the answer was computed.
    """
    self._round_id = _round_id
    self._answer = _answer
    self._started_at = _started_at
    self._updated_at = _updated_at
    self._answered_in_round = _answered_in_round
    log AnswerUpdated(current=_answer, roundId=convert(_round_id, uint256), updatedAt=_updated_at)


@external
def set_updated_at(_updated_at: uint256):
    """
    @notice Move the latest round's `updatedAt` (for staleness tests).
    @param _updated_at New update time [seconds].
    """
    self._updated_at = _updated_at


@external
def set_reverting(_reverting: bool):
    """
    @notice Make every read revert (or stop doing so).
    @param _reverting True to revert.
    """
    self.reverting = _reverting


@internal
def _set(_answer: int256, _now: uint256):
    round_id: uint80 = self._round_id + 1
    self._round_id = round_id
    self._answer = _answer
    self._started_at = _now
    self._updated_at = _now
    self._answered_in_round = round_id
    log NewRound(roundId=convert(round_id, uint256), startedBy=msg.sender, startedAt=_now)
    log AnswerUpdated(current=_answer, roundId=convert(round_id, uint256), updatedAt=_now)
