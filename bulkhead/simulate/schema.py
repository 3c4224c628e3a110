"""The simulator's report, typed: what `Simulation.run` returns and `report.json` holds.

docs/SIMULATION.md describes every field; these types let mypy hold the engine (which writes
the report) and the text report, the plots and the sweep (which read it) to the same keys.
Amounts of wei are decimal strings (JSON numbers lose precision above 2**53).
"""

from __future__ import annotations

from typing import Any, TypedDict


class ChainInfo(TypedDict):
    rpc_url: str
    embedded: bool  # the simulator started its own Anvil
    fifo: bool  # the node mines in arrival order (fair races between keepers)
    chain_id: int
    deploy_block: int
    start_block: int
    blocks: int  # blocks the scenario ran
    start_timestamp: int


class KeepersInfo(TypedDict):
    implementation: str | None
    count: int
    addresses: list[str]
    capital_each: float  # [bhUSD] each keeper's starting balance
    metrics: list[dict[str, Any]]  # each keeper's `Metrics.summary()`


class OracleInfo(TypedDict):
    heartbeat: int
    max_jump_bps: int


class PoolReport(TypedDict):
    name: str
    address: str
    moving: bool  # the scenario moves this pool's price
    params: dict[str, int]
    oracle: OracleInfo
    positions: int
    start: dict[str, str]  # the pool's views before the scenario [wei]
    end: dict[str, str]  # ... and after it
    series: dict[str, list[Any]]  # per block: price, health quantiles, liquidations, ...


class Isolation(TypedDict):
    """A pool the scenario does not move: did anything of it change?"""

    positions_unchanged: bool
    reserve_unchanged: bool
    bad_debt_unchanged: bool
    reserve: str
    bad_debt: str


class VaultReport(TypedDict):
    address: str
    start: dict[str, str]
    end: dict[str, str]
    covers: int  # bad debt the vault covered during the scenario
    unchanged: bool


class AccountingReport(TypedDict):
    """bhUSD supply + reserves == debts + bad debts, within `tolerance_wei`."""

    supply: str
    reserves: str
    debts: str
    bad_debt: str
    gap_wei: int
    tolerance_wei: int
    ok: bool


class Report(TypedDict):
    version: int
    seed: int
    settings: dict[str, Any]
    scenario: dict[str, Any]
    chain: ChainInfo
    keepers: KeepersInfo
    pools: list[PoolReport]
    oracle_events: list[dict[str, Any]]
    events: list[dict[str, Any]]
    steward: dict[str, Any] | None
    isolation: dict[str, Isolation]
    savings_vault: VaultReport | None
    accounting: AccountingReport
    timings: dict[str, float]  # [s] setup phases, the blocks, the keepers' steps, the total
    ok: bool  # the accounting identity held


class SweepResult(TypedDict):
    """`simulate sweep`: one cell per grid point (its probes, and the frontier or the bad
    debt it measured); `sweep.json` holds it."""

    version: int
    metric: str  # "frontier" (largest drop with zero bad debt) or "bad_debt"
    title: str
    pools: list[str]
    axes: list[dict[str, Any]]
    drops: list[float]
    max_drop: float
    max_blocks: int
    seed: int
    positions: int
    keepers_default: int
    keeper_implementation: str | None
    anchor_reset: int | None  # blocks until governance resets a refused anchor (None: never)
    cells: list[dict[str, Any]]
    seconds: float
