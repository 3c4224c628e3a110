"""The demo's summary: per pool, the keeper's work, and bhUSD's accounting identity checked
on chain; `render` prints it.
"""

from __future__ import annotations

from decimal import Decimal

from web3.logs import DISCARD

from bulkhead import fmt
from bulkhead.accounting import PoolBook, check
from bulkhead.demo import controls
from bulkhead.demo.context import (
    DemoContext,
)
from bulkhead.risk import WAD


def accounting(ctx: DemoContext) -> dict:
    """bhUSD's accounting identity, on chain: supply + reserves == debts + bad debts.

    Each pool accrues first; its debt is its total normalised debt times the rate of that
    accrual (from its `Accrue` event), so no second of interest sits outside the reserve.
    """
    books = []
    for pool in ctx.c.pools():
        c = pool.contract
        receipt = ctx.admin.transact(c.functions.accrue())
        events = c.events.Accrue().process_receipt(receipt, errors=DISCARD)
        if events:
            rate = int(events[-1]["args"]["rate"])
        else:  # accrued earlier in this same second: the latest Accrue event holds the rate
            logs = c.events.Accrue().get_logs(from_block=ctx.deployed.deploy_block)
            rate = int(logs[-1]["args"]["rate"]) if logs else WAD
        count = c.functions.position_count().call()
        norm = sum(c.functions.normalised_debt_of(i).call() for i in range(1, count + 1))
        reserve, bad = c.functions.reserve().call(), c.functions.bad_debt().call()
        books.append(PoolBook(norm, rate, reserve, bad, count + 1))
    acc = check(ctx.c.stablecoin.functions.totalSupply().call(), books)
    return {
        "supply": fmt.exact(acc.supply, 18),
        "reserves": fmt.exact(acc.reserves, 18),
        "debts": fmt.exact(acc.debts, 18),
        "bad_debt": fmt.exact(acc.bad_debt, 18),
        "gap_wei": acc.gap,
        "tolerance_wei": acc.tolerance,
        "ok": acc.ok,
    }


def summarize(ctx: DemoContext) -> dict:
    """Per pool: positions, debt, lowest health, and what moved."""
    pools = []
    for pool in ctx.c.pools():
        s = ctx.c.pool_state(pool, lowest=1)
        lowest = s["lowest"][0] if s["lowest"] else None
        pools.append(
            {
                "name": pool.name,
                "price_before": fmt.exact(ctx.prices_before.get(pool.name, 0), 18),
                "price": fmt.exact(s["price"], 18) if s["price"] is not None else None,
                "oracle": s["oracle"],
                "positions": s["positions"],
                "collateral": fmt.exact(s["total_collateral"], pool.decimals),
                "debt": fmt.exact(s["total_debt"], 18),
                "lowest_health": fmt.health_json(lowest.health) if lowest else None,
                "lowest_health_id": lowest.id if lowest else None,
                "liquidatable": s["liquidatable"],
                "reserve": fmt.exact(s["reserve"], 18),
                "bad_debt": fmt.exact(s["bad_debt"], 18),
            }
        )
    return {
        "chain_id": ctx.c.deployment.chain_id,
        "borrowers": len({p.owner for p in ctx.positions}),
        "planned": len(ctx.positions),
        "positions": sum(p["positions"] for p in pools),
        "pools": pools,
        "accounting": accounting(ctx),
        "notes": ctx.notes,
        **ctx.extra,
    }


