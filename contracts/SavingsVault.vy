# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title Bulkhead savings vault
@license MIT
@notice ERC-4626 vault over bhUSD that earns the protocol's stability fees. The pool
        factory sweeps each pool's reserve above its target into this vault, and the
        vault releases every arrival to the share price linearly over the stream period,
        so that nobody can deposit just before a sweep and leave just after with it.
@dev snekmate's `erc4626` supplies the share token (ERC-20 + EIP-2612), `asset`, and the
     deposit/withdraw transfer-and-log workflow. The conversions are written here because
     the vault tracks its assets itself instead of reading its balance:
     - donations do not count: bhUSD sent to the vault without a deposit changes nothing
       until `skim` turns it into streamed yield;
     - a virtual dead deposit of 1 bhUSD (VIRTUAL shares backed by VIRTUAL assets) sits in
       every conversion, so that whatever reaches the vault before real depositors do is
       mostly owned by the virtual shares and cannot make one share worth a large deposit.
     Rounding is always in the vault's favour: shares out and assets out round down,
     shares in and assets in round up; a pay-out never exceeds the total assets. Only `cover` (the factory's bounded, logged bad
     debt cover) lowers the share price; time and yield only raise it.
@custom:kill Nothing to pause: the vault holds only bhUSD that its holders can always
             redeem. Governance stops new yield by not sweeping (raise the pools' reserve
             targets); deposits and withdrawals stay open.
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC4626
from interfaces import ISavingsVault
from snekmate.extensions import erc4626
from snekmate.utils import math

implements: IERC4626
implements: ISavingsVault

initializes: erc4626

exports: (
    erc4626.asset,
    erc4626.totalSupply,
    erc4626.balanceOf,
    erc4626.transfer,
    erc4626.transferFrom,
    erc4626.approve,
    erc4626.allowance,
    erc4626.name,
    erc4626.symbol,
    erc4626.decimals,
    erc4626.permit,
    erc4626.nonces,
    erc4626.DOMAIN_SEPARATOR,
    erc4626.eip712Domain,
)


interface IGovernance:
    def owner() -> address: view


# -------------------------------------------------------------- constants

VIRTUAL: public(constant(uint256)) = 10**18  # [wad] virtual dead shares, backed by as many virtual assets
MIN_STREAM_PERIOD: public(constant(uint256)) = 3_600  # [seconds]
MAX_STREAM_PERIOD: public(constant(uint256)) = 30 * 86_400  # [seconds]
MAX_TOTAL_ASSETS: public(constant(uint256)) = 2**128  # [wad] deposits stop at this total

_MASK64: constant(uint256) = 2**64 - 1

# ------------------------------------------------------------- immutables

FACTORY: public(immutable(address))  # sweeps yield in, covers bad debt; its owner governs
ASSET: immutable(IERC20)

# ---------------------------------------------------------------- storage

stream_period: public(uint256)  # [seconds] a new arrival is released over this period
# every bhUSD the vault accounts for, released or still streaming [wad]
_tracked: uint256
# streaming: amount locked at the start [wad] (bits 128..255) | start [seconds] (64..127) |
# end [seconds] (0..63); the locked amount is released linearly from start to end
_stream: uint256

# ----------------------------------------------------------------- events

event Stream:
    added: uint256  # [wad] bhUSD that arrived (a sweep or a donation) and now streams
    locked: uint256  # [wad] all bhUSD still streaming, the new arrival included
    unlock_end: uint256  # [seconds] when the last of it is released

event Cover:
    receiver: indexed(address)
    amount: uint256  # [wad] bhUSD sent to cover a pool's bad debt
    from_locked: uint256  # [wad] part of it that had not been released yet

event StreamPeriodSet:
    period: uint256  # [seconds]


@deploy
def __init__(_asset: address, _factory: address, _stream_period: uint256):
    """
    @notice Deploy the vault; shares have 18 decimals, like bhUSD.
    @param _asset bhUSD.
    @param _factory The pool factory: the only sweeper and coverer; its owner governs.
    @param _stream_period Release period of new yield [seconds], within the bounds.
    """
    assert _asset != empty(address) and _factory != empty(address), "vault: zero address"
    self._check_period(_stream_period)
    erc4626.__init__("Bulkhead Savings bhUSD", "sbUSD", IERC20(_asset), 0, "Bulkhead Savings bhUSD", "1")
    FACTORY = _factory
    ASSET = IERC20(_asset)
    self.stream_period = _stream_period
    log StreamPeriodSet(period=_stream_period)


