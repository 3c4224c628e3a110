"""The manifest on load: a broken, missing or mismatched manifest is one clear error."""

from __future__ import annotations

import json

import pytest

from bulkhead.chain import connect
from bulkhead.deploy import ConfigError, Deployment
from bulkhead.node import Anvil
from tests.cli.conftest import Cli, free_port


@pytest.fixture
def raw(cli) -> dict:
    return json.loads(cli.manifest.read_text())


def _write(tmp_path, data) -> str:
    path = tmp_path / "manifest.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def test_manifest__valid__status_reads_it(cli):
    assert [p["name"] for p in cli.json("status")["pools"]] == ["WETH", "WBTC", "VOL"]


def test_manifest__missing_file__tells_to_deploy(cli, tmp_path):
    path = tmp_path / "none.json"
    assert cli.error("status", "--manifest", path) == (
        f"no manifest at {path} (run `bulkhead deploy` first)"
    )


def test_manifest__not_json__error(cli, tmp_path):
    path = _write(tmp_path, "{not json")
    assert cli.error("status", "--manifest", path).startswith(f"manifest {path} is not valid JSON")


def test_manifest__not_an_object__error(cli, tmp_path):
    assert cli.error("status", "--manifest", _write(tmp_path, [1, 2])) == (
        "manifest is not a JSON object"
    )


def test_manifest__missing_key__names_it(cli, raw, tmp_path):
    del raw["factory"]
    assert cli.error("status", "--manifest", _write(tmp_path, raw)) == (
        "manifest is missing 'factory'"
    )


def test_manifest__malformed_address__names_it(cli, raw, tmp_path):
    raw["pools"][1]["feed"] = "0x1234"
    assert cli.error("status", "--manifest", _write(tmp_path, raw)) == (
        "manifest holds a malformed address '0x1234'"
    )


def test_manifest__missing_risk_parameter__error(cli, raw, tmp_path):
    del raw["pools"][0]["max_ltv"]
    assert cli.error("status", "--manifest", _write(tmp_path, raw)) == (
        "manifest is missing 'max_ltv'"
    )


def test_manifest__negative_risk_parameter__error(cli, raw, tmp_path):
    raw["pools"][0]["max_ltv"] = -1
    assert cli.error("status", "--manifest", _write(tmp_path, raw)) == (
        "manifest pool 'WETH' has malformed risk parameters"
    )


def test_manifest__other_version__error(cli, raw, tmp_path):
    raw["version"] = 99
    assert cli.error("status", "--manifest", _write(tmp_path, raw)) == (
        "manifest version 99 is not 1"
    )


def test_manifest__other_chain_id__wrong_chain(cli, raw, tmp_path):
    raw["chain_id"] = 1
    assert cli.error("status", "--manifest", _write(tmp_path, raw)) == (
        f"wrong chain: the manifest is for chain id 1, the node at {cli.rpc_url} is chain id 31337"
    )


def test_manifest__node_without_the_deployment__wrong_chain(cli):
    with Anvil() as empty:
        message = cli.error("status", "--rpc-url", empty.rpc_url)
    assert message == (
        f"wrong chain: no factory at {cli_factory(cli)} on the node at {empty.rpc_url}; the "
        "manifest belongs to another chain or a node that was reset (run `bulkhead deploy`)"
    )


def test_manifest__another_node_with_the_same_addresses__wrong_chain_by_block_hash(cli, tmp_path):
    """A second node deploys the same contracts at the same addresses (same deployer, same
    nonces): only the deploy block's hash tells the two chains apart."""
    with Anvil() as other:
        w3 = connect(other.rpc_url)
        w3.provider.make_request("evm_increaseTime", [1000])  # another block, another hash
        twin = Cli(other.rpc_url, tmp_path / "twin.json")
        twin.ok("deploy")
        ours, theirs = json.loads(cli.manifest.read_text()), json.loads(twin.manifest.read_text())
        assert (ours["factory"], ours["deploy_block"]) == (
            theirs["factory"],
            theirs["deploy_block"],
        )
        assert ours["deploy_block_hash"] != theirs["deploy_block_hash"]
        message = cli.error("status", "--rpc-url", other.rpc_url)
    assert message == (
        f"wrong chain: block {ours['deploy_block']} on the node at {other.rpc_url} is not the "
        "manifest's deploy block (its hash differs): another node with the same chain id and "
        "addresses, or one that was reset (run `bulkhead deploy`)"
    )


