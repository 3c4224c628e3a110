"""Access-control matrix: every state-changing external function of every deployable contract,
called by every role, with the expected outcome.

The functions come from the compiled ABIs, so a new function fails
`test_matrix__every_state_changing_function__is_classified` until it gets a row here.
Roles: the position `owner`, its approved `operator`, a `stranger`, a `keeper` (holds bhUSD,
owns nothing), `governance` (the factory's owner), `pool` (another margin pool, a bhUSD minter,
impersonated), `factory` (the pool's factory, impersonated: the only caller of the pools'
governance functions) and the risk `steward` (named by governance: it may move haircuts within
the steward rules, nothing else). Each call runs in its own `chain.isolate()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ape
import pytest

from bulkhead.risk import WAD
from tests import permit

ROLES = ("owner", "operator", "stranger", "keeper", "governance", "pool", "factory", "steward")
OK = "ok"
NOT_OWNER = "ownable: caller is not the owner"
ONLY_FACTORY = "pool: only factory"
NOT_AUTHORISED = "pool: not owner or operator"
NOT_NEW_OWNER = "ownable_2step: caller is not the new owner"
MAX_UINT = 2**256 - 1


def _all(outcome: str, **overrides: str) -> dict[str, str]:
    return {role: overrides.get(role, outcome) for role in ROLES}


@dataclass
class Row:
    contract: str  # attribute of the scene
    call: Callable  # (scene, caller) -> (method, args)
    expected: dict[str, str]


def _permit_args(scene, caller, token=None):
    """A valid permit signed by the keeper's key: anyone may submit it."""
    stable = token or scene.stablecoin
    signer = scene.roles["keeper"]
    deadline = scene.chain.pending_timestamp + 3600
    value = 10**18
    _fields, name, version, chain_id, contract = stable.eip712Domain()[:5]
    domain = {"name": name, "version": version, "chainId": chain_id, "verifyingContract": contract}
    v, r, s = permit.sign_permit(
        signer.private_key,
        domain,
        signer.address,
        caller.address,
        value,
        stable.nonces(signer),
        deadline,
    )
    return stable.permit, (signer, caller, value, deadline, v, r, s)


def _params(scene):
    return scene.weth.pool.risk_params()


