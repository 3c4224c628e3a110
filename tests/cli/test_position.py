"""`bulkhead position ...` end to end: human units in, chain state out, every refusal a line."""

from __future__ import annotations

import math
import re
from decimal import ROUND_DOWN, Decimal

import pytest
from eth_account import Account

from bulkhead import risk
from bulkhead.risk import BPS, WAD
from tests.cli.conftest import ATTACKER, BORROWER, OPERATOR

D = Decimal
CENT = D("0.01")


@pytest.fixture(scope="module")
def funded(cli):
    """The borrower and the attacker hold mock collateral of every pool."""
    for who in (BORROWER, ATTACKER):
        cli.ok("faucet", "--account", who)
    return cli


def _open(cli, pool: str, collateral: str, debt: str = "0", who: int = BORROWER) -> dict:
    return cli.json(
        "position", "open", "--pool", pool, "--collateral", collateral, "--debt", debt,
        "--account", who,
    )  # fmt: skip


def _chain(client, pool: str, position_id: int) -> tuple[str, int, int]:
    c = client.pool(pool).contract.functions
    return (
        c.owner_of(position_id).call(),
        c.collateral_of(position_id).call(),
        c.debt_of(position_id).call(),
    )


def _max_debt(client, pool: str, collateral: int) -> tuple[int, int, int]:
    """What `collateral` [token units] may carry in `pool` now: (max debt [wad], at most
    borrowable from nothing [wad], price [wad]), from the pool's own parameters."""
    p = client.pool(pool)
    c = p.contract.functions
    params, price = client.params(p), c.price().call()
    limit = risk.max_debt(collateral, price, params.max_ltv, p.scale)
    room = risk.max_borrow(collateral, 0, price, params, p.scale, c.total_debt().call())
    return limit, room, price


def _collateral_for(client, pool: str, debt: int) -> str:
    """Whole tokens of collateral under which `debt` [bhUSD] uses at most 80 % of the pool's
    max LTV at its current price."""
    p = client.pool(pool)
    max_ltv = D(client.params(p).max_ltv) / BPS
    price = D(p.contract.functions.price().call()) / WAD
    return str(math.ceil(D(debt) / (price * max_ltv * D("0.8"))))


def _number(text: str, after: str) -> Decimal:
    """The number that follows `after` in `text` (thousands separators allowed)."""
    match = re.search(re.escape(after) + r"\s+([0-9,]+(?:\.[0-9]+)?)", text)
    assert match, (after, text)
    return D(match.group(1).replace(",", ""))


# ------------------------------------------------------------------ happy paths


@pytest.mark.parametrize(
    ("pool", "collateral", "units"),
    [("WETH", "2.5", 25 * 10**17), ("WBTC", "0.15", 15 * 10**6), ("VOL", "5000.25", 5_000_250_000)],
)
def test_open__human_amounts__position_holds_exact_units(
    funded, client, dev, pool, collateral, units
):
    shown = _open(funded, pool, collateral, "1000")
    owner, coll, debt = _chain(client, pool, shown["id"])
    assert (owner, coll) == (dev[BORROWER], units)
    assert debt >= 1000 * WAD
    assert shown["collateral"] == collateral
    assert D(shown["debt"]) * WAD == debt


def test_open__approval__exactly_the_collateral_and_spent(funded, client, dev):
    token = client.pool("WETH").token.functions
    pool = client.pool("WETH").contract.address
    _open(funded, "WETH", "1", "100")
    assert token.allowance(dev[BORROWER], pool).call() == 0


def test_show__position__matches_the_pool_and_the_risk_mirror(funded, client):
    position_id = _open(funded, "WETH", "2", "3000")["id"]
    shown = funded.json("position", "show", "--pool", "weth", "--id", position_id)
    pool = client.pool("WETH").contract.functions
    params = client.params(client.pool("WETH"))
    coll, debt, price = (
        pool.collateral_of(position_id).call(),
        pool.debt_of(position_id).call(),
        pool.price().call(),
    )
    assert D(shown["debt"]) * WAD == debt
    assert D(shown["health"]) * WAD == risk.health(
        coll, debt, price, params.liquidation_threshold, 1
    )
    assert D(shown["health"]) * WAD == pool.health(position_id).call()
    assert D(shown["liquidation_price"]) * WAD == pool.liquidation_price(position_id).call()
    lens_max = client.lens.functions.max_borrow(client.pool("WETH").contract.address, position_id)
    assert D(shown["max_borrow"]) * WAD == lens_max.call()


