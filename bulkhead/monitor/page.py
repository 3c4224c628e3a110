"""The dashboard's HTML: `document` is the whole page, `body` the part that every update
replaces. Everything is rendered here (SVG included); the page's only script is the dozen
lines below that swap in each server-sent update. Elements carry `data-testid` names that
the browser test reads."""

from __future__ import annotations

import time
from html import escape

from bulkhead.monitor import svg
from bulkhead.monitor.snapshot import PoolView, Snapshot
from bulkhead.risk import MAX_UINT256, WAD

KIND_WORDS = {
    "Liquidate": "liquidation",
    "AutoDeleverage": "deleverage",
    "Boost": "boost",
    "TopUp": "top-up",
    "StopLoss": "stop-loss",
}


def _usd(wad: int | float, places: int = 2) -> str:
    return f"{wad / WAD:,.{places}f}"


def _price(wad: int | None) -> str:
    if wad is None:
        return "?"
    value = wad / WAD
    return f"{value:,.2f}" if value >= 100 else f"{value:,.4f}"


def _pct(p: float) -> str:
    if p == 0:
        return "0%"
    if p < 0.0001:
        return "&lt;0.01%"
    return f"{p:.2%}"


def _duration(seconds: int) -> str:
    if seconds % 86_400 == 0:
        return f"{seconds // 86_400} d"
    if seconds % 3_600 == 0:
        return f"{seconds // 3_600} h"
    return f"{seconds // 60} min"


def _short(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}" if len(address) > 12 else address


def _row(cells: list[str], attrs: str = "") -> str:
    return f"<tr{attrs}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _table(headers: list[str], rows: list[str], testid: str, empty: str) -> str:
    if not rows:
        return f'<p class="muted" data-testid="{testid}-empty">{escape(empty)}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return f'<table data-testid="{testid}"><thead><tr>{head}</tr></thead>{"".join(rows)}</table>'


def _pool_head(p: PoolView) -> str:
    ok = p.price is not None
    status = escape(p.oracle + (", paused" if p.paused else ""))
    use = p.total_debt / p.debt_ceiling if p.debt_ceiling else 0.0
    stats = [
        ("debt / ceiling", f"{_usd(p.total_debt)} / {_usd(p.debt_ceiling, 0)} "
         f"({use:.2%}) {svg.meter(use)}", "debt"),
        ("reserve", f"{_usd(p.reserve)} bhUSD", "reserve"),
        ("bad debt", f"{_usd(p.bad_debt)} bhUSD", "bad-debt"),
        ("positions", f"{p.positions} ({p.with_debt} with debt, {p.liquidatable} liquidatable)",
         "positions"),
    ]  # fmt: skip
    items = "".join(
        f'<div class="stat"><span class="k">{k}</span>'
        f'<span class="v" data-testid="{t}">{v}</span></div>'
        for k, v, t in stats
    )
    age = f"feed updated {p.price_age} s ago" if p.price_age is not None else ""
    return (
        f'<header><h2>{escape(p.name)}</h2><span class="price" data-testid="price">'
        f"{_price(p.price if ok else p.feed_answer)}</span> USD "
        f'<span class="badge {"ok" if ok else "bad"}" data-testid="oracle">{status}</span>'
        f'<span class="muted">{escape(age)}</span></header><div class="stats">{items}</div>'
    )


def _nearest(p: PoolView) -> str:
    rows = [
        _row(
            [
                str(n.id),
                f'<span title="{escape(n.owner)}">{escape(_short(n.owner))}</span>',
                f"{n.health / WAD:.3f}",
                _price(n.liquidation_price) if n.liquidation_price < MAX_UINT256 else "-",
                f"{n.distance:.2%}" if n.distance is not None else "-",
            ],
            f' data-testid="near-{n.id}"' + (' class="under"' if n.health < WAD else ""),
        )
        for n in p.nearest
    ]
    return _table(
        ["id", "owner", "health", "liq. price", "distance"], rows, "nearest", "no positions"
    )


def _ladder(p: PoolView) -> str:
    if not p.ladder:
        return '<p class="muted">no price: no ladder</p>'
    labels = [f"-{d}%" if d else "0%" for d, _ in p.ladder]
    values = [debt / WAD for _, debt in p.ladder]
    chart = svg.bars(labels, values, title="debt liquidatable by price drop", unit=" bhUSD")
    rows = "".join(
        f'<tr data-testid="ladder-{d}"><td>-{d}%</td><td>{_usd(debt)}</td></tr>'
        for d, debt in p.ladder
    )
    return (
        f'{chart}<details><summary>table</summary><table data-testid="ladder">'
        f"<thead><tr><th>drop</th><th>debt [bhUSD]</th></tr></thead>{rows}</table></details>"
    )


