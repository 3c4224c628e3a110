"""The package's one exception base.

Every error the package raises on purpose is a `BulkheadError`: its message is one line a
user can act on, and never holds a key. The CLI catches this one class (beside the node's
own refusals) and prints the message; each subclass also keeps the builtin base it had
(`ValueError` for bad input, `RuntimeError` for a refusal, `ConnectionError` for a node that
is down), so code that catches those still does.
"""

from __future__ import annotations


class BulkheadError(Exception):
    """An error the package raised on purpose, with a one-line message."""
