"""`bulkhead oracle set` and `bulkhead pool ...`: the feeds and the governance of a pool."""

from __future__ import annotations

from collections.abc import Callable

import click

from bulkhead import fmt, risk
from bulkhead.cli.base import (
    _borrow_limit_text,
    _bps,
    _client,
    _common,
    _complete_pools,
    _emit,
    _fail,
    _sender,
    _wad,
    cli,
)
from bulkhead.options import NUMBER, PERCENT, account_options


@cli.group()
def oracle() -> None:
    """Mock price feeds on a local chain."""


@oracle.command(name="set")
@_common
@click.argument("pool_name", metavar="POOL", shell_complete=_complete_pools)
@click.argument("price", type=NUMBER)
@account_options()
def oracle_set(rpc_url, manifest, as_json, pool_name, price, account, keystore) -> None:
    """Move POOL's mock feed to PRICE (USD)."""
    client = _client(rpc_url, manifest)
    pool = client.pool(pool_name)
    sender = _sender(client.w3, account, keystore)
    seen, status = client.set_price(sender, pool, price)
    data = {
        "pool": pool.name,
        "feed_answer": str(price),
        "price": fmt.exact(seen, 18) if seen is not None else None,
        "oracle": status,
    }
    text = f"pool {pool.name}: feed set to {price} USD; the pool sees " + (
        f"{fmt.price(seen)} USD (ok)" if seen is not None else f"no valid price ({status})"
    )
    _emit(as_json, data, text)
    if seen is None:
        # the feed moved, but the pool refuses it: borrowing, withdrawing with debt and
        # liquidating wait until the price is valid again
        hint = (
            f"; governance accepts it with `bulkhead pool reset-anchor {pool.name}`, or the "
            "bound widens by itself after a heartbeat"
            if status == "price jump"
            else ""
        )
        _fail(f"pool {pool.name} refuses the new price ({status}){hint}")


@cli.group(name="pool")
def pool_group() -> None:
    """Governance of a pool on a local chain."""


@pool_group.command(name="reset-anchor")
@_common
@click.argument("pool_name", metavar="POOL", shell_complete=_complete_pools)
@account_options()
def pool_reset_anchor(rpc_url, manifest, as_json, pool_name, account, keystore) -> None:
    """Accept POOL's current feed answer after a move beyond the jump bound (governance)."""
    client = _client(rpc_url, manifest)
    pool = client.pool(pool_name)
    sender = _sender(client.w3, account, keystore)
    seen, status = client.reset_anchor(sender, pool)
    data = {"pool": pool.name, "price": fmt.exact(seen, 18) if seen else None, "oracle": status}
    text = f"pool {pool.name}: anchor reset; the pool sees " + (
        f"{fmt.price(seen)} USD (ok)" if seen is not None else f"no valid price ({status})"
    )
    _emit(as_json, data, text)
    if seen is None:
        _fail(f"pool {pool.name} still has no valid price ({status})")


def _governance_command(name: str) -> Callable:
    def decorate(f: Callable) -> Callable:
        f = account_options()(f)
        f = click.argument("pool_name", metavar="POOL", shell_complete=_complete_pools)(f)
        f = _common(f)
        return pool_group.command(name=name)(f)

    return decorate


@_governance_command("pause")
def pool_pause(rpc_url, manifest, as_json, pool_name, account, keystore) -> None:
    """Pause POOL: no new debt and no liquidations; repay, deposit, deleverage, close and owner
    rules stay open (governance). The unpause starts the pool's grace window."""
    _set_paused(rpc_url, manifest, as_json, pool_name, account, keystore, True)


@_governance_command("unpause")
def pool_unpause(rpc_url, manifest, as_json, pool_name, account, keystore) -> None:
    """Lift POOL's pause (governance); liquidations wait for the pool's grace period."""
    _set_paused(rpc_url, manifest, as_json, pool_name, account, keystore, False)


def _set_paused(rpc_url, manifest, as_json, pool_name, account, keystore, paused) -> None:
    client = _client(rpc_url, manifest)
    pool = client.pool(pool_name)
    client.set_paused(_sender(client.w3, account, keystore), pool, paused)
    state = "paused" if paused else "unpaused"
    controls = client.controls(pool)
    text = f"pool {pool.name} {state}"
    if not paused and controls.grace_end:
        now = client.w3.eth.get_block("latest")["timestamp"]
        if controls.in_grace(now):
            text += (
                f"; liquidations wait {controls.grace_end - now} s (grace window until "
                f"{fmt.timestamp(controls.grace_end)})"
            )
    data = {"pool": pool.name, "paused": paused, "grace_end": controls.grace_end}
    _emit(as_json, data, text)


