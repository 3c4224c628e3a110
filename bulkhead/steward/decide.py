"""The risk steward's decisions: pure functions, tested without a chain.

1. `realised_vol`: the realised volatility of a feed's log returns over a window, time
   weighted and annualised (docs/STEWARD.md, "The estimate").
2. `Curve.haircut`: volatility to a target haircut, piecewise linear between a calm and a
   stressed volatility, in whole bps (docs/STEWARD.md, "The rule").
3. `decide`: one move toward the target within the pool's steward rules (ceiling, step,
   cooldown), or why none.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from bulkhead.risk import MAX_HAIRCUT, steward_refusal

SECONDS_PER_YEAR = 365 * 86_400
DEFAULT_WINDOW = 86_400  # [seconds] of feed history the estimate covers
DEFAULT_MIN_CHANGE = 25  # [bps] a smaller move toward a non-zero target is not worth a change


@dataclass(frozen=True)
class Round:
    """One feed round as `getRoundData` returns it (the answer in feed units)."""

    round_id: int
    answer: int  # [feed units]
    updated_at: int  # [seconds]


@dataclass(frozen=True)
class VolEstimate:
    """Realised volatility and what it was computed from."""

    vol: float | None  # annualised, as a fraction (0.8 = 80 %); None: too few rounds
    rounds: int  # rounds used, the anchor included
    returns: int  # log returns summed
    span: int  # [seconds] from the window's start (or the first round, if later) to now
    first_round: int | None  # the anchor's round id
    last_round: int | None
    skipped: int = 0  # rounds left out (non-positive answer, no time, from the future)

    def as_json(self) -> dict[str, object]:
        return {
            "vol": None if self.vol is None else round(self.vol, 6),
            "rounds": self.rounds,
            "returns": self.returns,
            "span_s": self.span,
            "first_round": self.first_round,
            "last_round": self.last_round,
            "skipped": self.skipped,
        }


def window_rounds(rounds: Iterable[Round], now: int, window: int) -> tuple[list[Round], int]:
    """The rounds the estimate uses, oldest first, and how many were left out.

    Left out: rounds with a non-positive answer, no update time, or an update time after
    `now`. Kept: every round updated after `now - window`, plus the anchor: the latest
    round updated at or before `now - window` (the price when the window opened). Without
    such a round (a young feed, or history read only so far back) the oldest round read is
    the anchor.
    """
    valid, skipped = [], 0
    for r in rounds:
        if r.answer <= 0 or r.updated_at <= 0 or r.updated_at > now:
            skipped += 1
        else:
            valid.append(r)
    valid.sort(key=lambda r: (r.updated_at, r.round_id))
    start = now - window
    inside = [r for r in valid if r.updated_at > start]
    before = [r for r in valid if r.updated_at <= start]
    anchor = before[-1:] if before else []
    return anchor + inside, skipped


def realised_vol(rounds: Iterable[Round], now: int, window: int = DEFAULT_WINDOW) -> VolEstimate:
    """Annualised realised volatility of the feed over `window` seconds before `now`.

    The feed's answer is the price until the next round (a step function), so the window
    [now - window, now] opens at the anchor's answer p_0 and sees the moves to p_1 ... p_n
    of the rounds inside it. With r_i = ln(p_i / p_(i-1)) and the span T = now - max(now -
    window, t_0) (the window, or less for a feed younger than it):

        vol = sqrt( sum r_i^2 / T * SECONDS_PER_YEAR )

    This is the realised variance of the window per second, annualised: the time-weighted
    mean of each interval's variance rate r_i^2 / dt_i (weights dt_i / T), time without a
    round counting as time without a move. Returns are not demeaned: a steady fall is
    volatility to a lender. None with fewer than two rounds or no time elapsed.
    """
    used, skipped = window_rounds(rounds, now, window)
    span = now - max(now - window, used[0].updated_at) if used else 0
    first = used[0].round_id if used else None
    last = used[-1].round_id if used else None
    if len(used) < 2 or span <= 0:
        return VolEstimate(None, len(used), 0, span, first, last, skipped)
    squares = sum(math.log(b.answer / a.answer) ** 2 for a, b in zip(used, used[1:]))
    vol = math.sqrt(squares / span * SECONDS_PER_YEAR)
    return VolEstimate(vol, len(used), len(used) - 1, span, first, last, skipped)


@dataclass(frozen=True)
class Curve:
    """Volatility to haircut: 0 up to `calm`, `stressed_haircut` from `stressed` on, a
    straight line between, rounded to whole bps (half up)."""

    calm: float = 0.50  # annualised volatility at which the haircut starts to rise
    stressed: float = 1.50  # annualised volatility at which it reaches `stressed_haircut`
    stressed_haircut: int = 3_000  # [bps]

    def __post_init__(self) -> None:
        if not 0 <= self.calm < self.stressed:
            raise ValueError(
                f"the calm volatility ({self.calm:.0%}) must be below the stressed one "
                f"({self.stressed:.0%})"
            )
        if not 0 < self.stressed_haircut <= MAX_HAIRCUT:
            raise ValueError(f"the stressed haircut must be in (0, {MAX_HAIRCUT}] bps")

    def haircut(self, vol: float) -> int:
        """The target haircut [bps] for an annualised volatility."""
        share = (vol - self.calm) / (self.stressed - self.calm)
        share = min(max(share, 0.0), 1.0)
        return int(math.floor(share * self.stressed_haircut + 0.5))

    def table(self, points: int = 5) -> list[tuple[float, int]]:
        """(volatility, haircut) at `points` evenly spaced volatilities from calm to
        stressed: the mapping table the docs and `steward show` print."""
        step = (self.stressed - self.calm) / (points - 1)
        return [(self.calm + k * step, self.haircut(self.calm + k * step)) for k in range(points)]


@dataclass(frozen=True)
class Rules:
    """A pool's steward rules, as `PoolFactory.steward_rules(pool)` returns them."""

    max_haircut: int  # [bps] the steward's ceiling
    max_step: int  # [bps] most change per call; 0: no steward rules for the pool
    cooldown: int  # [seconds] between two changes
    last_change: int  # [seconds] timestamp of the last change, by either role

    def as_dict(self) -> dict[str, int]:
        return {
            "max_haircut": self.max_haircut,
            "max_step": self.max_step,
            "cooldown": self.cooldown,
            "last_change": self.last_change,
        }

    def ready_at(self) -> int:
        """[seconds] the first timestamp at which the steward may change the haircut."""
        return self.last_change + self.cooldown


