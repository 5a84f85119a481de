"""Profile Query Language (PQL) offline: parse, lint, convert to and from pql/json, evaluate.

No Airflow and no HTTP here: DAG authors can lint their definitions in their own CI, and the emulator
evaluates the same trees over its synthetic profiles.

Every input, however hostile, gets a result or a ``PQLError`` (``PQLSyntaxError`` with line and column,
``PQLUnsupportedError``, ``PQLTooComplexError``, ``PQLOutOfRangeError``), quickly: trees nest at most
``MAX_DEPTH`` (200) levels, chains such as ``a or b or ...`` may be any length, ``like`` runs in linear
time and regular expressions are checked for catastrophic backtracking (see ``patterns``). Values keep
their types: ``true`` is not ``1`` (``pql.values``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from airflow_provider_segmentation.pql.ast import (
    MAX_DEPTH,
    Node,
    PQLError,
    PQLOutOfRangeError,
    PQLSyntaxError,
    PQLTooComplexError,
    PQLUnsupportedError,
)
from airflow_provider_segmentation.pql.convert import from_json, to_json
from airflow_provider_segmentation.pql.evaluate import Compiled, Context, compile_expression
from airflow_provider_segmentation.pql.parser import parse
from airflow_provider_segmentation.pql.text import to_text


def compile(text_or_node: str | Node) -> Compiled:
    """Parse (if needed) and compile once; call the result with a ``Context`` per profile."""
    node = parse(text_or_node) if isinstance(text_or_node, str) else text_or_node
    return compile_expression(node)


def evaluate(
    text_or_node: str | Node,
    profile: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]] = (),
    *,
    now: datetime | None = None,
    in_segment: Callable[[str], bool] = lambda _segment_id: False,
) -> bool:
    """Does ``profile`` (with its ExperienceEvents as ``xEvent``) qualify for the expression?"""
    view = {**profile, "xEvent": list(events)} if events else profile
    context = Context(view, now or datetime.now(timezone.utc), in_segment)
    return bool(compile(text_or_node)(context))


__all__ = [
    "MAX_DEPTH",
    "Context",
    "Node",
    "PQLError",
    "PQLOutOfRangeError",
    "PQLSyntaxError",
    "PQLTooComplexError",
    "PQLUnsupportedError",
    "compile",
    "evaluate",
    "from_json",
    "parse",
    "to_json",
    "to_text",
]
