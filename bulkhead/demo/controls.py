"""`bulkhead demo`'s steps for the pool controls and the stop-loss (`bulkhead.demo` runs them):

    stop loss     a borrower opens one more WETH position and sets a stop-loss at
                  2,300 USD (fee 1 %); the keeper closes it when the crash gets there
    pause         governance pauses VOL before the crash: no new debt, no liquidation;
                  repays, deposits and owners' rules go on
    grace window  after the crash governance unpauses VOL: liquidations wait for the pool's
                  grace period (1,800 s in the default config) and the keeper says so; the
                  demo moves its node's clock past the window (`evm_increaseTime`) and the
                  keeper liquidates what waited

`check` (run by the verify step) reads the outcome back from the chain: the stop-loss's
event (the keeper got at most debt x (1 + fee) worth of collateral at the oracle price, the
owner the rest) and that no VOL liquidation came before the window's end.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bulkhead import fmt, risk
from bulkhead.chain import Sender
from bulkhead.demo.context import DemoContext, DemoError, _rpc, _run_keeper
from bulkhead.risk import BPS, WAD

STOP_LOSS_POOL = "WETH"
STOP_LOSS_PRICE = Decimal(2_300)  # [USD] WETH: 2,640 after the drop, 2,234.50 after crash step 2
STOP_LOSS_FEE = 100  # [bps]
STOP_LOSS_COLLATERAL = Decimal(5)  # [WETH]
STOP_LOSS_LEVERAGE = 500  # [per mille] of the borrow limit
PAUSED_POOL = "VOL"
RULE_KINDS = ("stop_loss", "deleverage", "top_up", "boost")


def step_stop_loss(ctx: DemoContext) -> None:
    """The first borrower opens one more WETH position and sets a stop-loss on it."""
    c = ctx.c
    pool = c.pool(STOP_LOSS_POOL)
    owner = Sender(ctx.w3, ctx.borrowers[0])
    collateral = int(STOP_LOSS_COLLATERAL * 10**pool.decimals)
    price = c.valid_price(pool, "open a position")
    debt = risk.max_debt(collateral, price, c.borrow_ltv(pool), pool.scale)
    debt = debt * STOP_LOSS_LEVERAGE // 1000
    debt -= debt % 10**16  # whole cents of bhUSD
    c.faucet(owner, pool, owner.address, collateral)
    position_id = c.open(owner, pool, collateral, debt)
    stop = int(STOP_LOSS_PRICE * WAD)
    c.set_stop_loss(owner, pool, position_id, stop, STOP_LOSS_FEE)
    ctx.extra["stop_loss"] = {
        "pool": pool.name,
        "id": position_id,
        "owner": owner.address,
        "stop_price": fmt.exact(stop, 18),
        "max_fee_bps": STOP_LOSS_FEE,
        "collateral": fmt.exact(collateral, pool.decimals),
        "debt": fmt.exact(debt, 18),
    }
    ctx.log(
        f"  {owner.address} opens {pool.name} #{position_id}: {pool.coll(collateral)}, "
        f"{fmt.usd(debt)} bhUSD of debt, with a stop-loss at {fmt.price(stop)} USD "
        f"(fee {fmt.bps(STOP_LOSS_FEE)}): any keeper may close it there"
    )


def step_pause(ctx: DemoContext) -> None:
    """Governance pauses one pool before the crash (a circuit breaker)."""
    pool = ctx.c.pool(PAUSED_POOL)
    ctx.c.set_paused(ctx.admin, pool, True)
    block = ctx.w3.eth.get_block("latest")
    ctx.extra["grace"] = {
        "pool": pool.name,
        "paused_block": block["number"],
        "paused_at": block["timestamp"],
        "rules_before": _rules_done(ctx, pool.name),
    }
    ctx.log(
        f"  governance pauses {pool.name} before the crash: no new debt and no liquidation; "
        "repays, deposits and owners' rules go on"
    )


def step_grace_window(ctx: DemoContext) -> None:
    """Governance unpauses the pool; the keeper waits out the grace window, then liquidates."""
    c = ctx.c
    pool = c.pool(PAUSED_POOL)
    grace = ctx.extra["grace"]
    held = _liquidatable(pool)
    c.set_paused(ctx.admin, pool, False)
    controls = c.controls(pool)
    block = ctx.w3.eth.get_block("latest")
    now = block["timestamp"]
    grace.update(
        {
            "unpaused_at": now,
            "grace_period": controls.grace_period,
            "grace_end": controls.grace_end,
            "held": len(held),
        }
    )
    ctx.log(
        f"  governance unpauses {pool.name} with {len(held)} positions liquidatable: "
        f"liquidations wait {controls.grace_period} s, until {fmt.timestamp(controls.grace_end)}"
    )
    _run_keeper(ctx)
    if pool.contract.events.Liquidate().get_logs(from_block=block["number"]):
        raise DemoError(f"{pool.name} positions were liquidated inside the grace window")
    grace["rules_in_window"] = _rules_done(ctx, pool.name) - grace["rules_before"]
    ahead = max(controls.grace_end - ctx.w3.eth.get_block("latest")["timestamp"], 0)
    _rpc(ctx, "evm_increaseTime", [ahead])
    _rpc(ctx, "evm_mine", [])
    ctx.log(f"  the node's clock moves {ahead} s ahead (evm_increaseTime): the window is over")
    _run_keeper(ctx)


def keeper_log(ctx: DemoContext) -> Any:
    """The demo keeper's log: what it says about closed pools and stop-losses, as lines."""

    def log(event: str, **f: Any) -> None:
        if event == "pool_paused":
            ctx.log(f"  keeper: {f['pool']} is paused; its liquidations wait")
        elif event == "grace_window":
            ctx.log(
                f"  keeper: {f['pool']} is in its grace window until {f['ends_at']} "
                f"({f['seconds_left']} s): no liquidation there until then"
            )
        elif event == "liquidations_open":
            ctx.log(f"  keeper: {f['pool']}'s liquidations are open again")
        elif event == "done" and f.get("kind") == "stop_loss":
            pool = ctx.c.pool(f["pool"])
            ctx.log(
                f"  keeper: stop-loss on {pool.name} #{f['id']} at {fmt.price(f['price'])} "
                f"USD: repaid {fmt.usd(f['debt_repaid'])} bhUSD, got "
                f"{pool.coll(f['keeper_collateral'])}; {pool.coll(f['owner_collateral'])} "
                "went back to the owner"
            )

    return log


