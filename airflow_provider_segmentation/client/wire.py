"""The one strict reader of what comes off the wire: JSON bodies, and numbers in bodies and headers.

Every answer (IMS, platform, listings, error bodies; sync and async) is read here, and nothing that a
server sends can end in a ``RecursionError`` or a bare ``ValueError``: a body nested deeper than
``MAX_DEPTH`` or holding a number longer than ``MAX_DIGITS`` is an ``UnreadableBody`` (callers turn it
into the ``AEPServerError`` of their context). Numbers are ASCII digits of bounded length only (``"²"``
is a digit to ``str.isdigit`` and an error to ``int``). ``hidden_json`` masks credentials in every
decoded string of a read body (see ``redaction``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from airflow_provider_segmentation.client.redaction import Hider

MAX_DEPTH = 200  # pydantic-core's own JSON nesting limit; AEP's deepest bodies (PQL ASTs) stay far below
MAX_DIGITS = 30  # no count, id number or timestamp of AEP comes near
_WHOLE = re.compile(r"[0-9]{1,18}")
_SECONDS = re.compile(r"[0-9]{1,10}(\.[0-9]{1,9})?")
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class UnreadableBody(ValueError):
    """The body is not JSON this package reads; ``reason`` says why, readably."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise UnreadableBody(f"it holds {quote_digits(text)}, beyond any count AEP has")
    return int(text)


def _bounded_float(text: str) -> float:
    if len(text) > MAX_DIGITS + 10:
        raise UnreadableBody(f"it holds a number written with {len(text)} characters")
    return float(text)


def _refuse_constant(name: str) -> Any:
    raise UnreadableBody(f"it holds {name}, which is not JSON")


def _depth(body: bytes) -> int:
    """How deep arrays and objects nest in ``body`` (brackets inside strings do not count)."""
    if body.count(b"[") + body.count(b"{") <= MAX_DEPTH:
        return 0  # cannot be deeper than the limit
    deepest = depth = 0
    for bracket in _STRING.sub(b"", body).translate(None, _NOT_BRACKETS):
        depth += 1 if bracket in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest


def read_json(body: bytes) -> Any:
    """The JSON of ``body`` (``None`` when empty), or ``UnreadableBody`` saying why it cannot be read (never
    quoting the body, which may be an IMS answer that holds a token)."""
    if not body.strip():
        return None
    if _depth(body) > MAX_DEPTH:
        raise UnreadableBody(f"it nests arrays or objects deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(
            body, parse_int=_bounded_int, parse_float=_bounded_float, parse_constant=_refuse_constant
        )
    except UnreadableBody:
        raise
    except (ValueError, RecursionError):
        raise UnreadableBody("it is not JSON") from None


def quote_digits(text: str) -> str:
    """A number as a message can show it: as is when short, else how many digits it has."""
    digits = text.lstrip("-")
    return text if len(digits) <= MAX_DIGITS else f"a {len(digits):,}-digit number"


def quote_value(value: Any) -> str:
    """A value from an answer as a message can show it (huge numbers by their length, long text cut)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**MAX_DIGITS:
        return f"a number of about {int(value.bit_length() * 0.30103) + 1:,} digits"
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def whole_number(value: Any) -> int | None:
    """A non-negative count from a body or header: an int, or ASCII digits (at most 18), else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < 10**18 else None
    if isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        return int(value.strip())
    return None


def seconds_value(text: str) -> float | None:
    """Delta-seconds as a header gives them: ASCII digits with an optional fraction, else ``None``."""
    return float(text) if _SECONDS.fullmatch(text) else None


def hidden_json(data: Any, hider: Hider) -> Any:
    """``data`` (read JSON) with every credential masked in each string, keys included."""
    if isinstance(data, str):
        return hider.hide(data)
    if isinstance(data, list):
        return [hidden_json(item, hider) for item in data]
    if isinstance(data, dict):
        return {hider.hide(key): hidden_json(value, hider) for key, value in data.items()}
    return data