MATRIX: dict[tuple[str, str], Row] = {
    # ------------------------------------------------------------ MarginPool
    ("MarginPool", "open"): Row(
        "pool", lambda s, c: (s.weth.pool.open, (s.weth.unit, 0)), _all(OK)
    ),
    ("MarginPool", "deposit"): Row(
        "pool", lambda s, c: (s.weth.pool.deposit, (s.pid, 1)), _all(OK)
    ),
    ("MarginPool", "withdraw"): Row(
        "pool",
        lambda s, c: (s.weth.pool.withdraw, (s.pid, 1)),
        _all(NOT_AUTHORISED, owner=OK, operator=OK),
    ),
    ("MarginPool", "borrow"): Row(
        "pool",
        lambda s, c: (s.weth.pool.borrow, (s.pid, WAD)),
        _all(NOT_AUTHORISED, owner=OK, operator=OK),
    ),
    ("MarginPool", "repay"): Row("pool", lambda s, c: (s.weth.pool.repay, (s.pid, WAD)), _all(OK)),
    ("MarginPool", "close"): Row(
        "pool",
        lambda s, c: (s.weth.pool.close, (s.pid,)),
        _all(NOT_AUTHORISED, owner=OK, operator=OK),
    ),
    # permissionless: the unhealthy position is liquidated by whoever calls
    ("MarginPool", "liquidate"): Row(
        "pool", lambda s, c: (s.vol.pool.liquidate, (s.unhealthy, MAX_UINT, 0)), _all(OK)
    ),
    ("MarginPool", "liquidate_many"): Row(
        "pool",
        lambda s, c: (s.vol.pool.liquidate_many, ([s.unhealthy], MAX_UINT, 0)),
        _all(OK),
    ),
    ("MarginPool", "set_operator"): Row(
        "pool", lambda s, c: (s.weth.pool.set_operator, (s.new_token, True)), _all(OK)
    ),
    # the owner's (or its operator's) own deleverage: repays 1 bhUSD from the caller's
    # balance and takes no collateral, so health rises
    ("MarginPool", "deleverage"): Row(
        "pool",
        lambda s, c: (s.weth.pool.deleverage, (s.pid, WAD, 0)),
        _all(NOT_AUTHORISED, owner=OK, operator=OK),
    ),
    ("MarginPool", "mint_reserve"): Row(
        "pool", lambda s, c: (s.weth.pool.mint_reserve, (c, 0)), _all(ONLY_FACTORY, factory=OK)
    ),
    ("MarginPool", "cover_bad_debt"): Row(
        "pool", lambda s, c: (s.weth.pool.cover_bad_debt, (0,)), _all(ONLY_FACTORY, factory=OK)
    ),
    ("MarginPool", "accrue"): Row("pool", lambda s, c: (s.weth.pool.accrue, ()), _all(OK)),
    ("MarginPool", "initialize"): Row(
        "pool",
        lambda s, c: (s.weth.pool.initialize, (_params(s), 3600, 5000)),
        _all(ONLY_FACTORY, factory="pool: already initialized"),
    ),
    ("MarginPool", "set_risk_params"): Row(
        "pool",
        lambda s, c: (s.weth.pool.set_risk_params, (_params(s),)),
        _all(ONLY_FACTORY, factory=OK),
    ),
    ("MarginPool", "set_oracle_params"): Row(
        "pool",
        lambda s, c: (s.weth.pool.set_oracle_params, (3600, 5000)),
        _all(ONLY_FACTORY, factory=OK),
    ),
    ("MarginPool", "reset_price_anchor"): Row(
        "pool", lambda s, c: (s.weth.pool.reset_price_anchor, ()), _all(ONLY_FACTORY, factory=OK)
    ),
    ("MarginPool", "set_paused"): Row(
        "pool", lambda s, c: (s.weth.pool.set_paused, (True,)), _all(ONLY_FACTORY, factory=OK)
    ),
    # the factory checks the bounds; the pool takes controls from its factory alone
    ("MarginPool", "set_controls"): Row(
        "pool",
        lambda s, c: (s.weth.pool.set_controls, (1_000 * WAD, 100, 60)),
        _all(ONLY_FACTORY, factory=OK),
    ),
    # ----------------------------------------------------------- PoolFactory
    ("PoolFactory", "accept_stablecoin_ownership"): Row(
        "factory",
        lambda s, c: (s.factory.accept_stablecoin_ownership, ()),
        # governance passes the owner check; bhUSD then refuses: the factory already owns it
        _all(NOT_OWNER, governance=NOT_NEW_OWNER),
    ),
    ("PoolFactory", "create_pool"): Row(
        "factory",
        lambda s, c: (s.factory.create_pool, (s.new_token, s.weth.feed, _params(s), 3600, 5000)),
        _all(NOT_OWNER, governance=OK),
    ),
    ("PoolFactory", "set_risk_params"): Row(
        "factory",
        lambda s, c: (s.factory.set_risk_params, (s.weth.pool, _params(s))),
        _all(NOT_OWNER, governance=OK),
    ),
    ("PoolFactory", "set_oracle_params"): Row(
        "factory",
        lambda s, c: (s.factory.set_oracle_params, (s.weth.pool, 3600, 5000)),
        _all(NOT_OWNER, governance=OK),
    ),
    ("PoolFactory", "reset_price_anchor"): Row(
        "factory",
        lambda s, c: (s.factory.reset_price_anchor, (s.weth.pool,)),
        _all(NOT_OWNER, governance=OK),
    ),
    ("PoolFactory", "set_paused"): Row(
        "factory",
        lambda s, c: (s.factory.set_paused, (s.weth.pool, True)),
        _all(NOT_OWNER, governance=OK),
    ),
    ("PoolFactory", "set_position_debt_cap"): Row(
        "factory",
        lambda s, c: (s.factory.set_position_debt_cap, (s.weth.pool, 1_000 * WAD)),
        _all(NOT_OWNER, governance=OK),
    ),
    ("PoolFactory", "set_grace_period"): Row(
        "factory",
        lambda s, c: (s.factory.set_grace_period, (s.weth.pool, 60)),
        _all(NOT_OWNER, governance=OK),
    ),
    # governance at any time; the steward within the pool's steward rules (WETH: up to
    # 3,000 bps, 500 a step, hourly; its first change is free)
    ("PoolFactory", "set_haircut"): Row(
        "factory",
        lambda s, c: (s.factory.set_haircut, (s.weth.pool, 100)),
        _all("factory: not owner or steward", governance=OK, steward=OK),
    ),
    ("PoolFactory", "set_steward"): Row(
        "factory",
        lambda s, c: (s.factory.set_steward, (s.roles["stranger"],)),
        _all(NOT_OWNER, governance=OK),
    ),
    ("PoolFactory", "set_steward_rules"): Row(
        "factory",
        lambda s, c: (s.factory.set_steward_rules, (s.weth.pool, 5_000, 5_000, 60)),
        _all(NOT_OWNER, governance=OK),
    ),
    ("PoolFactory", "set_vault"): Row(
        "factory",
        lambda s, c: (s.factory.set_vault, (s.vault,)),
        _all(NOT_OWNER, governance="factory: vault already set"),
    ),
    ("PoolFactory", "set_automation"): Row(
        "factory",
        lambda s, c: (s.factory.set_automation, (s.automation,)),
        _all(NOT_OWNER, governance="factory: automation already set"),
    ),
    ("PoolFactory", "set_reserve_target"): Row(
        "factory",
        lambda s, c: (s.factory.set_reserve_target, (s.weth.pool, 2_000 * WAD)),
        _all(NOT_OWNER, governance=OK),
    ),
    # permissionless: anyone may sweep a reserve above its target into the vault
    ("PoolFactory", "sweep"): Row(
        "factory", lambda s, c: (s.factory.sweep, (s.weth.pool,)), _all(OK)
    ),
    ("PoolFactory", "cover_bad_debt"): Row(
        "factory",
        lambda s, c: (s.factory.cover_bad_debt, (s.weth.pool, WAD)),
        _all(NOT_OWNER, governance="factory: amount above bad debt"),
    ),
    ("PoolFactory", "transfer_ownership"): Row(
        "factory",
        lambda s, c: (s.factory.transfer_ownership, (s.roles["stranger"],)),
        _all(NOT_OWNER, governance=OK),
    ),
    ("PoolFactory", "accept_ownership"): Row(
        "factory",
        lambda s, c: (s.factory.accept_ownership, ()),
        _all(NOT_NEW_OWNER),
    ),
    # ------------------------------------------------------------ Stablecoin
    ("Stablecoin", "transfer"): Row(
        "stablecoin", lambda s, c: (s.stablecoin.transfer, (s.roles["stranger"], 1)), _all(OK)
    ),
    ("Stablecoin", "approve"): Row(
        "stablecoin", lambda s, c: (s.stablecoin.approve, (s.roles["stranger"], 1)), _all(OK)
    ),
    # the keeper approved every role for 1 bhUSD in the scene
    ("Stablecoin", "transferFrom"): Row(
        "stablecoin",
        lambda s, c: (s.stablecoin.transferFrom, (s.roles["keeper"], s.roles["stranger"], 1)),
        _all(OK),
    ),
    ("Stablecoin", "burn"): Row("stablecoin", lambda s, c: (s.stablecoin.burn, (1,)), _all(OK)),
    ("Stablecoin", "burn_from"): Row(
        "stablecoin", lambda s, c: (s.stablecoin.burn_from, (s.roles["keeper"], 1)), _all(OK)
    ),
    ("Stablecoin", "mint"): Row(
        "stablecoin",
        lambda s, c: (s.stablecoin.mint, (c, 1)),
        _all("erc20: access is denied", pool=OK),
    ),
    ("Stablecoin", "pool_burn"): Row(
        "stablecoin",
        lambda s, c: (s.stablecoin.pool_burn, (s.roles["keeper"], 1)),
        _all("bhusd: caller is not a minter", pool=OK),
    ),
    ("Stablecoin", "set_minter"): Row(
        "stablecoin",
        lambda s, c: (s.stablecoin.set_minter, (s.roles["stranger"], True)),
        _all(NOT_OWNER, factory=OK),
    ),
    ("Stablecoin", "permit"): Row("stablecoin", _permit_args, _all(OK)),
    ("Stablecoin", "transfer_ownership"): Row(
        "stablecoin",
        lambda s, c: (s.stablecoin.transfer_ownership, (s.roles["stranger"],)),
        _all(NOT_OWNER, factory=OK),
    ),
    ("Stablecoin", "accept_ownership"): Row(
        "stablecoin",
        lambda s, c: (s.stablecoin.accept_ownership, ()),
        _all(NOT_NEW_OWNER),
    ),
}

