"""The state a scenario starts in: governance's parameters and haircuts, the population
(mint, approve, open, then protect and stop-loss rules, sent without waiting for receipts;
positions open under the haircut and the position debt cap), the keepers' capital, and
`warmup_days` of stability fees into each reserve."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bulkhead.risk import MAX_HAIRCUT, WAD, validate
from bulkhead.simulate.base import GAS, MIN_KEEPER_CAPITAL, SimulationBase, SimulationError
from bulkhead.simulate.driver import Tx, abi
from bulkhead.simulate.pools import FUND, FUND_LTV
from bulkhead.simulate.population import PoolSpec, plan


class Setup(SimulationBase):
    """The `prepare` stage of a `Simulation`, step by step."""

    def set_params(self, overrides: Mapping[str, Mapping[str, int]]) -> None:
        """Governance: `factory.set_risk_params` for every pool an override names."""
        assert self.driver is not None and self.deployment is not None
        factory = abi("PoolFactory")
        txs = []
        for pool in self.sim_pools:
            changes = {**overrides.get("*", {}), **_lookup(overrides, pool.name)}
            if not changes:
                continue
            try:
                params = replace(pool.params, **changes)
            except TypeError as exc:
                raise SimulationError(
                    f"unknown risk parameter in {sorted(changes)}: {exc}"
                ) from None
            try:
                validate(params)
            except ValueError as exc:
                raise SimulationError(f"pool {pool.name}: {exc} ({_describe(changes)})") from None
            pool.params = params
            txs.append(
                Tx(
                    self.admin,
                    self.deployment.factory,
                    factory.data("set_risk_params", pool.address, params.as_tuple()),
                    GAS["call"],
                    f"set_risk_params {pool.name}",
                )
            )
        if txs:
            self.driver.settle(txs)

    def set_haircuts(self, haircuts: Mapping[str, int]) -> None:
        """Governance: `factory.set_haircut` [bps] for every pool `haircuts` names (`*`: all)."""
        assert self.driver is not None and self.deployment is not None
        factory = abi("PoolFactory")
        txs = []
        for pool in self.sim_pools:
            found = [v for k, v in haircuts.items() if k.lower() == pool.name.lower()]
            bps = found[0] if found else haircuts.get("*")
            if bps is None or bps == pool.haircut:
                continue
            if not 0 <= bps <= MAX_HAIRCUT:
                raise SimulationError(
                    f"pool {pool.name}: a haircut of {bps} bps is outside 0..{MAX_HAIRCUT}"
                )
            pool.haircut = bps
            txs.append(
                Tx(
                    self.admin,
                    self.deployment.factory,
                    factory.data("set_haircut", pool.address, bps),
                    GAS["call"],
                    f"set_haircut {pool.name}",
                )
            )
        if txs:
            self.driver.settle(txs)

    def prepare(self) -> None:
        """Parameters, population, keeper capital and warm-up: the state a scenario starts in."""
        started = time.monotonic()
        if self.s.overrides:
            self.set_params(self.s.overrides)
        if self.s.haircuts:
            self.set_haircuts(self.s.haircuts)
        self.open_population()
        self.fund_keepers()
        self.warmup()
        self.timings["prepare"] = time.monotonic() - started

    # ------------------------------------------------------------------ population

    def open_population(self) -> None:
        """Plan the population at the feeds' answers, open it, then set its rules."""
        assert self.driver is not None
        answers = self._answers()
        pool_abi = abi("MarginPool")
        chosen = self.population_pools
        totals = self.driver.calls([(p.address, pool_abi.data("total_debt")) for p in chosen])
        specs = [
            PoolSpec(
                p.name,
                p.wad(answers[p.name]),
                p.decimals,
                p.params,
                int(pool_abi.result("total_debt", t)),
                haircut=p.haircut,
                position_debt_cap=p.position_debt_cap,
            )
            for p, t in zip(chosen, totals, strict=True)
        ]
        try:
            self.planned = plan(self.s.population, specs, self.owners, self.s.seed)
        except ValueError as exc:
            raise SimulationError(str(exc)) from None
        self._open_positions()
        self._set_rules()
        protected = sum(1 for x in self.planned if x.protection)
        stops = sum(1 for x in self.planned if x.stop_loss)
        debt = sum(x.debt for x in self.planned)
        self.log(
            f"opened {len(self.planned)} positions of {len({x.owner for x in self.planned})} owners "
            f"({protected} protected"
            + (f", {stops} with a stop-loss" if stops else "")
            + f"), debt {debt / WAD:,.0f} bhUSD"
        )

    def _open_positions(self) -> None:
        """Mint and approve each owner's collateral, open the planned positions; `ids` in
        the order of `planned`."""
        assert self.driver is not None
        token, pool_abi = abi("MockToken"), abi("MarginPool")
        need: dict[tuple[str, str], int] = {}
        for x in self.planned:
            need[(x.owner, x.pool)] = need.get((x.owner, x.pool), 0) + x.collateral
        txs = []
        for (owner, name), amount in sorted(need.items()):
            pool = self.pools[name]
            txs.append(
                Tx(
                    owner,
                    pool.token,
                    token.data("mint", owner, amount),
                    GAS["mint"],
                    f"mint {name}",
                )
            )
            txs.append(
                Tx(
                    owner,
                    pool.token,
                    token.data("approve", pool.address, amount),
                    GAS["approve"],
                    f"approve {name}",
                )
            )
        opens = [
            Tx(
                x.owner,
                self.pools[x.pool].address,
                pool_abi.data("open", x.collateral, x.debt),
                GAS["open"],
                f"open in {x.pool}",
            )
            for x in self.planned
        ]
        receipts = self.driver.settle(txs + opens)[len(txs) :]
        open_topic = pool_abi.topics["Open"]
        self.ids = []
        for x, receipt in zip(self.planned, receipts, strict=True):
            log = next(
                entry
                for entry in receipt["logs"]
                if entry["topics"][0] == open_topic
                and entry["address"].lower() == self.pools[x.pool].address.lower()
            )
            self.ids.append(int(log["topics"][1], 16))

    def _set_rules(self) -> None:
        """The planned protections and stop-losses: they live in the automation, which
        deleverages as the owner's operator."""
        assert self.driver is not None
        assert self.deployment is not None  # dev: deployed in `prepare`
        automation = self.deployment.automation
        pool_abi, auto_abi = abi("MarginPool"), abi("PositionAutomation")
        protect = []
        operators = set()
        for x, pid in zip(self.planned, self.ids, strict=True):
            if x.protection is None and x.stop_loss is None:
                continue
            pool = self.pools[x.pool].address
            if (x.owner, x.pool) not in operators:
                operators.add((x.owner, x.pool))
                protect.append(
                    Tx(
                        x.owner,
                        pool,
                        pool_abi.data("set_operator", automation, True),
                        GAS["operator"],
                        f"set_operator in {x.pool}",
                    )
                )
            for kind, rule in (("protection", x.protection), ("stop_loss", x.stop_loss)):
                if rule is not None:
                    protect.append(
                        Tx(
                            x.owner,
                            automation,
                            auto_abi.data(f"set_{kind}", pool, pid, *rule),
                            GAS["protect"],
                            f"set_{kind} in {x.pool}",
                        )
                    )
        if protect:
            self.driver.settle(protect)

    # ------------------------------------------------------------------ keepers, warm-up

    def fund_keepers(self) -> None:
        """Each keeper borrows its working bhUSD against FUND collateral."""
        assert self.driver is not None
        debt = sum(x.debt for x in self.planned)
        capital = max(int(debt * self.s.keeper_capital), MIN_KEEPER_CAPITAL)
        capital -= capital % WAD
        fund = self.pools[FUND]
        price = fund.wad(self._answers()[FUND])
        coll = capital * FUND_LTV * WAD // price
        token, pool_abi = abi("MockToken"), abi("MarginPool")
        txs = []
        for k in self.keeper_accounts:
            txs += [
                Tx(k, fund.token, token.data("mint", k, coll), GAS["mint"], "mint FUND"),
                Tx(
                    k,
                    fund.token,
                    token.data("approve", fund.address, coll),
                    GAS["approve"],
                    "approve FUND",
                ),
                Tx(
                    k,
                    fund.address,
                    pool_abi.data("open", coll, capital),
                    GAS["open"],
                    "keeper capital",
                ),
            ]
        self.driver.settle(txs)
        self.keeper_capital = capital
        self.log(f"{len(self.keeper_accounts)} keeper(s) hold {capital / WAD:,.0f} bhUSD each")

    def warmup(self) -> None:
        """Let `warmup_days` pass: the feeds answer again, every pool accrues its fee."""
        assert self.driver is not None and self.deployment is not None
        seconds = int(self.s.warmup_days * 86400)
        feed, pool_abi = abi("MockAggregator"), abi("MarginPool")
        answers = self._answers()
        txs = [
            Tx(
                self.admin,
                p.feed,
                feed.data("set_answer", answers[p.name]),
                GAS["call"],
                f"feed {p.name}",
            )
            for p in self.pools.values()
        ]
        txs += [
            Tx(self.admin, p.address, pool_abi.data("accrue"), GAS["call"], f"accrue {p.name}")
            for p in self.pools.values()
        ]
        self.driver.settle(txs, skip=seconds)
        if self.s.sweep_fees and self.deployment.vault:
            factory = abi("PoolFactory")
            self.driver.settle(
                [
                    Tx(
                        self.admin,
                        self.deployment.factory,
                        factory.data("sweep", p.address),
                        GAS["sweep"],
                        f"sweep {p.name}",
                    )
                    for p in self.sim_pools
                ]
            )


def _lookup(table: Mapping[str, Any], name: str) -> Any:
    for key, value in table.items():
        if key.lower() == name.lower():
            return value
    return {}


def _describe(changes: Mapping[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(changes.items()))