def check(ctx: DemoContext) -> None:
    """Read the stop-loss and the grace window back from the chain (DemoError if either
    story did not happen as told)."""
    if "stop_loss" in ctx.extra:
        _check_stop_loss(ctx, ctx.extra["stop_loss"])
    if "grace_end" in ctx.extra.get("grace", {}):
        _check_grace(ctx, ctx.extra["grace"])


def _check_stop_loss(ctx: DemoContext, s: dict[str, Any]) -> None:
    pool = ctx.c.pool(s["pool"])
    events = [
        e
        for e in ctx.c.automation.events.StopLoss().get_logs(from_block=ctx.deployed.deploy_block)
        if e["args"]["pool"] == pool.contract.address and e["args"]["id"] == s["id"]
    ]
    if len(events) != 1:
        raise DemoError(f"the stop-loss on {pool.name} #{s['id']} was not carried out")
    a = events[0]["args"]
    debt, out, back, price = (
        a["debt_repaid"],
        a["keeper_collateral"],
        a["owner_collateral"],
        a["price"],
    )
    worth = risk.value(out, price, pool.scale)
    cap = debt * (BPS + s["max_fee_bps"]) // BPS
    if worth > cap:
        raise DemoError(f"the stop-loss paid its keeper {worth} > {cap} [wad] USD")
    s.update(
        {
            "price": fmt.exact(price, 18),
            "keeper": a["keeper"],
            "debt_repaid": fmt.exact(debt, 18),
            "keeper_collateral": fmt.exact(out, pool.decimals),
            "keeper_collateral_usd": fmt.exact(worth, 18),
            "owner_collateral": fmt.exact(back, pool.decimals),
            "owner_collateral_usd": fmt.exact(risk.value(back, price, pool.scale), 18),
        }
    )


def _check_grace(ctx: DemoContext, g: dict[str, Any]) -> None:
    pool = ctx.c.pool(g["pool"])
    events = pool.contract.events.Liquidate().get_logs(from_block=g["paused_block"])
    times = [ctx.w3.eth.get_block(e["blockNumber"])["timestamp"] for e in events]
    early = [t for t in times if t < g["grace_end"]]
    if early:
        raise DemoError(f"{len(early)} {pool.name} liquidations came before its grace window ended")
    g["liquidated_after"] = len(events)
    g["first_liquidation_at"] = min(times) if times else None


def render(summary: dict[str, Any]) -> list[str]:
    """The summary's lines about the stop-loss and the grace window."""
    lines = []
    s = summary.get("stop_loss")
    if s and "price" in s:
        lines.append(
            f"stop-loss: {s['pool']} #{s['id']} (stop {Decimal(s['stop_price']):,.2f} USD) "
            f"closed at {Decimal(s['price']):,.2f} USD: the keeper repaid "
            f"{Decimal(s['debt_repaid']):,.2f} bhUSD and got "
            f"{Decimal(s['keeper_collateral']):,.4f} {s['pool']} "
            f"({Decimal(s['keeper_collateral_usd']):,.2f} USD, at most debt + "
            f"{s['max_fee_bps'] / 100:g} %); {Decimal(s['owner_collateral']):,.4f} {s['pool']} "
            f"({Decimal(s['owner_collateral_usd']):,.2f} USD) went back to the owner"
        )
    g = summary.get("grace")
    if g and "grace_end" in g:
        lines.append(
            f"grace window: {g['pool']} paused through the crash, unpaused with {g['held']} "
            f"positions liquidatable; liquidations waited {g['grace_period']} s (until "
            f"{fmt.timestamp(g['grace_end'])}); paused and in the window, the keeper carried out "
            f"{g.get('rules_in_window', 0)} owner rules there; {g.get('liquidated_after', 0)} "
            "liquidations came after the window, none before"
        )
    return lines


def _liquidatable(pool: Any) -> list[int]:
    count = pool.contract.functions.position_count().call()
    return list(pool.contract.functions.positions_to_liquidate(1, max(count, 1)).call())


def _rules_done(ctx: DemoContext, pool: str) -> int:
    """Owners' rules the demo keeper carried out in `pool` so far."""
    done = ctx.keeper.metrics.pool_done
    return sum(done[(pool, kind)] for kind in RULE_KINDS)
