"""`bulkhead vault ...`, `balance` and `faucet`: savings, balances and test tokens."""

from __future__ import annotations

from decimal import Decimal

import click
from web3 import Web3

from bulkhead import fmt
from bulkhead.cli.base import (
    _address,
    _apy_text,
    _client,
    _common,
    _emit,
    _sender,
    _units,
    _wad,
    cli,
)
from bulkhead.client import UserError
from bulkhead.options import NUMBER, AmountOr, account_options
from bulkhead.vault import vault_stats

FAUCET_USD = Decimal(100_000)  # default faucet amount, in USD at the feed's price


@cli.group()
def vault() -> None:
    """The savings vault (ERC-4626 over bhUSD): it earns the pools' fees."""


@vault.command(name="show")
@_common
@click.option("--address", help="Whose shares to show (default: your account).")
@account_options()
def vault_show(rpc_url, manifest, as_json, address, account, keystore) -> None:
    """Total assets, share price, what still streams in, the last day's APY, your shares."""
    client = _client(rpc_url, manifest)
    address = _address(client, address, account, keystore)
    stats = vault_stats(client.w3, client.deployment)
    shares, worth = client.vault_shares(address)
    data = {
        "address": stats.address,
        "total_assets": fmt.exact(stats.total_assets, 18),
        "total_supply": fmt.exact(stats.total_supply, 18),
        "share_price": fmt.exact(stats.share_price, 18),
        "locked": fmt.exact(stats.locked, 18),
        "unlock_end": stats.unlock_end,
        "apy_1d": stats.apy_1d,
        "holder": address,
        "shares": fmt.exact(shares, 18),
        "worth": fmt.exact(worth, 18),
    }
    rows = [
        ["vault", stats.address],
        ["total assets", f"{fmt.usd(stats.total_assets)} bhUSD"],
        ["shares", fmt.usd(stats.total_supply)],
        ["share price", f"{fmt.to_decimal(stats.share_price, 18):.6f} bhUSD"],
        ["still streaming in", f"{fmt.usd(stats.locked)} bhUSD"],
        ["APY (last day)", _apy_text(stats.apy_1d)],
        [f"shares of {address}", f"{fmt.usd(shares)} (worth {fmt.usd(worth)} bhUSD)"],
    ]
    width = max(len(k) for k, _ in rows)
    _emit(as_json, data, "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows))


@vault.command(name="deposit")
@_common
@click.argument("amount", type=NUMBER)
@account_options()
def vault_deposit(rpc_url, manifest, as_json, amount, account, keystore) -> None:
    """Deposit AMOUNT bhUSD for shares."""
    client = _client(rpc_url, manifest)
    sender = _sender(client.w3, account, keystore)
    wad = _wad(amount)
    shares = client.vault_deposit(sender, wad)
    data = {"deposited": fmt.exact(wad, 18), "shares": fmt.exact(shares, 18)}
    _emit(as_json, data, f"deposited {fmt.usd(wad)} bhUSD for {fmt.usd(shares)} shares")


@vault.command(name="redeem")
@_common
@click.argument("shares", type=AmountOr("all"))
@account_options()
def vault_redeem(rpc_url, manifest, as_json, shares, account, keystore) -> None:
    """Redeem SHARES (or `all`) for bhUSD."""
    client = _client(rpc_url, manifest)
    sender = _sender(client.w3, account, keystore)
    burned, assets = client.vault_redeem(sender, None if shares == "all" else _wad(shares))
    data = {"shares": fmt.exact(burned, 18), "received": fmt.exact(assets, 18)}
    _emit(as_json, data, f"redeemed {fmt.usd(burned)} shares for {fmt.usd(assets)} bhUSD")


@cli.command()
@_common
@click.option("--address", help="Any address (default: your account).")
@account_options()
def balance(rpc_url, manifest, as_json, address, account, keystore) -> None:
    """Your ETH, bhUSD, collateral tokens and savings vault shares."""
    client = _client(rpc_url, manifest)
    address = _address(client, address, account, keystore)
    rows = client.balances(address)
    data = {
        "address": address,
        "balances": [
            {"asset": a, "amount": fmt.exact(n, d), **({"note": note} if note else {})}
            for a, n, d, note in rows
        ],
    }
    table = fmt.table(
        ["asset", "balance", ""], [[a, fmt.amount(n, d), note or ""] for a, n, d, note in rows]
    )
    _emit(as_json, data, f"balances of {address}\n{table}")


def _round_2(value: Decimal) -> Decimal:
    """`value` rounded to two significant digits (a friendly default amount)."""
    if value <= 0:
        return Decimal(0)
    exponent = value.adjusted() - 1
    return (value.scaleb(-exponent).to_integral_value()).scaleb(exponent)


@cli.command()
@_common
@click.option(
    "--pool", "pool_names", multiple=True, help="Pool(s) to fund (default: all mock pools)."
)
@click.option(
    "--amount", type=NUMBER, help="Collateral per pool (default: about 100,000 USD worth)."
)
@click.option(
    "--bhusd",
    type=NUMBER,
    help="Instead: borrow this much bhUSD for --to, in a new position of yours against fresh "
    "mock collateral at half the max LTV (at least the pool's minimum debt).",
)
@click.option("--to", "receiver", help="Receiver address (default: your account).")
@account_options()
def faucet(
    rpc_url, manifest, as_json, pool_names, amount, bhusd, receiver, account, keystore
) -> None:
    """Mint mock collateral on a local chain (or, with --bhusd, borrow bhUSD)."""
    client = _client(rpc_url, manifest)
    if not client.is_local:
        chain_id = client.deployment.chain_id
        raise UserError(f"the faucet works on local dev chains only, not on chain id {chain_id}")
    sender = _sender(client.w3, account, keystore)
    receiver = receiver or sender.address
    if not Web3.is_address(receiver):
        raise UserError(f"--to {receiver!r} is not an address")
    if bhusd is not None:
        if pool_names or amount is not None:
            raise UserError("--bhusd borrows bhUSD: leave out --pool and --amount")
        wad = _wad(bhusd)
        pool, position_id, debt = client.faucet_bhusd(sender, receiver, wad)
        balance = client.balance(None, receiver)
        data = {
            "to": receiver,
            "bhusd": fmt.exact(wad, 18),
            "balance": fmt.exact(balance, 18),
            "pool": pool.name,
            "position": position_id,
            "debt": fmt.exact(debt, 18),
        }
        text = (
            f"borrowed {fmt.usd(debt)} bhUSD in new position {position_id} of pool {pool.name} "
            f"(owner {sender.address}); {receiver} now holds {fmt.usd(balance)} bhUSD"
        )
        _emit(as_json, data, text)
        return
    pools = (
        [client.pool(n) for n in pool_names]
        if pool_names
        else [p for p in client.pools() if p.info.mock]
    )
    minted = []
    for pool in pools:
        if amount is not None:
            units = _units(pool, amount)
        else:
            answer, _ = client.feed_round(pool)
            usd_price = fmt.to_decimal(answer or 10**18, 18)
            units = _units(
                pool, _round_2(FAUCET_USD / usd_price).quantize(Decimal(1).scaleb(-pool.decimals))
            )
        if units == 0:
            raise UserError("amount must be above 0")
        client.faucet(sender, pool, receiver, units)
        minted.append((pool, units, client.balance(pool, receiver)))
    data = {
        "to": receiver,
        "minted": [
            {
                "pool": p.name,
                "amount": fmt.exact(u, p.decimals),
                "balance": fmt.exact(b, p.decimals),
            }
            for p, u, b in minted
        ],
    }
    rows = [[p.name, fmt.amount(u, p.decimals), fmt.amount(b, p.decimals)] for p, u, b in minted]
    _emit(
        as_json, data, f"minted to {receiver}\n" + fmt.table(["token", "minted", "balance"], rows)
    )
