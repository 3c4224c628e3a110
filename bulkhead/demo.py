"""`bulkhead demo`: the whole protocol on a local chain, in well under a minute.

`run()` starts an embedded Anvil unless given a node, then runs the steps in `STEPS` in
order over one `DemoContext`, and returns the summary (a dict; `render` prints it):

    deploy          bhUSD, the factory, the lens and the three default pools
    fund_borrowers  six dev accounts mint mock collateral and approve the pools
    open_positions  60 positions, 20 per pool, borrowed at 25 % to 97 % of max LTV
    save            three borrowers put half of their bhUSD into the savings vault
    pass_time       90 days pass; each pool accrues its stability fee into its reserve
    sweep_fees      anyone sweeps each reserve above its target into the vault; a day
                    passes while the vault streams it into its share price
    move_prices     a moderate drop: WETH -12 %, WBTC -10 %, VOL -22 %
    protect         some owners set protections (deleverage), top-ups and boosts on the
                    automation (PositionAutomation), as its operator on the pool
    stop loss       a borrower opens one more WETH position with a stop-loss at 2,300 USD
    keeper          a keeper (dev account 7) gets bhUSD and starts: the same `Keeper` as
                    `bulkhead keeper run`; it clears what the drop made liquidatable
    pause           governance pauses VOL before the crash (liquidations wait, rules go on)
    crash           three more drops of 8 % per pool; the keeper runs after each (and
                    closes the stop-loss position when WETH gets to its price)
    grace window    governance unpauses VOL: liquidations wait its grace period; the demo
                    moves the node's clock past it and the keeper liquidates
    verify          nothing may be left liquidatable (else the demo exits non-zero); the
                    stop-loss and the grace window are read back from the chain
    (the stop-loss, pause and grace window steps live in `bulkhead.demo_controls`)

Later steps (a keeper run, protections, the savings vault) are functions of the same shape,
`step(ctx)`, appended to `STEPS`; they add lines to `ctx.notes` and the summary shows
them. The summary ends with bhUSD's accounting identity, checked on chain; `ok` is False
(and `bulkhead demo` exits non-zero) when a step fails or the identity does not hold.

Transactions of one step go out without waiting for each receipt (the node orders each
account's by nonce, and nothing in a step depends on another account's transaction);
every receipt is checked before the next step starts.
"""

from __future__ import annotations

import random
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from eth_typing import HexStr
from web3 import Web3
from web3.logs import DISCARD

from bulkhead import artifacts, fmt, risk
from bulkhead.accounting import PoolBook, check
from bulkhead.chain import LOCAL_CHAIN_IDS, Sender, TxError
from bulkhead.client import Client, UserError, connect
from bulkhead.deploy import Config, ConfigError, Deployment, deploy
from bulkhead.errors import BulkheadError
from bulkhead.eth.accounts import STEWARD_DEV_ACCOUNT, dev_steward
from bulkhead.eth.fees import offer as fee_offer
from bulkhead.eth.rpc import Rpc, RpcError
from bulkhead.eth.send import Refused, Tx, send_unlocked
from bulkhead.keeper.tx import KEEPER_DEV_ACCOUNT
from bulkhead.node import Anvil
from bulkhead.risk import WAD

BORROWERS = 6  # dev accounts 1..6; account 0 deploys and moves prices
KEEPER_ACCOUNT = KEEPER_DEV_ACCOUNT  # dev account 7 (after the borrowers) runs the keeper
CRASH_STEPS = 3
CRASH_STEP = Decimal("0.08")  # each crash step, per pool
POSITIONS_PER_POOL = 20
# borrowed share of the max LTV limit, in per mille: from careful to nearly at the limit
LEVERAGE = (250, 400, 500, 600, 700, 800, 850, 900, 950, 970)
POSITION_USD = (1_500, 40_000)  # collateral value of one position [USD], drawn uniformly
DROP = {"WETH": Decimal("0.12"), "WBTC": Decimal("0.10"), "VOL": Decimal("0.22")}
DEFAULT_DROP = Decimal("0.10")
TIME_PASSES = 90 * 86400  # [seconds] long enough for the reserves to pass their targets
GAS = {"mint": 150_000, "approve": 100_000, "open": 400_000}  # limits, not estimates


