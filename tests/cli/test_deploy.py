"""`bulkhead deploy`: the manifest, accounts (dev index, env key, keystore) and its errors."""

from __future__ import annotations

import json

import pytest
from eth_account import Account

from bulkhead.chain import connect
from bulkhead.client import Client
from bulkhead.deploy import Config, Deployment
from bulkhead.node import Anvil
from bulkhead.risk import RiskParams
from tests.cli.conftest import BORROWER, Cli, free_port

RISK_KEYS = set(RiskParams.__dataclass_fields__)


def test_deploy__default_config__writes_manifest_with_every_pool_and_parameter(cli, w3):
    raw = json.loads(cli.manifest.read_text())
    assert raw["chain_id"] == 31337
    assert raw["deploy_block"] >= 1
    for key in ("stablecoin", "factory", "lens"):
        assert w3.eth.get_code(raw[key]), key
    assert [p["name"] for p in raw["pools"]] == ["WETH", "WBTC", "VOL"]
    assert [p["collateral_decimals"] for p in raw["pools"]] == [18, 8, 6]
    for pool in raw["pools"]:
        assert {"name", "address", "collateral", "feed", "oracle"} | RISK_KEYS <= set(pool)
        assert {"heartbeat", "max_jump_bps"} <= set(pool["oracle"])
        on_chain = Client.attach(w3, Deployment.from_dict(raw)).pool(pool["name"])
        params = tuple(on_chain.contract.functions.risk_params().call())
        assert params == tuple(pool[k] for k in RiskParams.__dataclass_fields__)
        feed, heartbeat, jump = on_chain.contract.functions.oracle_params().call()
        assert (feed, heartbeat, jump) == (
            pool["feed"],
            pool["oracle"]["heartbeat"],
            pool["oracle"]["max_jump_bps"],
        )


def test_deploy__manifest__round_trips_through_load_and_save(cli, tmp_path):
    loaded = Deployment.load(cli.manifest)
    copy = tmp_path / "copy.json"
    loaded.save(copy)
    assert json.loads(copy.read_text()) == json.loads(cli.manifest.read_text())
    assert Deployment.load(copy) == loaded


def test_deploy__json__prints_the_manifest_and_progress_on_stderr(anvil, tmp_path):
    manifest = tmp_path / "m.json"
    run = Cli(anvil.rpc_url, manifest).ok("deploy", "--json")
    assert run.json == json.loads(manifest.read_text())
    for pool in ("WETH", "WBTC", "VOL"):
        assert f"{pool}: creating pool" in run.err
    assert f"manifest written to {manifest}" in run.err


def test_deploy__existing_manifest__kept_aside_not_overwritten(anvil, tmp_path):
    """A second deploy to the same path moves the first manifest to NAME.<time>.bak: it may
    be the only record of the first deployment's addresses."""
    manifest = tmp_path / "m.json"
    runner = Cli(anvil.rpc_url, manifest)
    runner.ok("deploy")
    first = manifest.read_text()
    run = runner.ok("deploy")
    backups = list(tmp_path.glob("m.json.*.bak"))
    assert len(backups) == 1 and backups[0].read_text() == first
    assert f"(the previous one kept as {backups[0]})" in run.err
    assert Deployment.load(manifest).factory != json.loads(first)["factory"]


def test_deploy__manifest_option__wins_over_the_environment(anvil, tmp_path):
    chosen = tmp_path / "sub" / "chosen.json"
    Cli(anvil.rpc_url, tmp_path / "env.json").ok("deploy", "--manifest", chosen)
    assert Deployment.load(chosen).chain_id == 31337
    assert not (tmp_path / "env.json").exists()


def test_deploy__dev_account_index__deploys_from_that_account(anvil, dev, tmp_path):
    runner = Cli(anvil.rpc_url, tmp_path / "m.json")
    runner.ok("deploy", "--account", BORROWER)
    assert Deployment.load(runner.manifest).deployer == dev[BORROWER]


def test_deploy__key_in_environment__deploys_from_it_and_never_prints_it(
    anvil, fresh_key, tmp_path
):
    runner = Cli(anvil.rpc_url, tmp_path / "m.json")
    run = runner.ok("deploy", "--json", env={"BULKHEAD_PRIVATE_KEY": fresh_key})
    address = Account.from_key(fresh_key).address
    assert run.json["deployer"] == address
    bare = fresh_key.removeprefix("0x").lower()
    for text in (run.out, run.err, runner.manifest.read_text()):
        assert bare not in text.lower()


