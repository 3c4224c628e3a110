"""The risk steward: one pass over the pools (`Steward.step`), and the account it acts from.

A pass reads, in one JSON-RPC batch, every pool's steward rules, controls and latest feed
round, then each feed's rounds over the window (`feed.read_rounds`), estimates the
volatility, maps it to a target haircut and decides one move (`decide`). It logs every
decision with its inputs (one `decision` line per pool) and, unless it is a dry run,
sends each move through `Client.steward_set_haircut`, which checks it again against the
factory's rules before any gas is spent.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bulkhead.chain import LOCAL_CHAIN_IDS, Sender, TxError
from bulkhead.client import Client, Pool, UserError
from bulkhead.eth import accounts
from bulkhead.eth.abi import Call
from bulkhead.eth.accounts import STEWARD_DEV_ACCOUNT
from bulkhead.eth.rpc import Rpc, RpcError
from bulkhead.keeper.metrics import EventLog
from bulkhead.risk import Controls
from bulkhead.steward import feed as feed_mod
from bulkhead.steward.decide import (
    DEFAULT_MIN_CHANGE,
    DEFAULT_WINDOW,
    Curve,
    Decision,
    Round,
    Rules,
    VolEstimate,
    decide,
    realised_vol,
)

DEFAULT_MAX_ROUNDS = 2_000  # rounds read per feed and pass at most


@dataclass(frozen=True)
class StewardConfig:
    window: int = DEFAULT_WINDOW  # [seconds] of feed history per estimate
    curve: Curve = field(default_factory=Curve)
    curves: Mapping[str, Curve] = field(default_factory=dict)  # per pool (any case)
    min_change: int = DEFAULT_MIN_CHANGE  # [bps]
    max_rounds: int = DEFAULT_MAX_ROUNDS
    dry_run: bool = False

    def curve_for(self, pool: str) -> Curve:
        for name, curve in self.curves.items():
            if name.lower() == pool.lower():
                return curve
        return self.curve


@dataclass(frozen=True)
class Assessment:
    """One pool at one moment: the inputs and the decision."""

    pool: str
    now: int  # [seconds] the block timestamp the decision is for
    rules: Rules
    current: int  # [bps]
    estimate: VolEstimate
    target: int | None  # [bps] from the curve, before the ceiling
    decision: Decision
    window: int  # [seconds]
    curve: Curve
    truncated: bool = False  # history read stopped at max_rounds

    def as_json(self) -> dict[str, Any]:
        d = self.decision
        return {
            "pool": self.pool,
            "action": d.action,
            "reason": d.reason,
            "current_bps": self.current,
            "target_bps": self.target,
            "goal_bps": d.goal,
            "new_bps": d.new,
            **self.estimate.as_json(),
            "window_s": self.window,
            "truncated": self.truncated,
            "curve": {
                "calm_vol": self.curve.calm,
                "stressed_vol": self.curve.stressed,
                "stressed_haircut_bps": self.curve.stressed_haircut,
            },
            "rules": self.rules.as_dict(),
            "now": self.now,
        }


@dataclass
class StepReport:
    assessments: list[Assessment] = field(default_factory=list)
    sent: list[tuple[str, int, str]] = field(default_factory=list)  # (pool, haircut, tx)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (pool, reason)


class Steward:
    """Reads, decides and (unless `config.dry_run`) sends, for every pool of a deployment.

    `sender` may be None for a dry run or for `assess` alone."""

    def __init__(
        self,
        client: Client,
        sender: Sender | None,
        config: StewardConfig | None = None,
        log: EventLog | Callable[..., None] | None = None,
    ):
        self.client = client
        self.sender = sender
        self.config = config or StewardConfig()
        self.log = log or (lambda _event, **_fields: None)
        self.rpc = Rpc(client.w3.provider)
        self.cycles = 0
        self.decisions = 0
        self.changes: dict[str, int] = {}  # pool -> haircut changes sent
        self.simulated: dict[str, int] = {}  # pool -> changes a dry run would send
        self.refusals: dict[str, int] = {}

    # ------------------------------------------------------------------ reading

    def now(self) -> int:
        """[seconds] the latest block's timestamp."""
        return int(self.client.w3.eth.get_block("latest")["timestamp"])

    def assess_all(
        self, pools: list[Pool] | None = None, now: int | None = None
    ) -> list[Assessment]:
        """An assessment of each pool (default: every pool of the manifest)."""
        pools = self.client.pools() if pools is None else pools
        now = self.now() if now is None else now
        factory = self.client.factory.functions
        calls = []
        for pool in pools:
            calls += [
                Call.of(factory.steward_rules(pool.contract.address)),
                Call.of(pool.contract.functions.controls()),
                Call.of(pool.feed.functions.latestRoundData()),
            ]
        answers = self.rpc.batch([c.request() for c in calls])
        out = []
        for k, pool in enumerate(pools):
            rules_raw, controls_raw, latest_raw = answers[3 * k : 3 * k + 3]
            rules = Rules(*calls[3 * k].decode(rules_raw))
            controls = Controls(*calls[3 * k + 1].decode(controls_raw))
            latest = None
            if not isinstance(latest_raw, RpcError):
                rid, answer, _s, updated, _a = calls[3 * k + 2].decode(latest_raw)
                latest = Round(int(rid), int(answer), int(updated))
            out.append(self._assess(pool, now, rules, controls.haircut, latest))
        return out

    def _assess(
        self, pool: Pool, now: int, rules: Rules, current: int, latest: Round | None
    ) -> Assessment:
        cfg = self.config
        curve = cfg.curve_for(pool.name)
        rounds: list[Round] = []
        truncated = False
        if latest is not None and rules.max_step:
            rounds, truncated = feed_mod.read_rounds(
                self.rpc, pool.feed, latest, now - cfg.window, cfg.max_rounds
            )
        estimate = realised_vol(rounds, now, cfg.window)
        target = None if estimate.vol is None else curve.haircut(estimate.vol)
        decision = decide(target, current, rules, now, cfg.min_change)
        if latest is None and rules.max_step:
            decision = Decision(decision.action, current, None, current, "the feed reverts")
        return Assessment(
            pool.name, now, rules, current, estimate, target, decision, cfg.window, curve, truncated
        )

    # ------------------------------------------------------------------ acting

    def step(self) -> StepReport:
        """One pass: assess every pool, log each decision, send each move (not in a dry
        run). A refused move is logged and counted; the other pools go on."""
        report = StepReport(self.assess_all())
        self.cycles += 1
        for a in report.assessments:
            self.decisions += 1
            self.log("decision", dry_run=self.config.dry_run, **a.as_json())
            if not a.decision.changes:
                continue
            if self.config.dry_run or self.sender is None:
                self.simulated[a.pool] = self.simulated.get(a.pool, 0) + 1
                continue
            try:
                self.client.steward_set_haircut(
                    self.sender, self.client.pool(a.pool), a.decision.new
                )
            except (TxError, UserError) as exc:
                reason = exc.reason if isinstance(exc, TxError) else str(exc)
                self.refusals[a.pool] = self.refusals.get(a.pool, 0) + 1
                report.refused.append((a.pool, reason))
                self.log("refused", pool=a.pool, haircut_bps=a.decision.new, reason=reason)
                continue
            tx = self.sender.sent[-1]
            self.changes[a.pool] = self.changes.get(a.pool, 0) + 1
            report.sent.append((a.pool, a.decision.new, tx))
            self.log(
                "haircut_set",
                pool=a.pool,
                haircut_bps=a.decision.new,
                previous_bps=a.current,
                tx=tx,
            )
        return report

    def summary(self) -> dict[str, Any]:
        return {
            "cycles": self.cycles,
            "decisions": self.decisions,
            "changes": dict(sorted(self.changes.items())),
            "refused": dict(sorted(self.refusals.items())),
            "simulated": dict(sorted(self.simulated.items())),
            "dry_run": self.config.dry_run,
        }


