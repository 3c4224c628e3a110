"""One picture of the system at one block, for the dashboard: each pool's state, health
histogram, positions nearest liquidation, liquidation ladder, keeper activity and risk,
and the savings vault. The pure parts (`histogram`, `ladder`, `nearest`) need no chain."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from web3 import Web3

from bulkhead import risk
from bulkhead.client import Client, Pool, Position, UserError
from bulkhead.monitor import book as book_mod
from bulkhead.monitor import risk_model
from bulkhead.monitor.risk_model import PoolRisk
from bulkhead.risk import MAX_UINT256, WAD
from bulkhead.vault import VaultStats, vault_stats

# health bins [wad, lower bound inclusive] with their labels
HEALTH_BINS: tuple[tuple[float, str], ...] = (
    (0.0, "<1"),
    (1.0, "1-1.1"),
    (1.1, "1.1-1.25"),
    (1.25, "1.25-1.5"),
    (1.5, "1.5-2"),
    (2.0, "2-3"),
    (3.0, ">=3"),
)
LADDER_DROPS = tuple(range(0, 61, 5))  # [%] price drops of the liquidation ladder
NEAREST = 8  # positions listed nearest liquidation
# what keepers do, by event name; read from whichever contract's ABI has the event
KEEPER_EVENTS = ("Liquidate", "AutoDeleverage", "Boost", "TopUp", "StopLoss")


def histogram(healths: Sequence[int]) -> list[tuple[str, int]]:
    """Positions with debt per health bin; `healths` [wad]."""
    counts = [0] * len(HEALTH_BINS)
    for h in healths:
        value = h / WAD
        index = max(i for i, (low, _) in enumerate(HEALTH_BINS) if value >= low)
        counts[index] += 1
    return [(label, n) for (_, label), n in zip(HEALTH_BINS, counts)]


def ladder(
    positions: Sequence[Position], price: int, threshold: int, scale: int
) -> list[tuple[int, int]]:
    """(drop [%], debt [wad] liquidatable at `price` x (1 - drop)) for each drop of
    `LADDER_DROPS`, with the pool's own test (`risk.is_liquidatable`)."""
    out = []
    for drop in LADDER_DROPS:
        at = price * (100 - drop) // 100
        debt = sum(
            p.debt
            for p in positions
            if risk.is_liquidatable(p.collateral, p.debt, at, threshold, scale)
        )
        out.append((drop, debt))
    return out


@dataclass(frozen=True)
class Nearest:
    id: int
    owner: str
    health: int  # [wad]
    liquidation_price: int  # [wad]
    distance: float | None  # share of the price it may still fall; negative when under


def nearest(positions: Sequence[Position], price: int | None, n: int = NEAREST) -> list[Nearest]:
    """The `n` positions with debt closest to liquidation, lowest health first."""
    with_debt = sorted(
        (p for p in positions if p.debt and p.health is not None), key=lambda p: (p.health, p.id)
    )
    return [
        Nearest(
            p.id,
            p.owner,
            p.health or 0,
            p.liquidation_price,
            1 - p.liquidation_price / price
            if price and p.liquidation_price < MAX_UINT256
            else None,
        )
        for p in with_debt[:n]
    ]


@dataclass(frozen=True)
class KeeperAction:
    block: int
    timestamp: int  # [seconds]
    kind: str  # the event's name
    position: int
    keeper: str
    bounty: float | None  # [USD] at the pool's price now; None when the event cannot say
    tx: str


@dataclass
class PoolView:
    name: str
    address: str
    price: int | None  # [wad] valid price
    feed_answer: int | None  # [wad]
    price_age: int | None  # [seconds]
    oracle: str
    paused: bool
    total_debt: int  # [wad]
    debt_ceiling: int  # [wad]
    reserve: int  # [wad]
    bad_debt: int  # [wad]
    positions: int
    with_debt: int
    liquidatable: int
    histogram: list[tuple[str, int]]
    nearest: list[Nearest]
    ladder: list[tuple[int, int]]
    actions: list[KeeperAction] = field(default_factory=list)
    risk: PoolRisk | None = None
    vol_source: str = ""
    risk_error: str = ""


@dataclass
class Snapshot:
    block: int
    timestamp: int  # [seconds] of the block
    chain_id: int
    pools: list[PoolView]
    vault: VaultStats | None
    keeper: dict[str, float] | None  # the keeper's metrics by name, when it answers
    keeper_note: str
    horizon: int  # [seconds]
    taken: float = field(default_factory=time.time)


class ActivityLog:
    """Keeper events per pool, read once: each call scans only the blocks not seen yet."""

    def __init__(self, client: Client):
        self.client = client
        self.next_block = client.deployment.deploy_block
        self.actions: dict[str, list[KeeperAction]] = {p.name: [] for p in client.pools()}
        self._times: dict[int, int] = {}
        self._sources = self._events()

    def _events(self) -> list[tuple[str, Any, bool]]:
        """(event name, contract, filter by `pool` argument) for each keeper event found."""
        found = []
        for name in KEEPER_EVENTS:
            for contract, by_pool in ((None, False), (self.client.automation, True)):
                abi = self.client.pools()[0].contract.abi if contract is None else contract.abi
                event = next((e for e in abi if e["type"] == "event" and e["name"] == name), None)
                if event is not None:
                    has_pool = any(i["name"] == "pool" for i in event["inputs"])
                    found.append((name, contract, by_pool and has_pool))
                    break
        return found

    def update(self, head: int, prices: dict[str, int | None]) -> None:
        if head < self.next_block:
            return
        for pool in self.client.pools():
            for name, contract, by_pool in self._sources:
                source = pool.contract if contract is None else contract
                event = getattr(source.events, name)
                filters = {"pool": pool.contract.address} if by_pool else None
                logs = event.get_logs(
                    from_block=self.next_block, to_block=head, argument_filters=filters
                )
                for log in logs:
                    if (
                        contract is None
                        or by_pool
                        or log["args"].get("pool") == pool.contract.address
                    ):
                        self.actions[pool.name].append(
                            self._action(pool, name, log, prices.get(pool.name))
                        )
        self.next_block = head + 1

    def _time(self, block: int) -> int:
        if block not in self._times:
            self._times[block] = self.client.w3.eth.get_block(block)["timestamp"]
        return self._times[block]

    def _action(self, pool: Pool, name: str, log: Any, price: int | None) -> KeeperAction:
        args = log["args"]
        keeper = args.get("keeper") or args.get("liquidator") or ""
        return KeeperAction(
            block=log["blockNumber"],
            timestamp=self._time(log["blockNumber"]),
            kind=name,
            position=int(args.get("id", 0)),
            keeper=keeper,
            bounty=bounty(name, args, price, pool.scale),
            tx=Web3.to_hex(log["transactionHash"]),
        )


