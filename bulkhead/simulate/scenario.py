"""Price paths, block by block, for each pool: pure functions, tested without a chain.

A path is a list of multipliers `m[0..blocks]` of the pool's price before the scenario:
`m[0] == 1` is the state the population opened in, `m[b]` is the feed's answer in block `b`.

- `drop`: one single-block move of `-drop` at block `start`, flat afterwards.
- `staircase`: `steps` equal multiplicative steps, `step_every` blocks apart, adding up to
  `-drop` (four steps of -12 % are -40 % in all).
- `gbm`: geometric Brownian motion from block `start`, annual volatility `vol` and drift
  `drift`, one draw per block of `block_time` seconds; each pool draws from its own stream
  (seeded by the seed and the pool's name), so adding a pool does not change another's path.
  With `regime` the volatility follows a regime instead (`Regime`): `calm_blocks` at
  `calm_vol`, then `rise_blocks` over which it climbs linearly to the pool's `vol`, then a
  crash of `crash_blocks` in which the price also falls by the pool's `drop` in all (equal
  log steps on top of the noise), and the pool's `vol` after it.
- `replay`: a CSV file (see `load_replay`), replayed as relative moves from the first row.

Pools not in `moving` stay flat. Every path is deterministic for a seed.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bulkhead import fmt
from bulkhead.errors import BulkheadError
from bulkhead.fmt import AmountError

SCENARIOS = ("drop", "staircase", "gbm", "replay")
SECONDS_PER_YEAR = 365 * 86400


class ScenarioError(BulkheadError, ValueError):
    """A scenario or replay file that cannot be used; the message is one line."""


@dataclass(frozen=True)
class Scenario:
    kind: str = "drop"
    blocks: int = 100  # blocks driven after the population opened
    start: int = 10  # first block that moves
    drop: Mapping[str, float] = field(default_factory=lambda: {"*": 0.40})  # pool -> fraction
    steps: int = 4  # staircase
    step_every: int = 10  # staircase [blocks]
    vol: Mapping[str, float] = field(default_factory=lambda: {"*": 1.0})  # gbm, annual
    drift: float = 0.0  # gbm, annual
    moving: tuple[str, ...] | None = None  # pools that move; None = all
    file: str | None = None  # replay
    regime: Regime | None = None  # gbm: calm, rising volatility, crash

    def phases(self) -> dict[str, tuple[int, int]] | None:
        """The regime's phases as (first, last) block, None without a regime."""
        if self.regime is None:
            return None
        return self.regime.phases(self.start)

    def amount(self, table: Mapping[str, float], pool: str) -> float:
        """The value of a per-pool table for `pool` (`*` is the default)."""
        for key, value in table.items():
            if key.lower() == pool.lower():
                return value
        return table.get("*", 0.0)

    def moves(self, pool: str) -> bool:
        return self.moving is None or pool.lower() in {p.lower() for p in self.moving}

    def validate(self, need_file: bool = True) -> None:
        if self.kind not in SCENARIOS:
            raise ScenarioError(f"unknown scenario {self.kind!r} (one of {', '.join(SCENARIOS)})")
        if self.blocks < 1:
            raise ScenarioError("a scenario needs at least one block")
        if not 1 <= self.start <= self.blocks:
            raise ScenarioError(f"the first move (block {self.start}) is outside 1..{self.blocks}")
        for pool, d in self.drop.items():
            if not 0 <= d < 1:
                raise ScenarioError(
                    f"--drop {d * 100:g}% for {pool}: a drop is a percent of the price in "
                    "[0, 100) (write 40 or 40%)"
                )
        for pool, v in self.vol.items():
            if not 0 <= v <= 20:
                raise ScenarioError(f"volatility {v:g} for {pool} is not in [0, 20]")
        if self.kind == "staircase" and (self.steps < 1 or self.step_every < 1):
            raise ScenarioError("a staircase needs at least one step, one block apart")
        if self.kind == "replay" and need_file and not self.file:
            raise ScenarioError("the replay scenario needs a CSV file (--file)")
        if self.regime is not None:
            if self.kind != "gbm":
                raise ScenarioError("a volatility regime is for the gbm scenario")
            self.regime.validate()
            last = self.regime.phases(self.start)["crash"][1]
            if last > self.blocks:
                raise ScenarioError(
                    f"the regime's crash ends in block {last}, after the last block ({self.blocks})"
                )