def test_deploy__key_without_eth__one_line_error(anvil, tmp_path):
    key = Account.create()
    message = Cli(anvil.rpc_url, tmp_path / "m.json").error(
        "deploy", env={"BULKHEAD_PRIVATE_KEY": key.key.hex()}
    )
    assert message == f"{key.address} holds no ETH to pay for gas on chain id 31337"


def test_deploy__keystore_with_password_in_environment__deploys_from_it(anvil, fresh_key, tmp_path):
    keystore = tmp_path / "key.json"
    keystore.write_text(
        json.dumps(Account.encrypt(fresh_key, "s3cret", kdf="pbkdf2", iterations=2))
    )
    runner = Cli(anvil.rpc_url, tmp_path / "m.json")
    run = runner.ok("deploy", "--keystore", keystore, env={"BULKHEAD_KEYSTORE_PASSWORD": "s3cret"})
    assert Deployment.load(runner.manifest).deployer == Account.from_key(fresh_key).address
    assert fresh_key.removeprefix("0x").lower() not in (run.out + run.err).lower()


def test_deploy__keystore_without_password__prompts_for_it(anvil, fresh_key, tmp_path):
    keystore = tmp_path / "key.json"
    keystore.write_text(
        json.dumps(Account.encrypt(fresh_key, "s3cret", kdf="pbkdf2", iterations=2))
    )
    runner = Cli(anvil.rpc_url, tmp_path / "m.json")
    run = runner.ok("deploy", "--keystore", keystore, input="s3cret\n")
    assert "password for key.json" in run.err
    assert "s3cret" not in run.out + run.err
    assert Deployment.load(runner.manifest).deployer == Account.from_key(fresh_key).address


def test_deploy__keystore_wrong_password__one_line_error(anvil, fresh_key, tmp_path):
    keystore = tmp_path / "key.json"
    keystore.write_text(
        json.dumps(Account.encrypt(fresh_key, "s3cret", kdf="pbkdf2", iterations=2))
    )
    runner = Cli(anvil.rpc_url, tmp_path / "m.json")
    message = runner.error(
        "deploy", "--keystore", keystore, env={"BULKHEAD_KEYSTORE_PASSWORD": "wrong"}
    )
    assert message == f"wrong password for keystore {keystore}"
    assert not runner.manifest.exists()


def test_deploy__keystore_not_json__one_line_error(anvil, tmp_path):
    keystore = tmp_path / "key.json"
    keystore.write_text("not a keystore")
    message = Cli(anvil.rpc_url, tmp_path / "m.json").error("deploy", "--keystore", keystore)
    assert message == f"keystore {keystore} is not JSON"


def test_deploy__malformed_key_in_environment__error_without_the_key(anvil, tmp_path):
    bad_key = "0x" + "ab" * 31 + "zz"
    message = Cli(anvil.rpc_url, tmp_path / "m.json").error(
        "deploy", env={"BULKHEAD_PRIVATE_KEY": bad_key}
    )
    assert message == "BULKHEAD_PRIVATE_KEY does not hold a valid private key"
    assert "abab" not in message


def test_deploy__account_and_keystore_together__error(anvil, tmp_path):
    message = Cli(anvil.rpc_url, tmp_path / "m.json").error(
        "deploy", "--account", 1, "--keystore", tmp_path / "k.json"
    )
    assert message == "give either --account or --keystore, not both"


def test_deploy__unknown_dev_account__error(anvil, tmp_path):
    message = Cli(anvil.rpc_url, tmp_path / "m.json").error("deploy", "--account", 99)
    assert message == "no dev account 99: the node has 10 (0 to 9)"