def test_show__table__names_health_and_liquidation_price(funded, client):
    position_id = _open(funded, "WBTC", "0.1", "2000")["id"]
    text = funded.ok("position", "show", "--pool", "WBTC", "--id", position_id).out
    assert f"WBTC #{position_id}" in text
    pool = client.pool("WBTC")
    threshold = client.params(pool).liquidation_threshold
    _, coll, debt = _chain(client, "WBTC", position_id)
    price = pool.contract.functions.price().call()
    # 6,000 USD x threshold / 2,000 bhUSD, to 3 decimals
    health = risk.health(coll, debt, price, threshold, pool.scale)
    assert _number(text, "health") == (D(health) / WAD).quantize(D("0.001"))
    # 2,000 bhUSD / (0.1 WBTC x threshold), to the cent
    liquidation_price = risk.liquidation_price(coll, debt, threshold, pool.scale)
    assert _number(text, "liquidation price") == (D(liquidation_price) / WAD).quantize(CENT)


def test_deposit__by_anyone__adds_collateral(funded, client):
    position_id = _open(funded, "VOL", "1000", "500")["id"]
    shown = funded.json(
        "position", "deposit", "--pool", "VOL", "--id", position_id, "250.5", "--account", ATTACKER
    )
    assert shown["collateral"] == "1250.5"
    assert _chain(client, "VOL", position_id)[1] == 1_250_500_000


def test_withdraw__within_max_ltv__returns_collateral(funded, client, dev):
    position_id = _open(funded, "WETH", "3", "3000")["id"]
    before = client.balance(client.pool("WETH"), dev[BORROWER])
    funded.ok("position", "withdraw", "--pool", "WETH", "--id", position_id, "1", "--account", 1)
    assert client.balance(client.pool("WETH"), dev[BORROWER]) - before == WAD
    assert _chain(client, "WETH", position_id)[1] == 2 * WAD


def test_borrow__within_max_ltv__mints_bhusd(funded, client, dev):
    position_id = _open(funded, "WETH", "2")["id"]
    before = client.balance(None, dev[BORROWER])
    funded.ok(
        "position", "borrow", "--pool", "WETH", "--id", position_id, "1234.56", "--account", 1
    )
    assert client.balance(None, dev[BORROWER]) - before == 123_456 * 10**16


def test_repay__part__burns_that_much(funded, client, dev):
    position_id = _open(funded, "WETH", "2", "2000")["id"]
    before = client.balance(None, dev[BORROWER])
    shown = funded.json(
        "position", "repay", "--pool", "WETH", "--id", position_id, "500", "--account", BORROWER
    )
    assert shown["action"] == "repaid 500.00 bhUSD"
    assert before - client.balance(None, dev[BORROWER]) == 500 * WAD
    assert D(shown["debt"]) < 1501


def test_repay__all__clears_the_debt_and_burns_only_it(funded, client, dev):
    position_id = _open(funded, "WETH", "2", "1000")["id"]
    _open(funded, "WETH", "5", "2000")  # bhUSD for the stability fee
    before = client.balance(None, dev[BORROWER])
    shown = funded.json(
        "position", "repay", "--pool", "WETH", "--id", position_id, "all", "--account", BORROWER
    )
    assert _chain(client, "WETH", position_id)[2] == 0
    assert shown["debt"] == "0" and shown["health"] is None
    burned = before - client.balance(None, dev[BORROWER])
    assert 1000 * WAD < burned < 1000 * WAD + 10**15


def test_close__with_debt__repays_and_returns_collateral(funded, client, dev):
    position_id = _open(funded, "VOL", "4000", "1000")["id"]
    _open(funded, "VOL", "4000", "1000")  # bhUSD for the stability fee
    token_before = client.balance(client.pool("VOL"), dev[BORROWER])
    run = funded.ok("position", "close", "--pool", "VOL", "--id", position_id, "--account", 1)
    assert f"closed position {position_id} in pool VOL: repaid 1,000.00 bhUSD" in run.out
    assert _chain(client, "VOL", position_id)[1:] == (0, 0)
    assert client.balance(client.pool("VOL"), dev[BORROWER]) - token_before == 4_000_000_000
    message = funded.error(
        "position", "close", "--pool", "VOL", "--id", position_id, "--account", BORROWER
    )
    assert message == f"position {position_id} in pool VOL is already empty"


