"""The chain-access layer (`bulkhead.eth`) without a node: a fake transport answers what a
node would, and records what each request or batch carried."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_utils import keccak

from bulkhead.eth.abi import Abi
from bulkhead.eth.fees import initial_fees, offer
from bulkhead.eth.rpc import ERROR_SELECTOR, Rpc, RpcError
from bulkhead.eth.send import Refused, Tx, send_unlocked


class FakeNode:
    """A provider: `answer(method, params)` gives a JSON-RPC response body."""

    def __init__(self, answer):
        self.answer = answer
        self.batches: list[list[tuple[str, list]]] = []
        self.singles: list[str] = []

    def make_request(self, method, params):
        self.singles.append(method)
        return self.answer(method, params)

    def make_batch_request(self, calls):
        self.batches.append(list(calls))
        return [self.answer(m, p) for m, p in calls]


def _node_with_nonces(refuse: str | None = None) -> FakeNode:
    def answer(method, params):
        if method == "eth_getTransactionCount":
            return {"result": "0x5" if params[0] == "c" else "0x0"}
        body = params[0]
        if body["from"] == refuse:
            return {"error": {"code": -32003, "message": "insufficient funds"}}
        return {"result": f"0x{body['from']}{int(body['nonce'], 16):02x}"}

    return FakeNode(answer)


def test_send_unlocked__many_per_sender__one_per_sender_per_batch_in_nonce_order():
    """Anvil takes a batch's requests concurrently: two of one sender in a batch could reach
    its pool out of nonce order, and under FIFO ordering the later nonce was dropped and the
    sender's later transactions stayed pending (1,000 positions: `bulkhead simulate` failed
    with "transactions stay pending")."""
    node = _node_with_nonces()
    nonces: dict[str, int] = {}
    txs = [Tx(sender, "0xto", "0x", 21_000) for sender in "aabacbbbc"]
    hashes = send_unlocked(Rpc(node), txs, nonces, (30, 2))
    sends = [b for b in node.batches if b[0][0] == "eth_sendTransaction"]
    for batch in sends:
        froms = [body["from"] for _, (body,) in batch]
        assert len(froms) == len(set(froms))
        assert {(body["maxFeePerGas"], body["maxPriorityFeePerGas"]) for _, (body,) in batch} == {
            ("0x1e", "0x2")
        }
    # the hashes come back in the order given; each sender's nonces count up from the node's
    assert hashes == [
        "0xa00",
        "0xa01",
        "0xb00",
        "0xa02",
        "0xc05",
        "0xb01",
        "0xb02",
        "0xb03",
        "0xc06",
    ]
    assert len(sends) == 4  # b has four transactions: four waves
    assert nonces == {"a": 3, "b": 4, "c": 7}
    # known nonces are not asked again
    send_unlocked(Rpc(node), [Tx("a", "0xto", "0x", 21_000)], nonces, (30, 2))
    assert nonces["a"] == 4
    assert [b[0][0] for b in node.batches].count("eth_getTransactionCount") == 1


def test_send_unlocked__node_refuses__names_the_transaction_and_forgets_the_nonces():
    node = _node_with_nonces(refuse="b")
    nonces: dict[str, int] = {}
    txs = [Tx("a", "0xto", "0x", 21_000), Tx("b", "0xto", "0x", 21_000, label="open #2")]
    with pytest.raises(Refused, match="open #2 refused: insufficient funds") as refused:
        send_unlocked(Rpc(node), txs, nonces, (30, 2))
    assert refused.value.tx is txs[1]
    assert nonces == {}  # the next send asks the node again


def test_rpc_batch__errors_in_place__strict_raises_the_first__chunks_of_max_batch():
    def answer(method, params):
        if method == "eth_call":
            return {"error": {"code": 3, "message": "execution reverted: pool: paused"}}
        return {"result": "0x1"}

    node = FakeNode(answer)
    rpc = Rpc(node, max_batch=2)
    out = rpc.batch([("eth_blockNumber", []), ("eth_call", [{}]), ("eth_chainId", [])])
    assert out[0] == "0x1" and out[2] == "0x1"
    assert isinstance(out[1], RpcError) and out[1].method == "eth_call"
    assert out[1].reason == "pool: paused"
    assert [len(b) for b in node.batches] == [2, 1]
    assert rpc.round_trips == 2 and rpc.requests == 3
    with pytest.raises(RpcError, match="pool: paused"):
        rpc.batch([("eth_blockNumber", []), ("eth_call", [{}])], strict=True)


def test_rpc_batch__node_refuses_the_whole_batch__an_error_for_each_request():
    class Refusing(FakeNode):
        def make_batch_request(self, calls):
            return {"error": {"code": -32600, "message": "batch too large"}}

    out = Rpc(Refusing(lambda m, p: {})).batch([("eth_blockNumber", []), ("eth_chainId", [])])
    assert [str(e) for e in out] == ["batch too large", "batch too large"]


def test_rpc_request__pruned_history_race__asked_again_only_when_told_and_only_reads():
    answers = iter(
        [{"error": {"code": -32000, "message": "BlockOutOfRangeError: block height is 9"}}] * 2
        + [{"result": "0x9"}] * 3
    )
    node = FakeNode(lambda m, p: next(answers))
    assert Rpc(node, retry_pruned=True).request("eth_blockNumber") == "0x9"
    assert node.singles == ["eth_blockNumber"] * 3
    race = {"error": {"code": -32000, "message": "BlockOutOfRangeError: block height is 9"}}
    with pytest.raises(RpcError, match="BlockOutOfRange"):
        Rpc(FakeNode(lambda m, p: race)).request("eth_blockNumber")  # not asked to retry
    with pytest.raises(RpcError, match="BlockOutOfRange"):
        Rpc(FakeNode(lambda m, p: race), retry_pruned=True).request("eth_sendTransaction")


def test_rpc_error_reason__error_string_in_data__decoded__else_the_message():
    data = "0x" + (ERROR_SELECTOR + encode(["string"], ["pool: grace window"])).hex()
    assert RpcError(3, "execution reverted", {"data": data}).reason == "pool: grace window"
    assert RpcError(3, "execution reverted: pool: paused").reason == "pool: paused"
    assert RpcError(3, "execution reverted", "0x08c379a0ff").reason == "execution reverted"
    assert RpcError(-32000, "nonce too low").reason == "nonce too low"


ABI = [
    {
        "type": "function",
        "name": "f",
        "inputs": [{"name": "a", "type": "uint256"}, {"name": "b", "type": "address"}],
        "outputs": [{"name": "", "type": "uint256"}, {"name": "", "type": "bool"}],
    },
    {
        "type": "event",
        "name": "Moved",
        "inputs": [
            {"name": "id", "type": "uint256", "indexed": True},
            {"name": "amount", "type": "uint256", "indexed": False},
        ],
    },
    {"type": "event", "name": "Other", "inputs": []},
]


def test_abi__call_data_results_and_events():
    codec = Abi(ABI)
    owner = "0x" + "ab" * 20
    data = codec.data("f", 7, owner)
    assert data[:10] == "0x" + keccak(text="f(uint256,address)")[:4].hex()
    assert bytes.fromhex(data[10:]) == encode(["uint256", "address"], [7, owner])
    assert codec.result("f", "0x" + encode(["uint256", "bool"], [5, True]).hex()) == (5, True)
    log = {
        "topics": [codec.topics["Moved"], "0x" + encode(["uint256"], [3]).hex()],
        "data": "0x" + encode(["uint256"], [40]).hex(),
    }
    assert codec.event(log) == ("Moved", {"id": 3, "amount": 40})
    only_other = Abi(ABI, events=("Other",))
    assert only_other.event(log) is None
    with pytest.raises(ValueError, match="lacks events"):
        Abi(ABI, events=("Missing",))


def test_fees__two_base_fees_plus_tip__the_cap_refuses_under_the_base_fee():
    assert offer(10, 2) == (22, 2)
    assert initial_fees(10, 2, 15) == (15, 2)
    assert initial_fees(10, 2, 9) is None