@dataclass(frozen=True)
class Regime:
    """A GBM's volatility over time: calm, rising, then a crash (see the module docstring)."""

    calm_vol: float = 0.30  # annual, during the calm phase
    calm_blocks: int = 36
    rise_blocks: int = 24
    crash_blocks: int = 4

    def validate(self) -> None:
        if not 0 <= self.calm_vol <= 20:
            raise ScenarioError(f"calm volatility {self.calm_vol:g} is not in [0, 20]")
        for name in ("calm_blocks", "rise_blocks", "crash_blocks"):
            if getattr(self, name) < 1:
                raise ScenarioError(f"a regime's {name.replace('_', ' ')} must be at least 1")

    @property
    def blocks(self) -> int:
        return self.calm_blocks + self.rise_blocks + self.crash_blocks

    def phases(self, start: int) -> dict[str, tuple[int, int]]:
        calm = (start, start + self.calm_blocks - 1)
        rise = (calm[1] + 1, calm[1] + self.rise_blocks)
        crash = (rise[1] + 1, rise[1] + self.crash_blocks)
        return {"calm": calm, "rise": rise, "crash": crash}

    def vol_at(self, block: int, start: int, peak: float) -> float:
        """The annual volatility of the move into `block`."""
        k = block - start
        if k < self.calm_blocks:
            return self.calm_vol
        k -= self.calm_blocks
        if k < self.rise_blocks:
            return self.calm_vol + (peak - self.calm_vol) * (k + 1) / self.rise_blocks
        return peak

    def crash_step(self, block: int, start: int, drop: float) -> float:
        """The deterministic log move in `block`: ln(1 - drop) / crash_blocks in the crash."""
        k = block - start - self.calm_blocks - self.rise_blocks
        if 0 <= k < self.crash_blocks and drop > 0:
            return math.log(1.0 - drop) / self.crash_blocks
        return 0.0


def parse_per_pool(text: str, name: str, percent: bool = True) -> dict[str, float]:
    """`40` (every pool) or `WETH=90,VOL=20` (per pool; `*=40` sets the rest), in percent
    when `percent`, into fractions."""
    out: dict[str, float] = {}
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        key, _, value = part.rpartition("=")
        key = key.strip() or "*"
        value = value.strip()
        try:
            # a percent: `40`, `40%` or `0.4` alike (fmt.parse_share, as every command reads it)
            number = float(fmt.parse_share(value)) if percent else float(value)
        except (AmountError, ValueError):
            raise ScenarioError(f"{name} {part!r} is not a number (e.g. 40 or WETH=90)") from None
        if not math.isfinite(number):
            raise ScenarioError(f"{name} {part!r} is not a finite number")
        out[key] = number
    if not out:
        raise ScenarioError(f"{name} is empty")
    return out


# ------------------------------------------------------------------ replay


@dataclass(frozen=True)
class Replay:
    """A replay file: `key` is "block" or "timestamp"; `x` the key's values, increasing."""

    path: str
    key: str
    x: tuple[float, ...]
    columns: dict[str, tuple[float, ...]]  # column name -> prices
    comments: tuple[str, ...] = ()

    @property
    def span(self) -> float:
        return self.x[-1] - self.x[0]

    def column_for(self, pool: str) -> tuple[float, ...] | None:
        for name, prices in self.columns.items():
            if name.lower() == pool.lower():
                return prices
        return self.columns.get("price")

    def at(self, prices: Sequence[float], x: float) -> float:
        """Linear interpolation of `prices` at `x` (held flat outside the file)."""
        xs = self.x
        if x <= xs[0]:
            return prices[0]
        if x >= xs[-1]:
            return prices[-1]
        lo, hi = 0, len(xs) - 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if xs[mid] <= x:
                lo = mid
            else:
                hi = mid
        w = (x - xs[lo]) / (xs[hi] - xs[lo])
        return prices[lo] + (prices[hi] - prices[lo]) * w