def _histogram(p: PoolView) -> str:
    colors = [svg.BAD, svg.WARN] + [svg.BAR] * (len(p.histogram) - 2)
    return svg.bars(
        [label for label, _ in p.histogram],
        [n for _, n in p.histogram],
        colors,
        title="positions by health",
    )


def _risk(p: PoolView, horizon: int) -> str:
    if p.risk is None:
        return f'<p class="muted" data-testid="risk-error">{escape(p.risk_error or "-")}</p>'
    r = p.risk
    cells = [
        ("P(any liquidation)", _pct(r.p_any), "p-any"),
        ("E[liquidations]", f"{r.expected_liquidations:.3f}", "e-liq"),
        ("VaR 99 %", f"{r.var:,.2f} bhUSD", "var"),
        ("ES 99 %", f"{r.es:,.2f} bhUSD", "es"),
    ]
    items = "".join(
        f'<div class="stat"><span class="k">{k}</span><span class="v" data-testid="{t}">{v}'
        f"</span></div>"
        for k, v, t in cells
    )
    top = [(pid, pr) for pid, pr in r.positions()[:5]]
    rows = "".join(
        f'<tr data-testid="p-liq-{pid}"><td>{pid}</td><td>{_pct(pr)}</td></tr>' for pid, pr in top
    )
    note = (
        f"{_duration(horizon)} horizon, vol {r.vol:.0%} ({escape(p.vol_source)}), "
        f"{r.paths:,} paths, {r.dist}; VaR/ES of bad debt after the reserve"
    )
    table = (
        f'<table data-testid="p-liq"><thead><tr><th>id</th><th>P(liquidation)</th></tr></thead>'
        f"{rows}</table>"
        if rows
        else ""
    )
    return f'<div class="stats">{items}</div>{table}<p class="muted">{note}</p>'


def _activity(p: PoolView) -> str:
    counts: dict[str, int] = {}
    for a in p.actions:
        counts[a.kind] = counts.get(a.kind, 0) + 1
    total = sum(a.bounty or 0 for a in p.actions)
    summary = ", ".join(f"{n} {KIND_WORDS.get(k, k)}" for k, n in counts.items()) or "none yet"
    points, running = [], 0.0
    for a in p.actions:
        running += max(a.bounty or 0.0, 0.0)
        points.append((float(a.timestamp), running))
    rows = [
        _row(
            [
                time.strftime("%H:%M:%S", time.gmtime(a.timestamp)),
                KIND_WORDS.get(a.kind, a.kind),
                str(a.position),
                escape(_short(a.keeper)),
                f"{a.bounty:,.2f}" if a.bounty is not None else "-",
            ]
        )
        for a in reversed(p.actions[-6:])
    ]
    return (
        f'<p data-testid="activity">{escape(summary)}; bounties {total:,.2f} USD</p>'
        f"{svg.steps(points, title='cumulative bounty [USD]')}"
        f"{_table(['time (UTC)', 'action', 'id', 'keeper', 'bounty [USD]'], rows, 'actions', '')}"
    )


def _pool(p: PoolView, horizon: int) -> str:
    panels = [
        ("health", _histogram(p)),
        ("nearest liquidation", _nearest(p)),
        ("debt at risk by price drop", _ladder(p)),
        (f"risk over {_duration(horizon)}", _risk(p, horizon)),
        ("keeper activity", _activity(p)),
    ]
    body = "".join(f"<section><h3>{k}</h3>{v}</section>" for k, v in panels)
    return (
        f'<article class="pool" data-testid="pool-{escape(p.name)}">{_pool_head(p)}{body}</article>'
    )


def _vault(s: Snapshot) -> str:
    v = s.vault
    if v is None:
        return '<p class="muted">savings vault not readable</p>'
    left = max(v.unlock_end - s.timestamp, 0)
    stream = (
        f"{_usd(v.locked)} bhUSD streaming, {left // 3600} h {left % 3600 // 60} min left"
        if v.locked
        else "nothing streaming"
    )
    apy = "-" if v.apy_1d is None else f"{v.apy_1d:.2%}"
    return (
        f'<div class="stats"><div class="stat"><span class="k">share price</span>'
        f'<span class="v" data-testid="share-price">{v.share_price / WAD:.6f}</span></div>'
        f'<div class="stat"><span class="k">total assets</span><span class="v">'
        f"{_usd(v.total_assets)} bhUSD</span></div>"
        f'<div class="stat"><span class="k">stream</span><span class="v" data-testid="stream">'
        f"{stream} (period {_duration(v.stream_period)})</span></div>"
        f'<div class="stat"><span class="k">APY (1 day)</span><span class="v">{apy}</span></div>'
        "</div>"
    )


