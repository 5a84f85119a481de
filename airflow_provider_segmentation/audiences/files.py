"""Read a folder of audience files (YAML) into ``Audience`` objects, or report every problem at once.

A file holds one audience (a mapping), several (``audiences: [...]`` or a list), or several YAML
documents separated by ``---``. Every problem of every file is collected as an ``Issue`` with file, line
and column (1-based): bad YAML, duplicate or unknown keys, wrong types, audience names used twice
(across files, also when an audience has other problems), earlier names (``renamed_from``) that another
audience uses, missing ``.pql`` files and PQL errors, which point into the YAML (or ``.pql``) file.
Invalid YAML stops the reading of its file there: the documents before it are checked, the rest is not.
Names are compared by ``model.name_key`` (case and Unicode form ignored), so look-alikes clash. Files are
read only through ``folder.read_inside``: regular files inside the folder, under a size cap.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from airflow_provider_segmentation.audiences.checks import eligibility_problem
from airflow_provider_segmentation.audiences.errors import FolderFileError
from airflow_provider_segmentation.audiences.folder import audience_files, read_inside
from airflow_provider_segmentation.audiences.locations import (
    PQL_PATH,
    Issue,
    SourceFile,
    check_inline_expression,
    check_pql_file,
)
from airflow_provider_segmentation.audiences.model import Audience, name_key
from airflow_provider_segmentation.audiences.ownership import MARKER_PREFIX

EVALUATIONS = ("batch", "streaming", "edge")
SCHEMAS = ("_xdm.context.profile", "_xdm.context.account")
LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")
# key -> (required, what it must be); the JSON Schema (audience-file.schema.json) says the same
FIELDS: dict[str, tuple[bool, str]] = {
    "name": (True, "text: the definition's name, unique in the sandbox"),
    "description": (False, "text"),
    "expression": (True, "PQL text, or the path of a .pql file relative to this file"),
    "evaluation": (
        False,
        f"one of {', '.join(EVALUATIONS)} (default batch); streaming and edge only for an expression AEP "
        "evaluates so (aep-audiences lint checks it)",
    ),
    "schema": (False, f"the XDM class: one of {', '.join(SCHEMAS)} (default profile), set at creation"),
    "ttl_in_days": (False, "a whole number of days, at least 1"),
    "schedule": (
        False,
        "true or false: whether its id is in scheduled_ids, to evaluate daily (default true)",
    ),
    "labels": (False, "a list of labels (letters, digits, _ . : -)"),
    "renamed_from": (False, "an earlier name of the audience, or a list of them (a rename, not a new one)"),
}
NOT_CHECKED = "the rest of this file was not checked: fix this and lint again"


@dataclass(frozen=True)
class _Read:
    """One audience mapping as read: its name (None if unusable), the audience (None after a problem)."""

    name: str | None
    name_node: Node | None
    audience: Audience | None
    renamed_from: tuple[tuple[str, Node], ...]
    source: str
    reader: SourceFile


class _Seen(NamedTuple):
    """The first audience holding a name (by ``name_key``): the name as written, and where."""

    name: str
    source: str

    def clash(self, name: str) -> str:
        """Nothing for the same name; for another spelling, the name it is taken for."""
        return "" if name == self.name else f" (the name {self.name!r}, case and Unicode form ignored)"


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
    reads = [read for path in paths for read in _read_file(path, root, issues)]
    first_seen: dict[str, _Seen] = {}
    audiences: list[Audience] = []
    for read in reads:
        if read.name is None or read.name_node is None:
            continue
        seen = first_seen.get(name_key(read.name))
        if seen is not None:
            read.reader.at(
                read.name_node,
                f"duplicate audience name {read.name!r}{seen.clash(read.name)} (also at {seen.source}): "
                "names are unique in a sandbox; rename one",
            )
            continue
        first_seen[name_key(read.name)] = _Seen(read.name, read.source)
        if read.audience is not None:
            audiences.append(read.audience)
    _check_earlier_names(reads, first_seen)
    issues.sort(key=lambda i: (i.file, i.line, i.column))
    return audiences, issues


def _check_earlier_names(reads: list[_Read], first_seen: dict[str, _Seen]) -> None:
    """An earlier name (``renamed_from``) must not be another audience's name, nor two audiences'."""
    claimed: dict[str, _Seen] = {}
    for read in reads:
        for earlier, node in read.renamed_from:  # never its own name: that is refused where it is read
            key = name_key(earlier)
            if key in first_seen:
                seen = first_seen[key]
                read.reader.at(
                    node,
                    f"renamed_from {earlier!r}{seen.clash(earlier)} is the name of the audience at "
                    f"{seen.source}: an earlier name must not be in use; remove it here",
                )
            elif key in claimed:
                seen = claimed[key]
                read.reader.at(
                    node,
                    f"renamed_from {earlier!r}{seen.clash(earlier)} is also an earlier name of the audience "
                    f"at {seen.source}: one definition cannot become two audiences; keep one",
                )
            else:
                claimed[key] = _Seen(earlier, read.source)


def _read_file(path: Path, root: Path, issues: list[Issue]) -> Iterator[_Read]:
    try:
        text = read_inside(root, path)
    except FolderFileError as exc:
        issues.append(Issue(str(path), 1, 1, f"not read: {exc.reason}"))
        return
    reader = SourceFile(path, str(path), text.splitlines(), issues)
    documents = yaml.compose_all(text, Loader=yaml.SafeLoader)
    while True:  # document by document: those before invalid YAML are still checked
        try:
            document = next(documents)
        except StopIteration:
            return
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            what = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
            began = exc.context_mark
            if (
                began is not None
                and mark is not None
                and (began.line, began.column) != (mark.line, mark.column)
            ):
                what += f" (it began at line {began.line + 1}, column {began.column + 1})"
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            reader.issue(line, column, f"invalid YAML: {what}; {NOT_CHECKED}")
            return
        except yaml.YAMLError as exc:
            reader.issue(1, 1, f"invalid YAML: {exc}; {NOT_CHECKED}")
            return
        for node in _audience_nodes(document, reader):
            yield _read_audience(node, reader, root)


def _audience_nodes(document: Node | None, reader: SourceFile) -> list[MappingNode]:
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


def _read_audience(node: MappingNode, reader: SourceFile, root: Path) -> _Read:
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
    evaluation = _choice(values.get("evaluation"), "evaluation", EVALUATIONS, reader)
    schema = _choice(values.get("schema"), "schema", SCHEMAS, reader)
    ttl = _ttl(values.get("ttl_in_days"), reader)
    schedule = _boolean(values.get("schedule"), "schedule", reader)
    labels = _labels(values.get("labels"), reader)
    renamed_from = _renamed_from(values.get("renamed_from"), name, reader)
    if MARKER_PREFIX in description:
        reader.at(values["description"], f"description must not contain {MARKER_PREFIX!r}: the tool adds it")
    expression = None
    if expression_text is not None:
        expression = _expression(values["expression"], expression_text, reader, root)
    problem = eligibility_problem(expression, evaluation) if expression is not None else None
    if problem is not None:
        reader.at(values["evaluation"], str(problem))
    source = f"{reader.shown}:{node.start_mark.line + 1}"
    if len(reader.issues) > before or name is None or expression is None:
        return _Read(name, values.get("name"), None, renamed_from, source, reader)
    audience = Audience(
        name=name,
        expression=expression,
        description=description.strip(),
        evaluation=evaluation,
        schema=schema,
        ttl_in_days=ttl,
        schedule=True if schedule is None else schedule,
        labels=labels,
        source=source,
        renamed_from=tuple(earlier for earlier, _ in renamed_from),
    )
    return _Read(name, values["name"], audience, renamed_from, source, reader)


def _expression(node: Node, text: str, reader: SourceFile, root: Path) -> str | None:
    """The PQL, inline or read from the ``.pql`` file that the value names (inside the folder), parsed;
    None after an issue."""
    if not PQL_PATH.fullmatch(text.strip()):
        return check_inline_expression(node, text, reader)
    pql_path = reader.path.parent / text.strip()
    try:
        source = read_inside(root, pql_path)
    except FolderFileError as exc:
        reader.at(node, f"cannot read the PQL file {text.strip()!r} (relative to this file): {exc.reason}")
        return None
    return check_pql_file(Path(os.path.normpath(pql_path)), source, reader.issues)


def _text(node: Node | None, key: str, reader: SourceFile, *, required: bool = False) -> str | None:
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
    if key in ("name", "renamed_from") and (value != value.strip() or re.search(r"[\x00-\x1f\x7f]", value)):
        reader.at(node, f"{key} {value!r} has surrounding spaces or a control character: remove them")
        return None
    return value


def _renamed_from(node: Node | None, name: str | None, reader: SourceFile) -> tuple[tuple[str, Node], ...]:
    """The earlier names (one text or a list of them), each with its node; problems are reported."""
    if node is None:
        return ()
    items = node.value if isinstance(node, SequenceNode) else [node]
    if not items:
        reader.at(node, "renamed_from is an empty list: list the audience's earlier names, or remove it")
    earlier: list[tuple[str, Node]] = []
    for item in items:
        value = _text(item, "renamed_from", reader, required=True)
        if value is None:
            continue
        if name is not None and name_key(value) == name_key(name):
            reader.at(item, f"renamed_from {value!r} is the audience's own name: list only earlier names")
        elif name_key(value) in (name_key(known) for known, _ in earlier):
            reader.at(item, f"renamed_from {value!r} is listed twice")
        else:
            earlier.append((value, item))
    return tuple(earlier)


def _choice(node: Node | None, key: str, choices: tuple[str, ...], reader: SourceFile) -> str:
    """The value of ``key`` (one of ``choices``, the first by default); the default after an issue."""
    if node is None:
        return choices[0]
    value = _scalar(node)
    if value not in choices:
        close = difflib.get_close_matches(str(value), choices, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        reader.at(node, f"{key} {_shown(value)} must be one of {', '.join(choices)}{hint}")
        return choices[0]
    return str(value)


def _ttl(node: Node | None, reader: SourceFile) -> int | None:
    if node is None:
        return None
    value = _scalar(node)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        reader.at(node, f"ttl_in_days {_shown(value)} must be a whole number of days, at least 1")
        return None
    return value


def _boolean(node: Node | None, key: str, reader: SourceFile) -> bool | None:
    if node is None:
        return None
    value = _scalar(node)
    if not isinstance(value, bool):
        reader.at(node, f"{key} {_shown(value)} must be true or false")
        return None
    return value


def _labels(node: Node | None, reader: SourceFile) -> tuple[str, ...]:
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
