"""A deployment's handle, its pools and positions, and the checks every write shares."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Self, cast

from web3 import Web3
from web3.exceptions import BlockNotFound

from bulkhead import artifacts, fmt, risk
from bulkhead.chain import LOCAL_CHAIN_IDS, Sender
from bulkhead.chain import connect as _connect
from bulkhead.deploy import Deployment, PoolInfo
from bulkhead.errors import BulkheadError
from bulkhead.risk import (
    BPS,
    MAX_UINT256,
    WAD,
    Controls,
    RiskParams,
)

PAGE = 500  # ids per PoolLens.positions call: well under the 30M gas cap of eth_call
# [s] the interest a shown max borrow leaves room for, so that `borrow` of the amount `show`
# printed (or `borrow max`) still passes when it is mined minutes later
BORROW_HEADROOM = 3600


# the pool's and the automation's events about one position, and the argument that names
# who acted
POSITION_EVENTS = (
    "Open", "Deposit", "Withdraw", "Borrow", "Repay", "Close", "Liquidate", "Deleverage",
)  # fmt: skip
RULE_EVENTS = (
    "AutoDeleverage", "Boost", "TopUp", "StopLoss",
    "ProtectionSet", "BoostSet", "TopUpSet", "StopLossSet",
)  # fmt: skip
ACTORS = ("owner", "payer", "receiver", "caller", "liquidator", "keeper")


class UserError(BulkheadError):
    """A user mistake or a refused action; the message is one line."""


@dataclass
class Pool:
    """One pool of the manifest with its contracts."""

    info: PoolInfo
    contract: Any
    token: Any
    feed: Any

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def decimals(self) -> int:
        return self.info.collateral_decimals

    @property
    def scale(self) -> int:
        return risk.to_wad(self.decimals)

    def coll(self, units: int) -> str:
        """Collateral units for a table, with the pool's name as the unit."""
        return f"{fmt.amount(units, self.decimals)} {self.name}"


@dataclass
class Position:
    """A position as of the latest block."""

    pool: str
    id: int
    owner: str
    collateral: int  # [collateral units]
    debt: int  # [wad]
    decimals: int
    price: int | None  # [wad] the pool's valid price, None while invalid
    health: int | None  # [wad] MAX_UINT256 without debt, None while the price is invalid
    liquidation_price: int  # [wad] 0 without debt
    max_borrow: int | None  # [wad] more debt allowed, None while the price is invalid
    ltv: int | None = None  # [bps, rounded up] debt / collateral value; None without both
    # [wad] max_borrow once an hour of interest has accrued (BORROW_HEADROOM): what `show`
    # prints and `borrow max` takes, so that it still passes when mined later
    borrowable: int | None = None
    params: RiskParams | None = None  # the pool's, as read with the position
    controls: Controls | None = None  # the pool's, as read with the position

    @property
    def liquidatable(self) -> bool:
        return self.health is not None and self.health < WAD

    def as_json(self) -> dict:
        return {
            "pool": self.pool,
            "id": self.id,
            "owner": self.owner,
            "collateral": fmt.exact(self.collateral, self.decimals),
            "debt": fmt.exact(self.debt, 18),
            "health": fmt.health_json(self.health),
            "liquidation_price": fmt.exact(self.liquidation_price, 18)
            if self.debt and self.liquidation_price < MAX_UINT256
            else None,
            "price": fmt.exact(self.price, 18) if self.price is not None else None,
            "borrowable": fmt.exact(self.borrowable, 18) if self.borrowable is not None else None,
            "ltv_bps": self.ltv,
            "liquidatable": self.liquidatable,
            "max_borrow": fmt.exact(self.max_borrow, 18) if self.max_borrow is not None else None,
        }


def connect(rpc_url: str) -> Web3:
    """`bulkhead.chain.connect`, remembering the chain id: web3 asks for it before every
    call otherwise, which triples the requests of a command."""
    w3 = _connect(rpc_url)
    w3.provider.cacheable_requests = {cast(Any, "eth_chainId")}
    w3.provider.cache_allowed_requests = True
    return w3


