"""Positions: list, open, deposit, withdraw, borrow, repay, deleverage, close, liquidate,
and one position's history from the event logs.
"""

from __future__ import annotations

from typing import Any

from web3 import Web3
from web3.logs import DISCARD

from bulkhead import fmt, risk
from bulkhead.chain import Sender
from bulkhead.client.base import (
    ACTORS,
    BORROW_HEADROOM,
    PAGE,
    POSITION_EVENTS,
    RULE_EVENTS,
    ClientBase,
    Pool,
    Position,
    UserError,
)
from bulkhead.risk import (
    BPS,
    WAD,
    Controls,
    RiskParams,
)


class Positions(ClientBase):
    """A pool's positions and what their owners (or a liquidator) do with them."""

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