def load_replay(path: str | Path) -> Replay:
    """Read a replay CSV.

    Lines starting with `#` are comments. The header names the key column, `block` or
    `timestamp` (unix seconds), then one column per pool name (or `price` for every moving
    pool). Keys increase strictly; prices are positive.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioError(f"cannot read replay file {path}: {exc.strerror}") from None
    comments = tuple(
        line.lstrip("#").strip() for line in text.splitlines() if line.lstrip().startswith("#")
    )
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    lines = [(n, line) for n, line in lines if not line.lstrip().startswith("#")]
    if not lines:
        raise ScenarioError(f"replay file {path} has no header")
    rows = list(csv.reader([line for _, line in lines]))
    header = [h.strip() for h in rows[0]]
    key = header[0].lower()
    if key not in ("block", "timestamp"):
        raise ScenarioError(
            f"{path}:{lines[0][0]}: the first column must be `block` or `timestamp`, not "
            f"{header[0]!r}"
        )
    names = header[1:]
    if not names or any(not n for n in names) or len({n.lower() for n in names}) != len(names):
        raise ScenarioError(f"{path}:{lines[0][0]}: price columns need distinct names")
    xs: list[float] = []
    columns: dict[str, list[float]] = {n: [] for n in names}
    for (lineno, _), row in zip(lines[1:], rows[1:], strict=True):
        if len(row) != len(header):
            raise ScenarioError(f"{path}:{lineno}: {len(row)} fields, the header has {len(header)}")
        try:
            values = [float(cell) for cell in row]
        except ValueError:
            raise ScenarioError(f"{path}:{lineno}: a field is not a number") from None
        if not all(math.isfinite(v) for v in values):
            raise ScenarioError(f"{path}:{lineno}: a field is not a finite number")
        if xs and values[0] <= xs[-1]:
            raise ScenarioError(f"{path}:{lineno}: the {key} does not increase")
        if any(v <= 0 for v in values[1:]):
            raise ScenarioError(f"{path}:{lineno}: prices must be positive")
        xs.append(values[0])
        for name, value in zip(names, values[1:], strict=True):
            columns[name].append(value)
    if len(xs) < 2:
        raise ScenarioError(f"replay file {path} needs at least two rows")
    return Replay(str(path), key, tuple(xs), {n: tuple(v) for n, v in columns.items()}, comments)


def replay_blocks(replay: Replay, block_time: float, start: int, tail: int = 10) -> int:
    """Blocks that cover the whole file from block `start`, plus `tail` blocks after it."""
    step = 1 if replay.key == "block" else block_time
    return start + math.ceil(replay.span / step) + tail


# ------------------------------------------------------------------ paths


def paths(
    scenario: Scenario,
    pools: Sequence[str],
    seed: int,
    block_time: float,
    replay: Replay | None = None,
) -> dict[str, list[float]]:
    """Multipliers `m[0..blocks]` per pool (see the module docstring)."""
    scenario.validate(need_file=replay is None)
    if scenario.kind == "replay" and replay is None:
        replay = load_replay(scenario.file or "")
    out = {}
    for pool in pools:
        if not scenario.moves(pool):
            out[pool] = [1.0] * (scenario.blocks + 1)
            continue
        out[pool] = _path(scenario, pool, seed, block_time, replay)
    return out


def _path(
    s: Scenario, pool: str, seed: int, block_time: float, replay: Replay | None
) -> list[float]:
    n = s.blocks
    m = [1.0] * (n + 1)
    if s.kind == "drop":
        after = 1.0 - s.amount(s.drop, pool)
        for b in range(s.start, n + 1):
            m[b] = after
    elif s.kind == "staircase":
        total = s.amount(s.drop, pool)
        step = (1.0 - total) ** (1.0 / s.steps)
        level = 1.0
        for b in range(s.start, n + 1):
            k = b - s.start
            if k % s.step_every == 0 and k // s.step_every < s.steps:
                level *= step
            m[b] = level
    elif s.kind == "gbm":
        rng = random.Random(f"bulkhead-gbm:{seed}:{pool.lower()}")
        vol = s.amount(s.vol, pool)
        drop = s.amount(s.drop, pool)
        dt = block_time / SECONDS_PER_YEAR
        level = 1.0
        for b in range(s.start, n + 1):
            v = vol if s.regime is None else s.regime.vol_at(b, s.start, vol)
            jump = 0.0 if s.regime is None else s.regime.crash_step(b, s.start, drop)
            mu = (s.drift - v * v / 2) * dt
            level *= math.exp(mu + v * math.sqrt(dt) * rng.gauss(0.0, 1.0) + jump)
            m[b] = level
    else:
        assert replay is not None
        prices = replay.column_for(pool)
        if prices is None:
            return m
        step = 1.0 if replay.key == "block" else block_time
        first = prices[0]
        for b in range(s.start, n + 1):
            m[b] = replay.at(prices, replay.x[0] + (b - s.start) * step) / first
    return m