def bounty(name: str, args: Any, price: int | None, scale: int) -> float | None:
    """What the keeper earned [USD], valuing collateral at `price` [wad]: collateral taken
    less bhUSD paid (liquidation, deleverage), bhUSD borrowed less collateral supplied
    (boost), the fee (top-up)."""
    if price is None:
        return None

    def worth(units: int) -> float:
        return risk.value(units, price, scale) / WAD

    if name == "Liquidate":
        return worth(args["collateral_out"]) - args["paid"] / WAD
    if name == "AutoDeleverage":
        return worth(args["collateral_out"]) - args["repaid"] / WAD
    if name == "Boost":
        return args["borrowed"] / WAD - worth(args["collateral_in"])
    if name == "TopUp":
        return worth(args["fee"])
    return None


@dataclass
class RiskSettings:
    horizon: int = 86_400  # [seconds]
    vols: dict[str, float] = field(default_factory=dict)  # lower-case pool name or "*"
    paths: int = 2_000
    steps: int = 48
    dist: str = "normal"
    df: float = 4.0
    seed: int = 0
    rounds: dict = field(default_factory=dict)  # the feeds' past rounds, read once


def pool_view(client: Client, pool: Pool, settings: RiskSettings, now: int) -> PoolView:
    """One pool at the latest block: the positions are read once (a lens page at a time)
    and serve the histogram, the ladder, the nearest list and the model's book."""
    c = pool.contract.functions
    params = client.params(pool)
    price, status = client.price_status(pool)
    answer, updated = client.feed_round(pool)
    positions = client.positions(pool)
    start = price if price is not None else answer  # the model starts from the feed's answer
    with_debt = [p for p in positions if p.debt]
    thr = params.liquidation_threshold
    healths = [
        risk.health(p.collateral, p.debt, start, thr, pool.scale) for p in with_debt if start
    ]  # none without any price
    reserve = c.reserve().call()
    view = PoolView(
        name=pool.name,
        address=pool.contract.address,
        price=price,
        feed_answer=answer,
        price_age=None if updated is None else max(now - updated, 0),
        oracle=status,
        paused=c.paused().call(),
        total_debt=c.total_debt().call(),
        debt_ceiling=params.debt_ceiling,
        reserve=reserve,
        bad_debt=c.bad_debt().call(),
        positions=len(positions),
        with_debt=len(with_debt),
        liquidatable=sum(1 for p in with_debt if p.liquidatable),
        histogram=histogram(healths),
        # at the feed's answer while the oracle guard refuses it (the client leaves health out)
        nearest=nearest([replace(p, health=h) for p, h in zip(with_debt, healths)], start),
        ladder=ladder(with_debt, start, thr, pool.scale) if start else [],
    )
    if not start:
        view.risk_error = f"no price to start from (oracle: {status})"
        return view
    try:
        given = settings.vols.get(pool.name.lower(), settings.vols.get("*"))
        vol = book_mod.pool_vol(
            client, pool, given, now, fallback=book_mod.DEFAULT_VOL, cache=settings.rounds
        )
        rows = [(p.id, p.owner, p.collateral, p.debt) for p in with_debt]
        book = risk_model.make_book(
            pool.name, start, rows, params, pool.scale, reserve, settings.horizon
        )
        view.risk = risk_model.simulate(
            book, vol.vol, settings.horizon, settings.paths, settings.steps, settings.dist,
            settings.df, settings.seed,
        )  # fmt: skip
        view.vol_source = vol.source
    except (UserError, risk_model.RiskModelError) as exc:  # the panel says why
        view.risk_error = str(exc)
    return view


def take(
    client: Client,
    settings: RiskSettings,
    activity: ActivityLog | None = None,
    keeper: tuple[dict[str, float] | None, str] = (None, ""),
) -> Snapshot:
    """The whole picture at the latest block."""
    head = client.w3.eth.get_block("latest")
    pools = [pool_view(client, p, settings, head["timestamp"]) for p in client.pools()]
    if activity is not None:
        activity.update(head["number"], {v.name: v.price or v.feed_answer for v in pools})
        for view in pools:
            view.actions = list(activity.actions[view.name])
    try:
        vault = vault_stats(client.w3, client.deployment)
    except Exception:  # noqa: BLE001 - a vault that cannot be read leaves its panel empty
        vault = None
    return Snapshot(
        block=head["number"],
        timestamp=head["timestamp"],
        chain_id=client.deployment.chain_id,
        pools=pools,
        vault=vault,
        keeper=keeper[0],
        keeper_note=keeper[1],
        horizon=settings.horizon,
    )
