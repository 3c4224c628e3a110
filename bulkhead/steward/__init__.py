"""The risk steward: volatility haircuts within governance's rules (docs/STEWARD.md).

Public API:
- `run(...)`: the bot (`bulkhead steward run`); `steward_from_env` for `bots/steward.py`.
- `Steward(client, sender, config)`: `assess_all()` reads and decides, `step()` also acts.
- `decide`: the pure parts: `realised_vol`, `Curve`, `Rules`, `decide`.
"""

from bulkhead.steward.core import (
    Assessment,
    StepReport,
    Steward,
    StewardConfig,
    check_steward,
    steward_sender,
)
from bulkhead.steward.decide import Curve, Decision, Round, Rules, VolEstimate, decide, realised_vol
from bulkhead.steward.runner import run, steward_from_env

__all__ = [
    "Assessment",
    "Curve",
    "Decision",
    "Round",
    "Rules",
    "StepReport",
    "Steward",
    "StewardConfig",
    "VolEstimate",
    "check_steward",
    "decide",
    "realised_vol",
    "run",
    "steward_from_env",
    "steward_sender",
]
