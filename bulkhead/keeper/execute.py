"""Execute: price the plan's gas, simulate every transaction in one batch, approve what the
automation needs, and send what passes, each at its own nonce.
"""

from __future__ import annotations

import time
from typing import Any

from bulkhead.eth.fees import effective_gas_price
from bulkhead.eth.rpc import RpcError, to_int
from bulkhead.keeper.base import APPROVE_GAS, BLOCK_GAS_LIMIT, MAX_UINT256
from bulkhead.keeper.kinds import BHUSD, TABLE, approval_key
from bulkhead.keeper.metrics import usd
from bulkhead.keeper.model import Action, Batch, Costs, Skip, batch_capacity
from bulkhead.keeper.planning import Plan
from bulkhead.keeper.reasons import classify_revert
from bulkhead.keeper.record import Recording
from bulkhead.keeper.tx import Outcome, SendError, TxRequest


class Executing(Recording):
    """The keeper's sending of its plan."""

    def _batch_size(self) -> int:
        """Most positions per liquidation transaction now: the configured size, within what
        fits the block gas limit at the gas per position measured so far (1: no batches)."""
        if self.config.batch_size <= 1:
            return 1
        limit = self.tx.gas_limit or BLOCK_GAS_LIMIT
        return batch_capacity(limit, self.gas, self.config.batch_size)

    def _costs(self, quote: tuple[int, int, int] | None) -> Costs:
        gas_price = effective_gas_price(quote[1], quote[2], quote[0]) if quote else 0
        return Costs(
            gas_price=gas_price,
            native_price=self._native_price(),
            gas=dict(self.gas),
            min_profit=self.config.min_profit,
            clear_under_water=self.config.clear_under_water,
        )

    def _request(self, action: Action | Batch) -> TxRequest:
        if isinstance(action, Batch):
            fn = self.pools[action.pool].functions.liquidate_many(
                action.ids, action.amount, action.min_out
            )
        else:
            kind = TABLE[action.kind]
            target = self.pools[action.pool] if kind.target == "pool" else self.automation
            fn = kind.encode(target, action)
        return TxRequest(fn.address, fn._encode_transaction_data(), 0, action.kind, action)

    def _execute(
        self, the_plan: Plan, fees: tuple[int, int], allowances: dict[str, int]
    ) -> tuple[int, list[Skip]]:
        """Simulate every transaction of the plan in one batch, send those that pass in one
        batch. A liquidation batch counts as one transaction and as one failure per position."""
        late: list[Skip] = []
        waiting = self._approve(the_plan.actions, allowances, fees)
        ready: list[Action | Batch] = []
        for a in the_plan.transactions():
            if isinstance(a, Batch):  # liquidations: no approval needed
                ready.append(a)
            elif _approval_key(a) in waiting:
                late.append(Skip(a.kind, a.pool, a.id, "approving"))
            elif self.config.dry_run and self._unapproved(a, allowances):
                # a dry run sends no approval, so this action cannot be simulated: report
                # what would happen (an approval first, then the action)
                self._would_send(a, gas=0, batch=1, approve_first=True)
            else:
                ready.append(a)
        items = [self._request(a) for a in ready]
        requests: list[tuple[str, list]] = []
        for item in items:
            tx = {"from": self.address, "to": item.to, "data": item.data}
            requests += [("eth_call", [tx, "latest"]), ("eth_estimateGas", [tx, "latest"])]
        results = self.rpc.batch(requests)
        block_limit = self.tx.gas_limit or BLOCK_GAS_LIMIT
        to_send: list[TxRequest] = []
        for k, (action, item) in enumerate(zip(ready, items)):
            fields = self._fields(action)
            failed = next((r for r in results[2 * k : 2 * k + 2] if isinstance(r, RpcError)), None)
            if failed is not None:
                reason = failed.reason
                bucket = classify_revert(reason)
                self.metrics.failures[bucket] += _positions(action)
                self.log("simulation_failed", **fields, reason=reason, bucket=bucket)
                continue
            estimate = to_int(results[2 * k + 1])
            # a batch near the block's gas limit gets what margin the block leaves
            gas = max(
                estimate,
                min(estimate + estimate * self.config.gas_margin_bps // 10_000, block_limit),
            )
            if self.config.dry_run:
                members = action.actions if isinstance(action, Batch) else (action,)
                for a in members:
                    self._would_send(a, gas=gas, batch=len(members))
                continue
            to_send.append(TxRequest(item.to, item.data, gas, item.label, action))
        if to_send and self.config.fence is not None and not self.config.fence():
            late += [Skip(a.kind, a.pool, a.id, "lease_lost") for a in _members(to_send)]
            to_send = []
        sent = 0
        for item, result in zip(to_send, self.tx.send_batch(to_send, fees)):
            action = item.payload
            fields = self._fields(action)
            if isinstance(result, SendError):
                self.metrics.failures["send_refused"] += _positions(action)
                self.log("send_refused", **fields, reason=result.reason)
                continue
            sent += 1
            extra = (
                {}
                if isinstance(action, Batch)
                else {"partial": action.partial, "health": action.health}
            )
            self.log(
                "sent",
                **fields,
                nonce=result.nonce,
                tx=result.hashes[-1],
                gas=item.gas,
                **extra,
                bounty_usd=usd(action.bounty),
                gas_usd=usd(action.gas_cost),
            )
        return sent, late

    def _approve(
        self, actions: list[Action], allowances: dict[str, int], fees: tuple[int, int]
    ) -> set[str]:
        """Let the automation pull our collateral for boosts (once per pool) and our bhUSD
        for protections (once); the keys (pools, BHUSD) whose approval is not mined yet."""
        keys = {_approval_key(a) for a in actions} - {None, *self.approved}
        pools = {k for k in keys if k is not None and allowances.get(k, 0) < 2**255}
        if not pools or self.config.dry_run:
            return set()
        pending_approvals = {p.payload for p in self.tx.in_flight.values() if p.label == "approve"}
        items = []
        for key in sorted(pools - pending_approvals):
            token = self.stablecoin if key == BHUSD else self.tokens[key]
            fn = token.functions.approve(self.automation.address, MAX_UINT256)
            items.append(
                TxRequest(fn.address, fn._encode_transaction_data(), APPROVE_GAS, "approve", key)
            )
        for item, result in zip(items, self.tx.send_batch(items, fees)):
            name = self._approval_name(item.payload)
            if isinstance(result, SendError):
                self.log("send_refused", kind="approve", pool=name, reason=result.reason)
            else:
                self.log(
                    "sent", kind="approve", pool=name, nonce=result.nonce, tx=result.hashes[-1]
                )
        self._record(self.tx.poll(self._still_valid))  # mined at once on an automining node
        return pools - self.approved

    def _would_send(self, a: Action, gas: int, batch: int, **extra: Any) -> None:
        """A dry run's report of one action it would send."""
        # a dry run that loops sees the same due action every pass: count it once
        if (a.kind, a.pool, a.id) not in self._simulated:
            self._simulated.add((a.kind, a.pool, a.id))
            self.metrics.simulated[a.kind] += 1
        self.log(
            "would_send",
            **self._fields(a),
            gas=gas,
            batch=batch,
            **extra,
            bounty_usd=usd(a.bounty),
            gas_usd=usd(a.gas_cost),
        )

    def _unapproved(self, action: Action | Batch, allowances: dict[str, int]) -> bool:
        """Whether the action needs an approval to the automation that we have not given."""
        key = _approval_key(action)
        return key is not None and key not in self.approved and allowances.get(key, 0) < 2**255

    def _wait(self, timeout: float) -> list[Outcome]:
        deadline = time.monotonic() + timeout
        outcomes: list[Outcome] = []
        delay = 0.01
        while True:
            outcomes += self.tx.poll(self._still_valid)
            if not self.tx.in_flight or time.monotonic() >= deadline:
                return outcomes
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


def _members(items: list[TxRequest]) -> list[Action]:
    """The actions that transactions stand for (a batch's each)."""
    return [
        a
        for t in items
        for a in (t.payload.actions if isinstance(t.payload, Batch) else (t.payload,))
    ]


def _positions(action: Action | Batch) -> int:
    """How many positions a transaction's action stands for."""
    return len(action.actions) if isinstance(action, Batch) else 1


def _approval_key(action: Action | Batch) -> str | None:
    """What an action needs the automation to pull from us (`kinds.approval_key`)."""
    return approval_key(action.kind, action.pool)