# ---------------------------------------------------------------------- accounts


def steward_sender(
    client: Client,
    account: int | None = None,
    keystore: str | None = None,
    env: Mapping[str, str] | None = None,
    prompt: Callable[[str], str] | None = None,
) -> Sender:
    """The account the steward acts from: `--keystore`, `--account` or
    BULKHEAD_PRIVATE_KEY as for every command; without them, on a local chain, the
    factory's steward when the node holds its key, else dev account STEWARD_DEV_ACCOUNT."""
    env = os.environ if env is None else env
    w3 = client.w3
    if (
        account is None
        and keystore is None
        and not env.get(accounts.KEY_ENV)
        and w3.eth.chain_id in LOCAL_CHAIN_IDS
    ):
        named = (client.steward() or "").lower()
        dev = [a.lower() for a in w3.eth.accounts]
        account = dev.index(named) if named in dev else STEWARD_DEV_ACCOUNT
    return accounts.resolve(w3, account, keystore, env=env, prompt=prompt)


def check_steward(client: Client, sender: Sender) -> None:
    """UserError unless `sender` is the factory's steward and not governance (whose
    changes bypass the steward's rules)."""
    governance = client.factory.functions.owner().call()
    steward = client.steward()
    if sender.address.lower() == governance.lower():
        raise UserError(
            f"{sender.address} is governance (the factory's owner), whose haircut changes "
            "bypass the steward's rules: run the steward from the account governance named "
            "(`bulkhead steward appoint ADDRESS`)"
        )
    if steward is None:
        raise UserError(
            "no risk steward is named: governance names one with `bulkhead steward appoint ADDRESS`"
        )
    if steward.lower() != sender.address.lower():
        raise UserError(
            f"{sender.address} is not the risk steward ({steward}): pick its account with "
            "--account or --keystore"
        )