HOLD, RAISE, LOWER = "hold", "raise", "lower"


@dataclass(frozen=True)
class Decision:
    """What the steward does to one pool's haircut now, and why."""

    action: str  # hold | raise | lower
    current: int  # [bps]
    goal: int | None  # [bps] the target within the ceiling; None without an estimate
    new: int  # [bps] the haircut after the action (current when holding)
    reason: str

    @property
    def changes(self) -> bool:
        return self.action != HOLD


def decide(
    target: int | None,
    current: int,
    rules: Rules,
    now: int,
    min_change: int = DEFAULT_MIN_CHANGE,
) -> Decision:
    """One step toward `target` [bps] within `rules` at time `now` [seconds].

    Holds when: the pool has no steward rules; there is no estimate; the haircut is at the
    target (the target capped at the ceiling); the gap is under `min_change` bps and the
    target is not 0 (a haircut always returns all the way to 0 in calm); the cooldown
    runs. Otherwise moves by the gap, at most `max_step` bps, and checks the move against
    `risk.steward_refusal` (the factory's own checks) before returning it.
    """
    if rules.max_step == 0:
        return Decision(HOLD, current, None, current, "no steward rules for this pool")
    if target is None:
        return Decision(HOLD, current, None, current, "too few feed rounds for an estimate")
    goal = min(target, rules.max_haircut)
    if goal == current:
        return Decision(HOLD, current, goal, current, "at target")
    gap = goal - current
    if abs(gap) < min_change and goal != 0:
        return Decision(
            HOLD, current, goal, current, f"gap of {abs(gap)} bps is under {min_change} bps"
        )
    if now < rules.ready_at():
        return Decision(HOLD, current, goal, current, f"cooldown: {rules.ready_at() - now} s left")
    new = current + max(-rules.max_step, min(gap, rules.max_step))
    refusal = steward_refusal(rules.as_dict(), current, new, now)
    if refusal is not None:  # dev: unreachable unless the mirror and this logic part ways
        return Decision(HOLD, current, goal, current, refusal)
    action = RAISE if new > current else LOWER
    left = "reaches the target" if new == goal else f"{abs(goal - new)} bps left to the target"
    return Decision(action, current, goal, new, f"one step of {abs(new - current)} bps; {left}")
