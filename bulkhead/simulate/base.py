"""What every stage of a simulation shares: its settings, its error, the gas it sends with,
and `SimulationBase`, the state the stages (`setup.Setup`, `outcome.Outcome` and
`engine.Simulation`) read and write."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from web3 import Web3

from bulkhead.client import UserError
from bulkhead.deploy import Deployment
from bulkhead.node import Anvil
from bulkhead.risk import WAD
from bulkhead.simulate.driver import Driver, abi
from bulkhead.simulate.pools import FUND, NATIVE_POOLS, PoolHandle
from bulkhead.simulate.population import Planned, Population
from bulkhead.simulate.scenario import Replay, Scenario

GAS = {
    "mint": 120_000,
    "approve": 80_000,
    "open": 350_000,
    "operator": 80_000,
    "protect": 150_000,
    "call": 200_000,
    "sweep": 400_000,
}
MIN_KEEPER_CAPITAL = 100_000 * WAD  # [wad]
GWEI = 10**9


class SimulationError(UserError):
    """A simulation that cannot run as asked; the message is one line."""


@dataclass
class Settings:
    scenario: Scenario = field(default_factory=Scenario)
    population: Population = field(default_factory=Population)
    keepers: int = 1
    keeper_kind: str = "auto"  # auto | real: both the shipped keeper
    block_time: int = 12  # [seconds]
    seed: int = 7
    rpc_url: str | None = None
    config: str | None = None  # deployment config (default bulkhead/configs/local.toml)
    overrides: dict[str, dict[str, int]] = field(default_factory=dict)  # pool|* -> params
    anchor_reset: int | None = 1  # blocks until governance resets a refused anchor
    warmup_days: float = 30.0  # stability fees accrued into reserves before the scenario
    sweep_fees: bool = True  # after the warm-up, anyone sweeps each reserve above its target
    gas_price_gwei: float = 10.0  # base fee of every scenario block
    keeper_capital: float = 1.0  # bhUSD per keeper, as a multiple of the population's debt
    owners: int = 40  # dev accounts that own positions
    pools: tuple[str, ...] | None = None  # pools the population opens in; None = all
    stop_when_settled: bool = False  # end early once nothing moves and nothing is left
    haircuts: dict[str, int] = field(default_factory=dict)  # pool|* -> [bps] set by governance
    steward: bool = False  # the risk steward moves haircuts during the scenario
    steward_window: int = 86_400  # [seconds] of feed history per volatility estimate

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["scenario"] = {
            k: (dict(v) if isinstance(v, Mapping) else v) for k, v in out["scenario"].items()
        }
        return out


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class SimulationBase:
    """One node and one deployment: the state every stage works on."""

    rpc_url: str  # set by `start`
    keeper_capital: int  # [wad] each keeper's bhUSD, set by `fund_keepers`
    _recorded: int  # the last chain block the recorder read

    def __init__(self, settings: Settings, log: Callable[[str], None] = _stderr):
        self.s = settings
        self.log = log
        self.anvil: Anvil | None = None
        self.driver: Driver | None = None
        self.w3: Web3 | None = None
        self.deployment: Deployment | None = None
        self.pools: dict[str, PoolHandle] = {}
        self.admin = ""
        self.steward_account = ""  # the factory's risk steward (a dev account of its own)
        self.owners: list[str] = []
        self.keeper_accounts: list[str] = []
        self.planned: list[Planned] = []
        self.ids: list[int] = []
        self.timings: dict[str, float] = {}
        self.replay: Replay | None = None
        self._fifo = False

    @property
    def sim_pools(self) -> list[PoolHandle]:
        return [p for name, p in self.pools.items() if name != FUND]

    @property
    def population_pools(self) -> list[PoolHandle]:
        if self.s.pools is None:
            return self.sim_pools
        wanted = {n.lower() for n in self.s.pools}
        found = [p for p in self.sim_pools if p.name.lower() in wanted]
        if len(found) != len(wanted):
            known = ", ".join(p.name for p in self.sim_pools)
            raise SimulationError(f"unknown pool in {', '.join(self.s.pools)} (known: {known})")
        return found

    @property
    def native_pool(self) -> str | None:
        return next((p.name for p in self.sim_pools if p.name.upper() in NATIVE_POOLS), None)

    def _answers(self) -> dict[str, int]:
        """Every feed's latest answer [feed units], by pool name."""
        assert self.driver is not None
        feed = abi("MockAggregator")
        raw = self.driver.calls(
            [(p.feed, feed.data("latestRoundData")) for p in self.pools.values()]
        )
        return {
            name: int(feed.result("latestRoundData", r)[1])
            for name, r in zip(self.pools, raw, strict=True)
        }
