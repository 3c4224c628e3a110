"""A deployed Bulkhead, driven from Python in human terms: what the CLI and the demo call.

`Client.attach` checks that the node is the chain of the manifest (chain id, and the
factory's code and registry). Every write checks first what the pool would refuse
(ownership, balances, max LTV, minimum debt, debt ceiling, oracle, pause) with the risk
mirror in `bulkhead.risk`, so that a user reads one clear sentence instead of a revert;
whatever still fails on chain comes back as `TxError` with the contract's reason.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, cast

from web3 import Web3
from web3.exceptions import BlockNotFound
from web3.logs import DISCARD

from bulkhead import artifacts, fmt, risk
from bulkhead.chain import LOCAL_CHAIN_IDS, Sender
from bulkhead.chain import connect as _connect
from bulkhead.deploy import Deployment, PoolInfo
from bulkhead.errors import BulkheadError
from bulkhead.risk import (
    BPS,
    MAX_GRACE_PERIOD,
    MAX_HAIRCUT,
    MAX_UINT256,
    STEWARD_COOLDOWN_BOUNDS,
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


def _contract(w3: Web3, name: str, address: str) -> Any:
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifacts.abi(name))


class Client:
    """Reads and writes one deployment on one node."""

    def __init__(self, w3: Web3, deployment: Deployment):
        self.w3 = w3
        self.deployment = deployment
        self.stablecoin = _contract(w3, "Stablecoin", deployment.stablecoin)
        self.factory = _contract(w3, "PoolFactory", deployment.factory)
        self.lens = _contract(w3, "PoolLens", deployment.lens)
        self.automation = _contract(w3, "PositionAutomation", deployment.automation)
        self.vault = _contract(w3, "SavingsVault", deployment.vault)
        self._pools: dict[str, Pool] = {}

    @classmethod
    def attach(cls, w3: Web3, deployment: Deployment, where: str = "the node") -> Client:
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

    # ------------------------------------------------------------------ reading

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
                contract=_contract(self.w3, "MarginPool", info.address),
                token=_contract(self.w3, "MockToken", info.collateral),
                feed=_contract(self.w3, "MockAggregator", info.feed),
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

    def positions(self, pool: Pool, owner: str | None = None) -> list[Position]:
        """Every position with collateral or debt (through PoolLens, a page at a time)."""
        count = pool.contract.functions.position_count().call()
        price, _ = self.price_status(pool)
        params = self.params(pool)
        controls = self.controls(pool)
        total_debt = pool.contract.functions.total_debt().call()
        found: list[Position] = []
        for start in range(1, count + 1, PAGE):
            page = self.lens.functions.positions(pool.contract.address, start, PAGE).call()
            for position_id, holder, coll, debt, _health in page:
                if owner is not None and holder.lower() != owner.lower():
                    continue
                found.append(
                    self._position(
                        pool, position_id, holder, coll, debt, price, params, total_debt, controls
                    )
                )
        return found

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

    def pool_state(self, pool: Pool, lowest: int = 5) -> dict:
        """What `bulkhead status` shows for one pool (integers in contract units)."""
        c = pool.contract.functions
        params = self.params(pool)
        price, status = self.price_status(pool)
        answer, updated = self.feed_round(pool)
        now = self.w3.eth.get_block("latest")["timestamp"]
        total_debt = c.total_debt().call()
        positions = self.positions(pool)
        with_debt = sorted((p for p in positions if p.debt), key=lambda p: (p.health or 0, p.id))
        liquidatable = [p for p in with_debt if p.health is not None and p.health < WAD]
        return {
            "name": pool.name,
            "address": pool.contract.address,
            "collateral": pool.token.address,
            "price": price,
            "feed_answer": answer,
            "price_age": None if updated is None else max(now - updated, 0),
            "oracle": status,
            "paused": c.paused().call(),
            "controls": self.controls(pool),
            "now": now,
            "total_collateral": c.total_collateral().call(),
            "total_debt": total_debt,
            "debt_ceiling": params.debt_ceiling,
            "reserve": c.reserve().call(),
            "bad_debt": c.bad_debt().call(),
            "positions": len(positions),
            "positions_with_debt": len(with_debt),
            "liquidatable": len(liquidatable),
            "ids_issued": c.position_count().call(),
            "lowest": with_debt[:lowest],
            "params": params,
        }

    def balance(self, pool: Pool | None, address: str) -> int:
        """`address`'s balance of a pool's collateral, or of bhUSD when `pool` is None."""
        token = self.stablecoin if pool is None else pool.token
        return token.functions.balanceOf(Web3.to_checksum_address(address)).call()

    def balances(self, address: str) -> list[tuple[str, int, int, str | None]]:
        """What `address` holds: (asset, amount, decimals, note) for ETH, bhUSD, each pool's
        collateral token and the savings vault's shares (the note: their worth in bhUSD)."""
        who = Web3.to_checksum_address(address)
        rows: list[tuple[str, int, int, str | None]] = [
            ("ETH", self.w3.eth.get_balance(who), 18, None),
            ("bhUSD", self.balance(None, who), 18, None),
        ]
        rows += [(p.name, self.balance(p, who), p.decimals, None) for p in self.pools()]
        shares, worth = self.vault_shares(who)
        symbol = self.vault.functions.symbol().call()
        decimals = self.vault.functions.decimals().call()
        rows.append((symbol, shares, decimals, f"worth {fmt.usd(worth)} bhUSD"))
        return rows

    def vault_shares(self, address: str) -> tuple[int, int]:
        """`address`'s savings vault shares and what they redeem for now [wad]."""
        shares = self.vault.functions.balanceOf(Web3.to_checksum_address(address)).call()
        worth = self.vault.functions.convertToAssets(shares).call() if shares else 0
        return shares, worth

    # ------------------------------------------------------------------ checks

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

    def _check_new_debt(
        self,
        pool: Pool,
        p: RiskParams,
        coll: int,
        position_id: int | None,
        add: int,
        price: int,
        what: str,
    ) -> None:
        """The pool's borrow rules for borrowing `add` more against `coll`, with the pool's
        own rounding (the normalised debt added rounds up)."""
        c = pool.contract.functions
        rate = c.rate().call()
        norm = c.normalised_debt_of(position_id).call() if position_id else 0
        debt = risk.debt(norm, rate)
        new_debt = risk.debt(norm + risk.ceil_div(add * WAD, rate), rate)
        if new_debt < p.min_debt:
            raise UserError(
                f"{what} leaves a debt of {fmt.usd(new_debt)} bhUSD, below pool {pool.name}'s "
                f"minimum debt of {fmt.usd(p.min_debt)} bhUSD"
            )
        controls = self.controls(pool)
        total = c.total_debt().call()
        ltv = risk.borrow_ltv(p.max_ltv, controls.haircut)
        if not risk.within_max_ltv(coll, new_debt, price, ltv, pool.scale):
            limit = risk.max_debt(coll, price, ltv, pool.scale)
            room = risk.max_borrow(coll, debt, price, p, pool.scale, total, controls=controls)
            raise UserError(
                f"{what} would exceed {_limit_text(p.max_ltv, controls)} by "
                f"{fmt.usd(new_debt - limit)} bhUSD (at most {fmt.usd(room, down=True)} bhUSD at "
                f"{fmt.price(price)} USD per {pool.name})"
            )
        if total + new_debt - debt > p.debt_ceiling:
            raise UserError(
                f"{what} would pass pool {pool.name}'s debt ceiling: room for "
                f"{fmt.usd(max(p.debt_ceiling - total, 0), down=True)} bhUSD"
            )
        # after the ceiling: a new pool's cap is its ceiling, and the ceiling says more
        if new_debt > controls.position_debt_cap:
            raise UserError(
                f"{what} would take the position's debt to {fmt.usd(new_debt)} bhUSD, above "
                f"pool {pool.name}'s position debt cap of {fmt.usd(controls.position_debt_cap)} "
                "bhUSD"
            )

    # ------------------------------------------------------------------ writes

    def _approve(self, sender: Sender, pool: Pool, amount: int) -> None:
        token = pool.token.functions
        if token.allowance(sender.address, pool.contract.address).call() < amount:
            sender.transact(token.approve(pool.contract.address, amount))

    def open(self, sender: Sender, pool: Pool, collateral: int, debt: int) -> int:
        """Open a position; returns its id."""
        if collateral == 0:
            raise UserError("a position needs collateral above 0")
        self._not_paused(pool, "open a position")
        if debt:
            price = self.valid_price(pool, "borrow")
            self._check_new_debt(
                pool,
                self.params(pool),
                collateral,
                None,
                debt,
                price,
                f"borrowing {fmt.usd(debt)} bhUSD against {pool.coll(collateral)}",
            )
        self._has(sender, pool, collateral, "opening")
        self._approve(sender, pool, collateral)
        receipt = sender.transact(pool.contract.functions.open(collateral, debt))
        events = pool.contract.events.Open().process_receipt(receipt, errors=DISCARD)
        return int(events[0]["args"]["id"])

    def deposit(self, sender: Sender, pool: Pool, position_id: int, amount: int) -> None:
        self.position(pool, position_id)
        if amount == 0:
            raise UserError("amount must be above 0")
        self._has(sender, pool, amount, "depositing")
        self._approve(sender, pool, amount)
        sender.transact(pool.contract.functions.deposit(position_id, amount))

    def withdraw(self, sender: Sender, pool: Pool, position_id: int, amount: int) -> None:
        pos = self.position(pool, position_id)
        self._owned(sender, pool, pos, "withdraw")
        if amount == 0:
            raise UserError("amount must be above 0")
        if amount > pos.collateral:
            raise UserError(
                f"position {position_id} in pool {pool.name} holds only {pool.coll(pos.collateral)}"
            )
        if pos.debt and amount == pos.collateral:
            raise UserError(
                f"position {position_id} in pool {pool.name} has {fmt.usd(pos.debt)} bhUSD of "
                "debt: repay it first, or `position close` (repays all and withdraws all)"
            )
        if pos.debt:
            price = self.valid_price(pool, "withdraw from a position with debt")
            p = self.params(pool)
            controls = self.controls(pool)
            ltv = risk.borrow_ltv(p.max_ltv, controls.haircut)
            if not risk.within_max_ltv(pos.collateral - amount, pos.debt, price, ltv, pool.scale):
                need = _min_collateral(pos.debt, price, ltv, pool.scale)
                most = max(pos.collateral - need, 0)
                raise UserError(
                    f"withdrawing {pool.coll(amount)} would exceed "
                    f"{_limit_text(p.max_ltv, controls)} by {pool.coll(amount - most)} (at most "
                    f"{fmt.amount(most, pool.decimals, down=True)} {pool.name} at "
                    f"{fmt.price(price)} USD per {pool.name})"
                )
        sender.transact(pool.contract.functions.withdraw(position_id, amount))

    def borrow(self, sender: Sender, pool: Pool, position_id: int, amount: int) -> None:
        pos = self.position(pool, position_id)
        self._owned(sender, pool, pos, "borrow")
        if amount == 0:
            raise UserError("amount must be above 0")
        self._not_paused(pool, "borrow")
        price = self.valid_price(pool, "borrow")
        self._check_new_debt(
            pool,
            self.params(pool),
            pos.collateral,
            position_id,
            amount,
            price,
            f"borrowing {fmt.usd(amount)} bhUSD",
        )
        sender.transact(pool.contract.functions.borrow(position_id, amount))

    def repay(self, sender: Sender, pool: Pool, position_id: int, amount: int | None) -> int:
        """Repay `amount` [wad], or all the debt when None; returns the bhUSD burned."""
        pos = self.position(pool, position_id)
        if pos.debt == 0:
            raise UserError(f"position {position_id} in pool {pool.name} has no debt")
        if amount == 0:
            raise UserError("amount must be above 0")
        if amount is None or amount >= pos.debt:
            self._has(sender, pool=None, need=pos.debt, action="repaying all the debt")
            # the debt grows every second: offer a margin, the pool burns only the debt
            margin = pos.debt // 10_000 + 1
            amount = min(self.balance(None, sender.address), pos.debt + margin)
        else:
            min_debt = self.params(pool).min_debt
            if pos.debt - amount < min_debt:
                raise UserError(
                    f"repaying {fmt.usd(amount)} bhUSD would leave {fmt.usd(pos.debt - amount)}"
                    f" bhUSD of debt, below pool {pool.name}'s minimum debt of "
                    f"{fmt.usd(min_debt)} bhUSD: repay at most "
                    f"{fmt.usd(pos.debt - min_debt, down=True)}, or all"
                )
            self._has(sender, None, amount, f"repaying {fmt.usd(amount)} bhUSD")
        receipt = sender.transact(pool.contract.functions.repay(position_id, amount))
        events = pool.contract.events.Repay().process_receipt(receipt, errors=DISCARD)
        return int(events[0]["args"]["amount"])

    def deleverage(
        self, sender: Sender, pool: Pool, position_id: int, repay: int | None, out: int | None
    ) -> tuple[int, int]:
        """Repay `repay` [wad] (all when None) and take `out` collateral back in one step
        (`MarginPool.deleverage`); `out` None takes the most that keeps the collateral per
        unit of debt, so health does not fall. Works above max LTV, paused or without a
        price. Returns (bhUSD repaid, collateral out)."""
        pos = self.position(pool, position_id)
        self._owned(sender, pool, pos, "deleverage")
        if pos.debt == 0:
            raise UserError(f"position {position_id} in pool {pool.name} has no debt")
        if repay == 0:
            raise UserError("amount must be above 0")
        norm = pool.contract.functions.normalised_debt_of(position_id).call()
        if repay is None or repay >= pos.debt:
            self._has(sender, pool=None, need=pos.debt, action="repaying all the debt")
            margin = pos.debt // 10_000 + 1  # the debt grows until mined; the pool burns only it
            repay = min(self.balance(None, sender.address), pos.debt + margin)
            most = pos.collateral
        else:
            min_debt = self.params(pool).min_debt
            if pos.debt - repay < min_debt:
                raise UserError(
                    f"repaying {fmt.usd(repay)} bhUSD would leave {fmt.usd(pos.debt - repay)}"
                    f" bhUSD of debt, below pool {pool.name}'s minimum debt of "
                    f"{fmt.usd(min_debt)} bhUSD: repay at most "
                    f"{fmt.usd(pos.debt - min_debt, down=True)}, or all"
                )
            self._has(sender, None, repay, f"repaying {fmt.usd(repay)} bhUSD")
            # the pool removes floor(repay / rate) of normalised debt at the rate when mined,
            # which only grows: sized at the rate an hour on, the answer still holds then
            params = self.params(pool)
            rate = pool.contract.functions.rate().call()
            later = rate * risk.grow(WAD, BORROW_HEADROOM, params.stability_fee) // WAD
            left = norm - repay * WAD // later
            # collateral per normalised debt must not fall: out <= coll - ceil(coll x left / norm)
            most = pos.collateral - -(-pos.collateral * left // norm)
        if out is None:
            out = most
        elif out > most:
            raise UserError(
                f"taking {pool.coll(out)} would lower the health of position {position_id}: "
                f"with {fmt.usd(min(repay, pos.debt))} bhUSD repaid, take at most "
                f"{fmt.amount(most, pool.decimals, down=True)} {pool.name}"
            )
        receipt = sender.transact(pool.contract.functions.deleverage(position_id, repay, out))
        event = pool.contract.events.Deleverage().process_receipt(receipt, errors=DISCARD)[0]
        return int(event["args"]["repaid"]), int(event["args"]["collateral_out"])

    def close(self, sender: Sender, pool: Pool, position_id: int) -> tuple[int, int]:
        """Repay all and take all collateral; returns (debt repaid, collateral returned)."""
        pos = self.position(pool, position_id)
        self._owned(sender, pool, pos, "close")
        if pos.collateral == 0 and pos.debt == 0:
            raise UserError(f"position {position_id} in pool {pool.name} is already empty")
        if pos.debt:
            self._has(sender, None, pos.debt, "closing")
        receipt = sender.transact(pool.contract.functions.close(position_id))
        event = pool.contract.events.Close().process_receipt(receipt, errors=DISCARD)[0]
        return int(event["args"]["debt_repaid"]), int(event["args"]["collateral_returned"])

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

    def liquidate(self, sender: Sender, pool: Pool, position_id: int) -> dict[str, int]:
        """Liquidate an unhealthy position with `sender`'s bhUSD, as the pool sizes it (a
        partial back to the target health, or the whole debt); returns the Liquidate event's
        amounts."""
        pos = self.position(pool, position_id)
        if pos.debt == 0:
            raise UserError(f"position {position_id} in pool {pool.name} has no debt")
        price = self.valid_price(pool, "liquidate")
        if not pos.liquidatable:
            raise UserError(
                f"position {position_id} in pool {pool.name} is healthy (health "
                f"{fmt.health(pos.health)}, liquidatable below 1)"
            )
        self.liquidations_open(pool)
        params = self.params(pool)
        plan = risk.liquidation_amounts(pos.collateral, pos.debt, price, params, pool.scale)
        self._has(sender, None, plan.paid, "liquidating it")
        # interest until it is mined raises what is paid a little: offer 1 bps more, and
        # accept 1 % less collateral than planned (a partial one is sized again on chain)
        max_repay = min(self.balance(None, sender.address), plan.paid + plan.paid // 10_000 + 1)
        min_out = plan.collateral_out * 99 // 100
        receipt = sender.transact(
            pool.contract.functions.liquidate(position_id, max_repay, min_out)
        )
        event = pool.contract.events.Liquidate().process_receipt(receipt, errors=DISCARD)[0]
        return {k: int(v) for k, v in event["args"].items() if isinstance(v, int)}

    def history(self, pool: Pool, position_id: int) -> list[dict[str, Any]]:
        """What happened to a position, oldest first, from the event logs since the deploy
        block: each action (who, the amounts of its event) with the position's collateral and
        debt right after it (from the same transaction's PositionUpdated)."""
        self.position(pool, position_id)  # an unknown id is a one-line error
        start = self.deployment.deploy_block
        ids = {"id": position_id}
        logs = []
        automation = self.automation.address
        for name in POSITION_EVENTS:
            event = getattr(pool.contract.events, name)()
            found = event.get_logs(from_block=start, argument_filters=ids)
            # a protection's deleverage is told once, by the automation's AutoDeleverage
            logs += [log for log in found if log["args"].get("caller") != automation]
        for name in RULE_EVENTS:
            event = getattr(self.automation.events, name)()
            found = event.get_logs(from_block=start, argument_filters=ids)
            logs += [log for log in found if log["args"]["pool"] == pool.contract.address]
        after: dict[bytes, Any] = {}  # the position's state at the end of each transaction
        for log in pool.contract.events.PositionUpdated().get_logs(
            from_block=start, argument_filters=ids
        ):
            after[bytes(log["transactionHash"])] = log["args"]
        times: dict[int, int] = {}
        rows = []
        for log in sorted(logs, key=lambda lg: (lg["blockNumber"], lg["logIndex"])):
            block = log["blockNumber"]
            if block not in times:
                times[block] = self.w3.eth.get_block(block)["timestamp"]
            args = dict(log["args"])
            state = after.get(bytes(log["transactionHash"]))
            rows.append(
                {
                    "block": block,
                    "time": times[block],
                    "tx": Web3.to_hex(log["transactionHash"]),
                    "event": log["event"],
                    "by": next((args[k] for k in ACTORS if k in args), ""),
                    "args": {k: v for k, v in args.items() if k not in ("id", "pool", *ACTORS)},
                    "collateral": None if state is None else state["collateral"],
                    "debt": None if state is None else state["debt"],
                }
            )
        return rows

    def rules(self, pool: Pool, position_id: int) -> dict[str, dict[str, int]]:
        """A position's owner rules, all on PositionAutomation: deleverage (protection), boost
        and top-up; a trigger of 0 means off."""
        self.position(pool, position_id)
        address = pool.contract.address
        auto = self.automation.functions
        trigger, target, fee = auto.protection_of(address, position_id).call()
        b = auto.boost_rule(address, position_id).call()
        t = auto.top_up_rule(address, position_id).call()
        stop_price, stop_fee = auto.stop_loss_rule(address, position_id).call()
        return {
            "stop-loss": {"price": stop_price, "max_fee": stop_fee},
            "deleverage": {"trigger_health": trigger, "target_health": target, "max_fee": fee},
            "boost": {"trigger_health": b[0], "target_health": b[1], "max_fee": b[2]},
            "top-up": {
                "trigger_health": t[0],
                "target_health": t[1],
                "max_fee": t[2],
                "allowance": t[3],
            },
        }

    def set_rule(
        self,
        sender: Sender,
        pool: Pool,
        position_id: int,
        kind: str,
        trigger: int,
        target: int,
        max_fee: int,
        allowance: int = 0,
    ) -> None:
        """Set (or, with trigger 0, turn off) one owner rule; grants what it needs first: the
        automation as the owner's operator on the pool (deleverage, boost), an ERC-20
        allowance of the collateral (top-up). The contracts check the healths and fee."""
        pos = self.position(pool, position_id)
        if pos.owner.lower() != sender.address.lower():
            raise UserError(
                f"position {position_id} in pool {pool.name} belongs to {pos.owner}; only its "
                f"owner sets its rules, not {sender.address}"
            )
        address = pool.contract.address
        auto = self.automation
        if (
            kind in ("deleverage", "boost")
            and trigger
            and not pool.contract.functions.operators(sender.address, auto.address).call()
        ):
            sender.transact(pool.contract.functions.set_operator(auto.address, True))
        if kind == "deleverage":
            fn = auto.functions.set_protection(address, position_id, trigger, target, max_fee)
        elif kind == "boost":
            fn = auto.functions.set_boost(address, position_id, trigger, target, max_fee)
        elif kind == "top-up":
            if trigger:
                token = pool.token.functions
                if token.allowance(sender.address, auto.address).call() < allowance:
                    sender.transact(token.approve(auto.address, allowance))
            fn = auto.functions.set_top_up(
                address, position_id, trigger, target, max_fee, allowance
            )
        else:
            raise UserError(f"unknown rule {kind!r} (deleverage, boost or top-up)")
        sender.transact(fn)

    def set_stop_loss(
        self, sender: Sender, pool: Pool, position_id: int, price: int, max_fee: int
    ) -> None:
        """Set (or, with price 0, turn off) a stop-loss: at or below `price` [wad] any keeper
        may repay all the debt and close the position for at most `max_fee` [bps]. Makes the
        automation the owner's operator on the pool first."""
        pos = self.position(pool, position_id)
        if pos.owner.lower() != sender.address.lower():
            raise UserError(
                f"position {position_id} in pool {pool.name} belongs to {pos.owner}; only its "
                f"owner sets its rules, not {sender.address}"
            )
        auto = self.automation
        if price and not pool.contract.functions.operators(sender.address, auto.address).call():
            sender.transact(pool.contract.functions.set_operator(auto.address, True))
        sender.transact(
            auto.functions.set_stop_loss(pool.contract.address, position_id, price, max_fee)
        )

    def vault_deposit(self, sender: Sender, assets: int) -> int:
        """Deposit `assets` [wad] bhUSD into the savings vault; returns the shares minted."""
        if assets == 0:
            raise UserError("amount must be above 0")
        self._has(sender, None, assets, f"depositing {fmt.usd(assets)} bhUSD")
        vault = self.vault
        if self.stablecoin.functions.allowance(sender.address, vault.address).call() < assets:
            sender.transact(self.stablecoin.functions.approve(vault.address, assets))
        receipt = sender.transact(vault.functions.deposit(assets, sender.address))
        event = vault.events.Deposit().process_receipt(receipt, errors=DISCARD)[0]
        return int(event["args"]["shares"])

    def vault_redeem(self, sender: Sender, shares: int | None) -> tuple[int, int]:
        """Redeem `shares` [wad] (all when None) for bhUSD; returns (shares, assets)."""
        vault = self.vault
        held = vault.functions.balanceOf(sender.address).call()
        if shares is None:
            shares = held
            if shares == 0:
                raise UserError(f"{sender.address} holds no savings vault shares")
        if shares == 0:
            raise UserError("amount must be above 0")
        if shares > held:
            have, want = fmt.usd_apart(held, shares)
            raise UserError(f"{sender.address} holds {have} shares, not {want}")
        if vault.functions.previewRedeem(shares).call() == 0:
            raise UserError("those shares are worth less than 1 wei of bhUSD: nothing to redeem")
        receipt = sender.transact(vault.functions.redeem(shares, sender.address, sender.address))
        event = vault.events.Withdraw().process_receipt(receipt, errors=DISCARD)[0]
        return int(event["args"]["shares"]), int(event["args"]["assets"])

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

    def faucet_bhusd(self, sender: Sender, receiver: str, amount: int) -> tuple[Pool, int, int]:
        """Local chains: borrow `amount` [wad] bhUSD for `receiver` in a new position of
        `sender`'s, against freshly minted mock collateral at half the max LTV. The debt is
        at least the pool's minimum. Returns (pool, position id, debt)."""
        if not self.is_local:
            raise UserError(
                f"the faucet works on local dev chains only, not on chain id "
                f"{self.deployment.chain_id}"
            )
        if amount == 0:
            raise UserError("amount must be above 0")
        refused = []
        for pool in self.pools():
            price, status = self.price_status(pool)
            p = self.params(pool)
            total = pool.contract.functions.total_debt().call()
            debt = max(amount, p.min_debt)
            if not pool.info.mock or price is None or pool.contract.functions.paused().call():
                refused.append(
                    f"{pool.name} ({'real token' if not pool.info.mock else status if price is None else 'paused'})"
                )
                continue
            if total + 2 * debt > p.debt_ceiling:
                refused.append(f"{pool.name} (debt ceiling)")
                continue
            # collateral worth twice the debt over the max LTV, rounded up to whole units
            coll = risk.ceil_div(2 * debt * BPS * WAD, p.max_ltv * price * pool.scale) + 1
            sender.transact(pool.token.functions.mint(sender.address, coll))
            position_id = self.open(sender, pool, coll, debt)
            if Web3.to_checksum_address(receiver) != Web3.to_checksum_address(sender.address):
                sender.transact(
                    self.stablecoin.functions.transfer(Web3.to_checksum_address(receiver), amount)
                )
            return pool, position_id, debt
        raise UserError(f"no pool can lend bhUSD now: {', '.join(refused)}")

    def faucet(self, sender: Sender, pool: Pool, receiver: str, amount: int) -> None:
        """Mint mock collateral (local chains only)."""
        if not self.is_local:
            raise UserError(
                f"the faucet works on local dev chains only, not on chain id "
                f"{self.deployment.chain_id}"
            )
        if not pool.info.mock:
            raise UserError(f"pool {pool.name} has a real collateral token: no faucet")
        sender.transact(pool.token.functions.mint(Web3.to_checksum_address(receiver), amount))

    def set_price(self, sender: Sender, pool: Pool, usd: Decimal) -> tuple[int | None, str]:
        """Move a mock feed to `usd` (local chains only); returns the pool's view of it."""
        if not self.is_local:
            raise UserError(
                f"oracle set moves mock feeds on local dev chains only, not on chain id "
                f"{self.deployment.chain_id}"
            )
        if not pool.info.mock:
            raise UserError(f"pool {pool.name} reads a real price feed: it cannot be set")
        decimals = pool.feed.functions.decimals().call()
        answer = fmt.to_units(usd, decimals, f"the {pool.name} feed")
        if answer == 0:
            raise UserError("a price must be above 0")
        if answer >= 2**255:
            raise UserError(f"price {usd} is out of range")
        sender.transact(pool.feed.functions.set_answer(answer))
        return self.price_status(pool)

    def _governance(self, sender: Sender, action: str) -> None:
        governance = self.factory.functions.owner().call()
        if Web3.to_checksum_address(sender.address) != governance:
            raise UserError(
                f"only governance (the factory's owner, {governance}) can {action}; "
                f"{sender.address} is not (--account or --keystore)"
            )

    def reset_anchor(self, sender: Sender, pool: Pool) -> tuple[int | None, str]:
        """Governance accepts the feed's current answer as the pool's price anchor (after a
        move beyond the jump bound); returns the pool's view of the price afterwards."""
        self._governance(sender, "reset a price anchor")
        sender.transact(self.factory.functions.reset_price_anchor(pool.contract.address))
        return self.price_status(pool)

    def set_paused(self, sender: Sender, pool: Pool, paused: bool) -> None:
        """Governance pauses a pool (no new debt) or lifts the pause."""
        self._governance(sender, "pause or unpause a pool")
        if pool.contract.functions.paused().call() == paused:
            raise UserError(f"pool {pool.name} is already {'paused' if paused else 'unpaused'}")
        sender.transact(self.factory.functions.set_paused(pool.contract.address, paused))

    def set_params(self, sender: Sender, pool: Pool, changes: dict[str, int]) -> RiskParams:
        """Governance changes some of a pool's risk parameters (the rest stay); the factory
        bounds them. Returns the parameters in force afterwards."""
        self._governance(sender, "change risk parameters")
        if not changes:
            raise UserError("name at least one parameter to change (see --help)")
        new = RiskParams(**{**asdict(self.params(pool)), **changes})
        if new.max_ltv >= new.liquidation_threshold:
            raise UserError(
                f"max LTV {fmt.bps(new.max_ltv)} must stay below the liquidation threshold "
                f"{fmt.bps(new.liquidation_threshold)}"
            )
        sender.transact(
            self.factory.functions.set_risk_params(pool.contract.address, new.as_tuple())
        )
        return self.params(pool)

    def set_controls(self, sender: Sender, pool: Pool, changes: dict[str, int]) -> Controls:
        """Governance changes some of a pool's risk controls: `position_debt_cap` [wad],
        `haircut` [bps], `grace_period` [seconds]; the factory bounds them. Returns the
        controls in force afterwards."""
        self._governance(sender, "change risk controls")
        if not changes:
            raise UserError("name at least one control to change (see --help)")
        f = self.factory.functions
        address = pool.contract.address
        cap = changes.get("position_debt_cap")
        if cap is not None:
            ceiling = self.params(pool).debt_ceiling
            if cap > ceiling:
                raise UserError(
                    f"a position debt cap of {fmt.usd(cap)} bhUSD is above pool {pool.name}'s "
                    f"debt ceiling of {fmt.usd(ceiling)} bhUSD"
                )
            sender.transact(f.set_position_debt_cap(address, cap))
        if changes.get("haircut") is not None:
            self._check_haircut_bound(changes["haircut"])
            sender.transact(f.set_haircut(address, changes["haircut"]))
        period = changes.get("grace_period")
        if period is not None:
            if period > MAX_GRACE_PERIOD:
                raise UserError(f"a grace period is at most {MAX_GRACE_PERIOD} s (4 hours)")
            sender.transact(f.set_grace_period(address, period))
        return self.controls(pool)

    def _check_haircut_bound(self, haircut: int) -> None:
        if haircut > MAX_HAIRCUT:
            raise UserError(f"a haircut is at most {fmt.bps(MAX_HAIRCUT)}")

    def steward(self) -> str | None:
        """The risk steward's address, None when governance named none."""
        address = self.factory.functions.steward().call()
        return None if int(address, 16) == 0 else address

    def steward_rules(self, pool: Pool) -> dict[str, int]:
        """What the steward may do to a pool's haircut: max_haircut [bps], max_step [bps]
        (0: no steward for the pool), cooldown [seconds], last_change [seconds]."""
        keys = ("max_haircut", "max_step", "cooldown", "last_change")
        values = self.factory.functions.steward_rules(pool.contract.address).call()
        return dict(zip(keys, values, strict=True))

    def set_steward(self, sender: Sender, steward: str) -> None:
        """Governance names the risk steward (the zero address removes the role)."""
        self._governance(sender, "name the risk steward")
        sender.transact(self.factory.functions.set_steward(Web3.to_checksum_address(steward)))

    def set_steward_rules(
        self, sender: Sender, pool: Pool, max_haircut: int, max_step: int, cooldown: int
    ) -> None:
        """Governance fixes the steward's ceiling, step and cooldown for a pool's haircut."""
        self._governance(sender, "set the steward's rules")
        self._check_haircut_bound(max_haircut)
        if not 0 < max_step <= max_haircut:
            raise UserError("the steward's step must be above 0 and at most its max haircut")
        low, high = STEWARD_COOLDOWN_BOUNDS
        if not low <= cooldown <= high:
            raise UserError(f"the steward's cooldown must be between {low} s and {high} s")
        sender.transact(
            self.factory.functions.set_steward_rules(
                pool.contract.address, max_haircut, max_step, cooldown
            )
        )

    def steward_set_haircut(self, sender: Sender, pool: Pool, haircut: int) -> None:
        """The steward moves a pool's haircut; checked here against its rules first, so that
        a refusal is one line and costs no gas (the factory checks them again)."""
        if (self.steward() or "").lower() != sender.address.lower():
            raise UserError(
                f"{sender.address} is not the risk steward ({self.steward() or 'none named'})"
            )
        rules = self.steward_rules(pool)
        now = self.w3.eth.get_block("latest")["timestamp"]
        current = self.controls(pool).haircut
        problem = risk.steward_refusal(rules, current, haircut, now)
        if problem:
            raise UserError(f"pool {pool.name}: {problem}")
        sender.transact(self.factory.functions.set_haircut(pool.contract.address, haircut))

    def sweep(self, sender: Sender, pool: Pool) -> int:
        """Anyone: move a pool's reserve above its target into the savings vault; returns
        the bhUSD moved."""
        before = self.stablecoin.functions.balanceOf(self.deployment.vault).call()
        sender.transact(self.factory.functions.sweep(pool.contract.address))
        return self.stablecoin.functions.balanceOf(self.deployment.vault).call() - before


def _limit_text(max_ltv: int, controls: Controls) -> str:
    """`the max LTV of 60%`, or under a haircut `the borrow limit of 54% (max LTV 60% less a
    10% haircut)`."""
    if not controls.haircut:
        return f"the max LTV of {fmt.bps(max_ltv)}"
    ltv = fmt.bps(risk.borrow_ltv(max_ltv, controls.haircut))
    return f"the borrow limit of {ltv} (max LTV {fmt.bps(max_ltv)} less a {fmt.bps(controls.haircut)} haircut)"


def _min_collateral(debt: int, price: int, max_ltv: int, scale: int) -> int:
    """Least collateral [collateral units] that carries `debt` within max LTV."""
    if debt == 0:
        return 0
    need = risk.ceil_div(debt * BPS * WAD, max_ltv * scale * price)
    while not risk.within_max_ltv(need, debt, price, max_ltv, scale):
        need += 1
    while need > 0 and risk.within_max_ltv(need - 1, debt, price, max_ltv, scale):
        need -= 1
    return need