# ------------------------------------------------------------- ERC-4626


@external
@view
def totalAssets() -> uint256:
    """
    @notice bhUSD the shares own now: deposits and released yield, less withdrawals and
            covers. Yield still streaming and donations not yet skimmed are not counted.
    @return Total assets [wad].
    """
    return self._total_assets()


@external
@view
def convertToShares(_assets: uint256) -> uint256:
    """
    @notice Shares worth `_assets` at the current share price, rounded down.
    @param _assets Amount of bhUSD [wad].
    @return Shares [wad].
    """
    return self._to_shares(_assets, self._total_assets(), False)


@external
@view
def convertToAssets(_shares: uint256) -> uint256:
    """
    @notice bhUSD worth `_shares` at the current share price, rounded down.
    @param _shares Shares [wad].
    @return Assets [wad].
    """
    return self._to_assets(_shares, self._total_assets(), False)


@external
@view
def maxDeposit(_receiver: address) -> uint256:
    """
    @notice Most bhUSD a deposit accepts now: up to the total-assets cap.
    @param _receiver Ignored: the limit is the same for everyone.
    @return Assets [wad].
    """
    return self._max_deposit()


@external
@view
def previewDeposit(_assets: uint256) -> uint256:
    """
    @notice Shares a deposit of `_assets` mints now (rounded down).
    @param _assets bhUSD [wad].
    @return Shares [wad].
    """
    return self._to_shares(_assets, self._total_assets(), False)


@external
def deposit(_assets: uint256, _receiver: address) -> uint256:
    """
    @notice Pull `_assets` bhUSD from the caller and mint shares to `_receiver`.
    @param _assets bhUSD [wad].
    @param _receiver Receiver of the shares.
    @return Shares minted [wad].
    """
    assert _assets <= self._max_deposit(), "vault: deposit above maximum"
    shares: uint256 = self._to_shares(_assets, self._total_assets(), False)
    self._enter(_assets, shares, _receiver)
    return shares


@external
@view
def maxMint(_receiver: address) -> uint256:
    """
    @notice Most shares a mint accepts now: the shares the total-assets cap leaves room for.
    @param _receiver Ignored: the limit is the same for everyone.
    @return Shares [wad].
    """
    return self._to_shares(self._max_deposit(), self._total_assets(), False)


@external
@view
def previewMint(_shares: uint256) -> uint256:
    """
    @notice bhUSD a mint of `_shares` pulls now (rounded up).
    @param _shares Shares [wad].
    @return Assets [wad].
    """
    return self._to_assets(_shares, self._total_assets(), True)


@external
def mint(_shares: uint256, _receiver: address) -> uint256:
    """
    @notice Mint exactly `_shares` to `_receiver`, pulling the bhUSD they cost from the caller.
    @param _shares Shares [wad].
    @param _receiver Receiver of the shares.
    @return bhUSD pulled [wad].
    """
    total: uint256 = self._total_assets()
    assets: uint256 = self._to_assets(_shares, total, True)
    assert assets <= self._max_deposit(), "vault: mint above maximum"
    self._enter(assets, _shares, _receiver)
    return assets


@external
@view
def maxWithdraw(_owner: address) -> uint256:
    """
    @notice Most bhUSD `_owner` can withdraw now: the value of all their shares.
    @param _owner Share owner.
    @return Assets [wad].
    """
    return self._assets_out(erc4626.erc20.balanceOf[_owner], self._total_assets())


@external
@view
def previewWithdraw(_assets: uint256) -> uint256:
    """
    @notice Shares a withdrawal of `_assets` burns now (rounded up).
    @param _assets bhUSD [wad].
    @return Shares [wad].
    """
    return self._to_shares(_assets, self._total_assets(), True)