@_governance_command("sweep")
def pool_sweep(rpc_url, manifest, as_json, pool_name, account, keystore) -> None:
    """Move POOL's reserve above its target into the savings vault (anyone may)."""
    client = _client(rpc_url, manifest)
    pool = client.pool(pool_name)
    moved = client.sweep(_sender(client.w3, account, keystore), pool)
    _emit(
        as_json,
        {"pool": pool.name, "swept": fmt.exact(moved, 18)},
        f"swept {fmt.usd(moved)} bhUSD from pool {pool.name} into the savings vault",
    )


@_governance_command("set-params")
@click.option("--max-ltv", type=PERCENT, help="Borrow limit, e.g. 60% or 0.6.")
@click.option("--liquidation-threshold", type=PERCENT, help="Liquidatable above this LTV.")
@click.option("--liquidation-bonus", type=PERCENT, help="Keeper's bonus on repaid debt.")
@click.option("--liquidation-fee", type=PERCENT, help="Reserve's fee on repaid debt.")
@click.option("--liquidation-tip", type=NUMBER, help="Flat tip per liquidation [bhUSD].")
@click.option("--target-health", type=NUMBER, help="Health a partial liquidation restores.")
@click.option("--min-debt", type=NUMBER, help="Least debt of a position [bhUSD].")
@click.option("--debt-ceiling", type=NUMBER, help="Most debt of the pool [bhUSD].")
@click.option("--stability-fee", type=PERCENT, help="Yearly interest, compounded, e.g. 5%.")
def pool_set_params(rpc_url, manifest, as_json, pool_name, account, keystore, **given) -> None:
    """Change some of POOL's risk parameters; the others stay (governance). The factory
    refuses values outside its bounds."""
    changes: dict[str, int] = {}
    for name in ("max_ltv", "liquidation_threshold", "liquidation_bonus", "liquidation_fee"):
        if given[name] is not None:
            changes[name] = _bps(given[name], name)
    for name in ("liquidation_tip", "target_health", "min_debt", "debt_ceiling"):
        if given[name] is not None:
            changes[name] = _wad(given[name])
    if given["stability_fee"] is not None:
        changes["stability_fee"] = risk.fee_per_second(float(given["stability_fee"]))
    client = _client(rpc_url, manifest)
    pool = client.pool(pool_name)
    params = client.set_params(_sender(client.w3, account, keystore), pool, changes)
    data = {"pool": pool.name, **{k: getattr(params, k) for k in changes}}
    text = f"pool {pool.name}: " + ", ".join(f"{k} {getattr(params, k)}" for k in changes)
    _emit(as_json, data, text)


@_governance_command("set-controls")
@click.option("--position-debt-cap", type=NUMBER, help="Most debt of one position [bhUSD].")
@click.option("--haircut", type=PERCENT, help="Taken off max LTV for borrowing, e.g. 10%.")
@click.option(
    "--grace-period",
    type=click.IntRange(min=0),
    help="Seconds liquidations wait after an unpause (at most 14400).",
)
def pool_set_controls(
    rpc_url, manifest, as_json, pool_name, account, keystore, position_debt_cap, haircut,
    grace_period,
) -> None:  # fmt: skip
    """Change some of POOL's risk controls; the others stay (governance). The haircut lowers
    the borrow limit for new debt and withdrawals only: it never makes a position
    liquidatable. Governance overrules the risk steward at any time."""
    changes: dict[str, int] = {}
    if position_debt_cap is not None:
        changes["position_debt_cap"] = _wad(position_debt_cap)
    if haircut is not None:
        changes["haircut"] = _bps(haircut, "haircut")
    if grace_period is not None:
        changes["grace_period"] = grace_period
    client = _client(rpc_url, manifest)
    pool = client.pool(pool_name)
    params = client.params(pool)
    c = client.set_controls(_sender(client.w3, account, keystore), pool, changes)
    data = {
        "pool": pool.name,
        "position_debt_cap": fmt.exact(c.position_debt_cap, 18),
        "haircut_bps": c.haircut,
        "borrow_ltv_bps": risk.borrow_ltv(params.max_ltv, c.haircut),
        "grace_period": c.grace_period,
    }
    text = (
        f"pool {pool.name}: position debt cap {fmt.usd(c.position_debt_cap)} bhUSD, borrow "
        f"limit {_borrow_limit_text(params.max_ltv, c.haircut)}, grace period {c.grace_period} s"
    )
    _emit(as_json, data, text)
