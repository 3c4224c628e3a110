"""Stateful invariant fuzzing of the core protocol on titanoboa.

`BULKHEAD_FUZZ_PROFILE=ci` (the default, inside `make test`) runs short campaigns with fixed
seeds (so it is reproducible) until every canary was reached and at least `CI_MIN_STEPS`
steps ran, at most `CI_CAMPAIGNS` campaigns.
`BULKHEAD_FUZZ_PROFILE=audit` (`make audit`) runs randomly seeded campaigns until at least
`BULKHEAD_FUZZ_STEPS` (100,000 by default) steps have run, then prints how often each rule
ran with each outcome. `BULKHEAD_FUZZ_SHARD=i/n` makes this process run its 1/n share of the
steps and write its own counts (`python -m tests.fuzz.audit` runs the shards and adds them). Either way the canaries must have been reached: liquidations
(partial, with a shortfall, batched, by the owner himself), bad debt, pauses, sweeps, and
each owner rule carried out (deleverage, boost, top-up) and an owner's own deleverage.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.fuzz.machine import CANARIES, STATS, BulkheadMachine

PROFILE = os.environ.get("BULKHEAD_FUZZ_PROFILE", "ci")
SHARD, SHARDS = (int(x) for x in os.environ.get("BULKHEAD_FUZZ_SHARD", "1/1").split("/"))
STEPS = -(-int(os.environ.get("BULKHEAD_FUZZ_STEPS", "100000")) // SHARDS)  # this shard's part
CI_CAMPAIGNS = 12  # at most, in the ci profile
CI_MIN_STEPS = 1_000  # at least, in the ci profile
REPORT = (
    Path(__file__).resolve().parents[2]
    / ".build"
    / "audit"
    / (
        f"fuzz_stats_{PROFILE}.json"
        if SHARDS == 1
        else f"fuzz_stats_{PROFILE}.{SHARD}of{SHARDS}.json"
    )
)

settings.register_profile(
    "ci",
    max_examples=5,
    stateful_step_count=80,
    deadline=None,
    database=None,
    # a failure is reported unshrunk in CI (the seed reproduces it); `make audit` shrinks
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
settings.register_profile(
    "audit",
    max_examples=50,
    stateful_step_count=100,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)


def _write(campaigns: int) -> None:
    """The counts so far, after every campaign (a long run that is stopped keeps them)."""
    report = {"profile": PROFILE, "campaigns": campaigns, **dict(sorted(STATS.items()))}
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2) + "\n")


def _missing() -> list[str]:
    return [c for c in CANARIES if STATS[f"canary/{c}"] == 0]


def test_protocol_laws__random_actions__hold_after_every_step(fuzz_system, capsys) -> None:
    STATS.clear()
    chosen = settings.get_profile(PROFILE)
    campaigns = 0
    while True:
        campaign = type(f"Campaign{campaigns}", (BulkheadMachine,), {})
        if PROFILE == "ci":
            campaign = seed(campaigns)(campaign)
        run_state_machine_as_test(campaign, settings=chosen)
        campaigns += 1
        _write(campaigns)
        if PROFILE == "audit" and STATS["steps"] < STEPS:
            continue
        short = _missing() or STATS["steps"] < CI_MIN_STEPS
        if PROFILE == "ci" and campaigns < CI_CAMPAIGNS and short:
            continue
        break
    if PROFILE == "audit":
        with capsys.disabled():
            print(f"\nfuzz: {STATS['steps']} steps in {campaigns} campaigns (rule/outcome: count)")
            for key, count in sorted(STATS.items()):
                print(f"  {key:50s} {count:8d}")
    assert not _missing(), f"the fuzzer never reached: {_missing()} ({dict(STATS)})"
