"""The checks of call arguments that a DAG file's tasks also run when they are built (at DAG-parse time).

Pure on purpose (only ``errors``): an operator checks its literal arguments with these in ``__init__``,
and importing an operator module must not import the client, pydantic models or HTTP libraries.
``operations``, ``config`` and ``waiting`` use (and re-export) them: one rule, checked in one place.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow_provider_segmentation.client.errors import AEPConfigurationError, AEPValidationError

MAX_SEGMENTS_PER_JOB = 1500
# Patterns for JSON Schema too (a DAG param's ``pattern``, checked when a run is triggered, with re.search):
# ``(?![\s\S])`` is the end of the text, where ``$`` would also accept a trailing newline.
_END = r"(?![\s\S])"
SANDBOX_NAME_PATTERN = rf"^[a-z0-9][a-z0-9-]*{_END}"
# ``check_id``'s rule: not ``.``/``..``, no ``/ \ ? #`` or control character, no surrounding whitespace.
_ID_CHARACTER = r"[^/\\?#\x00-\x1f\x7f]"
_ID_EDGE = r"[^\s/\\?#\x00-\x1f\x7f]"
ID_PATTERN = rf"^(?!\.\.?{_END}){_ID_EDGE}(?:{_ID_CHARACTER}*{_ID_EDGE})?{_END}"
_SANDBOX_NAME = re.compile(SANDBOX_NAME_PATTERN)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_URL_CHARACTERS = ("/", "\\", "?", "#")


def check_id(value: Any, *, field_name: str, label: str | None = None) -> str:
    """One id as text, or an ``AEPValidationError`` on ``field_name`` that says what is wrong and the fix.

    Ids are opaque (preview ids are base64 with ``=`` and ``+``; export job ids are integers), but an id
    never is ``.`` or ``..``, never holds ``/ \\ ? #`` or a control character, and never has surrounding
    whitespace: such a value is a mistake that, once in a URL, would address another endpoint.
    ``label`` names the value in the message (``segment_ids[2]``); it defaults to ``field_name``.
    """
    name = label or field_name
    if isinstance(value, bool) or not isinstance(value, str | int):
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise AEPValidationError(
            f"{name} must be an id (a string, or an integer for export jobs), got {type(value).__name__} "
            f"{shown}: pass the id exactly as AEP returned it",
            field=field_name,
        )
    text = str(value)
    if not text.strip():
        raise AEPValidationError(f"{name} is empty (a blank id): pass the id AEP returned", field=field_name)
    if _CONTROL.search(text.strip()):
        raise AEPValidationError(
            f"{name} {text!r} contains a control character (a newline?): pass the id exactly as AEP "
            "returned it",
            field=field_name,
        )
    if text != text.strip():
        raise AEPValidationError(
            f"{name} {text!r} has surrounding whitespace: remove it (use {text.strip()!r})",
            field=field_name,
        )
    if text in (".", ".."):
        raise AEPValidationError(
            f"{name} {text!r} is not an id: in a URL '.' and '..' are path steps that address another "
            "endpoint (/segment/jobs/. is /segment/jobs/); pass the id AEP returned",
            field=field_name,
        )
    for character in _URL_CHARACTERS:
        if character in text:
            raise AEPValidationError(
                f"{name} {text!r} contains {character!r}, which no AEP id holds (in a URL it would change "
                "the path or the query): pass the id exactly as AEP returned it",
                field=field_name,
            )
    return text


def wrong_type(field_name: str, expected: str, value: Any) -> AEPValidationError:
    """The error for a (rendered) value of the wrong type: ``x must be a string; got int 5``."""
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return AEPValidationError(
        f"{field_name} must be {expected}; got {type(value).__name__} {shown}", field=field_name
    )


def validate_ids(
    ids: Iterable[str] | None, *, field_name: str, maximum: int = MAX_SEGMENTS_PER_JOB
) -> list[str]:
    """A non-empty list of at most ``maximum`` ids, each one as ``check_id`` wants, else a clear error."""
    if ids is None or isinstance(ids, str | bytes | Mapping) or not isinstance(ids, Iterable):
        raise wrong_type(field_name, "a list of ids, e.g. ['<id>']", ids)
    values = list(ids)
    if not values:
        raise AEPValidationError(f"{field_name} is empty: pass at least one id", field=field_name)
    if len(values) > maximum:
        raise AEPValidationError(
            f"{field_name} has {len(values)} ids; AEP accepts at most {maximum} per call. Split the list "
            "into several calls",
            field=field_name,
        )
    checked = [
        check_id(value, field_name=field_name, label=f"{field_name}[{index}]")
        for index, value in enumerate(values)
    ]
    counts = Counter(checked)
    repeated = [value for value, count in counts.items() if count > 1]
    if repeated:
        raise AEPValidationError(
            f"{field_name} names {', '.join(map(repr, repeated))} more than once: pass each id once",
            field=field_name,
        )
    return checked


def validate_sandbox(sandbox: str | None, *, field_name: str = "sandbox") -> str:
    """Return the sandbox name if AEP would accept it in ``x-sandbox-name``, else raise."""
    if sandbox is None or not str(sandbox).strip():
        raise AEPConfigurationError(
            f"{field_name} is empty (a template that rendered to nothing?): set it to the lowercase name "
            "of your AEP sandbox, e.g. 'prod', or leave it unset (None) to use the connection's",
            field=field_name,
        )
    if not isinstance(sandbox, str) or not _SANDBOX_NAME.fullmatch(sandbox):
        text = str(sandbox)
        hint = f"use '{text.strip().lower()}'" if text.strip().lower() != text else "e.g. 'prod'"
        raise AEPConfigurationError(
            f"{field_name} {text!r} is not a sandbox name: AEP expects the lowercase name "
            f"(letters, digits and dashes); {hint}",
            field=field_name,
        )
    return sandbox


def positive_seconds(value: Any, *, field_name: str, allow_zero: bool = False) -> float:
    """A finite number of seconds above zero (or zero when allowed); bool, str, nan and inf are refused."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = "zero or more" if allow_zero else "above zero"
        raise AEPValidationError(
            f"{field_name} must be a finite number of seconds {bound}, got {value!r}", field=field_name
        )
    return float(value)