class DemoError(BulkheadError, RuntimeError):
    """A demo step could not finish; the message is one line."""


@dataclass
class PlannedPosition:
    pool: str
    owner: str
    collateral: int  # [collateral units]
    debt: int  # [wad]
    leverage: int  # [per mille of max LTV]
    id: int = 0


@dataclass
class DemoContext:
    w3: Web3
    rpc_url: str
    admin: Sender
    borrowers: list[str]
    rng: random.Random
    log: Callable[[str], None]
    manifest: str | None = None
    deployment: Deployment | None = None
    client: Client | None = None
    positions: list[PlannedPosition] = field(default_factory=list)
    prices_before: dict[str, int] = field(default_factory=dict)  # [wad]
    notes: list[str] = field(default_factory=list)
    keeper: Any = None
    extra: dict[str, Any] = field(default_factory=dict)  # what later steps report

    @property
    def deployed(self) -> Deployment:
        if self.deployment is None:
            raise DemoError("no deployment yet: the deploy step must run first")
        return self.deployment

    @property
    def c(self) -> Client:
        if self.client is None:
            raise DemoError("no deployment yet: the deploy step must run first")
        return self.client


# ------------------------------------------------------------------ sending


def send_all(ctx: DemoContext, calls: list[tuple[str, Any, int, str]]) -> list[Any]:
    """Send `(from, contract call, gas limit, label)` without waiting, then check every
    receipt; DemoError naming the first that failed. Unlocked dev accounts only."""
    w3 = ctx.w3
    base = w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0
    txs = [
        Tx(s, fn.address, fn._encode_transaction_data(), gas, label) for s, fn, gas, label in calls
    ]
    try:
        sent = send_unlocked(Rpc(w3.provider), txs, {}, fee_offer(base, 10**9))
    except Refused as exc:  # refused before mining (e.g. by the node's own checks)
        raise DemoError(f"{exc.tx.label}: the node refused the transaction: {exc.error}") from None
    hashes = [(h, fn, sender, label) for h, (sender, fn, _, label) in zip(sent, calls)]
    receipts = []
    for tx_hash, fn, sender, label in hashes:
        receipt = w3.eth.wait_for_transaction_receipt(
            HexStr(tx_hash), timeout=120, poll_latency=0.05
        )
        if receipt["status"] != 1:
            try:
                fn.call({"from": sender})
                reason = "reverted"
            except Exception as exc:
                reason = str(exc)
            raise DemoError(f"{label} failed in block {receipt['blockNumber']}: {reason}")
        receipts.append(receipt)
    return receipts


# ------------------------------------------------------------------ steps


def step_deploy(ctx: DemoContext) -> None:
    """Deploy the default local configuration (three mock pools)."""
    steward = dev_steward(ctx.w3, ctx.admin.address)  # dev account 8, not governance
    deployment = deploy(ctx.w3, ctx.admin, Config.load(), steward=steward)
    ctx.deployment = deployment
    ctx.client = Client.attach(ctx.w3, deployment)
    for pool in ctx.c.pools():
        price, status = ctx.c.price_status(pool)
        if price is None:
            raise DemoError(f"pool {pool.name} has no valid price after deploy ({status})")
        ctx.prices_before[pool.name] = price
    if ctx.manifest:
        deployment.save(ctx.manifest)
        ctx.notes.append(f"manifest written to {ctx.manifest}")
    ctx.log(
        f"  {len(deployment.pools)} pools: "
        + ", ".join(
            f"{p.name} at {fmt.price(ctx.prices_before[p.name])} USD" for p in deployment.pools
        )
    )


