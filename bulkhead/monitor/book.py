"""What the risk model needs from the chain: each pool's book, price, reserve and the
feed's recent rounds (`getRoundData`), read through `bulkhead.client.Client`; and the risk report built
from them (the library function behind `bulkhead risk report` and the dashboard's panel)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bulkhead.client import Client, Pool, UserError
from bulkhead.monitor import risk_model
from bulkhead.monitor.risk_model import Book, PoolRisk
from bulkhead.risk import WAD

VOL_LOOKBACK = 30 * 86_400  # [seconds] feed rounds older than this are not used
DEFAULT_VOL = 0.8  # [per year] the dashboard's assumption when the feed has too few rounds


MAX_FEED_ROUNDS = 2_000  # most rounds read back per feed
RoundCache = dict[tuple[str, int], tuple[int, float]]  # (feed, round id) -> (time, answer)


def feed_rounds(
    client: Client, pool: Pool, since: int = 0, cache: RoundCache | None = None
) -> list[tuple[int, float]]:
    """The feed's rounds `(updated_at [seconds], answer [USD])` since `since`, oldest first.

    Walks back from the latest round with `getRoundData` (as a Chainlink feed keeps them;
    past rounds never change, so `cache` keeps them between calls), at most
    `MAX_FEED_ROUNDS`; a feed without round history gives its `AnswerUpdated` events."""
    feed = pool.feed.functions
    decimals = feed.decimals().call()
    try:
        latest, answer, _started, updated, _ = feed.latestRoundData().call()
    except Exception:  # noqa: BLE001 - a feed that reverts: its logs still tell its rounds
        return _logged_rounds(client, pool, since, decimals)
    rounds = [(int(updated), answer / 10**decimals)] if updated >= since else []
    cache = {} if cache is None else cache
    round_id = latest - 1
    while rounds and round_id > 0 and len(rounds) < MAX_FEED_ROUNDS:
        key = (pool.feed.address, round_id)
        if key not in cache:
            try:
                _, answer, _started, updated, _ = feed.getRoundData(round_id).call()
            except Exception:  # noqa: BLE001 - no history (or the start of a phase)
                if len(rounds) == 1 and round_id == latest - 1:
                    return _logged_rounds(client, pool, since, decimals)
                break
            cache[key] = (int(updated), answer / 10**decimals)
        if cache[key][0] < since:
            break
        rounds.append(cache[key])
        round_id -= 1
    return sorted(rounds)


def _logged_rounds(
    client: Client, pool: Pool, since: int, decimals: int
) -> list[tuple[int, float]]:
    logs = pool.feed.events.AnswerUpdated.get_logs(from_block=client.deployment.deploy_block)
    return sorted(
        (int(log["args"]["updatedAt"]), log["args"]["current"] / 10**decimals)
        for log in logs
        if int(log["args"]["updatedAt"]) >= since
    )


@dataclass(frozen=True)
class VolEstimate:
    vol: float  # [per year]
    source: str  # "given", "feed: N rounds", "assumed (...)"


def pool_vol(
    client: Client,
    pool: Pool,
    given: float | None,
    now: int,
    fallback: float | None = None,
    cache: RoundCache | None = None,
) -> VolEstimate:
    """`given`, else the feed's realised volatility over `VOL_LOOKBACK`, else `fallback`;
    UserError when there is none of the three."""
    if given is not None:
        return VolEstimate(given, "given")
    rounds = feed_rounds(client, pool, since=now - VOL_LOOKBACK, cache=cache)
    vol = risk_model.realised_vol(rounds, now)
    if vol is not None and vol > risk_model.MAX_VOL:
        raise UserError(
            f"pool {pool.name}: the feed's {len(rounds)} rounds over {now - rounds[0][0]} s "
            f"give a volatility of {vol:.0%} a year, beyond any market (a local chain moved "
            f"by hand?); give it with --vol (e.g. --vol {pool.name}=80%)"
        )
    if vol is not None:
        return VolEstimate(vol, f"feed: {len(rounds)} rounds")
    if fallback is not None:
        return VolEstimate(fallback, f"assumed ({len(rounds)} feed rounds)")
    raise UserError(
        f"pool {pool.name}: {len(rounds)} feed round(s) in the last {VOL_LOOKBACK // 86_400} "
        f"days, at least {risk_model.MIN_RETURNS + 1} are needed to estimate its volatility; "
        f"give it with --vol (e.g. --vol 80% or --vol {pool.name}=80%)"
    )


def pool_price(client: Client, pool: Pool) -> tuple[int, str]:
    """The price [wad] the model starts from, and what it is: the pool's valid price, or
    the feed's latest answer while the pool's oracle guard refuses it."""
    price, status = client.price_status(pool)
    if price is not None:
        return price, "ok"
    answer, _ = client.feed_round(pool)
    if answer is None or answer <= 0:
        raise UserError(f"pool {pool.name}: no price to start from (oracle: {status})")
    return answer, f"feed answer (oracle: {status})"


def read_book(client: Client, pool: Pool, horizon: float) -> Book:
    """The pool's book as of the latest block, debts grown to `horizon` [seconds]."""
    price, _ = pool_price(client, pool)
    positions = [(p.id, p.owner, p.collateral, p.debt) for p in client.positions(pool)]
    return risk_model.make_book(
        pool.name,
        price,
        positions,
        client.params(pool),
        pool.scale,
        pool.contract.functions.reserve().call(),
        horizon,
    )


