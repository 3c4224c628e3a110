"""Governance of a local deployment: prices of the mock feeds, pause, parameters, risk
controls, the steward's rules and the fee sweep.
"""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal

from web3 import Web3

from bulkhead import fmt, risk
from bulkhead.chain import Sender
from bulkhead.client.base import (
    ClientBase,
    Pool,
    UserError,
)
from bulkhead.risk import (
    MAX_GRACE_PERIOD,
    MAX_HAIRCUT,
    STEWARD_COOLDOWN_BOUNDS,
    Controls,
    RiskParams,
)


class Governance(ClientBase):
    """What the admin (or the steward) may change."""

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
