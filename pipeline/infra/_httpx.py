"""httpx, imported without its command-line client.

httpx's ``__init__`` imports ``httpx._main`` (and with it rich and pygments: ~35 ms of the ~0.27 s
start-up of ``newsletter collect``) unless that cannot be imported; collect never runs it. So it is
kept from this one import, and the ``httpx`` module is the same in every other way (``python -m httpx``
and an explicit ``import httpx._main`` still work).
"""

from __future__ import annotations

import sys

_HELD_BACK = sys.modules.setdefault("httpx._main", None) is None  # type: ignore[arg-type]
try:
    import httpx
finally:
    if _HELD_BACK:
        del sys.modules["httpx._main"]

__all__ = ["httpx"]