def test_manifest__deploy_block_hash__checked_or_malformed(cli, raw, tmp_path):
    assert cli.ok("status", "--manifest", _write(tmp_path, raw)).code == 0  # its own: fine
    raw["deploy_block_hash"] = "0x" + "ab" * 32
    assert "(its hash differs)" in cli.error("status", "--manifest", _write(tmp_path, raw))
    block = raw["deploy_block"]
    raw["deploy_block"] = 10**9
    assert "(no such block)" in cli.error("status", "--manifest", _write(tmp_path, raw))
    raw["deploy_block"] = block
    raw["deploy_block_hash"] = "0x12"
    assert cli.error("status", "--manifest", _write(tmp_path, raw)) == (
        "manifest holds a malformed deploy block hash"
    )
    del raw["deploy_block_hash"]  # a manifest written before the hash: not checked
    assert cli.ok("status", "--manifest", _write(tmp_path, raw)).code == 0


def cli_factory(cli) -> str:
    return json.loads(cli.manifest.read_text())["factory"]


def test_manifest__factory_address_of_another_contract__wrong_chain(cli, raw, tmp_path):
    raw["factory"] = raw["lens"]
    assert cli.error("status", "--manifest", _write(tmp_path, raw)) == (
        f"wrong chain: the contract at {raw['lens']} on the node at {cli.rpc_url} is not the "
        "manifest's factory (run `bulkhead deploy`)"
    )


def test_manifest__pool_not_in_the_factory__wrong_chain(cli, raw, tmp_path):
    raw["pools"][2]["address"] = raw["stablecoin"]
    assert "is not the manifest's factory" in cli.error(
        "status", "--manifest", _write(tmp_path, raw)
    )


def test_manifest__node_not_reachable__error(cli):
    url = f"http://127.0.0.1:{free_port()}"
    assert cli.error("status", "--rpc-url", url) == f"node not reachable at {url}"


def test_manifest__every_command__checks_the_chain(cli, raw, tmp_path):
    raw["chain_id"] = 10
    path = _write(tmp_path, raw)
    commands = [
        ["status"],
        ["faucet"],
        ["oracle", "set", "WETH", "1"],
        ["pool", "reset-anchor", "WETH"],
        ["position", "show", "--pool", "WETH", "--id", "1"],
        ["position", "list"],
        ["position", "open", "--pool", "WETH", "--collateral", "1"],
        ["position", "deposit", "--pool", "WETH", "--id", "1", "1"],
        ["position", "withdraw", "--pool", "WETH", "--id", "1", "1"],
        ["position", "borrow", "--pool", "WETH", "--id", "1", "1"],
        ["position", "repay", "--pool", "WETH", "--id", "1", "1"],
        ["position", "close", "--pool", "WETH", "--id", "1"],
        ["balance"],
        ["liquidate", "--pool", "WETH", "--id", "1"],
        ["vault", "show"],
        ["vault", "deposit", "1"],
        ["vault", "redeem", "all"],
        ["pool", "pause", "WETH"],
        ["pool", "set-params", "WETH", "--max-ltv", "50%"],
        ["pool", "sweep", "WETH"],
        ["faucet", "--bhusd", "1"],
    ]
    for command in commands:
        assert cli.error(*command, "--manifest", path).startswith("wrong chain:"), command


def test_deployment__from_dict_of_its_json__equal(cli):
    loaded = Deployment.load(cli.manifest)
    assert Deployment.from_dict(json.loads(loaded.to_json())) == loaded


def test_deployment__load_broken__raises_config_error(tmp_path):
    path = tmp_path / "m.json"
    path.write_text('{"chain_id": "x"}')
    with pytest.raises(ConfigError, match="manifest is missing 'pools'"):
        Deployment.load(path)


def test_manifest__env_and_option__option_wins(cli, tmp_path):
    runner = Cli(cli.rpc_url, tmp_path / "absent.json")
    assert runner.error("status").startswith("no manifest at")
    assert runner.ok("status", "--manifest", cli.manifest).code == 0
