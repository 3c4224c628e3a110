# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title Bulkhead pool factory and governance
@license MIT
@notice Creates one margin pool per collateral from the `MarginPool` blueprint, registers
        each as a bhUSD minter, and is the only account that can change a pool's
        parameters, pause it, or reset its price anchor. Ownership moves in two steps.
        A risk steward, named by governance, may move a pool's volatility haircut within
        rules governance fixed for that pool: a ceiling, a largest step and a cooldown
        (the pattern of Aave's risk stewards). Governance can always overrule it.
@dev Every parameter is validated here (modules/risk.vy); a pool takes parameters from
     its factory alone.
@custom:kill `set_paused(pool, True)` for every pool stops new debt and liquidations;
             `set_risk_params` with a debt ceiling of 0 caps debt for good. Repay, deposit,
             close and deleverage stay open; liquidations resume after the grace period.
"""

from interfaces import IStablecoin
from interfaces import IMarginPool
from interfaces import IPoolFactory
from interfaces import IPositionAutomation
from interfaces import ISavingsVault
from modules import constants
from modules import risk
from snekmate.auth import ownable
from snekmate.auth import ownable_2step


initializes: ownable
initializes: ownable_2step[ownable := ownable]

implements: IPoolFactory

exports: (
    ownable_2step.owner,
    ownable_2step.pending_owner,
    ownable_2step.transfer_ownership,
    ownable_2step.accept_ownership,
)

# -------------------------------------------------------------- constants

MAX_POOLS: constant(uint256) = 256
# a pool keeps this much of its reserve; only what is above it is swept to the savings vault
MIN_RESERVE_TARGET: public(constant(uint256)) = 1_000 * 10**18  # [wad]
MAX_RESERVE_TARGET: public(constant(uint256)) = constants.MAX_DEBT_CEILING  # [wad]
DEFAULT_RESERVE_TARGET: public(constant(uint256)) = 10_000 * 10**18  # [wad]
# covering bad debt from the savings vault: at most this share of its assets per cover,
# and at most one cover per cooldown
MAX_COVER_BPS: public(constant(uint256)) = 1_000  # [bps]
COVER_COOLDOWN: public(constant(uint256)) = 86_400  # [seconds]
# the risk steward's cooldown between two haircut changes of a pool
MIN_STEWARD_COOLDOWN: public(constant(uint256)) = 60  # [seconds]
MAX_STEWARD_COOLDOWN: public(constant(uint256)) = 30 * 86_400  # [seconds]

# ------------------------------------------------------------- immutables

STABLECOIN: public(immutable(address))
POOL_BLUEPRINT: public(immutable(address))

# ---------------------------------------------------------------- storage

pools: public(DynArray[address, MAX_POOLS])
pool_of: public(HashMap[address, address])  # collateral => pool
is_pool: public(HashMap[address, bool])
vault: public(address)  # the savings vault; set once
automation: public(address)  # the `PositionAutomation` that serves its pools; set once
last_cover: public(uint256)  # [seconds] time of the last bad-debt cover from the vault
_reserve_target: HashMap[address, uint256]  # pool => [wad]; 0 means the default
steward: public(address)  # the risk steward; empty: none
steward_rules: public(HashMap[address, IPoolFactory.StewardRules])  # pool => rules

# ----------------------------------------------------------------- events

event PoolCreated:
    pool: indexed(address)
    collateral: indexed(address)
    feed: indexed(address)
    index: uint256

event VaultSet:
    vault: indexed(address)

event AutomationSet:
    automation: indexed(address)

event ReserveTargetSet:
    pool: indexed(address)
    target: uint256  # [wad]

event StewardSet:
    steward: indexed(address)

event StewardRulesSet:
    pool: indexed(address)
    max_haircut: uint256  # [bps]
    max_step: uint256  # [bps]
    cooldown: uint256  # [seconds]

event HaircutSet:
    pool: indexed(address)
    caller: indexed(address)
    haircut: uint256  # [bps]
    previous: uint256  # [bps]

event Sweep:
    pool: indexed(address)
    caller: indexed(address)
    netted: uint256  # [wad] reserve used to cancel the pool's own bad debt
    swept: uint256  # [wad] reserve above the target minted to the savings vault

event BadDebtCovered:
    pool: indexed(address)
    vault: indexed(address)
    amount: uint256  # [wad] bhUSD taken from the savings vault and burned


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
def set_position_debt_cap(_pool: address, _cap: uint256):
    """
    @notice Set the most debt one position of a pool may borrow up to. Positions above a
            lowered cap keep working; they cannot borrow more.
    @param _pool The pool.
    @param _cap [wad], at most the pool's debt ceiling.
    """
    self._check_pool(_pool)
    assert _cap <= (staticcall IMarginPool(_pool).risk_params()).debt_ceiling, "risk: position cap above debt ceiling"
    c: risk.Controls = staticcall IMarginPool(_pool).controls()
    c.position_debt_cap = _cap
    self._set_controls(_pool, c)


@external
def set_grace_period(_pool: address, _period: uint256):
    """
    @notice Set how long a pool's liquidations wait after an unpause.
    @param _pool The pool.
    @param _period [seconds], at most 4 hours.
    """
    self._check_pool(_pool)
    c: risk.Controls = staticcall IMarginPool(_pool).controls()
    c.grace_period = _period
    self._set_controls(_pool, c)


@external
def set_haircut(_pool: address, _haircut: uint256):
    """
    @notice Set a pool's volatility haircut: its borrow limit becomes max LTV x (1 -
            haircut), for borrowing and withdrawing only. Governance, up to the bound of
            `modules/risk.vy`, at any time; the steward within the pool's steward rules:
            at most the rules' ceiling (or lower than now), at most one step from now, and
            not before the cooldown since the last change (by either) has passed.
    @param _pool The pool.
    @param _haircut [bps].
    """
    assert self.is_pool[_pool], "factory: unknown pool"
    c: risk.Controls = staticcall IMarginPool(_pool).controls()
    previous: uint256 = c.haircut
    r: IPoolFactory.StewardRules = self.steward_rules[_pool]
    if msg.sender != ownable.owner:
        assert msg.sender == self.steward and msg.sender != empty(address), "factory: not owner or steward"
        assert r.max_step > 0, "factory: no steward rules"
        assert _haircut <= r.max_haircut or _haircut < previous, "factory: above steward limit"
        assert max(_haircut, previous) - min(_haircut, previous) <= r.max_step, "factory: haircut step too large"
        assert block.timestamp >= r.last_change + r.cooldown, "factory: steward cooldown"
    c.haircut = _haircut
    self._set_controls(_pool, c)
    self.steward_rules[_pool].last_change = block.timestamp
    log HaircutSet(pool=_pool, caller=msg.sender, haircut=_haircut, previous=previous)


@external
def set_steward(_steward: address):
    """
    @notice Name the risk steward, who may move haircuts within each pool's steward rules;
            the empty address removes the role.
    @param _steward The steward (a bot's account).
    """
    ownable._check_owner()
    self.steward = _steward
    log StewardSet(steward=_steward)


@external
def set_steward_rules(_pool: address, _max_haircut: uint256, _max_step: uint256, _cooldown: uint256):
    """
    @notice Fix what the steward may do to a pool's haircut.
    @param _pool The pool.
    @param _max_haircut The steward's ceiling [bps], at most the haircut bound.
    @param _max_step The largest change per call [bps], above 0 and at most the ceiling.
    @param _cooldown Time between two changes [seconds], within the cooldown bounds.
    """
    self._check_pool(_pool)
    assert _max_haircut <= risk.MAX_HAIRCUT, "factory: steward haircut out of bounds"
    assert _max_step > 0 and _max_step <= _max_haircut, "factory: steward step out of bounds"
    assert _cooldown >= MIN_STEWARD_COOLDOWN and _cooldown <= MAX_STEWARD_COOLDOWN, "factory: steward cooldown out of bounds"
    r: IPoolFactory.StewardRules = self.steward_rules[_pool]
    r.max_haircut = _max_haircut
    r.max_step = _max_step
    r.cooldown = _cooldown
    self.steward_rules[_pool] = r
    log StewardRulesSet(pool=_pool, max_haircut=_max_haircut, max_step=_max_step, cooldown=_cooldown)


@external
def set_vault(_vault: address):
    """
    @notice Name the savings vault that receives the fee sweeps; once.
    @param _vault A `SavingsVault` over bhUSD that names this factory.
    """
    ownable._check_owner()
    assert self.vault == empty(address), "factory: vault already set"
    assert _vault != empty(address), "factory: zero address"
    assert staticcall ISavingsVault(_vault).asset() == STABLECOIN, "factory: vault asset mismatch"
    assert staticcall ISavingsVault(_vault).FACTORY() == self, "factory: vault factory mismatch"
    self.vault = _vault
    log VaultSet(vault=_vault)


@external
def set_automation(_automation: address):
    """
    @notice Name the `PositionAutomation` that holds the owner rules of this factory's
            pools, so that tools and the lens find it; once.
    @param _automation A `PositionAutomation` that names this factory.
    """
    ownable._check_owner()
    assert self.automation == empty(address), "factory: automation already set"
    assert _automation != empty(address), "factory: zero address"
    assert staticcall IPositionAutomation(_automation).FACTORY() == self, "factory: automation factory mismatch"
    self.automation = _automation
    log AutomationSet(automation=_automation)


@external
def set_reserve_target(_pool: address, _target: uint256):
    """
    @notice Set how much of its reserve a pool keeps as its first-loss buffer.
    @param _pool The pool.
    @param _target [wad], between MIN_RESERVE_TARGET and MAX_RESERVE_TARGET.
    """
    self._check_pool(_pool)
    assert _target >= MIN_RESERVE_TARGET and _target <= MAX_RESERVE_TARGET, "factory: reserve target out of bounds"
    self._reserve_target[_pool] = _target
    log ReserveTargetSet(pool=_pool, target=_target)


@external
def sweep(_pool: address) -> uint256:
    """
    @notice Accrue a pool's stability fee, cancel its bad debt with its reserve, and mint
            the reserve above the pool's target into the savings vault, which streams it
            to its share price. Anyone may call it.
    @param _pool The pool.
    @return bhUSD minted to the vault [wad]; 0 when the reserve is at or below its target.
    """
    vault: address = self.vault
    assert vault != empty(address), "factory: no vault"
    assert self.is_pool[_pool], "factory: unknown pool"
    pool: IMarginPool = IMarginPool(_pool)
    extcall pool.accrue()
    reserve: uint256 = staticcall pool.reserve()
    # the pool's own fees pay for its own losses first; bhUSD minted here is burned at once
    netted: uint256 = min(reserve, staticcall pool.bad_debt())
    if netted > 0:
        extcall pool.mint_reserve(self, netted)
        extcall pool.cover_bad_debt(netted)
        reserve = unsafe_sub(reserve, netted)  # netted <= reserve
    swept: uint256 = 0
    target: uint256 = self._target(_pool)
    if reserve > target:
        swept = unsafe_sub(reserve, target)  # checked just above
        extcall pool.mint_reserve(vault, swept)
        extcall ISavingsVault(vault).skim()
    if netted > 0 or swept > 0:
        log Sweep(pool=_pool, caller=msg.sender, netted=netted, swept=swept)
    return swept


@external
def cover_bad_debt(_pool: address, _amount: uint256):
    """
    @notice Pay part of a pool's bad debt from the savings vault: the vault sends bhUSD
            here and the pool burns it. At most MAX_COVER_BPS of the vault's assets, at
            most once per COVER_COOLDOWN. Nothing else ever moves vault assets to a pool.
    @param _pool The pool.
    @param _amount bhUSD [wad], at most the pool's bad debt.
    """
    vault: address = self.vault
    assert vault != empty(address), "factory: no vault"
    self._check_pool(_pool)
    assert _amount > 0, "factory: zero amount"
    assert _amount <= staticcall IMarginPool(_pool).bad_debt(), "factory: amount above bad debt"
    assert _amount * constants.BPS <= staticcall ISavingsVault(vault).totalAssets() * MAX_COVER_BPS, "factory: cover above cap"
    last: uint256 = self.last_cover
    assert last == 0 or block.timestamp >= last + COVER_COOLDOWN, "factory: cover cooldown"
    self.last_cover = block.timestamp
    extcall ISavingsVault(vault).cover(_amount)
    extcall IMarginPool(_pool).cover_bad_debt(_amount)
    log BadDebtCovered(pool=_pool, vault=vault, amount=_amount)


@external
@view
def reserve_target(_pool: address) -> uint256:
    """
    @notice How much of its reserve a pool keeps; the sweep takes only what is above.
    @param _pool The pool.
    @return Target [wad]; DEFAULT_RESERVE_TARGET until governance sets one.
    """
    return self._target(_pool)


@external
@view
def pool_count() -> uint256:
    """
    @notice Number of pools created.
    @return The count.
    """
    return len(self.pools)


@internal
@view
def _target(_pool: address) -> uint256:
    target: uint256 = self._reserve_target[_pool]
    if target == 0:
        return DEFAULT_RESERVE_TARGET
    return target


@internal
def _set_controls(_pool: address, _c: risk.Controls):
    risk._validate_controls(_c)
    extcall IMarginPool(_pool).set_controls(_c.position_debt_cap, _c.haircut, _c.grace_period)


@internal
def _check_pool(_pool: address):
    ownable._check_owner()
    assert self.is_pool[_pool], "factory: unknown pool"
