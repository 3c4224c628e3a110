# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title Bulkhead pool factory and governance
@license MIT
@notice Creates one margin pool per collateral from the `MarginPool` blueprint, registers
        each as a bhUSD minter, and is the only account that can change a pool's
        parameters, pause it, or reset its price anchor. Ownership moves in two steps.
@dev Every parameter is validated here (modules/risk.vy) and again in the pool.
@custom:kill `set_paused(pool, True)` for every pool stops new debt; `set_risk_params`
             with a debt ceiling of 0 caps it for good. Repay, deposit, close and liquidate
             stay open.
"""

from interfaces import IStablecoin
from interfaces import IMarginPool
from modules import risk
from snekmate.auth import ownable
from snekmate.auth import ownable_2step

initializes: ownable
initializes: ownable_2step[ownable := ownable]

exports: (
    ownable_2step.owner,
    ownable_2step.pending_owner,
    ownable_2step.transfer_ownership,
    ownable_2step.accept_ownership,
)

# -------------------------------------------------------------- constants

MAX_POOLS: constant(uint256) = 256

# ------------------------------------------------------------- immutables

STABLECOIN: public(immutable(address))
POOL_BLUEPRINT: public(immutable(address))

# ---------------------------------------------------------------- storage

pools: public(DynArray[address, MAX_POOLS])
pool_of: public(HashMap[address, address])  # collateral => pool
is_pool: public(HashMap[address, bool])

# ----------------------------------------------------------------- events

event PoolCreated:
    pool: indexed(address)
    collateral: indexed(address)
    feed: indexed(address)
    index: uint256


@deploy
def __init__(_stablecoin: address, _pool_blueprint: address):
    """
    @notice Deploy the factory; the deployer governs it.
    @param _stablecoin bhUSD; its ownership must then be moved to this factory.
    @param _pool_blueprint The `MarginPool` blueprint (ERC-5202).
    """
    assert _stablecoin != empty(address) and _pool_blueprint != empty(address), "factory: zero address"
    ownable.__init__()
    ownable_2step.__init__()
    STABLECOIN = _stablecoin
    POOL_BLUEPRINT = _pool_blueprint


@external
def accept_stablecoin_ownership():
    """
    @notice Complete the two-step transfer of bhUSD's ownership to this factory.
    """
    ownable._check_owner()
    raw_call(STABLECOIN, method_id("accept_ownership()"))


@external
def create_pool(
    _collateral: address,
    _feed: address,
    _params: risk.RiskParams,
    _heartbeat: uint256,
    _max_jump_bps: uint256,
) -> address:
    """
    @notice Create the margin pool for `_collateral` and let it mint bhUSD.
    @param _collateral Collateral token; one pool per token.
    @param _feed Chainlink-compatible USD feed for the collateral.
    @param _params Risk parameters.
    @param _heartbeat Oracle heartbeat [seconds].
    @param _max_jump_bps Jump bound of the oracle guard [bps].
    @return The new pool.
    """
    ownable._check_owner()
    assert _collateral != empty(address), "factory: zero collateral"
    assert _collateral != STABLECOIN, "factory: stablecoin as collateral"
    assert self.pool_of[_collateral] == empty(address), "factory: pool exists"
    assert len(self.pools) < MAX_POOLS, "factory: too many pools"
    risk._validate(_params)
    pool: address = create_from_blueprint(
        POOL_BLUEPRINT, STABLECOIN, _collateral, _feed, code_offset=3
    )
    extcall IMarginPool(pool).initialize(_params, _heartbeat, _max_jump_bps)
    self.pool_of[_collateral] = pool
    self.is_pool[pool] = True
    self.pools.append(pool)
    extcall IStablecoin(STABLECOIN).set_minter(pool, True)
    log PoolCreated(pool=pool, collateral=_collateral, feed=_feed, index=len(self.pools) - 1)
    return pool


@external
def set_risk_params(_pool: address, _params: risk.RiskParams):
    """
    @notice Change a pool's risk parameters within the bounds.
    @param _pool The pool.
    @param _params New parameters.
    """
    self._check_pool(_pool)
    risk._validate(_params)
    extcall IMarginPool(_pool).set_risk_params(_params)


@external
def set_oracle_params(_pool: address, _heartbeat: uint256, _max_jump_bps: uint256):
    """
    @notice Change a pool's oracle heartbeat and jump bound within the bounds.
    @param _pool The pool.
    @param _heartbeat Heartbeat [seconds].
    @param _max_jump_bps Jump bound [bps].
    """
    self._check_pool(_pool)
    extcall IMarginPool(_pool).set_oracle_params(_heartbeat, _max_jump_bps)


@external
def reset_price_anchor(_pool: address):
    """
    @notice Accept the feed's current valid answer as a pool's anchor after a large move.
    @param _pool The pool.
    """
    self._check_pool(_pool)
    extcall IMarginPool(_pool).reset_price_anchor()


@external
def set_paused(_pool: address, _paused: bool):
    """
    @notice Pause or unpause new debt in a pool.
    @param _pool The pool.
    @param _paused True to pause.
    """
    self._check_pool(_pool)
    extcall IMarginPool(_pool).set_paused(_paused)


@external
@view
def pool_count() -> uint256:
    """
    @notice Number of pools created.
    @return The count.
    """
    return len(self.pools)


@internal
def _check_pool(_pool: address):
    ownable._check_owner()
    assert self.is_pool[_pool], "factory: unknown pool"