def plan_positions(ctx: DemoContext) -> list[PlannedPosition]:
    """Which borrower opens what: POSITIONS_PER_POOL per pool, varied size and leverage."""
    planned: list[PlannedPosition] = []
    for pool in ctx.c.pools():
        p = ctx.c.params(pool)
        price = ctx.prices_before[pool.name]
        leverages = list(LEVERAGE) * (POSITIONS_PER_POOL // len(LEVERAGE) + 1)
        leverages = leverages[:POSITIONS_PER_POOL]
        ctx.rng.shuffle(leverages)
        for leverage in leverages:
            usd = Decimal(ctx.rng.randint(*POSITION_USD))
            whole = usd * WAD / Decimal(price)
            # four decimals of collateral are plenty for a demo
            places = min(4, pool.decimals)
            coll = int((whole * 10**places).to_integral_value()) * 10 ** (pool.decimals - places)
            limit = risk.max_debt(coll, price, p.max_ltv, pool.scale)
            debt = limit * leverage // 1000
            debt -= debt % 10**16  # whole cents of bhUSD
            debt = max(debt, p.min_debt)
            owner = ctx.borrowers[len(planned) % len(ctx.borrowers)]  # each gets every pool
            planned.append(PlannedPosition(pool.name, owner, coll, debt, leverage))
    return planned


def step_fund_borrowers(ctx: DemoContext) -> None:
    """Each borrower mints what its positions need (a mock faucet) and approves the pools."""
    ctx.positions = plan_positions(ctx)
    need: dict[tuple[str, str], int] = {}
    for pos in ctx.positions:
        need[(pos.owner, pos.pool)] = need.get((pos.owner, pos.pool), 0) + pos.collateral
    calls = []
    for (owner, name), amount in need.items():
        pool = ctx.c.pool(name)
        token = pool.token.functions
        calls.append((owner, token.mint(owner, amount), GAS["mint"], f"mint {name} to {owner}"))
        calls.append(
            (
                owner,
                token.approve(pool.contract.address, amount),
                GAS["approve"],
                f"approve {name} for {owner}",
            )
        )
    send_all(ctx, calls)
    owners = {owner for owner, _ in need}
    ctx.log(f"  {len(owners)} borrowers funded in {len({n for _, n in need})} tokens")


def step_open_positions(ctx: DemoContext) -> None:
    """Open every planned position; their ids come from the Open events."""
    calls = []
    for pos in ctx.positions:
        pool = ctx.c.pool(pos.pool).contract
        calls.append(
            (
                pos.owner,
                pool.functions.open(pos.collateral, pos.debt),
                GAS["open"],
                f"open in {pos.pool} by {pos.owner}",
            )
        )
    receipts = send_all(ctx, calls)
    for pos, receipt in zip(ctx.positions, receipts, strict=True):
        events = (
            ctx.c.pool(pos.pool).contract.events.Open().process_receipt(receipt, errors=DISCARD)
        )
        pos.id = int(events[0]["args"]["id"])
    per_pool: dict[str, int] = {}
    for pos in ctx.positions:
        per_pool[pos.pool] = per_pool.get(pos.pool, 0) + 1
    ctx.log("  opened " + ", ".join(f"{n} in {name}" for name, n in per_pool.items()))


def _rpc(ctx: DemoContext, method: str, params: list) -> Any:
    try:
        return Rpc(ctx.w3.provider).request(method, params)
    except RpcError as exc:
        raise DemoError(f"the node does not support {method}: {exc.message}") from None


def step_pass_time(ctx: DemoContext) -> None:
    """Move the chain's clock ahead and accrue every pool's stability fee."""
    _rpc(ctx, "evm_increaseTime", [TIME_PASSES])
    _rpc(ctx, "evm_mine", [])
    for pool in ctx.c.pools():
        ctx.admin.transact(pool.contract.functions.accrue())
    ctx.log(f"  {TIME_PASSES // 86400} days later; the feeds are stale until they move")


def step_move_prices(ctx: DemoContext) -> None:
    """Drop every mock price by a moderate step (within each pool's jump bound)."""
    for pool in ctx.c.pools():
        drop = DROP.get(pool.name, DEFAULT_DROP)
        before = fmt.to_decimal(ctx.prices_before[pool.name], 18)
        after = (before * (1 - drop)).quantize(Decimal("0.00000001"))
        price, status = ctx.c.set_price(ctx.admin, pool, after)
        if price is None:
            raise DemoError(f"pool {pool.name} refused the new price {after} USD ({status})")
        ctx.log(
            f"  {pool.name}: {fmt.price(ctx.prices_before[pool.name])} -> {fmt.price(price)} USD"
        )


SAVERS = 3  # borrowers who deposit half of their bhUSD into the savings vault


def _vault(ctx: DemoContext) -> Any:
    return ctx.w3.eth.contract(
        address=Web3.to_checksum_address(ctx.deployed.vault),
        abi=artifacts.load("SavingsVault").abi,
    )


def step_save(ctx: DemoContext) -> None:
    """Three borrowers deposit half of their bhUSD into the savings vault."""
    vault = _vault(ctx)
    calls = []
    total = 0
    for saver in ctx.borrowers[:SAVERS]:
        amount = ctx.c.stablecoin.functions.balanceOf(saver).call() // 2
        total += amount
        calls.append(
            (
                saver,
                ctx.c.stablecoin.functions.approve(vault.address, amount),
                100_000,
                "approve vault",
            )
        )
        calls.append((saver, vault.functions.deposit(amount, saver), 300_000, "vault deposit"))
    send_all(ctx, calls)
    price = vault.functions.convertToAssets(WAD).call()
    ctx.extra["vault"] = {"address": vault.address, "share_price_before": fmt.exact(price, 18)}
    ctx.log(
        f"  {SAVERS} savers deposited {fmt.usd(total)} bhUSD; share price {fmt.exact(price, 18)}"
    )


def step_sweep_fees(ctx: DemoContext) -> None:
    """Sweep each pool's reserve above its target into the vault; let a stream period pass."""
    vault = _vault(ctx)
    factory = ctx.w3.eth.contract(
        address=Web3.to_checksum_address(ctx.deployed.factory),
        abi=artifacts.load("PoolFactory").abi,
    )
    before = vault.functions.tracked_assets().call()
    for pool in ctx.c.pools():
        ctx.admin.transact(factory.functions.sweep(pool.contract.address))
    swept = vault.functions.tracked_assets().call() - before
    period = vault.functions.stream_period().call()
    _rpc(ctx, "evm_increaseTime", [period])
    _rpc(ctx, "evm_mine", [])
    price = vault.functions.convertToAssets(WAD).call()
    ctx.extra.setdefault("vault", {}).update(
        {"swept": fmt.exact(swept, 18), "share_price": fmt.exact(price, 18)}
    )
    ctx.log(
        f"  swept {fmt.usd(swept)} bhUSD of fees into the vault; after {period // 3600} h "
        f"of streaming the share price is {fmt.exact(price, 18)}"
    )


def step_protect(ctx: DemoContext) -> None:
    """Every third position gets a deleverage protection; a few get a top-up or a boost."""
    c = ctx.c
    automation = ctx.w3.eth.contract(
        address=Web3.to_checksum_address(ctx.deployed.automation),
        abi=artifacts.load("PositionAutomation").abi,
    )
    pools = {p.name: p for p in c.pools()}
    calls = []
    counts = {"deleverage": 0, "top_up": 0, "boost": 0}
    for i, planned in enumerate(ctx.positions):
        pool = pools[planned.pool]
        fns = pool.contract.functions
        if i % 3 == 0:
            # the automation deleverages through the pool as the owner's operator
            calls.append(
                (planned.owner, fns.set_operator(automation.address, True), 100_000, "operator")
            )
            calls.append(
                (
                    planned.owner,
                    automation.functions.set_protection(
                        pool.contract.address, planned.id, int(1.12 * WAD), int(1.35 * WAD), 100
                    ),
                    200_000,
                    "set protection",
                )
            )
            counts["deleverage"] += 1
        elif i % 7 == 1:
            allowance = planned.collateral // 2
            calls.append(
                (
                    planned.owner,
                    pool.token.functions.mint(planned.owner, allowance),
                    150_000,
                    "mint",
                )
            )
            calls.append(
                (
                    planned.owner,
                    pool.token.functions.approve(automation.address, allowance),
                    100_000,
                    "approve",
                )
            )
            calls.append(
                (
                    planned.owner,
                    automation.functions.set_top_up(
                        pool.contract.address,
                        planned.id,
                        int(1.10 * WAD),
                        int(1.30 * WAD),
                        50,
                        allowance,
                    ),
                    200_000,
                    "set top-up",
                )
            )
            counts["top_up"] += 1
        elif planned.leverage <= 400 and counts["boost"] < 6:
            calls.append(
                (planned.owner, fns.set_operator(automation.address, True), 100_000, "operator")
            )
            calls.append(
                (
                    planned.owner,
                    automation.functions.set_boost(
                        pool.contract.address, planned.id, int(3.0 * WAD), int(2.2 * WAD), 50
                    ),
                    200_000,
                    "set boost",
                )
            )
            counts["boost"] += 1
    send_all(ctx, calls)
    ctx.extra["protections_set"] = counts
    ctx.log(
        f"  {counts['deleverage']} deleverage protections, {counts['top_up']} top-ups, "
        f"{counts['boost']} boosts"
    )


def step_keeper(ctx: DemoContext) -> None:
    """Give the keeper bhUSD (its own WETH position at a low LTV) and run it once."""
    from bulkhead.keeper.core import Keeper, KeeperConfig
    from bulkhead.keeper.tx import NodeSigner

    keeper_address = Web3.to_checksum_address(ctx.w3.eth.accounts[KEEPER_ACCOUNT])
    c = ctx.c
    weth = c.pool("WETH")
    collateral = 2_000 * 10**weth.decimals
    price = weth.contract.functions.price().call()
    debt = risk.value(collateral, price, weth.scale) // 5  # 20 % LTV
    fns = weth.token.functions
    send_all(
        ctx,
        [
            (keeper_address, fns.mint(keeper_address, collateral), 150_000, "keeper mint"),
            (
                keeper_address,
                fns.approve(weth.contract.address, collateral),
                100_000,
                "keeper approve",
            ),
            (
                keeper_address,
                weth.contract.functions.open(collateral, debt),
                400_000,
                "keeper open",
            ),
        ],
    )
    from bulkhead import demo_controls

    ctx.keeper = Keeper(
        ctx.w3,
        ctx.deployed,
        NodeSigner(keeper_address),
        KeeperConfig(),
        log=demo_controls.keeper_log(ctx),
    )
    ctx.log(
        f"  keeper {keeper_address} (dev account {KEEPER_ACCOUNT}, the default of "
        f"`bulkhead keeper run`) holds {fmt.usd(debt)} bhUSD"
    )
    _run_keeper(ctx)


def _run_keeper(ctx: DemoContext) -> None:
    ctx.keeper.run_until_idle(max_steps=30)
    m = ctx.keeper.metrics
    ctx.log(f"  keeper: {m.done['liquidate']} liquidations, {m.adjustments} adjustments so far")


def step_crash(ctx: DemoContext) -> None:
    """Drop every price by 8 % three times; the keeper runs after each drop."""
    for n in range(1, CRASH_STEPS + 1):
        for pool in ctx.c.pools():
            now = pool.contract.functions.price().call()
            after = (fmt.to_decimal(now, 18) * (1 - CRASH_STEP)).quantize(Decimal("0.00000001"))
            price, status = ctx.c.set_price(ctx.admin, pool, after)
            if price is None:
                raise DemoError(f"pool {pool.name} refused the new price {after} USD ({status})")
        ctx.log(f"  crash step {n}: every price -{CRASH_STEP * 100:.0f} %")
        _run_keeper(ctx)


def step_verify(ctx: DemoContext) -> None:
    """Nothing may be left liquidatable; record what the keeper did per pool."""
    left = {}
    for pool in ctx.c.pools():
        count = pool.contract.functions.position_count().call()
        ids = pool.contract.functions.positions_to_liquidate(1, count).call()
        if ids:
            left[pool.name] = list(ids)
    summary = ctx.keeper.metrics.summary()
    ctx.extra["keeper"] = {
        "liquidations": summary["liquidations"],
        "deleverages": summary["deleverages"],
        "top_ups": summary["top_ups"],
        "boosts": summary["boosts"],
        "stop_losses": summary["stop_losses"],
        "bounty_usd": summary["bounty_usd"],
        "gas_spent_usd": summary["gas_spent_usd"],
        "failures": summary["failures"],
        "pools": summary["pools"],
        "left_liquidatable": left,
    }
    if left:
        raise DemoError(f"positions left liquidatable: {left}")
    from bulkhead import demo_controls

    demo_controls.check(ctx)


def step_stop_loss(ctx: DemoContext) -> None:
    """A borrower opens one more WETH position with a stop-loss (`bulkhead.demo_controls`)."""
    from bulkhead import demo_controls

    demo_controls.step_stop_loss(ctx)


def step_pause(ctx: DemoContext) -> None:
    """Governance pauses VOL before the crash (`bulkhead.demo_controls`)."""
    from bulkhead import demo_controls

    demo_controls.step_pause(ctx)


def step_grace_window(ctx: DemoContext) -> None:
    """Governance unpauses VOL; the keeper waits out its grace window (`demo_controls`)."""
    from bulkhead import demo_controls

    demo_controls.step_grace_window(ctx)


STEPS: list[tuple[str, Callable[[DemoContext], None]]] = [
    ("deploy", step_deploy),
    ("fund borrowers", step_fund_borrowers),
    ("open positions", step_open_positions),
    ("save", step_save),
    ("pass time", step_pass_time),
    ("sweep fees", step_sweep_fees),
    ("move prices", step_move_prices),
    ("protect", step_protect),
    ("stop loss", step_stop_loss),
    ("keeper", step_keeper),
    ("pause", step_pause),
    ("crash", step_crash),
    ("grace window", step_grace_window),
    ("verify", step_verify),
]


# ------------------------------------------------------------------ summary


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
    from bulkhead import demo_controls

    lines += demo_controls.render(summary)
    lines += summary.get("notes", [])
    for step in summary.get("steps", []):
        if step.get("error"):
            lines.append(f"step {step['name']!r} failed: {step['error']}")
    lines.append(
        f"demo {'finished' if summary.get('ok') else 'FAILED'} in {summary.get('seconds', 0):.1f} s"
    )
    return "\n".join(lines)


# ------------------------------------------------------------------ run


def run(
    rpc_url: str | None = None,
    manifest: str | None = None,
    seed: int = 7,
    log: Callable[[str], None] = print,
    steps: list[tuple[str, Callable[[DemoContext], None]]] | None = None,
) -> dict:
    """Run the demo; returns the summary (`summary["ok"]` tells whether it all worked).

    Without `rpc_url`, an embedded Anvil runs on a free port and is stopped at the end,
    also on an error or Ctrl-C. A node that cannot be reached raises NodeError.
    """
    started = time.monotonic()
    anvil = None
    record: list[dict] = []
    summary: dict = {}
    try:
        if rpc_url is None:
            anvil = Anvil(accounts=STEWARD_DEV_ACCOUNT + 1).start()  # up to the steward's
            rpc_url = anvil.rpc_url
            log(f"embedded Anvil on {rpc_url}")
        w3 = connect(rpc_url)
        chain_id = w3.eth.chain_id
        if chain_id not in LOCAL_CHAIN_IDS:
            raise UserError(f"the demo runs on local dev chains only, not on chain id {chain_id}")
        dev = w3.eth.accounts
        if len(dev) < KEEPER_ACCOUNT + 1:
            raise UserError(
                f"the demo needs {KEEPER_ACCOUNT + 1} dev accounts; the node has {len(dev)}"
            )
        ctx = DemoContext(
            w3=w3,
            rpc_url=rpc_url,
            admin=Sender(w3, dev[0]),
            borrowers=[Web3.to_checksum_address(a) for a in dev[1 : BORROWERS + 1]],
            rng=random.Random(seed),
            log=log,
            manifest=manifest,
        )
        failed = False
        for name, step in steps or STEPS:
            t0 = time.monotonic()
            log(f"{name} ...")
            try:
                step(ctx)
            except (DemoError, TxError, UserError, ConfigError) as exc:
                record.append({"name": name, "seconds": time.monotonic() - t0, "error": str(exc)})
                failed = True
                break
            except Exception:  # a bug: keep its trace for the report, one line here
                trace = traceback.format_exc(limit=3).strip().splitlines()[-1]
                record.append({"name": name, "seconds": time.monotonic() - t0, "error": trace})
                failed = True
                break
            record.append({"name": name, "seconds": round(time.monotonic() - t0, 2)})
        if ctx.client is not None:
            summary = summarize(ctx)
        summary["ok"] = not failed and summary.get("accounting", {}).get("ok", False)
    finally:
        if anvil is not None:
            anvil.stop()
    summary["steps"] = record
    summary["rpc_url"] = rpc_url
    summary["seconds"] = round(time.monotonic() - started, 2)
    return summary
