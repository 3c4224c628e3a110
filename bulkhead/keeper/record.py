"""Record: turn receipts into metrics and log events (what each action earned, from its
own event), and report the pass's skips once each.
"""

from __future__ import annotations

from typing import Any

from web3 import Web3

from bulkhead.keeper.base import POOL_WIDE_SKIPS, KeeperBase
from bulkhead.keeper.kinds import BY_EVENT
from bulkhead.keeper.metrics import usd
from bulkhead.keeper.model import Action, Batch, Skip
from bulkhead.keeper.reasons import INSUFFICIENT_BHUSD, LOST_RACE, classify_revert
from bulkhead.keeper.tx import Outcome, Pending
from bulkhead.risk import WAD, to_wad


class Recording(KeeperBase):
    """The keeper's bookkeeping of what its transactions did."""

    def _record(self, outcomes: list[Outcome]) -> None:
        m = self.metrics
        native = self._native_price()
        for o in outcomes:
            p = o.pending
            m.gas_spent += o.gas_cost
            m.gas_spent_usd += o.gas_cost * native // WAD
            if p.label == "approve":
                if o.status == "mined":
                    self.approved.add(p.payload)
                self.log("approve_" + o.status, pool=self._approval_name(p.payload))
                continue
            if p.label == "cancel":
                self.log("gap_fill_" + o.status, nonce=p.nonce)
                continue
            if isinstance(p.payload, Batch):
                self._record_batch(o, p.payload)
                continue
            action: Action = p.payload
            fields = {
                "kind": action.kind,
                "pool": self.info[action.pool].name,
                "id": action.id,
                "nonce": p.nonce,
            }
            if o.status == "mined":
                receipt = o.receipt
                assert receipt is not None  # dev: a mined outcome carries its receipt
                self.gas[action.kind] = max(receipt.gas_used, self.gas[action.kind] * 7 // 8)
                bounty, result = self._earned(action, receipt.logs)
                extra = self._count_done(action, bounty, receipt.block)
                self.log(
                    "done",
                    **fields,
                    block=receipt.block,
                    bounty_usd=usd(bounty),
                    gas_used=receipt.gas_used,
                    bumps=p.bumps,
                    **extra,
                    **result,
                )
            elif o.status == "reverted":
                reason = self._why(p)
                bucket = classify_revert(reason)
                m.failures[bucket] += 1
                self.log("reverted", **fields, reason=reason, bucket=bucket, gas_wei=o.gas_cost)
            elif o.status == "cancelled":
                bucket = classify_revert(o.reason)
                m.failures[bucket] += 1
                self.log("cancelled", **fields, reason=o.reason, bucket=bucket, gas_wei=o.gas_cost)
            else:
                m.failures["dropped"] += 1
                self.log("dropped", **fields, reason=o.reason)

    def _count_done(self, action: Action, bounty: int, block: int) -> dict[str, Any]:
        """Count one action carried out (alone or in a batch) in the metrics; for a
        liquidation also how many blocks it came after the position turned unsafe, which
        is returned for the log line."""
        m = self.metrics
        name = self.info[action.pool].name
        m.done[action.kind] += 1
        m.bounty[action.kind] += bounty
        m.pool_done[(name, action.kind)] += 1
        m.pool_bounty[name] += bounty
        extra: dict[str, Any] = {}
        if action.kind == "liquidate":
            first = self.first_unsafe.pop(action.key, None)
            if first is not None:
                m.blocks_to_liquidation.append(block - first)
                extra["blocks_since_unsafe"] = block - first
        return extra

    def _record_batch(self, o: Outcome, batch: Batch) -> None:
        """A `liquidate_many` outcome, per position: each `Liquidate` event in the receipt is
        one liquidation done; a member without one was skipped by the pool (another keeper
        was first, or it is healthy again): a lost race. A failed batch fails every member."""
        m, p = self.metrics, o.pending
        fields = {**self._fields(batch), "nonce": p.nonce}
        size = len(batch.actions)
        if o.status == "dropped":
            m.failures["dropped"] += size
            self.log("dropped", **fields, reason=o.reason)
            return
        if o.status != "mined":
            reason = self._why(p) if o.status == "reverted" else o.reason
            bucket = classify_revert(reason)
            m.failures[bucket] += size
            self.log(o.status, **fields, reason=reason, bucket=bucket, gas_wei=o.gas_cost)
            return
        receipt = o.receipt
        assert receipt is not None  # dev: a mined outcome carries its receipt
        events = self._liquidations(batch.pool, receipt.logs)
        done = [a for a in batch.actions if a.id in events]
        if len(done) >= 2:  # learn the gas per position (the fixed part stays the table's)
            each = (receipt.gas_used - self.gas["liquidate_many"]) // len(done)
            self.gas["liquidate_many_each"] = max(each, self.gas["liquidate_many_each"] * 7 // 8)
        name = self.info[batch.pool].name
        price = self.prices.get(batch.pool, 0)
        scale = to_wad(self.info[batch.pool].collateral_decimals)
        for a in done:
            args = events[a.id]
            bounty = args["collateral_out"] * scale * price // WAD - args["paid"]
            extra = self._count_done(a, bounty, receipt.block)
            self.log(
                "done",
                kind="liquidate",
                pool=name,
                id=a.id,
                nonce=p.nonce,
                block=receipt.block,
                bounty_usd=usd(bounty),
                gas_used=receipt.gas_used,
                batch=size,
                bumps=p.bumps,
                **extra,
            )
        lost = [a.id for a in batch.actions if a.id not in events]
        if lost:
            m.failures[LOST_RACE] += len(lost)
            self.log(
                "batch_skipped",
                **fields,
                skipped=lost,
                bucket=LOST_RACE,
                reason="skipped by the pool: liquidated first or healthy again",
            )

    def _liquidations(self, pool: str, logs: list[dict]) -> dict[int, dict[str, Any]]:
        """Position id -> `Liquidate` event arguments, of `pool`'s events in `logs`."""
        out: dict[int, dict[str, Any]] = {}
        codec = self._results["pool"]
        for log in logs:
            if Web3.to_checksum_address(log["address"]) != pool:
                continue
            decoded = codec.event(log)
            if decoded is not None and decoded[0] == "Liquidate":
                out[decoded[1]["id"]] = decoded[1]
        return out

    def _why(self, p: Pending) -> str:
        """The revert reason of a failed transaction, replayed on the latest state."""
        reason = self._still_valid(p)
        return reason if reason is not None else "reverted in its block (passes now)"

    def _earned(self, action: Action, logs: list[dict]) -> tuple[int, dict[str, Any]]:
        """[wad] USD earned by a mined action, from its event, at the pool's oracle price (a
        stop-loss at the price it ran at); and for a stop-loss, what its event says went
        where (for the log line)."""
        price = self.prices.get(action.pool, 0)
        scale = to_wad(self.info[action.pool].collateral_decimals)

        def value(amount: int) -> int:
            return amount * scale * price // WAD

        for log in logs:
            emitter = Web3.to_checksum_address(log["address"])
            codec = self._results["automation" if emitter == self.automation.address else "pool"]
            decoded = codec.event(log)
            if decoded is None or (emitter != action.pool and emitter != self.automation.address):
                continue
            name, args = decoded
            kind = BY_EVENT.get(name)
            if kind is None:
                continue
            earned = kind.earned(args, value, scale)
            if name != "StopLoss":
                return earned, {}
            return earned, {
                "price": args["price"],
                "debt_repaid": args["debt_repaid"],
                "keeper_collateral": args["keeper_collateral"],
                "owner_collateral": args["owner_collateral"],
            }
        return 0, {}

    def _report_skips(self, skips: list[Skip]) -> dict[str, int]:
        """Count each skip once per episode (not once per block) and log it when it starts;
        a pool's closed window (paused, grace) is logged once for the pool instead, by
        `_watch_windows`, not once per position it holds back."""
        current: set[tuple[str, str, int, str]] = set()
        counts: dict[str, int] = {}
        for s in skips:
            key = (s.kind, s.pool, s.id, s.reason)
            current.add(key)
            counts[s.reason] = counts.get(s.reason, 0) + 1
            if key not in self._last_skips:
                self.metrics.skips[s.reason] += 1
                if s.reason in POOL_WIDE_SKIPS:
                    continue
                self.log(
                    "skip",
                    kind=s.kind,
                    pool=self.info[s.pool].name,
                    id=s.id,
                    reason=s.reason,
                    detail=s.detail,
                )
        self._last_skips = current
        self.unfunded = [s for s in skips if s.reason == INSUFFICIENT_BHUSD]
        return counts

    def _sync_counters(self) -> None:
        c, m = self.tx.counters, self.metrics
        m.txs_sent = c["sent"]
        m.fee_bumps = c["bumps"]
        m.cancels = c["cancels"]
        m.nonce_resyncs = c["nonce_resyncs"]
        m.fee_capped = c["fee_capped"]
        m.rpc_round_trips = self.rpc.round_trips
        m.rpc_requests = self.rpc.requests