def test_deleverage__max_collateral__repays_and_keeps_collateral_per_debt(funded, client, dev):
    position_id = _open(funded, "WETH", "2", "2000")["id"]
    c = client.pool("WETH").contract.functions
    _, coll_before, _debt = _chain(client, "WETH", position_id)
    norm_before = c.normalised_debt_of(position_id).call()
    token_before = client.balance(client.pool("WETH"), dev[BORROWER])
    bhusd_before = client.balance(None, dev[BORROWER])
    shown = funded.json(
        "position", "deleverage", "--pool", "WETH", "--id", position_id, "500",
        "--account", BORROWER,
    )  # fmt: skip
    _, coll_after, _debt = _chain(client, "WETH", position_id)
    norm_after = c.normalised_debt_of(position_id).call()
    taken = coll_before - coll_after
    assert bhusd_before - client.balance(None, dev[BORROWER]) == 500 * WAD
    assert client.balance(client.pool("WETH"), dev[BORROWER]) - token_before == taken
    # `max` takes about a quarter of the collateral with a quarter of the debt, never more:
    # collateral per unit of debt (so health, at any price) does not fall
    assert coll_after * norm_before >= coll_before * norm_after
    assert taken > coll_before * 249 // 1000
    assert shown["action"].startswith("repaid 500.00 bhUSD and took back ")