def check_choice(value: Any, choices: Sequence[str], *, field_name: str) -> str:
    """``value`` if it is one of ``choices``, else an ``AEPValidationError`` naming the field and them."""
    if not isinstance(value, str) or value not in choices:
        raise AEPValidationError(
            f"{field_name} {value!r} must be one of {', '.join(choices)}", field=field_name
        )
    return value


def check_poll_interval(poll_interval: float, timeout: float | None, *, field_name: str) -> None:
    """Refuse an interval longer than the timeout: the job would be read only at the start and at the
    deadline, which is rarely what the DAG author meant."""
    if timeout is not None and poll_interval > timeout:
        raise AEPValidationError(
            f"{field_name}={poll_interval:g} s is longer than timeout={timeout:g} s: the job would be read "
            f"only when the wait starts and at its deadline; set {field_name} to at most {timeout:g} s",
            field=field_name,
        )


def validate_names(names: Any) -> list[str]:
    """``segment_names`` as rendered: a non-empty list of non-blank names, each once. Unlike ids, names may
    hold ``/``, ``?`` or ``#``: they are matched against the listing, never put in a URL."""
    if isinstance(names, str | bytes) or not isinstance(names, Sequence) or not names:
        raise AEPValidationError(
            f"segment_names must be a non-empty list of definition names, e.g. ['Gold members'], "
            f"got {names!r}",
            field="segment_names",
        )
    for index, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            raise AEPValidationError(
                f"segment_names[{index}] must be a definition's name (a non-blank string), got {name!r}",
                field="segment_names",
            )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise AEPValidationError(
            f"segment_names names {', '.join(map(repr, repeated))} more than once: pass each name once",
            field="segment_names",
        )
    return list(names)


# -- the size check's limits (size_history.judge_size and its operator, checked when a DAG is parsed)
MAX_HISTORY_JOBS = 10_000  # segment jobs a size history reads: 100 listing pages of 100


def check_limits(*, window: Any, min_history: Any, max_drop: Any, max_rise: Any, min_abs_change: Any) -> None:
    """``AEPValidationError`` naming the field, for a limit ``judge_size`` cannot use."""
    for field, value, low in (
        ("window", window, 1),
        ("min_history", min_history, 1),
        ("min_abs_change", min_abs_change, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise AEPValidationError(
                f"{field} must be a whole number of at least {low}, got {value!r}", field=field
            )
    if min_history > window:
        raise AEPValidationError(
            f"min_history ({min_history}) exceeds window ({window}): no history could ever be judged; "
            "lower min_history or widen window",
            field="min_history",
        )
    for field, value, top in (("max_drop", max_drop, 1.0), ("max_rise", max_rise, math.inf)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < top:
            limit = (
                "below 1 (0.5 = half the usual size)" if top == 1.0 else "a positive fraction (1.0 = double)"
            )
            raise AEPValidationError(f"{field} must be {limit}, got {value!r}", field=field)


def check_max_jobs(max_jobs: Any) -> None:
    """``AEPValidationError`` unless ``max_jobs`` (the segment jobs a size history reads) is 1..10,000."""
    if isinstance(max_jobs, bool) or not isinstance(max_jobs, int) or not 1 <= max_jobs <= MAX_HISTORY_JOBS:
        raise AEPValidationError(
            f"max_jobs must be a whole number from 1 to {MAX_HISTORY_JOBS} (the segment jobs to read), "
            f"got {max_jobs!r}",
            field="max_jobs",
        )
