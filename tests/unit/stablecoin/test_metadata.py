def test_metadata__name_symbol_decimals(stablecoin):
    assert (stablecoin.name(), stablecoin.symbol(), stablecoin.decimals()) == (
        "Bulkhead USD",
        "bhUSD",
        18,
    )
