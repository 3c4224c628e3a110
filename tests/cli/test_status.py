"""`bulkhead status`, `bulkhead faucet`, `bulkhead oracle set` and `bulkhead pool reset-anchor`
end to end."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from bulkhead import risk
from bulkhead.risk import WAD
from tests.cli.conftest import ATTACKER, BORROWER, KEEPER

D = Decimal


# share of the max LTV that each WETH position of the book uses (opened in this order)
LEVERAGES = {"low": D("0.25"), "high": D("0.95"), "mid": D("0.6")}


@pytest.fixture(scope="module")
def book(cli, client):
    """WETH positions at three leverages (ids by name in LEVERAGES), each on 2 WETH, one
    WBTC position, none in VOL."""
    cli.ok("faucet", "--account", BORROWER)
    weth = client.pool("WETH")
    max_ltv = client.params(weth).max_ltv
    limit = risk.max_debt(2 * WAD, weth.contract.functions.price().call(), max_ltv, weth.scale)
    ids = {}
    for name, share in LEVERAGES.items():
        debt = int(D(limit) / WAD * share)  # whole bhUSD
        run = cli.json(
            "position", "open", "--pool", "WETH", "--collateral", "2", "--debt", debt,
            "--account", BORROWER,
        )  # fmt: skip
        ids[name] = run["id"]
    cli.ok(
        "position", "open", "--pool", "WBTC", "--collateral", "0.5", "--debt", "10000",
        "--account", BORROWER,
    )  # fmt: skip
    return ids


def _pool(status: dict, name: str) -> dict:
    return next(p for p in status["pools"] if p["name"] == name)


def test_status__json__pool_totals_match_the_chain(cli, client, book):
    status = cli.json("status")
    assert status["chain_id"] == 31337
    for name in ("WETH", "WBTC", "VOL"):
        shown = _pool(status, name)
        c = client.pool(name).contract.functions
        decimals = client.pool(name).decimals
        assert D(shown["total_debt"]) * WAD == c.total_debt().call()
        assert D(shown["total_collateral"]) * 10**decimals == c.total_collateral().call()
        assert D(shown["reserve"]) * WAD == c.reserve().call()
        assert shown["bad_debt"] == "0"
        assert shown["oracle"] == "ok" and shown["oracle_valid"] is True
    assert [_pool(status, n)["positions"] for n in ("WETH", "WBTC", "VOL")] == [3, 1, 0]
    weth = _pool(status, "WETH")
    assert weth["price"] == "3000" and weth["price_age"] >= 0
    use = D(weth["total_debt"]) / D(weth["debt_ceiling"])
    assert abs(D(weth["debt_ceiling_use"]) - use) < D("1e-15")


def test_status__lowest_health__sorted_and_complete(cli, client, book):
    lowest = _pool(cli.json("status"), "WETH")["lowest_health"]
    assert [p["id"] for p in lowest] == [book["high"], book["mid"], book["low"]]
    pool = client.pool("WETH").contract.functions
    for p in lowest:
        assert D(p["health"]) * WAD == pool.health(p["id"]).call()
        assert D(p["liquidation_price"]) * WAD == pool.liquidation_price(p["id"]).call()
        assert {"id", "owner", "collateral", "debt", "health", "liquidation_price"} <= set(p)


def test_status__lowest_option__limits_the_list(cli, book):
    status = cli.json("status", "--pool", "WETH", "--lowest", "1")
    assert [p["name"] for p in status["pools"]] == ["WETH"]
    assert [p["id"] for p in status["pools"][0]["lowest_health"]] == [book["high"]]


def test_status__table__one_row_per_pool_and_the_lowest_positions(cli, book):
    text = cli.ok("status").out
    header = next(line for line in text.splitlines() if line.startswith("pool"))
    for column in ("price", "age", "oracle", "collateral", "debt", "ceiling use", "reserve"):
        assert column in header
    rows = [line.split()[0] for line in text.splitlines() if line.strip()]
    assert {"WETH", "WBTC", "VOL"} <= set(rows)
    assert "WETH: lowest health" in text and "VOL: lowest health" not in text


def test_oracle_set__price_drop__status_counts_liquidatable_like_the_pool(cli, client, book):
    run = cli.ok("oracle", "set", "WETH", "2200")
    result, sent = run.out.strip().splitlines()
    assert result == "pool WETH: feed set to 2200 USD; the pool sees 2,200.00 USD (ok)"
    assert re.fullmatch(r"transactions: 0x[0-9a-f]{64}", sent), sent  # the feed's update
    weth = _pool(cli.json("status"), "WETH")
    pool = client.pool("WETH").contract.functions
    liquidatable = pool.positions_to_liquidate(1, 100).call()
    # 2 WETH at 2,200 USD: the position at 95 % of the max LTV falls below health 1 (~0.90 at
    # 60 % / 70 %), the one at 60 % of it stays above (~1.43)
    assert liquidatable == [book["high"]]
    assert weth["liquidatable"] == 1
    assert D(weth["lowest_health"][0]["health"]) < 1
    cli.ok("oracle", "set", "WETH", "3000")


def test_oracle_set__past_the_jump_bound__pool_refuses_exits_1_and_status_says_so(cli, book):
    run = cli("oracle", "set", "WETH", "100", "--json")
    assert run.code == 1
    data = run.json
    assert len(data.pop("transactions")) == 1  # the feed moved; the pool refuses the price
    assert data == {"pool": "WETH", "feed_answer": "100", "price": None, "oracle": "price jump"}
    assert run.err.strip() == (
        "error: pool WETH refuses the new price (price jump); governance accepts it with "
        "`bulkhead pool reset-anchor WETH`, or the bound widens by itself after a heartbeat"
    )
    weth = _pool(cli.json("status"), "WETH")
    assert (weth["oracle"], weth["oracle_valid"], weth["price"]) == ("price jump", False, None)
    assert weth["feed_answer"] == "100"
    assert all(p["health"] is None for p in weth["lowest_health"])
    message = cli.error(
        "position", "borrow", "--pool", "WETH", "--id", book["low"], "10", "--account", BORROWER
    )
    assert message == "cannot borrow in pool WETH now: no valid price (price jump)"
    cli.ok("oracle", "set", "WETH", "3000")
    assert _pool(cli.json("status"), "WETH")["oracle"] == "ok"


def test_pool_reset_anchor__after_a_refused_jump__governance_only_then_accepted(cli, book):
    assert cli("oracle", "set", "WETH", "100").code == 1
    message = cli.error("pool", "reset-anchor", "WETH", "--account", BORROWER)
    assert message.startswith("only governance (the factory's owner, 0x")
    assert _pool(cli.json("status"), "WETH")["oracle"] == "price jump"
    run = cli.json("pool", "reset-anchor", "WETH", "--account", 0)
    assert len(run.pop("transactions")) == 1
    assert run == {"pool": "WETH", "price": "100", "oracle": "ok"}
    assert _pool(cli.json("status"), "WETH")["price"] is not None
    # and back: 3,000 is a jump from the new anchor of 100
    assert cli("oracle", "set", "WETH", "3000").code == 1
    cli.ok("pool", "reset-anchor", "WETH", "--account", 0)
    assert _pool(cli.json("status"), "WETH")["oracle"] == "ok"


def test_status__feed_older_than_heartbeat__stale(cli, w3, book):
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        w3.provider.make_request("evm_increaseTime", [2 * 3600])
        w3.provider.make_request("evm_mine", [])
        status = cli.json("status")
        for pool in status["pools"]:
            assert pool["oracle"] == "stale price" and pool["price_age"] >= 2 * 3600
        assert "stale price" in cli.ok("status").out
    finally:
        w3.provider.make_request("evm_revert", [snapshot])


def test_oracle_set__unknown_pool__error(cli):
    assert cli.error("oracle", "set", "DOGE", "1") == "unknown pool 'DOGE' (known: WETH, WBTC, VOL)"


def test_oracle_set__zero_price__error(cli):
    assert cli.error("oracle", "set", "VOL", "0") == "a price must be above 0"


def test_oracle_set__malformed_price__error(cli):
    assert cli.error("oracle", "set", "VOL", "two") == (
        "Invalid value for 'PRICE': malformed number 'two' (see `bulkhead oracle set --help`)"
    )


def test_oracle_set__more_decimals_than_the_feed__error(cli):
    assert cli.error("oracle", "set", "VOL", "1.123456789") == (
        "1.123456789 has more decimals than the VOL feed has (8)"
    )


def test_faucet__defaults__about_100k_usd_of_each_mock_collateral(cli, client, dev):
    before = {n: client.balance(client.pool(n), dev[KEEPER]) for n in ("WETH", "WBTC", "VOL")}
    minted = cli.json("faucet", "--account", KEEPER)
    assert minted["to"] == dev[KEEPER] and len(minted["transactions"]) == 3  # a mint per pool
    amounts = {m["pool"]: D(m["amount"]) for m in minted["minted"]}
    assert amounts == {"WETH": 33, "WBTC": D("1.7"), "VOL": 50_000}
    for name, amount in amounts.items():
        pool = client.pool(name)
        assert client.balance(pool, dev[KEEPER]) - before[name] == amount * 10**pool.decimals


def test_faucet__pool_amount_and_receiver__mints_exactly_that(cli, client, dev):
    before = client.balance(client.pool("WBTC"), dev[ATTACKER])
    run = cli.ok("faucet", "--pool", "WBTC", "--amount", "0.12345678", "--to", dev[ATTACKER])
    assert f"minted to {dev[ATTACKER]}" in run.out
    assert client.balance(client.pool("WBTC"), dev[ATTACKER]) - before == 12_345_678


def test_faucet__bad_receiver__error(cli):
    assert cli.error("faucet", "--to", "0x12") == "--to '0x12' is not an address"


def test_faucet__too_precise_amount__error(cli):
    assert cli.error("faucet", "--pool", "VOL", "--amount", "0.0000001") == (
        "0.0000001 has more decimals than VOL has (6)"
    )


def test_health_mirror__status_values__equal_bulkhead_risk(cli, client, book):
    """The CLI's health numbers come from bulkhead.risk; they equal the pool's to the wei."""
    pool = client.pool("WBTC")
    params = client.params(pool)
    shown = _pool(cli.json("status"), "WBTC")["lowest_health"][0]
    c = pool.contract.functions
    expected = risk.health(
        c.collateral_of(shown["id"]).call(),
        c.debt_of(shown["id"]).call(),
        c.price().call(),
        params.liquidation_threshold,
        pool.scale,
    )
    assert D(shown["health"]) * WAD == expected


def test_display__dust_and_young_vault_apy__plain_and_labelled():
    from bulkhead import fmt
    from bulkhead.cli.base import _apy_text

    # a dust reserve in plain digits, not 1.490E-4
    assert fmt.usd(149 * 10**12) == "0.000149"
    assert fmt.usd(1) == "0.000000000000000001"
    assert fmt.usd(5 * 10**15) == "0.005" and fmt.usd(10**16) == "0.01"
    # a one-day window over a young vault compounds into nonsense: said so
    assert _apy_text(3278.8284) == "327883% (over a short window: not a forecast)"
    assert _apy_text(0.0523) == "5.23%"
    assert _apy_text(float("inf")) == "-"