# ---------------------------------------------------------- SavingsVault
# every role approved the vault and holds shares; the keeper approved every role for 1 share
MATRIX |= {
    ("SavingsVault", "deposit"): Row("vault", lambda s, c: (s.vault.deposit, (WAD, c)), _all(OK)),
    ("SavingsVault", "mint"): Row("vault", lambda s, c: (s.vault.mint, (WAD, c)), _all(OK)),
    ("SavingsVault", "withdraw"): Row(
        "vault", lambda s, c: (s.vault.withdraw, (WAD, c, c)), _all(OK)
    ),
    ("SavingsVault", "redeem"): Row("vault", lambda s, c: (s.vault.redeem, (WAD, c, c)), _all(OK)),
    ("SavingsVault", "transfer"): Row(
        "vault", lambda s, c: (s.vault.transfer, (s.roles["stranger"], 1)), _all(OK)
    ),
    ("SavingsVault", "approve"): Row(
        "vault", lambda s, c: (s.vault.approve, (s.roles["stranger"], 1)), _all(OK)
    ),
    ("SavingsVault", "transferFrom"): Row(
        "vault",
        lambda s, c: (s.vault.transferFrom, (s.roles["keeper"], s.roles["stranger"], 1)),
        _all(OK),
    ),
    ("SavingsVault", "permit"): Row("vault", lambda s, c: _permit_args(s, c, s.vault), _all(OK)),
    # permissionless: counts bhUSD that arrived as yield
    ("SavingsVault", "skim"): Row("vault", lambda s, c: (s.vault.skim, ()), _all(OK)),
    ("SavingsVault", "cover"): Row(
        "vault", lambda s, c: (s.vault.cover, (0,)), _all("vault: only factory", factory=OK)
    ),
    ("SavingsVault", "set_stream_period"): Row(
        "vault",
        lambda s, c: (s.vault.set_stream_period, (7_200,)),
        _all("vault: only governance", governance=OK),
    ),
    # ---------------------------------------------------- PositionAutomation
    ("PositionAutomation", "set_boost"): Row(
        "automation",
        lambda s, c: (s.automation.set_boost, (s.weth.pool, s.pid, 3 * WAD, 2 * WAD, 50)),
        _all("automation: not owner", owner=OK),
    ),
    ("PositionAutomation", "set_top_up"): Row(
        "automation",
        lambda s, c: (
            s.automation.set_top_up,
            (s.weth.pool, s.pid, 12 * WAD // 10, 14 * WAD // 10, 50, WAD),
        ),
        _all("automation: not owner", owner=OK),
    ),
    # the owner or the owner's operator on the pool
    ("PositionAutomation", "set_protection"): Row(
        "automation",
        lambda s, c: (
            s.automation.set_protection,
            (s.weth.pool, s.pid, 12 * WAD // 10, 15 * WAD // 10, 100),
        ),
        _all("automation: not owner or operator", owner=OK, operator=OK),
    ),
    # permissionless, gated by the owner's rule: the scene's position has none
    ("PositionAutomation", "auto_deleverage"): Row(
        "automation",
        lambda s, c: (s.automation.auto_deleverage, (s.weth.pool, s.pid, WAD)),
        _all("automation: no rule"),
    ),
    ("PositionAutomation", "boost"): Row(
        "automation",
        lambda s, c: (s.automation.boost, (s.weth.pool, s.pid, WAD)),
        _all("automation: no rule"),
    ),
    ("PositionAutomation", "top_up"): Row(
        "automation",
        lambda s, c: (s.automation.top_up, (s.weth.pool, s.pid, 1)),
        _all("automation: no rule"),
    ),
    # the owner or the owner's operator on the pool
    ("PositionAutomation", "set_stop_loss"): Row(
        "automation",
        lambda s, c: (s.automation.set_stop_loss, (s.weth.pool, s.pid, 2_000 * WAD, 100)),
        _all("automation: not owner or operator", owner=OK, operator=OK),
    ),
    ("PositionAutomation", "stop_loss"): Row(
        "automation",
        lambda s, c: (s.automation.stop_loss, (s.weth.pool, s.pid)),
        _all("automation: no rule"),
    ),
}

# contracts that hold no state a caller could change (PoolLens) or that are test-only (mocks)
AUDITED = (
    "MarginPool",
    "PoolFactory",
    "Stablecoin",
    "PoolLens",
    "SavingsVault",
    "PositionAutomation",
)


@dataclass
class Scene:
    chain: object
    stablecoin: object
    factory: object
    weth: object
    vol: object
    roles: dict
    pid: int
    unhealthy: int
    new_token: object
    vault: object
    automation: object


@pytest.fixture(scope="module")
def scene(
    chain,
    accounts,
    project,
    deployment,
    stablecoin,
    factory,
    weth,
    wbtc,
    vol,
    admin,
    borrower,
    operator,
    keeper,
    attacker,
    steward,
):
    pool_account = accounts[wbtc.pool.address]  # another pool: a bhUSD minter
    factory_account = accounts[factory.address]
    for acct in (pool_account, factory_account):
        acct.balance = 10**21
    roles = {
        "owner": borrower,
        "operator": operator,
        "stranger": attacker,
        "keeper": keeper,
        "governance": admin,
        "pool": pool_account,
        "factory": factory_account,
        "steward": steward,
    }
    factory.set_steward(steward, sender=admin)
    pid = weth.open(borrower, 10 * weth.unit, 5_000 * WAD)
    weth.pool.set_operator(operator, True, sender=borrower)
    # an unhealthy VOL position: borrowed near max LTV, then the price falls 20 %
    unhealthy = vol.open(borrower, 10_000 * vol.unit, 10_999 * WAD)
    vol.set_price(1.6, admin)
    # bhUSD for every role, collateral and approvals for every role
    funder = weth.open(keeper, 1_000 * weth.unit, 1_000_000 * WAD)
    assert funder
    for name, acct in roles.items():
        if name != "keeper":
            stablecoin.transfer(acct, 50_000 * WAD, sender=keeper)
        weth.fund(acct, 100 * weth.unit)
        stablecoin.approve(acct, WAD, sender=keeper)
    new_token = project.MockToken.deploy("NEW", "NEW", 18, sender=admin)
    vault = project.SavingsVault.at(deployment.vault)
    automation = project.PositionAutomation.at(deployment.automation)
    for acct in roles.values():
        stablecoin.approve(vault, MAX_UINT, sender=acct)
        vault.deposit(1_000 * WAD, acct, sender=acct)
        vault.approve(acct, WAD, sender=keeper)
    return Scene(
        chain, stablecoin, factory, weth, vol, roles, pid, unhealthy, new_token, vault, automation
    )


def _state_changing(contract_type) -> set[str]:
    return {
        abi.name
        for abi in contract_type.abi
        if abi.type == "function" and abi.stateMutability not in ("view", "pure")
    }


def test_matrix__every_state_changing_function__is_classified(project) -> None:
    found = {
        (name, fn)
        for name in AUDITED
        for fn in _state_changing(getattr(project, name).contract_type)
    }
    missing = sorted(found - set(MATRIX))
    stale = sorted(set(MATRIX) - found)
    assert not missing, f"state-changing functions without an access-control row: {missing}"
    assert not stale, f"rows for functions that no longer exist: {stale}"


@pytest.mark.parametrize("key", sorted(MATRIX), ids=lambda k: f"{k[0]}.{k[1]}")
def test_matrix__every_role__gets_the_expected_outcome(scene, chain, key) -> None:
    row = MATRIX[key]
    assert set(row.expected) == set(ROLES)
    outcomes = {}
    for role in ROLES:
        caller = scene.roles[role]
        with chain.isolate():
            method, args = row.call(scene, caller)
            try:
                method(*args, sender=caller)
                outcomes[role] = OK
            except ape.exceptions.ContractLogicError as err:
                outcomes[role] = err.message
    assert outcomes == row.expected