def test_deleverage__above_max_ltv__works_where_withdraw_is_refused(funded, client, w3, dev):
    position_id = _open(funded, "VOL", "4000", "3000")["id"]  # VOL at 2 USD: LTV 37.5 %
    feed = client.pool("VOL").feed.functions
    answer = feed.latestAnswer().call()
    w3.eth.wait_for_transaction_receipt(
        feed.set_answer(answer * 6 // 10).transact({"from": dev[0]})
    )  # now 62.5 %, above max LTV, still healthy
    try:
        refused = funded.error(
            "position", "withdraw", "--pool", "VOL", "--id", position_id, "10", "--account", 1
        )
        assert refused.startswith("withdrawing 10 VOL would exceed the max LTV")
        funded.ok(
            "position", "deleverage", "--pool", "VOL", "--id", position_id, "1000",
            "--collateral", "1000", "--account", BORROWER,
        )  # fmt: skip
        assert _chain(client, "VOL", position_id)[1] == 3_000 * 10**6
    finally:
        w3.eth.wait_for_transaction_receipt(feed.set_answer(answer).transact({"from": dev[0]}))


def test_deleverage__collateral_beyond_the_health_bound__says_the_most(funded, client):
    position_id = _open(funded, "WETH", "2", "2000")["id"]
    message = funded.error(
        "position", "deleverage", "--pool", "WETH", "--id", position_id, "500",
        "--collateral", "1", "--account", BORROWER,
    )  # fmt: skip
    most = re.search(r"take at most ([0-9.]+) WETH$", message)
    assert message.startswith(f"taking 1 WETH would lower the health of position {position_id}")
    assert most is not None and D("0.49") < D(most.group(1)) < D("0.5")
    assert _chain(client, "WETH", position_id)[1] == 2 * WAD  # nothing moved


def test_borrow__operator_of_the_owner__allowed(funded, client, w3, dev):
    position_id = _open(funded, "WETH", "2")["id"]
    pool = client.pool("WETH").contract
    tx = pool.functions.set_operator(dev[OPERATOR], True).transact({"from": dev[BORROWER]})
    w3.eth.wait_for_transaction_receipt(tx)
    funded.ok("position", "borrow", "--pool", "WETH", "--id", position_id, "100", "--account", 5)
    assert client.balance(None, dev[OPERATOR]) == 100 * WAD


def test_list__owner__lists_only_their_positions(funded, client, dev):
    mine = _open(funded, "WBTC", "0.01", "0", who=ATTACKER)["id"]
    listed = funded.json("position", "list", "--account", ATTACKER)
    assert listed["owner"] == dev[ATTACKER]
    assert {"pool": "WBTC", "id": mine} in [
        {"pool": p["pool"], "id": p["id"]} for p in listed["positions"]
    ]
    assert all(p["owner"] == dev[ATTACKER] for p in listed["positions"])
    other = funded.json("position", "list", "--owner", dev[BORROWER], "--pool", "WBTC")
    assert other["positions"] and all(p["owner"] == dev[BORROWER] for p in other["positions"])


def test_open__key_in_environment__owner_is_that_key_never_printed(funded, client, fresh_key):
    address = Account.from_key(fresh_key).address
    env = {"BULKHEAD_PRIVATE_KEY": fresh_key}
    funded.ok("faucet", "--pool", "WETH", "--amount", "3", env=env)
    run = funded.ok(
        "position", "open", "--pool", "WETH", "--collateral", "3", "--debt", "100", env=env
    )
    position_id = int(re.search(r"opened position (\d+)", run.out).group(1))
    assert _chain(client, "WETH", position_id)[0] == address
    assert fresh_key.removeprefix("0x").lower() not in (run.out + run.err).lower()


# ------------------------------------------------------------------ refusals


def test_faucet__key_without_eth__node_refusal_in_one_line(funded):
    key = Account.create().key.hex()
    message = funded.error("faucet", "--pool", "WETH", env={"BULKHEAD_PRIVATE_KEY": key})
    assert message == "transaction refused: Insufficient funds for gas * price + value"


def test_open__unknown_pool__error(funded):
    assert funded.error("position", "open", "--pool", "DOGE", "--collateral", "1") == (
        "unknown pool 'DOGE' (known: WETH, WBTC, VOL)"
    )


def test_show__unknown_position__error(funded, client):
    count = client.pool("WBTC").contract.functions.position_count().call()
    assert funded.error("position", "show", "--pool", "WBTC", "--id", 999) == (
        f"unknown position 999 in pool WBTC (ids run from 1 to {count})"
    )


@pytest.mark.parametrize(
    ("command", "verb"),
    [
        (["withdraw", "0.1"], "withdraw"),
        (["borrow", "100"], "borrow"),
        (["close"], "close"),
        (["deleverage", "100"], "deleverage"),
    ],
)
def test_owner_only_actions__another_account__not_your_position(funded, dev, command, verb):
    position_id = _open(funded, "WETH", "1", "500")["id"]
    message = funded.error(
        "position", command[0], "--pool", "WETH", "--id", position_id, *command[1:],
        "--account", ATTACKER,
    )  # fmt: skip
    assert message == (
        f"not your position: position {position_id} in pool WETH belongs to {dev[BORROWER]}, "
        f"not to {dev[ATTACKER]} (only its owner or an operator can {verb})"
    )


def test_open__more_collateral_than_held__insufficient_balance(funded, client, dev):
    held = client.balance(client.pool("WBTC"), dev[BORROWER])
    message = funded.error(
        "position", "open", "--pool", "WBTC", "--collateral", "1000", "--account", 1
    )
    assert message == (
        f"insufficient WBTC balance: opening needs 1,000 WBTC, {dev[BORROWER]} has "
        f"{D(held) / 10**8:,.4f}".rstrip("0").rstrip(".")
        + " (`bulkhead faucet` mints mock collateral)"
    )


def test_deposit__more_than_held__insufficient_balance(funded):
    position_id = _open(funded, "VOL", "100")["id"]
    message = funded.error(
        "position", "deposit", "--pool", "VOL", "--id", position_id, "10000000", "--account", 1
    )
    assert message.startswith("insufficient VOL balance: depositing needs 10,000,000 VOL,")


def test_repay__without_bhusd__insufficient_balance(funded, dev):
    position_id = _open(funded, "WETH", "1", "500")["id"]
    message = funded.error(
        "position", "repay", "--pool", "WETH", "--id", position_id, "200", "--account", OPERATOR + 1
    )
    # short by 200, asked with a margin of 1 bps of the need (0.02), to the cent
    assert message == (
        f"insufficient bhUSD balance: repaying 200.00 bhUSD needs 200.00 bhUSD, "
        f"{dev[OPERATOR + 1]} has 0.00: 200.02 bhUSD short (`bulkhead faucet --bhusd 200.02` "
        "borrows it on a local chain)"
    )


def test_close__debt_above_balance__insufficient_balance(funded, dev, client):
    collateral = _collateral_for(client, "WETH", 20_000)
    position_id = _open(funded, "WETH", collateral, "20000", who=ATTACKER)["id"]
    # the attacker spends part of the bhUSD it borrowed
    tx = client.stablecoin.functions.transfer(dev[0], 5000 * WAD).transact({"from": dev[ATTACKER]})
    client.w3.eth.wait_for_transaction_receipt(tx)
    message = funded.error(
        "position", "close", "--pool", "WETH", "--id", position_id, "--account", 4
    )
    assert message.startswith("insufficient bhUSD balance: closing needs 20,000.")
    assert f"{dev[ATTACKER]} has {_balance_text(client, dev[ATTACKER])}: " in message
    short = re.search(r": ([0-9.]+) bhUSD short \(`bulkhead faucet --bhusd \1`", message)
    assert short, message
    debt = client.pool("WETH").contract.functions.debt_of(position_id).call()
    missing = debt - client.balance(None, dev[ATTACKER])
    assert missing <= D(short.group(1)) * WAD <= missing + debt // 10_000 + 10**16 + 10**16


def _balance_text(client, who) -> str:
    return f"{D(client.balance(None, who)) / WAD:,.2f}"


def test_open__debt_above_max_ltv__says_by_how_much(funded, client):
    # 2 WETH x 3,000 USD x max LTV at most (less the wei of the pool's rounding up); ask 200 more
    limit, room, price = _max_debt(client, "WETH", 2 * WAD)
    debt = D(limit) / WAD + 200
    message = funded.error(
        "position", "open", "--pool", "WETH", "--collateral", "2", "--debt", f"{debt:f}"
    )
    max_ltv = D(client.params(client.pool("WETH")).max_ltv) / 100
    at_most = (D(room) / WAD).quantize(CENT, ROUND_DOWN)
    assert message == (
        f"borrowing {debt:,.2f} bhUSD against 2 WETH would exceed the max LTV of {max_ltv:g}% "
        f"by 200.00 bhUSD (at most {at_most:,.2f} bhUSD at {D(price) / WAD:,.2f} USD per WETH)"
    )
    assert at_most == (D(limit) / WAD).quantize(CENT, ROUND_DOWN) - CENT


def test_borrow__above_max_ltv__says_by_how_much(funded, client):
    # 0.1 WBTC x 60,000 USD x max LTV at most, no debt yet; ask 100.50 more
    position_id = _open(funded, "WBTC", "0.1")["id"]
    limit, room, price = _max_debt(client, "WBTC", 10**7)
    amount = D(limit) / WAD + D("100.50")
    message = funded.error(
        "position", "borrow", "--pool", "WBTC", "--id", position_id, f"{amount:f}", "--account", 1
    )
    max_ltv = D(client.params(client.pool("WBTC")).max_ltv) / 100
    at_most = (D(room) / WAD).quantize(CENT, ROUND_DOWN)
    assert message == (
        f"borrowing {amount:,.2f} bhUSD would exceed the max LTV of {max_ltv:g}% by 100.50 bhUSD "
        f"(at most {at_most:,.2f} bhUSD at {D(price) / WAD:,.2f} USD per WBTC)"
    )
    # the limit itself would pass it by the wei that the pool's rounding up adds: a cent less
    assert at_most == (D(limit) / WAD).quantize(CENT, ROUND_DOWN) - CENT
    funded.ok(
        "position", "borrow", "--pool", "WBTC", "--id", position_id, f"{at_most:f}", "--account", 1
    )


def test_withdraw__beyond_max_ltv__says_by_how_much_collateral(funded, client):
    # 1,100 bhUSD against 1,000 VOL at 2 USD and 55 %: at least 1,000 VOL must stay
    position_id = _open(funded, "VOL", "2000", "1100")["id"]
    message = funded.error(
        "position", "withdraw", "--pool", "VOL", "--id", position_id, "1500", "--account", 1
    )
    pos = client.position(client.pool("VOL"), position_id)
    params = client.params(client.pool("VOL"))
    need = D(pos.debt) * 10_000 / (params.max_ltv * 2) / WAD  # [VOL]
    assert message.startswith("withdrawing 1,500 VOL would exceed the max LTV of 55% by ")
    assert abs(_number(message, "by") - (1500 - (2000 - need))) <= D("0.0001")
    assert abs(_number(message, "at most") - (2000 - need)) <= D("0.0001")


def test_open_and_borrow__paused_pool__error(funded, client, w3, dev):
    position_id = _open(funded, "WBTC", "0.1")["id"]
    factory = client.factory.functions
    pool = client.pool("WBTC").contract.address
    w3.eth.wait_for_transaction_receipt(factory.set_paused(pool, True).transact({"from": dev[0]}))
    try:
        assert funded.error("position", "open", "--pool", "WBTC", "--collateral", "0.1") == (
            "cannot open a position: pool WBTC is paused (no new debt)"
        )
        message = funded.error(
            "position", "borrow", "--pool", "WBTC", "--id", position_id, "100", "--account", 1
        )
        assert message == "cannot borrow: pool WBTC is paused (no new debt)"
        # deposit still works while paused
        funded.ok(
            "position", "deposit", "--pool", "WBTC", "--id", position_id, "0.01", "--account", 1
        )
    finally:
        tx = factory.set_paused(pool, False).transact({"from": dev[0]})
        w3.eth.wait_for_transaction_receipt(tx)


def test_withdraw__more_than_the_position_holds__error(funded):
    position_id = _open(funded, "WETH", "1")["id"]
    message = funded.error(
        "position", "withdraw", "--pool", "WETH", "--id", position_id, "2", "--account", 1
    )
    assert message == f"position {position_id} in pool WETH holds only 1 WETH"


def test_open__debt_below_minimum__error(funded):
    message = funded.error(
        "position", "open", "--pool", "WETH", "--collateral", "1", "--debt", "50"
    )
    assert message == (
        "borrowing 50.00 bhUSD against 1 WETH leaves a debt of 50.00 bhUSD, below pool WETH's "
        "minimum debt of 100.00 bhUSD"
    )


def test_repay__leaving_less_than_minimum__says_how_much_is_possible(funded):
    position_id = _open(funded, "WETH", "1", "1000")["id"]
    message = funded.error(
        "position", "repay", "--pool", "WETH", "--id", position_id, "950", "--account", 1
    )
    assert message.startswith("repaying 950.00 bhUSD would leave 50.00 bhUSD of debt, below pool ")
    assert message.endswith("minimum debt of 100.00 bhUSD: repay at most 900.00, or all")


def test_repay__no_debt__error(funded):
    position_id = _open(funded, "WETH", "1")["id"]
    assert funded.error(
        "position", "repay", "--pool", "WETH", "--id", position_id, "1", "--account", 1
    ) == (f"position {position_id} in pool WETH has no debt")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("abc", "malformed number 'abc'"),
        ("1,5", "malformed number '1,5'"),
        ("1.2.3", "malformed number '1.2.3'"),
        ("nan", "malformed number 'nan'"),
        ("inf", "malformed number 'inf'"),
        ("-1", "negative number '-1'"),
    ],
)
def test_amounts__malformed_number__one_line_error(funded, text, why):
    message = funded.error("position", "open", "--pool", "WETH", "--collateral", text)
    assert message == (
        f"Invalid value for '--collateral': {why} (see `bulkhead position open --help`)"
    )
    if not text.startswith("-"):  # a leading dash reads as an option: "No such option"
        message = funded.error("position", "borrow", "--pool", "WETH", "--id", "1", text)
        assert message == (
            f"Invalid value for 'AMOUNT': {why} (see `bulkhead position borrow --help`)"
        )


def test_repay__malformed_amount__one_line_error(funded):
    assert funded.error("position", "repay", "--pool", "WETH", "--id", "1", "most") == (
        "Invalid value for 'AMOUNT': malformed number 'most' (see `bulkhead position repay --help`)"
    )


def test_amounts__more_decimals_than_the_token__error(funded):
    message = funded.error("position", "open", "--pool", "VOL", "--collateral", "1.0000001")
    assert message == "1.0000001 has more decimals than VOL has (6)"
    message = funded.error("position", "open", "--pool", "WBTC", "--collateral", "0.000000001")
    assert message == "0.000000001 has more decimals than WBTC has (8)"


def test_options__malformed_id_and_account__one_line_usage_errors(funded):
    assert funded.error("position", "show", "--pool", "WETH", "--id", "0").startswith(
        "Invalid value for '--id': 0 is not in the range x>=1."
    )
    assert funded.error("position", "list", "--account", "abc").startswith(
        "Invalid value for '--account': 'abc' is not a valid integer range."
    )
    assert funded.error("position", "show", "--id", "1").startswith("Missing option '--pool'.")
    assert funded.error("position", "launch").startswith("No such command 'launch'.")
