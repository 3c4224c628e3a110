# pragma version 0.4.3
"""
@title Oracle guard
@license MIT
@notice Reads a Chainlink-compatible `AggregatorV3Interface` feed, normalises the answer
        to 18 decimals, and classifies it. A price is invalid when the feed call reverts
        or returns malformed data, when the answer is zero or negative, when the round is
        incomplete (`updatedAt` zero or in the future, `answeredInRound < roundId`), when
        it is older than the heartbeat, when it is above `MAX_PRICE`, or when it moved more
        than the jump bound away from the anchor (the last good price a state change saw).
@dev The jump bound widens by one bound per heartbeat elapsed since the anchor was set,
     so a feed that drifts while nobody trades is accepted, and a genuine crash larger than
     one bound blocks liquidations for at most one heartbeat (or until governance resets
     the anchor). Storage is packed: the feed with its settings in one slot, the anchor
     price with its time in another.
"""

from interfaces import IAggregatorV3
from modules import constants

# -------------------------------------------------------------- constants

OK: constant(uint256) = 0
FEED_FAILED: constant(uint256) = 1
NON_POSITIVE: constant(uint256) = 2
INCOMPLETE_ROUND: constant(uint256) = 3
STALE: constant(uint256) = 4
OUT_OF_RANGE: constant(uint256) = 5
PRICE_JUMP: constant(uint256) = 6

MAX_PRICE: constant(uint256) = 10**30  # [wad] a price above this is treated as broken
MIN_HEARTBEAT: constant(uint256) = 60  # [seconds]
MAX_HEARTBEAT: constant(uint256) = 7 * 86400  # [seconds]
MIN_JUMP: constant(uint256) = 100  # [bps]
MAX_JUMP: constant(uint256) = 10000  # [bps]

_MASK64: constant(uint256) = 2**64 - 1
_MASK32: constant(uint256) = 2**32 - 1
_MASK16: constant(uint256) = 2**16 - 1

# ---------------------------------------------------------------- storage

# feed address (bits 96..255) | heartbeat [seconds] (bits 64..95) | max jump [bps]
# (bits 48..63) | unused | price scale exponent 18 - feed decimals (bits 0..7)
_feed_cfg: uint256
# anchor price [wad] (bits 64..255) | anchor time [seconds] (bits 0..63)
_anchor: uint256

# ----------------------------------------------------------------- events

event OracleParamsSet:
    heartbeat: uint256
    max_jump_bps: uint256

event PriceAnchorSet:
    price: uint256
    timestamp: uint256


@deploy
def __init__(_feed: address):
    """
    @dev Reads the feed's decimals once; a feed with more than 18 decimals is refused.
         `_set_params` and `_try_anchor` follow before the guard is used.
    """
    assert _feed != empty(address), "oracle: zero feed"
    feed_decimals: uint256 = convert(staticcall IAggregatorV3(_feed).decimals(), uint256)
    assert feed_decimals <= 18, "oracle: feed decimals above 18"
    self._feed_cfg = convert(_feed, uint256) << 96 | (18 - feed_decimals)


@internal
def _try_anchor():
    """
    @dev Take the feed's answer as the first anchor when it is valid.
    """
    price: uint256 = 0
    status: uint256 = OK
    price, status = self._read()
    if status == OK:
        self._anchor = price << 64 | block.timestamp
        log PriceAnchorSet(price=price, timestamp=block.timestamp)


@internal
@view
def _feed() -> address:
    return convert(self._feed_cfg >> 96, address)


@internal
@view
def _heartbeat() -> uint256:
    return (self._feed_cfg >> 64) & _MASK32


@internal
@view
def _max_jump() -> uint256:
    return (self._feed_cfg >> 48) & _MASK16


@internal
def _set_params(_heartbeat: uint256, _max_jump_bps: uint256):
    assert _heartbeat >= MIN_HEARTBEAT and _heartbeat <= MAX_HEARTBEAT, "oracle: heartbeat out of bounds"
    assert _max_jump_bps >= MIN_JUMP and _max_jump_bps <= MAX_JUMP, "oracle: max jump out of bounds"
    cfg: uint256 = self._feed_cfg
    # keep the feed and the scale, replace heartbeat and jump
    cfg = (cfg >> 96) << 96 | _heartbeat << 64 | _max_jump_bps << 48 | (cfg & 255)
    self._feed_cfg = cfg
    log OracleParamsSet(heartbeat=_heartbeat, max_jump_bps=_max_jump_bps)


