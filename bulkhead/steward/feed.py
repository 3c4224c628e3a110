"""Reading a Chainlink-style feed's recent rounds with `getRoundData`, in JSON-RPC batches.

From the latest round (`latestRoundData`) it walks back one round id at a time, in batches
of growing size, until it holds a round updated at or before the window's start (the
anchor), reaches the first round of the feed's phase (a round id whose low 64 bits are 0:
Chainlink's proxies put the phase in the bits above), meets a round the feed does not
answer for, or has read `max_rounds` rounds. The mock aggregator keeps every round, as a
real feed does.
"""

from __future__ import annotations

from typing import Any

from bulkhead.eth.abi import Call
from bulkhead.eth.rpc import Rpc, RpcError
from bulkhead.steward.decide import Round

FIRST_BATCH = 32  # round ids asked for in the first batch; each later batch doubles
MAX_BATCH = 256
PHASE_MASK = 2**64 - 1  # the aggregator's own round id inside a proxy's round id


def latest_round(rpc: Rpc, feed: Any) -> Round:
    """The feed's latest round; RpcError when the feed reverts."""
    call = Call.of(feed.functions.latestRoundData())
    round_id, answer, _started, updated, _answered = call.decode(rpc.request(*call.request()))
    return Round(int(round_id), int(answer), int(updated))


def read_rounds(
    rpc: Rpc, feed: Any, latest: Round, since: int, max_rounds: int
) -> tuple[list[Round], bool]:
    """Rounds from `latest` back to the first updated at or before `since` [seconds];
    newest first. The flag says the walk stopped at `max_rounds` before reaching `since`."""
    rounds = [latest]
    next_id = latest.round_id - 1
    size = FIRST_BATCH
    while rounds[-1].updated_at > since:
        if len(rounds) >= max_rounds:
            return rounds, True
        ids: list[int] = []
        while next_id & PHASE_MASK and len(ids) < min(size, max_rounds - len(rounds)):
            ids.append(next_id)
            next_id -= 1
        if not ids:
            break
        calls = [Call.of(feed.functions.getRoundData(i)) for i in ids]
        answers = rpc.batch([c.request() for c in calls])
        for call, answer in zip(calls, answers, strict=True):
            if isinstance(answer, RpcError):  # a round the feed never had: history ends
                return rounds, False
            round_id, value, _started, updated, _answered = call.decode(answer)
            rounds.append(Round(int(round_id), int(value), int(updated)))
            if int(updated) <= since and int(updated) > 0:
                return rounds, False
        size = min(size * 2, MAX_BATCH)
    return rounds, False
