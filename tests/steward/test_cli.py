"""`bulkhead steward ...` on a fresh Anvil: who the steward is after `bulkhead deploy`,
governance's commands, the steward's by hand, `show`, and one-line errors for bad inputs."""

from __future__ import annotations

from tests.cli.conftest import free_port
from tests.steward.conftest import ADMIN, BORROWER, STEWARD

ZERO = "0x" + "00" * 20


def test_deploy__local_chain__names_dev_account_8_the_steward(chain):
    assert chain.client.steward() == chain.accounts[STEWARD]
    assert chain.client.factory.functions.owner().call() == chain.accounts[ADMIN]


def test_show__after_deploy__steward_rules_and_no_estimate_yet(fresh, cli):
    data = cli.json("steward", "show")
    assert data["steward"] == fresh.accounts[STEWARD]
    pools = {p["pool"]: p for p in data["pools"]}
    assert set(pools) == {"WETH", "WBTC", "VOL"}
    assert pools["VOL"]["rules"]["max_haircut"] == 4_000
    assert pools["WETH"]["borrow_ltv_bps"] == 6_000 and pools["WETH"]["current_bps"] == 0
    assert pools["WETH"]["vol"] is None and pools["WETH"]["action"] == "hold"
    assert [c["haircut_bps"] for c in data["curve"]] == [0, 750, 1_500, 2_250, 3_000]
    table = cli.ok("steward", "show").out
    assert "up to 30%, 5% a step, every 3600 s" in table
    assert "hold: too few feed rounds for an estimate" in table


def test_set_haircut__steward_by_hand__borrow_limit_falls(fresh, cli):
    data = cli.json("steward", "set-haircut", "WETH", "5%")
    assert (data["haircut_bps"], data["previous_bps"], data["borrow_ltv_bps"]) == (500, 0, 5_700)
    assert len(data["transactions"]) == 1
    assert fresh.haircut("WETH") == 500


def test_appoint_and_rules__governance__new_steward_acts_within_new_rules(fresh, cli):
    named = fresh.accounts[BORROWER]
    assert cli.json("steward", "appoint", named)["steward"] == named
    data = cli.json("steward", "rules", "WBTC", "--max-step", "2%", "--cooldown", "2h")
    assert (data["max_haircut"], data["max_step"], data["cooldown"]) == (3_000, 200, 7_200)
    assert cli.json("steward", "set-haircut", "WBTC", "2%")["haircut_bps"] == 200
    assert fresh.haircut("WBTC") == 200
    assert cli.json("steward", "appoint", "none")["steward"] is None


def test_run__no_steward_named__one_line_error(fresh, cli):
    cli.ok("steward", "appoint", "none")
    message = cli.error("steward", "run", "--once")
    assert message.startswith("no risk steward is named")


def test_run__an_account_that_is_not_the_steward__one_line_error(fresh, cli):
    message = cli.error("steward", "run", "--once", "--account", BORROWER)
    assert message == (
        f"{fresh.accounts[BORROWER]} is not the risk steward ({fresh.accounts[STEWARD]}): "
        "pick its account with --account or --keystore"
    )


def test_run__governance_account__one_line_error(fresh, cli):
    message = cli.error("steward", "run", "--once", "--account", ADMIN)
    assert message.startswith(f"{fresh.accounts[ADMIN]} is governance (the factory's owner)")


def test_commands__node_down__one_line_error(cli):
    url = f"http://127.0.0.1:{free_port()}"
    assert cli.error("steward", "run", "--once", "--rpc-url", url, "--connect-timeout", "0") == (
        f"node not reachable at {url}"
    )
    assert cli.error("steward", "show", "--rpc-url", url) == f"node not reachable at {url}"
    assert cli.error("steward", "set-haircut", "WETH", "5%", "--rpc-url", url) == (
        f"node not reachable at {url}"
    )


def test_commands__unknown_pool__one_line_error(cli):
    expected = "unknown pool 'NOPE' (known: WETH, WBTC, VOL)"
    assert cli.error("steward", "set-haircut", "NOPE", "5%") == expected
    assert cli.error("steward", "rules", "NOPE", "--max-step", "1%") == expected


def test_set_haircut__beyond_the_rules__one_line_errors_and_nothing_sent(fresh, cli):
    nonce = fresh.nonce(STEWARD)
    assert cli.error("steward", "set-haircut", "WETH", "10%") == (
        "pool WETH: a step of 1000 bps is above the steward's 500"
    )
    cli.ok("steward", "set-haircut", "WETH", "5%")
    assert cli.error("steward", "set-haircut", "WETH", "10%").startswith(
        "pool WETH: the steward's cooldown runs "
    )
    for h in ("10%", "15%", "20%", "25%", "30%"):
        fresh.warp(3_700)
        fresh.mine()
        cli.ok("steward", "set-haircut", "WETH", h)
    fresh.warp(3_700)
    fresh.mine()
    assert cli.error("steward", "set-haircut", "WETH", "35%") == (
        "pool WETH: a haircut of 3500 bps is above the steward's limit of 3000"
    )
    assert fresh.nonce(STEWARD) == nonce + 6
    assert cli.error("steward", "set-haircut", "WETH", "5%", "--account", BORROWER) == (
        f"{fresh.accounts[BORROWER]} is not the risk steward ({fresh.accounts[STEWARD]})"
    )
    assert cli.error("steward", "set-haircut", "WETH", "5.005%") == (
        "Invalid value for 'HAIRCUT': '5.005%' is finer than a basis point "
        "(see `bulkhead steward set-haircut --help`)"
    )


def test_rules__bad_values_or_not_governance__one_line_errors(fresh, cli):
    assert cli.error("steward", "rules", "WETH", "--max-step", "40%") == (
        "the steward's step must be above 0 and at most its max haircut"
    )
    assert cli.error("steward", "rules", "WETH", "--cooldown", "30") == (
        "the steward's cooldown must be between 60 s and 2592000 s"
    )
    assert cli.error("steward", "rules", "WETH", "--max-haircut", "60%") == (
        "a haircut is at most 50%"
    )
    assert cli.error("steward", "rules", "WETH").startswith("name at least one of")
    assert cli.error("steward", "rules", "WETH", "--max-step", "1%", "--account", STEWARD) == (
        f"only governance (the factory's owner, {fresh.accounts[ADMIN]}) can set the "
        f"steward's rules; {fresh.accounts[STEWARD]} is not (--account or --keystore)"
    )
    assert fresh.rules("WETH")["max_step"] == 500


def test_appoint__bad_address_or_governance__one_line_errors(fresh, cli):
    assert cli.error("steward", "appoint", "0x1234") == ("'0x1234' is not an address (or `none`)")
    assert cli.error("steward", "appoint", fresh.accounts[ADMIN]).startswith(
        "governance cannot be the steward"
    )
    assert cli.error("steward", "appoint", fresh.accounts[BORROWER], "--account", BORROWER) == (
        f"only governance (the factory's owner, {fresh.accounts[ADMIN]}) can name the risk "
        f"steward; {fresh.accounts[BORROWER]} is not (--account or --keystore)"
    )


def test_run__bad_policy_options__one_line_errors(cli):
    assert cli.error("steward", "run", "--once", "--window", "30") == (
        "--window must be at least 60 seconds"
    )
    assert cli.error("steward", "run", "--once", "--calm-vol", "200%").startswith(
        "the calm volatility (200%) must be below the stressed one (150%)"
    )
    assert "is not a duration" in cli.error("steward", "run", "--window", "soon")
