"""The deploy function deploys the savings vault, names it in the factory, sets each pool's
reserve target, and records all of it in the manifest; `bulkhead.vault` reports the vault."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from bulkhead.deploy import DEFAULT_CONFIG, Config, ConfigError, Deployment
from bulkhead.risk import WAD
from bulkhead.vault import annualise, pool_reserves, vault_stats

DAY = 86_400


def test_deploy__vault__deployed_named_and_in_manifest(deployment, factory, vault, stablecoin):
    config = Config.load()
    assert deployment.vault == vault.address == factory.vault()
    assert vault.asset() == stablecoin.address
    assert vault.FACTORY() == factory.address
    assert vault.stream_period() == config.vault.stream_period
    for info in deployment.pools:
        assert (
            info.reserve_target
            == config.vault.reserve_target
            == factory.reserve_target(info.address)
        )


def test_manifest__round_trip__keeps_the_vault(deployment, tmp_path):
    path = tmp_path / "manifest.json"
    deployment.save(path)
    loaded = Deployment.load(path)
    assert loaded.vault == deployment.vault
    assert [p.reserve_target for p in loaded.pools] == [p.reserve_target for p in deployment.pools]


def test_manifest__vault_missing_or_malformed__refused(deployment):
    raw = json.loads(deployment.to_json())
    del raw["vault"]
    with pytest.raises(ConfigError, match="manifest is missing 'vault'"):
        Deployment.from_dict(raw)
    raw["vault"] = "0x1234"
    with pytest.raises(ConfigError, match="malformed address '0x1234'"):
        Deployment.from_dict(raw)
    raw = asdict(deployment)
    raw["pools"][0]["reserve_target"] = -1
    with pytest.raises(ConfigError, match="malformed reserve target"):
        Deployment.from_dict(raw)


def _config(tmp_path, vault_table: str, pool_extra: str = "", top: str = "") -> Config:
    """The default config with its [vault] table replaced and a key added to the first pool."""
    base = DEFAULT_CONFIG.read_text().split("[vault]")[0]
    first_pool_end = base.index("[[pools]]", base.index("[[pools]]") + 1)
    text = top + base[:first_pool_end] + pool_extra + "\n" + base[first_pool_end:] + vault_table
    path = tmp_path / "config.toml"
    path.write_text(text)
    return Config.load(path)


def test_config__vault_table__parsed_and_bounded(tmp_path):
    config = _config(tmp_path, "[vault]\nstream_period = 7200\nreserve_target = 2500.5\n")
    assert config.vault.stream_period == 7_200
    assert config.vault.reserve_target == 2_500 * WAD + WAD // 2
    assert config.pools[0].reserve_target is None
    config = _config(tmp_path, "", pool_extra="reserve_target = 50000.0\n")
    assert config.vault.stream_period == 86_400  # the default without a table
    assert config.pools[0].reserve_target == 50_000 * WAD
    with pytest.raises(ConfigError, match=r"config \[vault\]: vault: stream period out of bounds"):
        _config(tmp_path, "[vault]\nstream_period = 60\n")
    with pytest.raises(
        ConfigError, match=r"config \[vault\]: factory: reserve target out of bounds"
    ):
        _config(tmp_path, "[vault]\nreserve_target = 999.0\n")
    with pytest.raises(ConfigError, match="pool 'WETH': factory: reserve target out of bounds"):
        _config(tmp_path, "", pool_extra="reserve_target = 1e16\n")
    with pytest.raises(ConfigError, match=r"config \[vault\] is not a table"):
        _config(tmp_path, "", top="vault = 5\n")


def test_vault_stats__sweep_then_time__share_price_and_apy_rise(
    deployment,
    factory,
    vault,
    deposit,
    weth,
    borrower,
    operator,
    keeper,
    chain,
):
    w3 = chain.provider.web3
    deposit(operator, 10_000 * WAD)
    weth.open(borrower, 600 * weth.unit, 1_000_000 * WAD)
    chain.pending_timestamp += 30 * DAY
    factory.sweep(weth.pool, sender=keeper)
    swept_at = chain.blocks.head.timestamp
    chain.pending_timestamp += DAY // 2
    chain.mine()

    stats = vault_stats(w3, deployment)
    assert stats.address == vault.address
    assert stats.total_assets == vault.totalAssets() > 10_000 * WAD
    assert stats.share_price == vault.convertToAssets(WAD) > WAD
    assert stats.locked == vault.locked_assets() > 0
    assert stats.unlock_end == vault.unlock_end()
    assert stats.window_start == stats.timestamp - DAY < swept_at
    assert stats.share_price_day_ago == WAD  # before the sweep nothing had been earned
    assert stats.apy_1d == annualise(WAD, stats.share_price, DAY) > 0

    # two days later the whole sweep has been released for a day: no growth in the window
    chain.pending_timestamp += 2 * DAY
    chain.mine()
    later = vault_stats(w3, deployment)
    assert later.share_price > stats.share_price
    assert later.share_price_day_ago == later.share_price
    assert later.apy_1d == 0.0


def test_pool_reserves__after_fees__reports_reserve_target_and_sweepable(
    deployment, factory, weth, borrower, keeper, chain
):
    weth.open(borrower, 600 * weth.unit, 1_000_000 * WAD)
    chain.pending_timestamp += 30 * DAY
    weth.pool.accrue(sender=keeper)
    rows = {r.name: r for r in pool_reserves(chain.provider.web3, deployment)}
    row = rows["WETH"]
    assert row.reserve == weth.pool.reserve() > row.reserve_target
    assert row.bad_debt == 0
    assert row.reserve_target == factory.reserve_target(weth.pool)
    assert row.sweepable == row.reserve - row.reserve_target
    chain.pending_timestamp = chain.blocks.head.timestamp
    assert factory.sweep(weth.pool, sender=keeper).return_value == row.sweepable
    assert rows["WBTC"].reserve == rows["WBTC"].sweepable == 0
