"""The keeper's smaller parts, without a chain: the log-built index, log decoding, back-off,
metrics, revert reasons, account selection and the command's errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from eth_abi import encode
from eth_account import Account
from eth_utils import event_abi_to_log_topic

from bulkhead import artifacts
from bulkhead.eth.abi import Abi
from bulkhead.eth.accounts import AccountError
from bulkhead.eth.rpc import RpcError
from bulkhead.keeper import Metrics, resolve_signer
from bulkhead.keeper.cli import format_summary, keeper
from bulkhead.keeper.decide import Rule
from bulkhead.keeper.index import POOL_EVENTS, EventIndex
from bulkhead.keeper.runner import Backoff
from bulkhead.keeper.scan import _windows
from bulkhead.risk import WAD

POOL = "0x00000000000000000000000000000000000000A1"
OTHER = "0x00000000000000000000000000000000000000A2"
AUTOMATION = "0x00000000000000000000000000000000000000C3"
OWNER = "0x00000000000000000000000000000000000000B2"


def _index() -> EventIndex:
    return EventIndex.empty([POOL], AUTOMATION, start_block=5)


def test_index__position_updates__latest_state_and_count():
    index = _index()
    index.apply(
        "PositionUpdated",
        POOL,
        {"id": 2, "owner": OWNER, "collateral": 10, "normalised_debt": 7, "debt": 7},
    )
    index.apply(
        "PositionUpdated",
        POOL,
        {"id": 1, "owner": OWNER, "collateral": 5, "normalised_debt": 3, "debt": 3},
    )
    index.apply(
        "PositionUpdated",
        POOL,
        {"id": 2, "owner": OWNER, "collateral": 4, "normalised_debt": 0, "debt": 0},
    )
    pool = index.pools[POOL]
    assert pool.count == 2
    assert (pool.positions[2].collateral, pool.positions[2].normalised_debt) == (4, 0)
    assert index.position(POOL, 1).collateral == 5
    index.apply(
        "PositionUpdated",
        OTHER,
        {"id": 9, "owner": OWNER, "collateral": 1, "normalised_debt": 1, "debt": 1},
    )
    assert index.position_count == 2  # a pool outside the deployment is ignored


def test_index__rules__set_changed_cleared_and_allowance_spent():
    index = _index()
    index.apply(
        "ProtectionSet",
        AUTOMATION,
        {
            "pool": POOL,
            "id": 3,
            "owner": OWNER,
            "trigger_health": 12,
            "target_health": 15,
            "max_fee": 1,
        },
    )
    index.apply(
        "BoostSet",
        AUTOMATION,
        {
            "pool": POOL,
            "id": 4,
            "owner": OWNER,
            "trigger_health": 30,
            "target_health": 20,
            "max_fee": 5,
        },
    )
    index.apply(
        "TopUpSet",
        AUTOMATION,
        {
            "pool": POOL,
            "id": 5,
            "owner": OWNER,
            "trigger_health": 12,
            "target_health": 14,
            "max_fee": 5,
            "allowance": 100,
        },
    )
    index.apply(
        "TopUp",
        AUTOMATION,
        {
            "pool": POOL,
            "id": 5,
            "keeper": OWNER,
            "collateral_in": 30,
            "fee": 1,
            "health_before": 0,
            "health_after": 0,
        },
    )
    assert index.rules() == {
        ("deleverage", POOL, 3): Rule(12, 15, 1),
        ("boost", POOL, 4): Rule(30, 20, 5),
        ("top_up", POOL, 5): Rule(12, 14, 5, 69),
    }
    assert index.pools[POOL].rule_ids("deleverage", "top_up") == [3, 5]
    index.apply(
        "ProtectionSet",
        AUTOMATION,
        {
            "pool": POOL,
            "id": 3,
            "owner": OWNER,
            "trigger_health": 0,
            "target_health": 0,
            "max_fee": 0,
        },
    )
    index.apply(
        "BoostSet",
        AUTOMATION,
        {
            "pool": POOL,
            "id": 4,
            "owner": OWNER,
            "trigger_health": 0,
            "target_health": 0,
            "max_fee": 0,
        },
    )
    assert set(index.rules()) == {("top_up", POOL, 5)}
    index.reset()
    assert index.rules() == {} and index.synced == -1 and index.position_count == 0


def test_event_codec__log_from_the_abi__indexed_fields_from_topics_the_rest_from_data():
    abi = artifacts.abi("MarginPool")
    codec = Abi(abi, POOL_EVENTS)
    event = next(e for e in abi if e.get("type") == "event" and e["name"] == "PositionUpdated")
    log = {
        "address": POOL,
        "topics": [
            "0x" + event_abi_to_log_topic(event).hex(),
            "0x" + encode(["uint256"], [7]).hex(),
            "0x" + encode(["address"], [OWNER]).hex(),
        ],
        "data": "0x" + encode(["uint256", "uint256", "uint256"], [11, 22, 23]).hex(),
    }
    name, args = codec.event(log)
    assert name == "PositionUpdated"
    assert args == {
        "id": 7,
        "owner": OWNER.lower(),
        "collateral": 11,
        "normalised_debt": 22,
        "debt": 23,
    }
    assert codec.event({**log, "topics": ["0x" + "00" * 32]}) is None
    with pytest.raises(ValueError, match="lacks events"):
        Abi(abi, ("NoSuchEvent",))


def test_windows__pages_that_cover_every_rule_id():
    assert _windows([], 1_000) == []
    assert _windows([3, 500, 1_002, 1_003, 2_500], 1_000) == [3, 1_003, 2_500]


def test_backoff__doubles_up_to_the_cap_and_resets():
    b = Backoff(first=0.25, cap=1.0)
    assert [b.fail() for _ in range(5)] == [0.25, 0.5, 1.0, 1.0, 1.0]
    assert b.failures == 5
    b.reset()
    assert b.fail() == 0.25


def test_metrics_summary__counts_rates_and_table():
    m = Metrics()
    m.positions_scanned, m.scan_seconds = 10_000, 0.5
    m.done.update({"liquidate": 3, "deleverage": 2, "top_up": 1})
    m.bounty.update({"liquidate": 150 * WAD, "top_up": WAD // 2})
    m.blocks_to_liquidation += [1, 2, 6]
    m.failures["lost_race"] += 2
    s = m.summary()
    assert s["scan_rate"] == 20_000.0
    assert (s["liquidations"], s["adjustments"]) == (3, 3)
    assert s["bounty_usd"] == {"liquidate": 150.0, "top_up": 0.5, "total": 150.5}
    assert s["blocks_to_liquidation"] == {"count": 3, "min": 1, "median": 2, "max": 6}
    assert s["failures"] == {"lost_race": 2}
    json.dumps(s)  # a summary is plain JSON
    table = format_summary(s)
    rows = dict(line.split("  ", 1) for line in table.splitlines())
    assert rows["scan rate [positions/s]"].strip() == "20000.0"
    assert rows["failures"].strip() == "lost_race 2"


def test_rpc_error_reason__from_revert_data_or_message():
    data = "0x08c379a0" + encode(["string"], ["pool: no debt"]).hex()
    assert RpcError(3, "execution reverted", data).reason == "pool: no debt"
    assert (
        RpcError(3, "execution reverted: pool: position is healthy").reason
        == "pool: position is healthy"
    )
    assert RpcError(-32003, "nonce too low").reason == "nonce too low"


class _NoNode:
    """A stand-in for web3 that fails if the account choice needed the node."""

    class eth:  # noqa: N801 (web3's attribute name: `w3.eth.chain_id`)
        chain_id = 1

        @property
        def accounts(self):
            raise AssertionError("no node call expected")


def test_resolve_signer__choices_and_errors_never_show_the_key(tmp_path):
    key = "0x" + "11" * 32
    assert resolve_signer(_NoNode(), private_key=key).address == Account.from_key(key).address
    assert (
        resolve_signer(_NoNode(), env={"BULKHEAD_PRIVATE_KEY": key}).address
        == Account.from_key(key).address
    )
    with pytest.raises(AccountError, match="not both"):
        resolve_signer(_NoNode(), account=1, keystore="k.json")
    with pytest.raises(AccountError) as bad:
        resolve_signer(_NoNode(), private_key="0x1234nothex")
    assert "1234" not in str(bad.value)
    path = tmp_path / "key.json"
    path.write_text(json.dumps(Account.encrypt(key, "right", kdf="pbkdf2", iterations=1_000)))
    with pytest.raises(AccountError, match="needs a password"):
        resolve_signer(_NoNode(), keystore=path, env={})
    with pytest.raises(AccountError, match="wrong password for keystore"):
        resolve_signer(_NoNode(), keystore=path, password="wrong")
    assert (
        resolve_signer(_NoNode(), keystore=path, password="right").address
        == Account.from_key(key).address
    )
    with pytest.raises(AccountError, match="no account for chain id 1"):
        resolve_signer(_NoNode(), env={})


def test_cli_keeper_run__missing_manifest__one_line_error_exit_1(tmp_path):
    result = CliRunner().invoke(
        keeper, ["run", "--once", "--manifest", str(tmp_path / "none.json")]
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: no manifest at {tmp_path / 'none.json'} (run `bulkhead deploy` first)"
    ]
    result = CliRunner().invoke(keeper, ["run", "--max-fee", "-3"])
    assert result.exit_code == 2 and "negative number '-3'" in result.output


@pytest.mark.parametrize(
    "value, message",
    [
        ("0", "0 is not between 1 and 1000"),
        ("-3", "-3 is not between 1 and 1000"),
        ("1001", "1001 is not between 1 and 1000"),
        ("abc", "'abc' is not a whole number"),
        ("2.5", "'2.5' is not a whole number"),
    ],
)
def test_cli_keeper_run__bad_batch_size__one_line_error_exit_2(tmp_path, value, message):
    from bulkhead.cli import cli

    manifest = str(tmp_path / "none.json")
    args = ["keeper", "run", "--once", "--manifest", manifest, "--batch-size", value]
    result = _runner().invoke(cli, args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: Invalid value for '--batch-size': {message} (see `bulkhead keeper run --help`)"
    ]


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # click 8.1
    except TypeError:  # click 8.2 keeps stderr apart by itself
        return CliRunner()
