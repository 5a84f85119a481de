"""Read a folder of audience files (YAML) into ``Audience`` objects, or report every problem at once.

A file holds one audience (a mapping), several (``audiences: [...]`` or a list), or several YAML
documents separated by ``---``. Every problem of every file is collected as an ``Issue`` with file, line
and column (1-based): bad YAML, duplicate or unknown keys, wrong types, audience names used twice
(across files), missing ``.pql`` files and PQL errors, which point into the YAML (or ``.pql``) file.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from airflow_provider_segmentation import pql
from airflow_provider_segmentation.audiences.ownership import MARKER_PREFIX

EVALUATIONS = ("batch", "streaming", "edge")
LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")
PQL_PATH = re.compile(r"\S+\.pql")
SUFFIXES = (".yaml", ".yml")
# key -> (required, what it must be); the JSON Schema (audience-file.schema.json) says the same
FIELDS: dict[str, tuple[bool, str]] = {
    "name": (True, "text: the definition's name, unique in the sandbox"),
    "description": (False, "text"),
    "expression": (True, "PQL text, or the path of a .pql file relative to this file"),
    "evaluation": (False, f"one of {', '.join(EVALUATIONS)} (default batch)"),
    "ttl_in_days": (False, "a whole number of days, at least 1"),
    "schedule": (False, "true or false: whether the daily batch schedule evaluates it (default true)"),
    "labels": (False, "a list of labels (letters, digits, _ . : -)"),
}


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


@dataclass(frozen=True)
class Audience:
    """One audience as its file declares it; ``source`` is ``file:line`` of its mapping."""

    name: str
    expression: str
    description: str = ""
    evaluation: str = "batch"
    ttl_in_days: int | None = None
    schedule: bool = True
    labels: tuple[str, ...] = ()
    source: str = ""


@dataclass
class _File:
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


def audience_files(folder: Path) -> list[Path]:
    """The ``.yaml``/``.yml`` files under ``folder`` (recursively, hidden folders skipped), sorted."""
    found = [
        path
        for path in folder.rglob("*")
        if path.suffix in SUFFIXES
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    ]
    return sorted(found)


def read_folder(folder: str | Path) -> tuple[list[Audience], list[Issue]]:
    """Every audience of every file under ``folder``, and every problem found (sorted by place)."""
    root = Path(folder)
    issues: list[Issue] = []
    if not root.is_dir():
        return [], [Issue(str(root), 1, 1, "no such folder: pass the folder that holds the audience files")]
    paths = audience_files(root)
    if not paths:
        issues.append(
            Issue(str(root), 1, 1, "no audience files (*.yaml, *.yml) in this folder: check the path")
        )
    audiences: list[Audience] = []
    first_seen: dict[str, str] = {}
    for path in paths:
        for audience, name_node, reader in _read_file(path, issues):
            if audience.name in first_seen:
                reader.at(
                    name_node,
                    f"duplicate audience name {audience.name!r} (also at {first_seen[audience.name]}): "
                    "names are unique in a sandbox; rename one",
                )
                continue
            first_seen[audience.name] = audience.source
            audiences.append(audience)
    issues.sort(key=lambda i: (i.file, i.line, i.column))
    return audiences, issues


def _read_file(path: Path, issues: list[Issue]) -> Iterator[tuple[Audience, Node, _File]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        issues.append(Issue(str(path), 1, 1, f"cannot read the file: {exc}"))
        return
    reader = _File(path, str(path), text.splitlines(), issues)
    try:
        documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        began = exc.context_mark
        if began is not None and mark is not None and (began.line, began.column) != (mark.line, mark.column):
            what += f" (it began at line {began.line + 1}, column {began.column + 1})"
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reader.issue(line, column, f"invalid YAML: {what}")
        return
    except yaml.YAMLError as exc:
        reader.issue(1, 1, f"invalid YAML: {exc}")
        return
    for document in documents:
        for node in _audience_nodes(document, reader):
            read = _read_audience(node, reader)
            if read is not None:
                yield read[0], read[1], reader


def _audience_nodes(document: Node | None, reader: _File) -> list[MappingNode]:
    if document is None:
        return []
    if isinstance(document, SequenceNode):
        items = document.value
    elif isinstance(document, MappingNode) and any(_key(k) == "audiences" for k, _ in document.value):
        items = []
        for key_node, value in document.value:
            if _key(key_node) != "audiences":
                reader.at(
                    key_node,
                    f"unknown key {_key(key_node)!r} next to 'audiences': a file holds either one audience "
                    "or a list under 'audiences'",
                )
            elif not isinstance(value, SequenceNode) or not value.value:
                reader.at(value, "'audiences' must be a non-empty list of audiences")
            else:
                items.extend(value.value)
    else:
        items = [document]
    nodes = []
    for item in items:
        if isinstance(item, MappingNode):
            nodes.append(item)
        else:
            reader.at(item, "an audience must be a mapping with name, expression, ... (see the schema)")
    return nodes


def _key(node: Node) -> str:
    return str(node.value) if isinstance(node, ScalarNode) else "<complex key>"


def _scalar(node: Node) -> Any:
    """A scalar node's value with YAML's own types (``true`` is a bool, ``30`` an int)."""
    if not isinstance(node, ScalarNode):
        return node  # a list or a mapping: the caller says it has the wrong type
    try:
        return SafeConstructor().construct_object(node, deep=True)
    except (ConstructorError, ValueError):
        return node.value


def _read_audience(node: MappingNode, reader: _File) -> tuple[Audience, Node] | None:
    before = len(reader.issues)
    values: dict[str, Node] = {}
    keys: dict[str, Node] = {}
    for key_node, value_node in node.value:
        key = _key(key_node)
        if key in keys:
            first = keys[key].start_mark.line + 1
            reader.at(key_node, f"duplicate key {key!r} (first at line {first}): keep one")
            continue
        keys[key] = key_node
        if key not in FIELDS:
            close = difflib.get_close_matches(key, FIELDS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            reader.at(key_node, f"unknown key {key!r}: {hint}allowed keys are {', '.join(FIELDS)}")
            continue
        values[key] = value_node
    for key, (required, _) in FIELDS.items():
        if required and key not in values and key not in keys:
            reader.at(node, f"missing key {key!r}: {FIELDS[key][1]}")
    name = _text(values.get("name"), "name", reader, required=True)
    description = _text(values.get("description"), "description", reader) or ""
    expression_text = _text(values.get("expression"), "expression", reader, required=True)
    evaluation = _evaluation(values.get("evaluation"), reader)
    ttl = _ttl(values.get("ttl_in_days"), reader)
    schedule = _boolean(values.get("schedule"), "schedule", reader)
    labels = _labels(values.get("labels"), reader)
    if MARKER_PREFIX in description:
        reader.at(values["description"], f"description must not contain {MARKER_PREFIX!r}: the tool adds it")
    expression = None
    if expression_text is not None:
        expression = _expression(values["expression"], expression_text, reader)
    if len(reader.issues) > before or name is None or expression is None:
        return None
    audience = Audience(
        name=name,
        expression=expression,
        description=description.strip(),
        evaluation=evaluation,
        ttl_in_days=ttl,
        schedule=True if schedule is None else schedule,
        labels=labels,
        source=f"{reader.shown}:{node.start_mark.line + 1}",
    )
    return audience, values["name"]


def _text(node: Node | None, key: str, reader: _File, *, required: bool = False) -> str | None:
    if node is None:
        return None
    value = _scalar(node)
    if not isinstance(value, str):
        shown = "a list or mapping" if isinstance(value, Node) else f"{type(value).__name__} {value!r}"
        reader.at(node, f"{key} must be text, got {shown}: quote it")
        return None
    if required and not value.strip():
        reader.at(node, f"{key} is empty: {FIELDS[key][1]}")
        return None
    if key == "name" and (value != value.strip() or re.search(r"[\x00-\x1f\x7f]", value)):
        reader.at(node, f"name {value!r} has surrounding spaces or a control character: remove them")
        return None
    return value


def _evaluation(node: Node | None, reader: _File) -> str:
    if node is None:
        return "batch"
    value = _scalar(node)
    if value not in EVALUATIONS:
        close = difflib.get_close_matches(str(value), EVALUATIONS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        reader.at(node, f"evaluation {_shown(value)} must be one of {', '.join(EVALUATIONS)}{hint}")
        return "batch"
    return str(value)


def _ttl(node: Node | None, reader: _File) -> int | None:
    if node is None:
        return None
    value = _scalar(node)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        reader.at(node, f"ttl_in_days {_shown(value)} must be a whole number of days, at least 1")
        return None
    return value


def _boolean(node: Node | None, key: str, reader: _File) -> bool | None:
    if node is None:
        return None
    value = _scalar(node)
    if not isinstance(value, bool):
        reader.at(node, f"{key} {_shown(value)} must be true or false")
        return None
    return value


def _labels(node: Node | None, reader: _File) -> tuple[str, ...]:
    if node is None:
        return ()
    if not isinstance(node, SequenceNode):
        reader.at(node, "labels must be a list, e.g. [loyalty, email]")
        return ()
    labels: list[str] = []
    for item in node.value:
        value = _scalar(item)
        if not isinstance(value, str) or not LABEL.fullmatch(value):
            reader.at(item, f"label {_shown(value)} must be a word of letters, digits and _ . : -")
        elif value in labels:
            reader.at(item, f"label {value!r} is listed twice")
        else:
            labels.append(value)
    return tuple(sorted(labels))


def _shown(value: Any) -> str:
    return "(a list or mapping)" if isinstance(value, Node) else repr(value)


def _expression(node: Node, text: str, reader: _File) -> str | None:
    """The PQL (read from the ``.pql`` file if the value is a path), parsed; None after an issue."""
    if PQL_PATH.fullmatch(text.strip()):
        pql_path = Path(os.path.normpath(reader.path.parent / text.strip()))
        try:
            source = pql_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reader.at(node, f"cannot read the PQL file {text.strip()!r} (relative to this file): {exc}")
            return None
        pql_file = _File(pql_path, str(pql_path), source.splitlines(), reader.issues)
        if not source.strip():
            pql_file.issue(1, 1, "the PQL file is empty")
            return None
        return (
            source.strip()
            if _check_pql(source, lambda line, column: (line, column, True), pql_file)
            else None
        )
    in_yaml = functools.partial(_in_yaml, node, reader)
    return text.strip() if _check_pql(text, in_yaml, reader) else None


def _check_pql(text: str, place: Callable[[int, int], tuple[int, int, bool]], reader: _File) -> bool:
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


def _in_yaml(node: Node, reader: _File, line: int, column: int) -> tuple[int, int, bool]:
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
