"""Where a problem of an audience file is: ``Issue`` (file, line, column, the line for a caret), the file
being read, and PQL errors placed in the YAML file (inline expressions) or in the ``.pql`` file."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yaml.nodes import Node

from airflow_provider_segmentation import pql

PQL_PATH = re.compile(r"\S+\.pql")


@dataclass(frozen=True)
class Issue:
    """One problem, where it is: ``file:line:column: message`` (line and column from 1)."""

    file: str
    line: int
    column: int
    message: str
    source: str | None = field(default=None, compare=False)  # the file's line, to show with a caret

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}:{self.column}: {self.message}"
        if self.source is not None:
            text += f"\n    {self.source}\n    {' ' * max(0, self.column - 1)}^"
        return text

    def github(self) -> str:
        """The issue as a GitHub Actions annotation."""
        message = self.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return f"::error file={self.file},line={self.line},col={self.column}::{message}"

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "column": self.column, "message": self.message}


@dataclass
class SourceFile:
    """One file being read: its path as shown, its lines (for carets), and the issues found."""

    path: Path
    shown: str
    lines: list[str]
    issues: list[Issue]

    def issue(self, line: int, column: int, message: str) -> None:
        source = self.lines[line - 1] if 0 < line <= len(self.lines) else None
        self.issues.append(Issue(self.shown, line, column, message, source))

    def at(self, node: Node, message: str) -> None:
        self.issue(node.start_mark.line + 1, node.start_mark.column + 1, message)


def check_pql_file(path: Path, source: str, issues: list[Issue]) -> str | None:
    """The PQL of the ``.pql`` file at ``path`` (its text read by the caller), parsed; None after an issue,
    which points into that file."""
    pql_file = SourceFile(path, str(path), source.splitlines(), issues)
    if not source.strip():
        pql_file.issue(1, 1, "the PQL file is empty")
        return None
    exact = _check_pql(source, lambda line, column: (line, column, True), pql_file)
    return source.strip() if exact else None


def check_inline_expression(node: Node, text: str, reader: SourceFile) -> str | None:
    """The PQL written in the YAML value ``node``, parsed; None after an issue, which points into the YAML."""
    in_yaml = functools.partial(_in_yaml, node, reader)
    return text.strip() if _check_pql(text, in_yaml, reader) else None


def _check_pql(text: str, place: Callable[[int, int], tuple[int, int, bool]], reader: SourceFile) -> bool:
    """Parse ``text``; on an error add one issue where ``place(line, column)`` says it is in the file."""
    try:
        pql.parse(text)
    except pql.PQLError as exc:
        message = str(exc).split("\n", 1)[0]
        line, column = getattr(exc, "line", None), getattr(exc, "column", None)
        message = re.sub(r" at line \d+, column \d+:?$", "", message)
        if line is None or column is None:
            line, column = 1, 1
        file_line, file_column, exact = place(line, column)
        if not exact:
            message += f" (line {line}, column {column} of the expression)"
        reader.issue(file_line, file_column, f"PQL: {message}")
        return False
    return True


def _in_yaml(node: Node, reader: SourceFile, line: int, column: int) -> tuple[int, int, bool]:
    """Where line/column of an inline expression is in the YAML file: exact for literal blocks (``|``)
    and one-line scalars without escapes; otherwise the start of the value (and ``False``)."""
    start, end = node.start_mark, node.end_mark
    style = getattr(node, "style", None)
    if style == "|":
        first = start.line + 1  # the content starts on the line after the indicator
        # a block's indentation is its first non-empty line's (YAML 1.1, no indentation indicator)
        content = next((text for text in reader.lines[first : end.line + 1] if text.strip()), "")
        indent = len(content) - len(content.lstrip(" "))
        return first + line, indent + column, True
    if start.line == end.line and line == 1 and style in (None, "'", '"'):
        quote = 1 if style else 0
        raw = reader.lines[start.line][start.column + quote : end.column - quote]
        if raw == node.value:
            return start.line + 1, start.column + quote + column, True
    return start.line + 1, start.column + 1, False