@external
def withdraw(_assets: uint256, _receiver: address, _owner: address) -> uint256:
    """
    @notice Burn `_owner`'s shares worth `_assets` (rounded up) and send `_assets` bhUSD
            to `_receiver`. A caller other than `_owner` spends its share allowance.
    @param _assets bhUSD [wad].
    @param _receiver Receiver of the bhUSD.
    @param _owner Owner of the shares.
    @return Shares burned [wad].
    """
    total: uint256 = self._total_assets()
    assert _assets <= self._assets_out(erc4626.erc20.balanceOf[_owner], total), "vault: withdraw above maximum"
    shares: uint256 = self._to_shares(_assets, total, True)
    self._exit(_assets, shares, _receiver, _owner)
    return shares


@external
@view
def maxRedeem(_owner: address) -> uint256:
    """
    @notice Most shares `_owner` can redeem now: all of them.
    @param _owner Share owner.
    @return Shares [wad].
    """
    return erc4626.erc20.balanceOf[_owner]


@external
@view
def previewRedeem(_shares: uint256) -> uint256:
    """
    @notice bhUSD a redemption of `_shares` sends now (rounded down, at most the total).
    @param _shares Shares [wad].
    @return Assets [wad].
    """
    return self._assets_out(_shares, self._total_assets())


@external
def redeem(_shares: uint256, _receiver: address, _owner: address) -> uint256:
    """
    @notice Burn exactly `_shares` of `_owner` and send what they are worth (rounded
            down) to `_receiver`. A caller other than `_owner` spends its share allowance.
    @param _shares Shares [wad].
    @param _receiver Receiver of the bhUSD.
    @param _owner Owner of the shares.
    @return bhUSD sent [wad].
    """
    assert _shares <= erc4626.erc20.balanceOf[_owner], "vault: redeem above maximum"
    assets: uint256 = self._assets_out(_shares, self._total_assets())
    self._exit(assets, _shares, _receiver, _owner)
    return assets


# ---------------------------------------------------------------- yield


@external
def skim() -> uint256:
    """
    @notice Stream every bhUSD the vault holds beyond what it accounts for (a fee sweep,
            or a donation) to the share price over the stream period. Anyone may call it;
            the factory calls it after each sweep.
    @dev What is still streaming never slows down: the merged stream releases at the sum
         of the two streams' own rates (still / remaining + added / period), so the new end
         lies between the two streams' ends. Rounded down to the second, so a dust skim
         cannot move the end.
    @return bhUSD added to the stream [wad]; 0 when nothing arrived.
    """
    tracked: uint256 = self._tracked
    balance: uint256 = staticcall ASSET.balanceOf(self)
    if balance <= tracked:
        return 0
    added: uint256 = unsafe_sub(balance, tracked)  # checked just above
    still: uint256 = 0
    end: uint256 = 0
    still, end = self._locked_now()
    locked: uint256 = still + added
    # dev: bhUSD's whole supply stays far below 2**128, so `locked` fits its 128 bits
    period: uint256 = self.stream_period
    duration: uint256 = period
    if still > 0:
        remaining: uint256 = end - block.timestamp  # still > 0 only before the end
        # locked / (still / remaining + added / period), rounded down: the merged rate is
        # never below still / remaining, so what was streaming is released no later
        duration = locked * remaining * period // (still * period + added * remaining)
    new_end: uint256 = block.timestamp + duration
    self._tracked = balance
    self._stream = locked << 128 | block.timestamp << 64 | new_end
    log Stream(added=added, locked=locked, unlock_end=new_end)
    return added


@external
def cover(_amount: uint256):
    """
    @notice Send `_amount` bhUSD to the factory to cover a pool's bad debt, taking it
            first from the yield still streaming, then from the holders' assets. Factory
            only: `PoolFactory.cover_bad_debt` bounds and logs it and burns the bhUSD.
    @param _amount bhUSD [wad].
    """
    assert msg.sender == FACTORY, "vault: only factory"
    still: uint256 = 0
    end: uint256 = 0
    still, end = self._locked_now()
    # dev: the factory asks for at most a tenth of the total assets, so `_amount` <=
    # tracked; then `_amount` - `from_locked` <= tracked - still: the holders' part suffices
    self._tracked -= _amount
    from_locked: uint256 = min(_amount, still)
    locked: uint256 = unsafe_sub(still, from_locked)  # from_locked <= still
    if locked == 0:
        self._stream = 0
    else:
        self._stream = locked << 128 | block.timestamp << 64 | end
    # dev: bhUSD (snekmate erc20) returns True or reverts
    assert extcall ASSET.transfer(msg.sender, _amount)
    log Cover(receiver=msg.sender, amount=_amount, from_locked=from_locked)


