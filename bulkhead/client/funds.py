"""Balances, the savings vault, and the local faucet of collateral and bhUSD."""

from __future__ import annotations

from web3 import Web3
from web3.logs import DISCARD

from bulkhead import fmt, risk
from bulkhead.chain import Sender
from bulkhead.client.base import (
    Pool,
    UserError,
)
from bulkhead.client.positions import Positions
from bulkhead.risk import (
    BPS,
    WAD,
)


class Funds(Positions):
    """Wallets, vault shares and test funds (bhUSD from the faucet is borrowed against a new
    position, hence `Positions`)."""

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