@dataclass(frozen=True)
class PoolReport:
    risk: PoolRisk
    vol_source: str
    price: float  # [USD]
    price_source: str
    book: Book


def risk_report(
    client: Client,
    pools: list[Pool],
    horizon: float,
    vols: Mapping[str, float] | None = None,
    paths: int = risk_model.DEFAULT_PATHS,
    steps: int = risk_model.DEFAULT_STEPS,
    dist: str = "normal",
    df: float = 4.0,
    seed: int | None = 0,
    fallback_vol: float | None = None,
) -> list[PoolReport]:
    """The model run for each of `pools`; `vols` by pool name (lower case) or `*` for all."""
    vols = {k.lower(): v for k, v in (vols or {}).items()}
    for given_vol in [*vols.values(), 0.0]:  # before any chain call
        risk_model.check_inputs(given_vol, horizon, paths, steps, dist, df)
    now = client.w3.eth.get_block("latest")["timestamp"]
    reports = []
    for pool in pools:
        given = vols.get(pool.name.lower(), vols.get("*"))
        vol = pool_vol(client, pool, given, now, fallback_vol)
        price, price_source = pool_price(client, pool)
        book = read_book(client, pool, horizon)
        result = risk_model.simulate(book, vol.vol, horizon, paths, steps, dist, df, seed)
        reports.append(PoolReport(result, vol.source, price / WAD, price_source, book))
    return reports


def report_json(report: PoolReport, top: int | None = None) -> dict[str, Any]:
    """One pool's report as JSON data (probabilities as fractions, amounts in bhUSD)."""
    r, book = report.risk, report.book
    owners = dict(zip(book.ids.tolist(), book.owners))
    liq = dict(zip(book.ids.tolist(), book.liquidation_price.tolist()))
    rows = r.positions()[:top] if top is not None else r.positions()
    return {
        "pool": r.pool,
        "price": report.price,
        "price_source": report.price_source,
        "vol": r.vol,
        "vol_source": report.vol_source,
        "horizon_s": r.horizon,
        "paths": r.paths,
        "steps": r.steps,
        "dist": r.dist,
        "df": r.df,
        "positions_with_debt": book.size,
        "p_any_liquidation": r.p_any,
        "expected_liquidations": r.expected_liquidations,
        "expected_positions_liquidated": r.expected_positions_liquidated,
        "expected_bad_debt": r.expected_bad_debt,
        "reserve": r.reserve,
        "var_99": r.var,
        "es_99": r.es,
        "positions": [
            {
                "id": pid,
                "owner": owners[pid],
                "liquidation_price": liq[pid],
                "p_liquidation": p,
            }
            for pid, p in rows
        ],
    }
