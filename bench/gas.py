"""Gas per operation, from transaction receipts on Anvil.

For each pool with 18- and 8-decimals collateral (WETH and WBTC in the default config), one
scripted life of positions: open, deposit, borrow, repay (partial and full), withdraw (with
and without debt), close (with and without debt), set_protection and auto_deleverage (on
PositionAutomation), the owner's deleverage, set_stop_loss and stop_loss (on
PositionAutomation), and
liquidate (partial, full, with bad debt) after two price drops.

Every operation runs twice with the same account on a comparable position:

- first: the first time that account does it in that pool. Storage words that the operation
  moves from zero to non-zero cost 22,100 gas instead of 5,000 (e.g. the borrower's first
  bhUSD balance, the withdrawer's first token balance, the pool's first position).
- repeat: the second time, which is the steady state of a live pool.

Each transaction is mined in its own block, 12 seconds after the previous one, so every
measured operation also pays the lazy accrual of the stability fee (the first transaction
of a block in a busy pool pays it; later ones in the same block do not). The mock feed is
refreshed whenever it is older than half its heartbeat.

Execution gas = receipt gas - 21,000 - calldata cost (4 gas per zero byte, 16 per other
byte): how Morpho Blue and the other peers publish their figures. Receipt gas is net of
refunds. Every measured transaction is checked to have done what its row says (events and
state), so a changed contract cannot silently move a number to another code path.

    python -m bench.gas
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

from bench.common import Market, Node, calldata_gas, execution_gas, finish
from bulkhead import risk
from bulkhead.chain import TxError, revert_reason
from bulkhead.risk import WAD

BLOCK_INTERVAL = 12  # [seconds] time between blocks
ABLATION = os.environ.get("BULKHEAD_BENCH_ABLATION") == "1"  # set by bench.ablate only
ROLES = ("borrower", "liquidator", "keeper", "opener", "victim", "owner", "seed")

# Peers' execution gas, as collected in issue #7 (published figures or measurements).
PEERS: dict[str, dict[str, str]] = {
    "open": {},
    "deposit": {"Morpho Blue": "57k (supplyCollateral)", "Aave v3": "140k (supply)"},
    "borrow": {"Morpho Blue": "85k", "Aave v3": "209k"},
    "repay": {"Morpho Blue": "82k"},
    "withdraw": {"Morpho Blue": "82k (withdrawCollateral)"},
    "liquidate": {
        "Morpho Blue": "121-126k",
        "Aave v3": "340-350k",
        "Maker Liquidations 2.0": "~417k (bark + take)",
        "Liquity v1": "54-69k per position (batch)",
    },
}
MORPHO_BLUE = {
    "deposit": 57_000,
    "borrow": 85_000,
    "repay": 82_000,
    "withdraw": 82_000,
    "liquidate": 121_000,
}


@dataclass
class Record:
    market: str
    decimals: int
    operation: str  # e.g. "repay (partial)"
    variant: str  # "first" or "repeat"
    gas_used: int  # receipt gas, net of refunds
    calldata: int  # calldata gas
    execution: int  # gas_used - 21,000 - calldata
    tx: str


class GasRun:
    """One pool's scripted life, every measured transaction recorded."""

    def __init__(self, node: Node, market: Market, base: int, progress: Callable[[str], None]):
        self.node = node
        self.base = base  # index of this market's first role account
        self.market = market
        self.pool = market.pool
        self.lens = node.contract("PoolLens", node.deployment.lens)
        self.stablecoin = node.contract("Stablecoin", node.deployment.stablecoin)
        self.automation = node.contract("PositionAutomation", node.deployment.automation)
        self.progress = progress
        self.records: list[Record] = []
        self.params = risk.RiskParams(*self.pool.functions.risk_params().call())

    # -------------------------------------------------------------- helpers

    def price(self) -> int:
        return self.pool.functions.price().call()

    def collateral_worth(self, usd: float) -> int:
        """Collateral [collateral units] worth `usd` at the pool's price."""
        return int(usd * WAD) * WAD // (self.price() * self.market.scale)

    def debt_at(self, coll: int, ltv_bps: int) -> int:
        return risk.max_debt(coll, self.price(), ltv_bps, self.market.scale)

    def fresh_feed(self) -> None:
        feed = self.market.feed
        updated = feed.functions.latestRoundData().call()[3]
        heartbeat = self.pool.functions.oracle_params().call()[1]
        if self.node.timestamp() + BLOCK_INTERVAL - updated > heartbeat // 2:
            self.node.refresh_feed(self.market)

    def set_price(self, fraction: float) -> None:
        """Move the feed to `fraction` of its current answer."""
        answer = self.market.feed.functions.latestAnswer().call()
        self.node.sender(0).transact(self.market.feed.functions.set_answer(int(answer * fraction)))

    def account(self, role: str) -> int:
        """Each market has its own accounts, so "first" really is each account's first time."""
        return self.base + ROLES.index(role)

    def send(self, role: str, fn) -> Any:
        """Send from a role's account with room to spare: the estimate runs at the latest
        block, where this block's accrual has not happened yet (the gas limit does not
        change the gas used)."""
        sender = self.node.accounts[self.account(role)]
        try:
            estimate = fn.estimate_gas({"from": sender})
        except (ContractLogicError, ValueError) as exc:
            raise TxError(revert_reason(exc)) from None
        tx_hash = fn.transact({"from": sender, "gas": 2 * estimate + 100_000})
        receipt = self.node.w3.eth.wait_for_transaction_receipt(
            tx_hash, timeout=120, poll_latency=0.01
        )
        if receipt["status"] != 1:
            raise TxError(f"{fn.fn_name} reverted on chain")
        return receipt

    def unmeasured(self, role: str, fn) -> Any:
        return self.send(role, fn)

    def measure(self, role: str, fn, operation: str, variant: str) -> Any:
        receipt = self.send(role, fn)
        data = self.node.w3.eth.get_transaction(receipt["transactionHash"])["input"]
        data = bytes(data) if not isinstance(data, str) else bytes.fromhex(data[2:])
        record = Record(
            market=self.market.name,
            decimals=self.market.decimals,
            operation=operation,
            variant=variant,
            gas_used=receipt["gasUsed"],
            calldata=calldata_gas(data),
            execution=execution_gas(receipt["gasUsed"], data),
            tx=receipt["transactionHash"].hex(),
        )
        self.records.append(record)
        self.progress(
            f"gas {record.market:<5} {operation:<28} {variant:<6} "
            f"total {record.gas_used:>7,}  execution {record.execution:>7,}"
        )
        return receipt

    def opened_id(self, receipt) -> int:
        (event,) = self.pool.events.Open().process_receipt(receipt, errors=DISCARD)
        return event["args"]["id"]

    def position(self, position_id: int) -> tuple[int, int]:
        return (
            self.pool.functions.collateral_of(position_id).call(),
            self.pool.functions.debt_of(position_id).call(),
        )

    def fund(self, role: str, amount: int) -> None:
        """Mint collateral to a role's account and approve the pool (not measured)."""
        self.node.fund(self.market, self.account(role), amount)

    def empty_wallet(self, role: str) -> None:
        """Send a role's collateral tokens away, so the next credit is a zero to non-zero write."""
        address = self.node.accounts[self.account(role)]
        balance = self.market.token.functions.balanceOf(address).call()
        if balance:
            self.unmeasured(
                role, self.market.token.functions.transfer(self.node.accounts[0], balance)
            )

    def bank(self, role: str, bhusd: int) -> None:
        """Give a role bhUSD through its own position at 50 % LTV (not measured)."""
        coll = self.collateral_worth(bhusd / WAD * 2)
        self.fund(role, coll)
        self.unmeasured(role, self.pool.functions.open(coll, bhusd))

    # ------------------------------------------------------------ scenarios

    def warm_up(self) -> None:
        """The pool's first position (its own row), then one accrual, so the reserve, the
        totals and the rate are non-zero words before anything else is measured."""
        coll = self.collateral_worth(100_000)
        self.fund("seed", coll)
        self.fresh_feed()
        self.measure(
            "seed",
            self.pool.functions.open(coll, self.debt_at(coll, 3_000)),
            "open (pool's first position)",
            "first",
        )
        self.unmeasured("seed", self.pool.functions.accrue())
        if not ABLATION:  # (bench.ablate may have removed the accrual)
            assert self.pool.functions.reserve().call() > 0, "gas: the warm-up accrued nothing"

    def position_life(self) -> None:
        """open, deposit, borrow, repay, withdraw and close by fresh accounts."""
        f = self.pool.functions
        coll = self.collateral_worth(30_000)
        step = coll // 10
        self.fund("borrower", 2 * coll + 3 * step)  # a token balance is left after the deposits
        ids = []
        for variant in ("first", "repeat"):
            ids.append(self.opened_id(self.measure("borrower", f.open(coll, 0), "open", variant)))
        main, spare = ids
        for variant in ("first", "repeat"):
            self.measure("borrower", f.deposit(main, step), "deposit", variant)
        assert self.position(main)[0] == coll + 2 * step
        debt = self.debt_at(coll, 3_000)
        self.fresh_feed()
        for variant in ("first", "repeat"):  # first: the borrower's first bhUSD
            self.measure("borrower", f.borrow(main, debt), "borrow", variant)
        for variant in ("first", "repeat"):
            before = self.position(main)[1]
            self.measure("borrower", f.repay(main, debt // 10), "repay (partial)", variant)
            assert 0 < self.position(main)[1] < before
        self.empty_wallet("borrower")
        self.fresh_feed()
        for variant in ("first", "repeat"):  # first: the borrower's token balance was zero
            self.measure("borrower", f.withdraw(main, step), "withdraw (with debt)", variant)
        for variant in ("first", "repeat"):
            self.measure("borrower", f.withdraw(spare, step), "withdraw (no debt)", variant)

        # open with a borrow, by a fresh account: its first bhUSD balance
        self.fresh_feed()
        self.fund("opener", 2 * coll)
        with_debt = []
        for variant in ("first", "repeat"):
            receipt = self.measure("opener", f.open(coll, debt), "open (with borrow)", variant)
            with_debt.append(self.opened_id(receipt))

        # full repay: the repayer holds more bhUSD than the debt (its balance stays non-zero)
        self.bank("borrower", 2 * debt)
        for variant, position_id in (("first", main), ("repeat", with_debt[0])):
            self.measure("borrower", f.repay(position_id, debt * 3), "repay (full)", variant)
            assert self.position(position_id)[1] == 0
        # close with debt (first: the owner's token balance was zero) and without debt
        self.bank("opener", 2 * debt)
        self.fund("opener", coll)
        extra = self.opened_id(self.unmeasured("opener", f.open(coll, debt)))
        self.measure("opener", f.close(with_debt[1]), "close (with debt)", "first")
        self.measure("opener", f.close(extra), "close (with debt)", "repeat")
        self.measure("borrower", f.close(main), "close (no debt)", "first")
        self.measure("borrower", f.close(spare), "close (no debt)", "repeat")
        for position_id in (main, spare, with_debt[1], extra):
            assert self.position(position_id) == (0, 0)

    def protection(self) -> None:
        """set_protection on the automation (first: a new rule; repeat: changing it),
        auto_deleverage by a keeper through the automation (first: the keeper's token
        balance was zero) on positions whose health fell under the owner's trigger, and the
        owner's own `deleverage` on the pool (repay and take collateral pro rata)."""
        f = self.pool.functions
        auto = self.automation.functions
        threshold = self.params.liquidation_threshold
        coll = self.collateral_worth(30_000)
        self.fund("owner", 3 * coll)
        self.fresh_feed()
        ids = []
        for _ in range(2):
            # health 1.25 at open: within max LTV, under a 1.30 trigger
            debt = self.debt_at(coll, threshold * 100 // 125)
            ids.append(self.opened_id(self.unmeasured("owner", f.open(coll, debt))))
        # the automation deleverages as the owner's operator
        self.unmeasured("owner", f.set_operator(self.automation.address, True))
        fee = min(100, self.params.liquidation_bonus)
        first, second = ids
        pool = self.pool.address
        self.measure(
            "owner",
            auto.set_protection(pool, first, 13 * WAD // 10, 16 * WAD // 10, fee),
            "set_protection",
            "first",
        )
        self.measure(
            "owner",
            auto.set_protection(pool, first, 13 * WAD // 10, 15 * WAD // 10, fee),
            "set_protection",
            "repeat",
        )
        self.unmeasured(
            "owner", auto.set_protection(pool, second, 13 * WAD // 10, 15 * WAD // 10, fee)
        )
        self.bank("keeper", self.debt_at(coll, threshold * 100 // 125))
        self.unmeasured(
            "keeper", self.stablecoin.functions.approve(self.automation.address, 2**256 - 1)
        )
        for variant, position_id in zip(("first", "repeat"), ids):
            self.fresh_feed()
            repay, _out, _after = self.lens.functions.preview_auto_deleverage(
                pool, position_id
            ).call()
            assert repay > 0, "gas: the protection is not due"
            before = self.pool.functions.health(position_id).call()
            self.measure(
                "keeper", auto.auto_deleverage(pool, position_id, repay), "auto_deleverage", variant
            )
            assert self.pool.functions.health(position_id).call() > before
        # the owner shrinks a position by hand: a tenth of the debt, an eleventh of the
        # collateral (a tenth exactly would lower health by the rounding of the repay)
        # (first: the three opens used all of the owner's tokens, so its balance was zero)
        third = self.opened_id(self.unmeasured("owner", f.open(coll, self.debt_at(coll, 3_000))))
        for variant in ("first", "repeat"):
            c, d = self.position(third)
            before = self.pool.functions.health(third).call()
            self.measure("owner", f.deleverage(third, d // 10, c // 11), "deleverage", variant)
            assert self.pool.functions.health(third).call() >= before

    def stop_loss(self) -> None:
        """set_stop_loss (first: a new rule; repeat: changing it) and stop_loss by a keeper
        after a 10 % fall (it repays the whole debt and closes the position; first: the
        keeper's first time), then the price comes back."""
        f = self.pool.functions
        auto = self.automation.functions
        pool = self.pool.address
        coll = self.collateral_worth(30_000)
        self.fund("owner", 2 * coll)
        self.fresh_feed()
        debt = self.debt_at(coll, 3_000)
        ids = [self.opened_id(self.unmeasured("owner", f.open(coll, debt))) for _ in range(2)]
        self.unmeasured("owner", f.set_operator(self.automation.address, True))
        stop = self.price() * 95 // 100
        fee = min(100, self.params.liquidation_bonus)
        self.measure(
            "owner", auto.set_stop_loss(pool, ids[0], stop + 1, fee), "set_stop_loss", "first"
        )
        self.measure(
            "owner", auto.set_stop_loss(pool, ids[0], stop, fee), "set_stop_loss", "repeat"
        )
        self.unmeasured("owner", auto.set_stop_loss(pool, ids[1], stop, fee))
        self.bank("keeper", 3 * debt)
        self.unmeasured(
            "keeper", self.stablecoin.functions.approve(self.automation.address, 2**256 - 1)
        )
        self.set_price(0.9)
        for variant, position_id in zip(("first", "repeat"), ids):
            self.fresh_feed()
            self.measure("keeper", auto.stop_loss(pool, position_id), "stop_loss", variant)
            assert self.position(position_id) == (0, 0), "gas: the stop-loss left a position"
        self.set_price(1 / 0.9)

    def liquidations(self) -> None:
        """Partial, full and bad-debt liquidations (first: the liquidator's token balance
        was zero) after a 10 % and then a further 22 % price drop."""
        f = self.pool.functions
        p = self.params
        ltv = p.max_ltv - 10  # just inside max LTV: liquidatable after the first drop
        # first drop: 3 % below the price that takes a max-LTV position to health 1.0;
        # second: the collateral is worth 95 % of the debt (it no longer covers it)
        first = p.max_ltv / p.liquidation_threshold * 0.97
        second = p.max_ltv / 10_000 * 0.95 / first
        big = self.collateral_worth(30_000)
        small = self.collateral_worth(1.3 * p.min_debt / WAD / (ltv / 10_000))
        self.fund("victim", 4 * big + 2 * small)
        self.fresh_feed()
        partial = [
            self.opened_id(self.unmeasured("victim", f.open(big, self.debt_at(big, ltv))))
            for _ in range(2)
        ]
        full = [
            self.opened_id(self.unmeasured("victim", f.open(small, self.debt_at(small, ltv))))
            for _ in range(2)
        ]
        bad = [
            self.opened_id(self.unmeasured("victim", f.open(big, self.debt_at(big, ltv))))
            for _ in range(2)
        ]
        # the liquidator holds bhUSD from its own position; its token balance stays zero
        self.bank("liquidator", 4 * self.debt_at(big, ltv))
        self.set_price(first)

        def liquidate(position_id: int, kind: str, variant: str) -> None:
            self.fresh_feed()
            _coll, debt = self.position(position_id)
            # the liquidator's balance as the cap (max_value(uint256) overflows: see the docs)
            cap = self.stablecoin.functions.balanceOf(
                self.node.accounts[self.account("liquidator")]
            ).call()
            receipt = self.measure(
                "liquidator", f.liquidate(position_id, cap, 0), f"liquidate ({kind})", variant
            )
            (event,) = self.pool.events.Liquidate().process_receipt(receipt, errors=DISCARD)
            args = event["args"]
            shortfall = args["reserve_used"] + args["bad_debt"]
            left = self.position(position_id)
            if kind == "partial":
                assert 0 < left[1] < debt and shortfall == 0, (
                    f"gas: not a partial liquidation: {args}"
                )
            elif kind == "full":
                assert left[1] == 0 and shortfall == 0, f"gas: not a full liquidation: {args}"
            else:
                assert left == (0, 0) and args["bad_debt"] > 0, f"gas: no bad debt: {args}"

        for variant, position_id in zip(("first", "repeat"), partial):
            liquidate(position_id, "partial", variant)
        for variant, position_id in zip(("first", "repeat"), full):
            liquidate(position_id, "full", variant)
        self.set_price(second)
        for variant, position_id in zip(("first", "repeat"), bad):
            liquidate(position_id, "bad debt", variant)


PARTS = ("life", "protection", "stop-loss", "liquidations")


def run(
    progress: Callable[[str], None] = print,
    decimals: tuple[int, ...] = (18, 8),
    parts: tuple[str, ...] = PARTS,
) -> dict[str, Any]:
    """Run the scenarios (`parts`) for the markets with these collateral decimals."""
    records: list[Record] = []
    markets_run = []
    with Node(accounts=1 + len(ROLES) * len(decimals)) as node:
        node.set_block_interval(BLOCK_INTERVAL)
        by_decimals = node.markets_by_decimals()
        for index, d in enumerate(decimals):
            market = by_decimals[d]
            markets_run.append({"name": market.name, "decimals": d})
            gas_run = GasRun(node, market, 1 + len(ROLES) * index, progress)
            gas_run.warm_up()
            if "life" in parts:
                gas_run.position_life()
            if "protection" in parts:
                gas_run.protection()
            if "stop-loss" in parts:
                gas_run.stop_loss()
            if "liquidations" in parts:
                gas_run.liquidations()
            records += gas_run.records
    return {
        "block_interval": BLOCK_INTERVAL,
        "markets": markets_run,
        "records": [asdict(r) for r in records],
        "peers": PEERS,
        "morpho_blue": MORPHO_BLUE,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.gas", description=__doc__.split("\n")[0])
    parser.add_argument("--decimals", default="18,8", help="collateral decimals of the markets")
    parser.add_argument("--parts", default=",".join(PARTS), help="scenarios to run")
    parser.add_argument("--json-out", help="also write the records to this file")
    parser.add_argument(
        "--no-write", action="store_true", help="do not write bench/results/gas.json"
    )
    args = parser.parse_args(argv)
    decimals = tuple(int(d) for d in args.decimals.split(","))
    data = run(decimals=decimals, parts=tuple(args.parts.split(",")))
    finish("gas", data, argv, args.no_write, args.json_out)


if __name__ == "__main__":
    main()