def render(summary: dict) -> str:
    """The summary as the demo prints it."""
    lines = []
    if summary.get("pools"):
        rows = []
        for p in summary["pools"]:
            before = Decimal(p["price_before"])
            now = Decimal(p["price"]) if p["price"] is not None else None
            move = f"{(now / before - 1) * 100:+.1f}%" if now and before else "?"
            rows.append(
                [
                    p["name"],
                    f"{fmt.price(int(now * WAD))} ({move})" if now else f"? ({p['oracle']})",
                    str(p["positions"]),
                    fmt.usd(int(Decimal(p["debt"]) * WAD)),
                    f"{Decimal(p['lowest_health']):.3f} (#{p['lowest_health_id']})"
                    if p["lowest_health"]
                    else "-",
                    str(p["liquidatable"]),
                    fmt.usd(int(Decimal(p["reserve"]) * WAD)),
                    fmt.usd(int(Decimal(p["bad_debt"]) * WAD)),
                ]
            )
        headers = [
            "pool",
            "price [USD]",
            "positions",
            "debt [bhUSD]",
            "lowest health",
            "liquidatable",
            "reserve",
            "bad debt",
        ]
        lines.append(fmt.table(headers, rows))
        lines.append(
            f"{summary['positions']} positions ({summary['planned']} of {summary['borrowers']} "
            f"borrowers) on chain id {summary['chain_id']}"
        )
    acc = summary.get("accounting")
    if acc:
        verdict = "holds" if acc["ok"] else "BROKEN"
        lines.append(
            f"accounting: bhUSD supply {fmt.usd(int(Decimal(acc['supply']) * WAD))} + reserves "
            f"{fmt.usd(int(Decimal(acc['reserves']) * WAD))} = debts "
            f"{fmt.usd(int(Decimal(acc['debts']) * WAD))} + bad debt "
            f"{fmt.usd(int(Decimal(acc['bad_debt']) * WAD))}: {verdict} "
            f"(gap {acc['gap_wei']} wei)"
        )
    k = summary.get("keeper")
    if k:
        rows = []
        for p in summary.get("pools", []):
            done = k["pools"].get(p["name"], {})
            rows.append(
                [
                    p["name"],
                    str(done.get("liquidate", 0)),
                    str(
                        sum(done.get(k, 0) for k in ("deleverage", "top_up", "boost", "stop_loss"))
                    ),
                    f"{Decimal(str(done.get('bounty_usd', 0))):,.2f}",
                    fmt.usd(int(Decimal(p["bad_debt"]) * WAD)),
                    f"{Decimal(p['lowest_health']):.3f}" if p["lowest_health"] else "-",
                ]
            )
        headers = [
            "pool",
            "liquidations",
            "protections",
            "bounty [USD]",
            "bad debt",
            "lowest health",
        ]
        stops = k.get("stop_losses", 0)
        lines.append("keeper, after the crash:")
        lines.append(fmt.table(headers, rows, right={1, 2, 3, 4, 5}))
        lines.append(
            f"keeper: {k['liquidations']} liquidations, {k['deleverages']} deleverages, "
            f"{k['top_ups']} top-ups, {k['boosts']} boosts, "
            f"{stops} stop-loss{'' if stops == 1 else 'es'}; bounty "
            f"{Decimal(str(k['bounty_usd']['total'])):,.2f} USD for "
            f"{Decimal(str(k['gas_spent_usd'])):,.2f} USD of gas; left liquidatable: "
            f"{sum(len(v) for v in k['left_liquidatable'].values())}"
        )
    vault = summary.get("vault")
    if vault and "share_price" in vault:
        rose = Decimal(vault["share_price"]) > Decimal(vault["share_price_before"])
        lines.append(
            f"savings vault: share price {Decimal(vault['share_price_before']):.6f} -> "
            f"{Decimal(vault['share_price']):.6f} bhUSD after {fmt.usd(int(Decimal(vault['swept']) * WAD))} "
            f"bhUSD of fees ({'rose' if rose else 'DID NOT RISE'})"
        )

    lines += controls.render(summary)
    lines += summary.get("notes", [])
    for step in summary.get("steps", []):
        if step.get("error"):
            lines.append(f"step {step['name']!r} failed: {step['error']}")
    lines.append(
        f"demo {'finished' if summary.get('ok') else 'FAILED'} in {summary.get('seconds', 0):.1f} s"
    )
    return "\n".join(lines)