@external
def set_stream_period(_period: uint256):
    """
    @notice Set the release period of future arrivals; governance (the factory's owner)
            only. What already streams keeps its schedule.
    @param _period [seconds], between MIN_STREAM_PERIOD and MAX_STREAM_PERIOD.
    """
    assert msg.sender == staticcall IGovernance(FACTORY).owner(), "vault: only governance"
    self._check_period(_period)
    self.stream_period = _period
    log StreamPeriodSet(period=_period)


# ------------------------------------------------------------------ views


@external
@view
def locked_assets() -> uint256:
    """
    @notice bhUSD that arrived but is not released yet.
    @return Locked assets [wad].
    """
    still: uint256 = 0
    end: uint256 = 0
    still, end = self._locked_now()
    return still


@external
@view
def unlock_end() -> uint256:
    """
    @notice When the bhUSD now streaming is fully released.
    @return Timestamp [seconds]; 0 when nothing streams.
    """
    return self._stream & _MASK64


@external
@view
def tracked_assets() -> uint256:
    """
    @notice Every bhUSD the vault accounts for: total assets plus locked assets. The
            vault's balance above this is a donation that `skim` would stream.
    @return Assets [wad].
    """
    return self._tracked


# -------------------------------------------------------------- internals


@internal
@pure
def _check_period(_period: uint256):
    assert _period >= MIN_STREAM_PERIOD and _period <= MAX_STREAM_PERIOD, "vault: stream period out of bounds"


@internal
@view
def _locked_now() -> (uint256, uint256):
    """
    @dev The part of the stream not released yet (rounded up) and the stream's end.
    """
    packed: uint256 = self._stream
    locked: uint256 = packed >> 128
    end: uint256 = packed & _MASK64
    if locked == 0 or block.timestamp >= end:
        return 0, end
    start: uint256 = (packed >> 64) & _MASK64
    # start <= now < end, so both differences are positive
    released: uint256 = locked * unsafe_sub(block.timestamp, start) // unsafe_sub(end, start)
    return locked - released, end


@internal
@view
def _total_assets() -> uint256:
    still: uint256 = 0
    end: uint256 = 0
    still, end = self._locked_now()
    return self._tracked - still


@internal
@view
def _max_deposit() -> uint256:
    tracked: uint256 = self._tracked
    if tracked >= MAX_TOTAL_ASSETS:
        return 0
    return unsafe_sub(MAX_TOTAL_ASSETS, tracked)  # checked just above


@internal
@view
def _to_shares(_assets: uint256, _total: uint256, _roundup: bool) -> uint256:
    return math._mul_div(_assets, erc4626.erc20.totalSupply + VIRTUAL, _total + VIRTUAL, _roundup)


@internal
@view
def _to_assets(_shares: uint256, _total: uint256, _roundup: bool) -> uint256:
    return math._mul_div(_shares, _total + VIRTUAL, erc4626.erc20.totalSupply + VIRTUAL, _roundup)


@internal
@view
def _assets_out(_shares: uint256, _total: uint256) -> uint256:
    """
    @dev What redeeming `_shares` pays: their value rounded down, at most the total.
         Below a share price of 1 the virtual shares own less than the virtual assets, so
         the real shares together would claim up to VIRTUAL x (supply - total) /
         (supply + VIRTUAL) more than the total (under 1 bhUSD); capping the pay-out makes
         the last holder out bear that rounding, and every exit within max* succeed.
    """
    return min(self._to_assets(_shares, _total, False), _total)


@internal
def _enter(_assets: uint256, _shares: uint256, _receiver: address):
    assert _shares > 0, "vault: zero shares"
    self._tracked += _assets
    erc4626._deposit(msg.sender, _receiver, _assets, _shares)


@internal
def _exit(_assets: uint256, _shares: uint256, _receiver: address, _owner: address):
    assert _assets > 0, "vault: zero assets"
    # _assets <= total assets <= tracked: the caller checked it against the owner's shares
    self._tracked -= _assets
    erc4626._withdraw(msg.sender, _receiver, _owner, _assets, _shares)
