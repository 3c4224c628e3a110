"""What a scenario run comes to: the report `Simulation.run` returns, with its checks: the
isolation of the pools the scenario does not move, the savings vault's books, and the
accounting identity over every pool."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from bulkhead.accounting import PoolBook, check
from bulkhead.risk import WAD
from bulkhead.simulate.base import GAS, SimulationBase
from bulkhead.simulate.blocks import RunState
from bulkhead.simulate.driver import Tx, abi, to_int
from bulkhead.simulate.pools import FUND
from bulkhead.simulate.recorder import Recorder, Tracked
from bulkhead.simulate.scenario import Scenario
from bulkhead.simulate.schema import (
    AccountingReport,
    ChainInfo,
    Isolation,
    KeepersInfo,
    PoolReport,
    Report,
    VaultReport,
)


class Outcome(SimulationBase):
    """The report of a `Simulation`'s run and the checks in it."""

    def _report(self, run: RunState, blocks_seconds: float) -> Report:
        """The report of `run`, whose blocks took `blocks_seconds` [s] from its start."""
        keeper_summaries = [h.summary() for h in run.handles]
        end_views = {t.name: dict(t.last) for t in run.tracked}
        vault = self._vault_report(run.vault_start, run.head, self._recorded)
        isolation = self._isolation(run, end_views)
        accounting = self._accounting(run.recorder)
        scenario = run.scenario
        return {
            "version": 1,
            "seed": self.s.seed,
            "settings": {
                **self.s.as_json(),
                "keepers": run.keepers,
                "block_time": run.block_time,
            },
            "scenario": {
                k: (dict(v) if isinstance(v, Mapping) else v) for k, v in asdict(scenario).items()
            }
            | {"phases": scenario.phases()},
            "chain": self._chain_info(run),
            "keepers": self._keepers_info(run, keeper_summaries),
            "pools": [
                _pool_report(t, scenario, run.start_views[t.name], end_views[t.name])
                for t in run.tracked
            ],
            "oracle_events": run.oracle_events,
            "events": run.recorder.events,
            "steward": None if run.steward is None else run.steward.report(),
            "isolation": isolation,
            "savings_vault": vault,
            "accounting": accounting,
            "timings": {
                **{k: round(v, 2) for k, v in self.timings.items()},
                "blocks": round(blocks_seconds, 2),
                "keeper_steps": round(run.keeper_seconds, 2),
                "per_block_ms": round(blocks_seconds / max(run.blocks_run, 1) * 1000, 1),
            },
            "ok": accounting["ok"],
        }

    def _chain_info(self, run: RunState) -> ChainInfo:
        assert self.deployment is not None
        return {
            "rpc_url": self.rpc_url,
            "embedded": self.anvil is not None,
            "fifo": self._fifo,
            "chain_id": self.deployment.chain_id,
            "deploy_block": self.deployment.deploy_block,
            "start_block": run.head,
            "blocks": run.blocks_run,
            "start_timestamp": run.t0,
        }

    def _keepers_info(self, run: RunState, metrics: list[dict[str, Any]]) -> KeepersInfo:
        return {
            "implementation": run.handles[0].implementation if run.handles else None,
            "count": run.keepers,
            "addresses": [h.address for h in run.handles],
            "capital_each": round(getattr(self, "keeper_capital", 0) / WAD, 2),
            "metrics": metrics,
        }

    # ------------------------------------------------------------------ checks

    def _isolation(
        self, run: RunState, end_views: dict[str, dict[str, int]]
    ) -> dict[str, Isolation]:
        """For every pool the scenario does not move: did anything of it change?"""
        out: dict[str, Isolation] = {}
        for t in run.tracked:
            if run.scenario.moves(t.name):
                continue
            now = {k: tuple(v) for k, v in t.positions.items()}
            start, end = run.start_views[t.name], end_views[t.name]
            out[t.name] = {
                "positions_unchanged": now == run.start_positions[t.name],
                "reserve_unchanged": start["reserve"] == end["reserve"],
                "bad_debt_unchanged": start["bad_debt"] == end["bad_debt"],
                "reserve": str(end["reserve"]),
                "bad_debt": str(end["bad_debt"]),
            }
        return out

    def _vault_state(self) -> dict[str, int] | None:
        """The savings vault's own books: what it holds, its shares, its assets now."""
        assert self.driver is not None and self.deployment is not None
        if not getattr(self.deployment, "vault", None):
            return None
        vault = abi("SavingsVault")
        views = ("tracked_assets", "totalSupply", "totalAssets", "locked_assets")
        raw = self.driver.calls([(self.deployment.vault, vault.data(v)) for v in views])
        return {v: int(vault.result(v, r)) for v, r in zip(views, raw, strict=True)}

    def _vault_report(
        self, start: dict[str, int] | None, from_block: int, to_block: int
    ) -> VaultReport | None:
        """The vault before and after the scenario, and the covers it paid meanwhile."""
        assert self.driver is not None and self.deployment is not None
        if start is None:
            return None
        end = self._vault_state()
        assert end is not None
        vault = abi("SavingsVault")
        covers = self.driver.logs(
            [self.deployment.vault], from_block + 1, to_block, [vault.topics["Cover"]]
        )
        return {
            "address": self.deployment.vault,
            "start": {k: str(v) for k, v in start.items()},
            "end": {k: str(v) for k, v in end.items()},
            "covers": len(covers),
            "unchanged": start["tracked_assets"] == end["tracked_assets"]
            and start["totalSupply"] == end["totalSupply"]
            and not covers,
        }

    def _accounting(self, recorder: Recorder) -> AccountingReport:
        """bhUSD supply + reserves == debts + bad debts, over every pool (FUND included),
        after each pool accrued in one block (the rate from its Accrue event)."""
        assert self.driver is not None and self.deployment is not None
        pool_abi, coin = abi("MarginPool"), abi("Stablecoin")
        pools = list(self.pools.values())
        receipts = self.driver.settle(
            [
                Tx(self.admin, p.address, pool_abi.data("accrue"), GAS["call"], f"accrue {p.name}")
                for p in pools
            ]
        )
        block = to_int(receipts[-1]["blockNumber"])
        recorder.load_positions(self._recorded + 1, block)  # keeper txs mined meanwhile
        late_operations = recorder.count_events(self._recorded + 1, block)
        fund = Tracked(self.pools[FUND])
        fund_recorder = Recorder(self.driver, [fund], self.deployment.automation, [], None, 0)
        fund_recorder.load_positions(self.deployment.deploy_block, block)
        positions = {t.address.lower(): t.positions for t in recorder.pools.values()}
        positions[fund.address.lower()] = fund.positions
        accrue_topic = pool_abi.topics["Accrue"]
        reads = [(self.deployment.stablecoin, coin.data("totalSupply"))]
        for p in pools:
            reads += [
                (p.address, pool_abi.data("reserve")),
                (p.address, pool_abi.data("bad_debt")),
                (p.address, pool_abi.data("rate")),
            ]
        raw = self.driver.calls(reads, block)
        books = []
        for k, (p, receipt) in enumerate(zip(pools, receipts, strict=True)):
            reserve, bad_debt, rate = (
                int(pool_abi.result(fn, raw[1 + 3 * k + j]))
                for j, fn in enumerate(("reserve", "bad_debt", "rate"))
            )
            for entry in receipt["logs"]:
                decoded = pool_abi.event(entry) if entry["topics"][0] == accrue_topic else None
                if decoded is not None:
                    rate = int(decoded[1]["rate"])
            held = positions[p.address.lower()]
            norm = sum(v[1] for v in held.values())
            books.append(PoolBook(norm, rate, reserve, bad_debt, len(held) + 1))
        supply = int(coin.result("totalSupply", raw[0]))
        acc = check(supply, books, len(recorder.events) + late_operations)
        return {
            "supply": str(acc.supply),
            "reserves": str(acc.reserves),
            "debts": str(acc.debts),
            "bad_debt": str(acc.bad_debt),
            "gap_wei": acc.gap,
            "tolerance_wei": acc.tolerance,
            "ok": acc.ok,
        }


def _pool_report(
    t: Tracked, scenario: Scenario, start: Mapping[str, int], end: Mapping[str, int]
) -> PoolReport:
    return {
        "name": t.name,
        "address": t.address,
        "moving": scenario.moves(t.name),
        "params": asdict(t.params),
        "oracle": {"heartbeat": t.pool.heartbeat, "max_jump_bps": t.pool.max_jump_bps},
        "positions": len(t.positions),
        "start": {k: str(v) for k, v in start.items()},
        "end": {k: str(v) for k, v in end.items()},
        "series": t.series,
    }
