"""The driver's sending, without a node: a fake `batch` records what each JSON-RPC batch
carries."""

from __future__ import annotations

from bulkhead.simulate.driver import Driver, Tx


class RecordingDriver(Driver):
    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:1")
        self.batches: list[list[tuple[str, list]]] = []

    def batch(self, requests_, strict=True):
        self.batches.append(list(requests_))
        if requests_[0][0] == "eth_getTransactionCount":
            return ["0x0"] * len(requests_)
        return [f"0x{b['from'][-1]}{int(b['nonce'], 16):02x}" for _, (b,) in requests_]


def test_send__many_transactions_per_sender__one_per_sender_per_batch_in_nonce_order():
    """Anvil takes a batch's requests concurrently: two of one sender in a batch could reach
    its pool out of nonce order, and under FIFO ordering the later nonce was dropped and the
    sender's later transactions stayed pending (1,000 positions: `bulkhead simulate` failed
    with "transactions stay pending")."""
    driver = RecordingDriver()
    txs = [Tx(sender, "0xto", "0x", 21_000) for sender in "aabacbbbc"]
    hashes = driver.send(txs)
    sends = [b for b in driver.batches if b[0][0] == "eth_sendTransaction"]
    for batch in sends:
        froms = [body["from"] for _, (body,) in batch]
        assert len(froms) == len(set(froms))
    # the hashes come back in the order given; each sender's nonces count up in that order
    assert hashes == [
        "0xa00",
        "0xa01",
        "0xb00",
        "0xa02",
        "0xc00",
        "0xb01",
        "0xb02",
        "0xb03",
        "0xc01",
    ]
    assert len(sends) == 4  # b has four transactions: four waves
