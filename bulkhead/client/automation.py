"""Owner rules in `PositionAutomation`: read them and set them (deleverage, boost, top-up,
stop-loss).
"""

from __future__ import annotations

from bulkhead.chain import Sender
from bulkhead.client.base import (
    ClientBase,
    Pool,
    UserError,
)


class Automation(ClientBase):
    """The owner rules that keepers carry out."""

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