KEEPER_SHOWN = (
    ("up", "bulkhead_keeper_up"),
    ("cycles", "bulkhead_keeper_cycles_total"),
    ("transactions", "bulkhead_keeper_txs_sent_total"),
    ("gas [USD]", "bulkhead_keeper_gas_spent_usd_total"),
    ("uptime [s]", "bulkhead_keeper_uptime_seconds"),
)


def _keeper(s: Snapshot) -> str:
    if s.keeper is None:
        return f'<p class="muted" data-testid="keeper">{escape(s.keeper_note)}</p>'
    m = s.keeper
    actions = sum(v for k, v in m.items() if k.startswith("bulkhead_keeper_actions_total"))
    bounty = sum(v for k, v in m.items() if k.startswith("bulkhead_keeper_bounty_usd_total"))
    cells = [(label, m.get(name)) for label, name in KEEPER_SHOWN]
    cells += [("actions", actions), ("bounty [USD]", bounty)]
    items = "".join(
        f'<div class="stat"><span class="k">{k}</span><span class="v">'
        f"{'-' if v is None else f'{v:,.0f}' if v == int(v) else f'{v:,.2f}'}</span></div>"
        for k, v in cells
    )
    return f'<div class="stats" data-testid="keeper">{items}</div>'


def body(s: Snapshot) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(s.timestamp))
    pools = "".join(_pool(p, s.horizon) for p in s.pools)
    return (
        f'<div class="bar">chain {s.chain_id} · block <b data-testid="block">{s.block}</b> · '
        f"{stamp} UTC</div>"
        f'<div class="row"><article class="wide"><h3>savings vault</h3>{_vault(s)}</article>'
        f'<article class="wide"><h3>keeper</h3>{_keeper(s)}</article></div>'
        f'<div class="pools">{pools}</div>'
    )


STYLE = """
body{margin:0;font:13px/1.4 system-ui,sans-serif;background:#0f131a;color:#e6e9ef}
h1{font-size:18px;margin:0} h2{display:inline;font-size:17px;margin-right:8px}
h3{font-size:12px;text-transform:uppercase;letter-spacing:.05em;color:#8a94a6;margin:12px 0 4px}
.top{display:flex;gap:12px;align-items:center;padding:10px 16px;background:#151b24}
.bar{padding:6px 16px;color:#8a94a6}
.row,.pools{display:flex;flex-wrap:wrap;gap:12px;padding:0 16px 12px}
article{background:#151b24;border:1px solid #232b38;border-radius:8px;padding:10px 12px}
.pool{flex:1 1 420px;max-width:560px} .wide{flex:1 1 420px}
.stats{display:flex;flex-wrap:wrap;gap:6px 16px}.stat{display:flex;flex-direction:column}
.k{color:#8a94a6;font-size:11px}.v{font-variant-numeric:tabular-nums}
.price{font-size:17px;font-variant-numeric:tabular-nums}
.badge{border-radius:8px;padding:1px 8px;margin:0 6px;font-size:11px}
.ok{background:#163d2a;color:#5fd68b}.bad{background:#4a1c1f;color:#ff8a8f}
.muted{color:#8a94a6} table{border-collapse:collapse;width:100%;margin-top:4px}
td,th{padding:2px 6px;text-align:right;font-variant-numeric:tabular-nums}
th{color:#8a94a6;font-weight:normal;border-bottom:1px solid #232b38}
tr.under td{color:#ff8a8f} .dot{width:8px;height:8px;border-radius:4px;background:#5fd68b}
.stale .dot{background:#e5484d} summary{color:#8a94a6;cursor:pointer}
"""

SCRIPT = """
const root = document.getElementById('root');
const live = document.getElementById('live');
window.bulkheadUpdates = 0;
const source = new EventSource('/events');
source.addEventListener('snapshot', (e) => {
  root.innerHTML = e.data;
  window.bulkheadUpdates += 1;
  live.className = 'live';
  live.title = 'live: updated ' + new Date().toLocaleTimeString();
});
source.onerror = () => { live.className = 'live stale'; live.title = 'reconnecting'; };
"""


def document(first: str, title: str = "Bulkhead") -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
        f'</title><meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<style>{STYLE}</style></head><body>"
        f'<div class="top"><h1>Bulkhead</h1><span id="live" class="live" title="live">'
        f'<span class="dot" style="display:inline-block"></span></span>'
        f'<span class="muted">risk dashboard</span></div>'
        f'<main id="root">{first}</main><script>{SCRIPT}</script></body></html>'
    )