@internal
@view
def _read() -> (uint256, uint256):
    """
    @dev The feed's answer normalised to [wad], and a status; never reverts.
    """
    cfg: uint256 = self._feed_cfg
    ok: bool = False
    response: Bytes[160] = b""
    ok, response = raw_call(
        convert(cfg >> 96, address),
        method_id("latestRoundData()"),
        max_outsize=160,
        is_static_call=True,
        revert_on_failure=False,
    )
    if not ok or len(response) != 160:
        return 0, FEED_FAILED
    # decoded as full words so that malformed data is a status, not a revert
    round_id: uint256 = 0
    answer: int256 = 0
    started_at: uint256 = 0
    updated_at: uint256 = 0
    answered_in_round: uint256 = 0
    round_id, answer, started_at, updated_at, answered_in_round = abi_decode(
        response, (uint256, int256, uint256, uint256, uint256)
    )
    if answer <= 0:
        return 0, NON_POSITIVE
    if updated_at == 0 or updated_at > block.timestamp or answered_in_round < round_id:
        return 0, INCOMPLETE_ROUND
    # updated_at <= block.timestamp was checked just above
    if unsafe_sub(block.timestamp, updated_at) > (cfg >> 64) & _MASK32:
        return 0, STALE
    raw: uint256 = convert(answer, uint256)
    if raw > MAX_PRICE:
        return 0, OUT_OF_RANGE
    # raw <= 1e30 and the scale is at most 1e18, so this is below 1e48
    price: uint256 = unsafe_mul(raw, pow_mod256(10, cfg & 255))
    if price > MAX_PRICE or price == 0:
        return 0, OUT_OF_RANGE
    return price, OK


@internal
@view
def _jump_status(_price: uint256) -> uint256:
    anchor: uint256 = self._anchor
    anchor_price: uint256 = anchor >> 64
    if anchor_price == 0:
        return OK
    elapsed: uint256 = block.timestamp - (anchor & _MASK64)
    cfg: uint256 = self._feed_cfg
    # the bound widens by one step per heartbeat since the anchor was set
    allowed: uint256 = ((cfg >> 48) & _MASK16) * (1 + elapsed // ((cfg >> 64) & _MASK32))
    moved: uint256 = 0
    if _price > anchor_price:
        moved = _price - anchor_price
    else:
        moved = anchor_price - _price
    if moved * constants.BPS > anchor_price * allowed:
        return PRICE_JUMP
    return OK


@internal
@view
def _peek() -> (uint256, uint256):
    """
    @dev The current price [wad] and its status, without writing the anchor.
    """
    price: uint256 = 0
    status: uint256 = OK
    price, status = self._read()
    if status != OK:
        return 0, status
    status = self._jump_status(price)
    if status != OK:
        return 0, status
    return price, OK


@internal
def _price() -> uint256:
    """
    @dev A valid price [wad] or a revert with the reason; moves the anchor to it.
    """
    price: uint256 = 0
    status: uint256 = OK
    price, status = self._peek()
    self._raise(status)
    anchor: uint256 = self._anchor
    # refresh when the price moved, or once a heartbeat so the bound does not widen forever
    if anchor >> 64 != price or block.timestamp - (anchor & _MASK64) >= self._heartbeat():
        self._anchor = price << 64 | block.timestamp
    return price


@internal
def _reset_anchor():
    """
    @dev Governance accepts the feed's current answer as the new anchor, whatever the jump.
    """
    price: uint256 = 0
    status: uint256 = OK
    price, status = self._read()
    self._raise(status)
    self._anchor = price << 64 | block.timestamp
    log PriceAnchorSet(price=price, timestamp=block.timestamp)


@internal
@pure
def _raise(_status: uint256):
    if _status == OK:
        return
    if _status == FEED_FAILED:
        raise "oracle: feed call failed"
    if _status == NON_POSITIVE:
        raise "oracle: non-positive price"
    if _status == INCOMPLETE_ROUND:
        raise "oracle: incomplete round"
    if _status == STALE:
        raise "oracle: stale price"
    if _status == OUT_OF_RANGE:
        raise "oracle: price out of range"
    raise "oracle: price jump"
