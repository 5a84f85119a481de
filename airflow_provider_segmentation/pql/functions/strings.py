"""Strings: ``like`` and the text methods (``startsWith``, ``contains``, ``matches``, ``regexGroup``...).

The tests of a needle take an optional case-sensitivity flag (case-sensitive unless it says otherwise)
and are false for a value or needle that is not a string. Regular expressions go through ``patterns``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow_provider_segmentation.pql import patterns
from airflow_provider_segmentation.pql.ast import FnApply
from airflow_provider_segmentation.pql.runtime import Compiled, Compiler, Context, guarded

NEEDLE_TESTS: dict[str, Callable[[str, str], bool]] = {
    "startsWith": str.startswith,
    "endsWith": str.endswith,
    "contains": lambda subject, needle: needle in subject,
    "equals": lambda subject, needle: subject == needle,
    "doesNotStartWith": lambda subject, needle: not subject.startswith(needle),
    "doesNotEndWith": lambda subject, needle: not subject.endswith(needle),
    "doesNotContain": lambda subject, needle: needle not in subject,
    "notEqualTo": lambda subject, needle: subject != needle,
}


def _needle_test(test: Callable[[str, str], bool]) -> Callable[[Any, list[Any]], Any]:
    def apply(value: Any, args: list[Any]) -> bool:
        if not isinstance(value, str) or not args or not isinstance(args[0], str):
            return False
        case_sensitive = args[1] if len(args) > 1 and isinstance(args[1], bool) else True
        subject, needle = (value, args[0]) if case_sensitive else (value.lower(), args[0].lower())
        return test(subject, needle)

    return apply


TEXT_METHODS: dict[str, Callable[[Any, list[Any]], Any]] = {
    **{name: _needle_test(test) for name, test in NEEDLE_TESTS.items()},
    "matches": lambda value, args: patterns.search(args[0] if args else None, value),
    "regexGroup": lambda value, args: patterns.group(
        args[0] if args else None, value, args[1] if len(args) > 1 else 0
    ),
}
"""What each text method gives for its receiver's value and its arguments' values."""


def _compile_text_method(node: FnApply, params: list[Compiled]) -> Compiled:
    method = TEXT_METHODS[node.fn]
    receiver, *args = params

    def apply(ctx: Context) -> Any:
        value = receiver(ctx)
        return method(value, [arg(ctx) for arg in args])

    return guarded(apply)


def _compile_like(node: FnApply, params: list[Compiled]) -> Compiled:
    value, pattern = params

    def like(ctx: Context) -> bool:
        subject, wanted = value(ctx), pattern(ctx)
        return isinstance(subject, str) and isinstance(wanted, str) and patterns.like(subject, wanted)

    return like


COMPILERS: dict[str, Compiler] = {
    **dict.fromkeys(TEXT_METHODS, _compile_text_method),
    "like": _compile_like,
}