def test_deploy__yaml_config__deploys_only_its_pools(anvil, tmp_path):
    config = tmp_path / "one.yaml"
    config.write_text(
        "pools:\n"
        "  - name: GOLD\n"
        "    decimals: 12\n"
        "    price: 2400\n"
        "    max_ltv_bps: 7000\n"
        "    liquidation_threshold_bps: 8000\n"
        "    liquidation_bonus_bps: 500\n"
        "    target_health: 1.1\n"
        "    min_debt: 100\n"
        "    debt_ceiling: 1000\n"
    )
    runner = Cli(anvil.rpc_url, tmp_path / "m.json")
    manifest = runner.json("deploy", "--config", config)
    assert [(p["name"], p["collateral_decimals"]) for p in manifest["pools"]] == [("GOLD", 12)]
    assert runner.json("status")["pools"][0]["price"] == "2400"
    # its own parameters hold: a 1,000 bhUSD debt ceiling
    runner.ok("faucet")
    message = runner.error(
        "position", "open", "--pool", "GOLD", "--collateral", "1", "--debt", "1500"
    )
    assert message == (
        "borrowing 1,500.00 bhUSD against 1 GOLD would pass pool GOLD's debt ceiling: "
        "room for 1,000.00 bhUSD"
    )


def test_deploy__config_with_syntax_error__one_line_error(anvil, tmp_path):
    config = tmp_path / "broken.toml"
    config.write_text("[[pools]\nname = ")
    message = Cli(anvil.rpc_url, tmp_path / "m.json").error("deploy", "--config", config)
    assert message.startswith(f"config {config} is not valid:")


def test_deploy__yaml_with_syntax_error__still_one_line(anvil, tmp_path):
    config = tmp_path / "broken.yaml"
    config.write_text("pools:\n  - name: X\n   bad: [\n")
    message = Cli(anvil.rpc_url, tmp_path / "m.json").error("deploy", "--config", config)
    assert message.startswith(f"config {config} is not valid:")


def test_deploy__config_missing_a_parameter__one_line_error(anvil, tmp_path):
    config = tmp_path / "short.toml"
    config.write_text('[[pools]]\nname = "X"\nprice = 1.0\n')
    message = Cli(anvil.rpc_url, tmp_path / "m.json").error("deploy", "--config", config)
    assert message == "pool 'X': missing key 'max_ltv_bps'"


def test_deploy__config_file_missing__one_line_error(anvil, tmp_path):
    message = Cli(anvil.rpc_url, tmp_path / "m.json").error(
        "deploy", "--config", tmp_path / "nope.toml"
    )
    assert message == f"cannot read config {tmp_path / 'nope.toml'}: No such file or directory"


def test_deploy__node_not_reachable__one_line_error(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    message = Cli(url, tmp_path / "m.json").error("deploy")
    assert message == f"node not reachable at {url}"


@pytest.fixture(scope="module")
def foreign_chain():
    """An Anvil that calls itself chain id 5: not a local dev chain for Bulkhead."""
    node = Anvil()
    node.args[node.args.index("--chain-id") + 1] = "5"
    node.start()
    yield node
    node.stop()


def test_deploy__mocks_on_a_non_local_chain__refused(foreign_chain, fresh_key_foreign, tmp_path):
    runner = Cli(foreign_chain.rpc_url, tmp_path / "m.json")
    message = runner.error("deploy", env={"BULKHEAD_PRIVATE_KEY": fresh_key_foreign})
    assert message == "mock tokens and feeds are refused on chain id 5 (not a local dev chain)"
    assert not runner.manifest.exists()


def test_deploy__no_account_on_a_non_local_chain__error(foreign_chain, tmp_path):
    message = Cli(foreign_chain.rpc_url, tmp_path / "m.json").error("deploy")
    assert message == ("no account for chain id 5: use --keystore FILE or set BULKHEAD_PRIVATE_KEY")


def test_deploy__dev_account_on_a_non_local_chain__error(foreign_chain, tmp_path):
    message = Cli(foreign_chain.rpc_url, tmp_path / "m.json").error("deploy", "--account", 0)
    assert message == (
        "--account picks a dev account of a local chain; chain id 5 is not one "
        "(use --keystore FILE or BULKHEAD_PRIVATE_KEY)"
    )


@pytest.fixture
def fresh_key_foreign(foreign_chain) -> str:
    w3 = connect(foreign_chain.rpc_url)
    account = Account.create()
    tx = w3.eth.send_transaction(
        {"from": w3.eth.accounts[0], "to": account.address, "value": 10**20}
    )
    w3.eth.wait_for_transaction_receipt(tx)
    return account.key.hex()


def test_config__default__deploys_three_pools_with_decimals_18_8_6():
    pools = Config.load().pools
    assert [(p.name, p.decimals) for p in pools] == [("WETH", 18), ("WBTC", 8), ("VOL", 6)]
    assert len({p.params for p in pools}) == 3  # each its own parameters