class ClientBase:
    """One deployment on one node: its contracts, pools and prices, a position's state, and
    the checks the writes make first."""

    def __init__(self, w3: Web3, deployment: Deployment):
        self.w3 = w3
        self.deployment = deployment
        self.stablecoin = artifacts.contract(w3, "Stablecoin", deployment.stablecoin)
        self.factory = artifacts.contract(w3, "PoolFactory", deployment.factory)
        self.lens = artifacts.contract(w3, "PoolLens", deployment.lens)
        self.automation = artifacts.contract(w3, "PositionAutomation", deployment.automation)
        self.vault = artifacts.contract(w3, "SavingsVault", deployment.vault)
        self._pools: dict[str, Pool] = {}

    @classmethod
    def attach(cls, w3: Web3, deployment: Deployment, where: str = "the node") -> Self:
        """A Client after checking that `w3` is the chain the manifest describes."""
        chain_id = w3.eth.chain_id
        if chain_id != deployment.chain_id:
            raise UserError(
                f"wrong chain: the manifest is for chain id {deployment.chain_id}, "
                f"{where} is chain id {chain_id}"
            )
        client = cls(w3, deployment)
        if not w3.eth.get_code(client.factory.address):
            raise UserError(
                f"wrong chain: no factory at {deployment.factory} on {where}; the manifest "
                "belongs to another chain or a node that was reset (run `bulkhead deploy`)"
            )
        try:
            stablecoin = client.factory.functions.STABLECOIN().call()
            registered = all(
                client.factory.functions.is_pool(Web3.to_checksum_address(p.address)).call()
                for p in deployment.pools
            )
        except Exception:
            stablecoin, registered = None, False
        if stablecoin != Web3.to_checksum_address(deployment.stablecoin) or not registered:
            raise UserError(
                f"wrong chain: the contract at {deployment.factory} on {where} is not the "
                "manifest's factory (run `bulkhead deploy`)"
            )
        if deployment.deploy_block_hash:
            block_hash = None  # Anvil refuses a block beyond its head; others return null
            if deployment.deploy_block <= w3.eth.block_number:
                with contextlib.suppress(BlockNotFound):
                    block_hash = Web3.to_hex(w3.eth.get_block(deployment.deploy_block)["hash"])
            if block_hash != deployment.deploy_block_hash.lower():
                why = "no such block" if block_hash is None else "its hash differs"
                raise UserError(
                    f"wrong chain: block {deployment.deploy_block} on {where} is not the "
                    f"manifest's deploy block ({why}): another node with the same chain id and "
                    "addresses, or one that was reset (run `bulkhead deploy`)"
                )
        return client

    @property
    def is_local(self) -> bool:
        return self.deployment.chain_id in LOCAL_CHAIN_IDS

    def pool(self, name: str) -> Pool:
        """The pool called `name` (or at that address); UserError if the manifest has none."""
        key = name.lower()
        if key not in self._pools:
            try:
                info = self.deployment.pool(name)
            except Exception as exc:
                raise UserError(str(exc)) from None
            self._pools[key] = Pool(
                info=info,
                contract=artifacts.contract(self.w3, "MarginPool", info.address),
                token=artifacts.contract(self.w3, "MockToken", info.collateral),
                feed=artifacts.contract(self.w3, "MockAggregator", info.feed),
            )
        return self._pools[key]

    def pools(self) -> list[Pool]:
        return [self.pool(p.name) for p in self.deployment.pools]

    def params(self, pool: Pool) -> RiskParams:
        return RiskParams(*pool.contract.functions.risk_params().call())

    def controls(self, pool: Pool) -> Controls:
        """The pool's risk controls: position debt cap, haircut, grace period and end."""
        return Controls(*pool.contract.functions.controls().call())

    def borrow_ltv(self, pool: Pool, p: RiskParams | None = None) -> int:
        """The pool's borrow limit [bps]: max LTV less the haircut."""
        p = p or self.params(pool)
        return risk.borrow_ltv(p.max_ltv, self.controls(pool).haircut)

    def price_status(self, pool: Pool) -> tuple[int | None, str]:
        """The pool's price [wad] (None when invalid) and the oracle's status in words."""
        price, status = pool.contract.functions.price_status().call()
        return (price if status == 0 else None), risk.oracle_status(status)

    def valid_price(self, pool: Pool, action: str) -> int:
        price, status = self.price_status(pool)
        if price is None:
            raise UserError(f"cannot {action} in pool {pool.name} now: no valid price ({status})")
        return price

    def position(self, pool: Pool, position_id: int) -> Position:
        """One position; UserError when the pool has no such id."""
        c = pool.contract.functions
        owner = c.owner_of(position_id).call()
        if int(owner, 16) == 0:
            count = c.position_count().call()
            raise UserError(
                f"unknown position {position_id} in pool {pool.name} (ids run from 1 to {count})"
                if count
                else f"unknown position {position_id}: pool {pool.name} has no positions yet"
            )
        coll = c.collateral_of(position_id).call()
        debt = c.debt_of(position_id).call()
        return self._position(pool, position_id, owner, coll, debt)

    def _position(
        self,
        pool: Pool,
        position_id: int,
        owner: str,
        coll: int,
        debt: int,
        price: int | None | bool = False,
        params: RiskParams | None = None,
        total_debt: int | None = None,
        controls: Controls | None = None,
    ) -> Position:
        if price is False:
            price, _ = self.price_status(pool)
        params = params or self.params(pool)
        controls = controls or self.controls(pool)
        h = mb = ltv = borrowable = None
        if price is not None:
            h = risk.health(coll, debt, price, params.liquidation_threshold, pool.scale)
            if total_debt is None:
                total_debt = pool.contract.functions.total_debt().call()
            mb = risk.max_borrow(
                coll, debt, price, params, pool.scale, total_debt, controls=controls
            )
            # what borrowing may add once an hour of interest has accrued on every debt
            soon = risk.grow(WAD, BORROW_HEADROOM, params.stability_fee)
            borrowable = risk.max_borrow(
                coll,
                risk.ceil_div(debt * soon, WAD),
                price,
                params,
                pool.scale,
                risk.ceil_div(total_debt * soon, WAD),
                controls=controls,
            )
            worth = risk.value(coll, price, pool.scale)
            ltv = risk.ceil_div(debt * BPS, worth) if debt and worth else None
        return Position(
            pool=pool.name,
            id=position_id,
            owner=owner,
            collateral=coll,
            debt=debt,
            decimals=pool.decimals,
            price=price,
            health=h,
            liquidation_price=risk.liquidation_price(
                coll, debt, params.liquidation_threshold, pool.scale
            ),
            max_borrow=mb,
            ltv=ltv,
            params=params,
            borrowable=borrowable,
            controls=controls,
        )

    def feed_round(self, pool: Pool) -> tuple[int | None, int | None]:
        """The feed's latest answer [wad] and its update time [seconds], None if unreadable."""
        try:
            decimals = pool.feed.functions.decimals().call()
            _round, answer, _started, updated, _in_round = (
                pool.feed.functions.latestRoundData().call()
            )
        except Exception:
            return None, None
        return answer * risk.to_wad(decimals), updated

    def balance(self, pool: Pool | None, address: str) -> int:
        """`address`'s balance of a pool's collateral, or of bhUSD when `pool` is None."""
        token = self.stablecoin if pool is None else pool.token
        return token.functions.balanceOf(Web3.to_checksum_address(address)).call()

    def bhusd_hint(self, short: int, need: int) -> str:
        """How to get the `short` [wad] of a `need` [wad] of bhUSD. Interest accrues every
        block, so a borrower who holds only what was minted can never repay all without more."""
        # with a margin of 1 bps of the need for the interest until the repayment is mined
        # (an hour's worth at 87 % a year), rounded up to a cent
        ask = fmt.to_decimal(risk.ceil_div(short + need // 10_000, 10**16), 2)
        ask = max(ask, Decimal("0.01"))
        if self.is_local:
            return f"{ask:f} bhUSD short (`bulkhead faucet --bhusd {ask:f}` borrows it on a local chain)"
        return f"{ask:f} bhUSD short (buy or borrow bhUSD first)"

    def _owned(self, sender: Sender, pool: Pool, pos: Position, action: str) -> None:
        if pos.owner.lower() == sender.address.lower():
            return
        if pool.contract.functions.operators(pos.owner, sender.address).call():
            return
        raise UserError(
            f"not your position: position {pos.id} in pool {pool.name} belongs to "
            f"{pos.owner}, not to {sender.address} (only its owner or an operator can {action})"
        )

    def _has(self, sender: Sender, pool: Pool | None, need: int, action: str) -> None:
        have = self.balance(pool, sender.address)
        if have >= need:
            return
        if pool is None:
            need_text, have_text = fmt.usd_apart(need, have)
            raise UserError(
                f"insufficient bhUSD balance: {action} needs {need_text} bhUSD, "
                f"{sender.address} has {have_text}: {self.bhusd_hint(need - have, need)}"
            )
        need_text, have_text = fmt.amount_apart(need, have, pool.decimals)
        hint = " (`bulkhead faucet` mints mock collateral)" if pool.info.mock else ""
        raise UserError(
            f"insufficient {pool.name} balance: {action} needs {need_text} {pool.name}, "
            f"{sender.address} has {have_text}{hint}"
        )

    def _not_paused(self, pool: Pool, action: str) -> None:
        if pool.contract.functions.paused().call():
            raise UserError(f"cannot {action}: pool {pool.name} is paused (no new debt)")

    def _approve(self, sender: Sender, pool: Pool, amount: int) -> None:
        token = pool.token.functions
        if token.allowance(sender.address, pool.contract.address).call() < amount:
            sender.transact(token.approve(pool.contract.address, amount))

    def _governance(self, sender: Sender, action: str) -> None:
        governance = self.factory.functions.owner().call()
        if Web3.to_checksum_address(sender.address) != governance:
            raise UserError(
                f"only governance (the factory's owner, {governance}) can {action}; "
                f"{sender.address} is not (--account or --keystore)"
            )

    def liquidations_open(self, pool: Pool) -> None:
        """UserError while the pool is paused or in its grace window after an unpause."""
        if pool.contract.functions.paused().call():
            raise UserError(f"cannot liquidate: pool {pool.name} is paused")
        controls = self.controls(pool)
        now = self.w3.eth.get_block("latest")["timestamp"]
        if controls.in_grace(now):
            raise UserError(
                f"cannot liquidate: pool {pool.name} is in its grace window after an unpause "
                f"for {controls.grace_end - now} s more (until {fmt.timestamp(controls.grace_end)})"
            )
