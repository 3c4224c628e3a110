"""The demo's steps, in the order `STEPS` runs them: each is `step(ctx)` over one
`DemoContext` (the stop-loss, pause and grace window steps live in `controls.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from web3 import Web3
from web3.logs import DISCARD

from bulkhead import artifacts, fmt, risk
from bulkhead.client import Client
from bulkhead.demo import controls
from bulkhead.demo.context import (
    CRASH_STEP,
    CRASH_STEPS,
    DEFAULT_DROP,
    DROP,
    GAS,
    KEEPER_ACCOUNT,
    LEVERAGE,
    POSITION_USD,
    POSITIONS_PER_POOL,
    SAVERS,
    TIME_PASSES,
    DemoContext,
    DemoError,
    PlannedPosition,
    _rpc,
    _run_keeper,
    _vault,
    send_all,
)
from bulkhead.deploy import Config, deploy
from bulkhead.eth.accounts import dev_steward
from bulkhead.risk import WAD


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
    factory = artifacts.contract(ctx.w3, "PoolFactory", ctx.deployed.factory)
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
    automation = artifacts.contract(ctx.w3, "PositionAutomation", ctx.deployed.automation)
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

    ctx.keeper = Keeper(
        ctx.w3,
        ctx.deployed,
        NodeSigner(keeper_address),
        KeeperConfig(),
        log=controls.keeper_log(ctx),
    )
    ctx.log(
        f"  keeper {keeper_address} (dev account {KEEPER_ACCOUNT}, the default of "
        f"`bulkhead keeper run`) holds {fmt.usd(debt)} bhUSD"
    )
    _run_keeper(ctx)


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

    controls.check(ctx)


STEPS: list[tuple[str, Callable[[DemoContext], None]]] = [
    ("deploy", step_deploy),
    ("fund borrowers", step_fund_borrowers),
    ("open positions", step_open_positions),
    ("save", step_save),
    ("pass time", step_pass_time),
    ("sweep fees", step_sweep_fees),
    ("move prices", step_move_prices),
    ("protect", step_protect),
    ("stop loss", controls.step_stop_loss),
    ("keeper", step_keeper),
    ("pause", controls.step_pause),
    ("crash", step_crash),
    ("grace window", controls.step_grace_window),
    ("verify", step_verify),
]
