"""The audience folder is read safely: only regular files inside it, each under the size cap, never
blocking on a FIFO; every refused file is an issue naming the file and the rule; names that look the
same (Unicode form, case) clash."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_segmentation import audiences
from airflow_provider_segmentation.audiences.errors import FolderFileError
from airflow_provider_segmentation.audiences.files import read_folder
from airflow_provider_segmentation.audiences.folder import MAX_FILE_BYTES, RULES, read_inside

HANG_GUARD_SECONDS = 20  # a guard against a FIFO that blocks the reader for ever, not a speed check
ENTRY_KINDS = ("regular", "link-inside", "link-outside", "link-to-fifo", "broken-link", "fifo", "oversized")
EXPRESSION_KINDS = (
    "inside",
    "dotdot-inside",
    "dotdot-outside",
    "absolute",
    "link-outside",
    "fifo",
    "oversized",
)
# the rule each kind breaks (None: read)
ENTRY_RULES = {
    "regular": None,
    "link-inside": None,
    "link-outside": "symlink-outside",
    "link-to-fifo": "not-regular",
    "broken-link": "missing",
    "fifo": "not-regular",
    "oversized": "too-large",
}
EXPRESSION_RULES = {
    "inside": None,
    "dotdot-inside": None,
    "dotdot-outside": "outside",
    "absolute": "outside",
    "link-outside": "symlink-outside",
    "fifo": "not-regular",
    "oversized": "too-large",
}
OVERSIZED = "#" * MAX_FILE_BYTES  # a YAML comment / PQL spaces: valid text, one byte too many


def guarded(call: Callable[[], Any], fifos: list[Path]) -> Any:
    """``call()`` in a thread; if it is still running after the guard, open the FIFOs for writing (which
    lets a reader blocked in ``open`` go on) and fail: reading the folder blocked on a FIFO."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANG_GUARD_SECONDS)
    if thread.is_alive():
        for fifo in fifos:
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(HANG_GUARD_SECONDS)
        pytest.fail("reading the audience folder blocked on a FIFO")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def build_tree(base: Path, entries: list[str], expressions: list[str], depth: int) -> dict[str, Any]:
    """A folder ``base/audiences`` with one audience file per entry kind and one per expression kind,
    ``depth`` folders down, beside ``base/outside`` that holds a valid audience and a valid PQL file."""
    root, outside = base / "audiences", base / "outside"
    sub = root.joinpath(*["sub"] * depth)
    for folder in (outside, sub, root / "pql", root / "targets"):
        folder.mkdir(parents=True, exist_ok=True)
    (outside / "secret.yaml").write_text("name: Secret\nexpression: x = 1\n", encoding="utf-8")
    (outside / "secret.pql").write_text("x = 1\n", encoding="utf-8")
    (root / "pql" / "ok.pql").write_text("loyalty.points > 1\n", encoding="utf-8")
    readable: set[str] = set()
    refused: dict[str, tuple[str, str]] = {}  # the issue's file -> (rule, name of its audience)
    fifos: list[Path] = []
    for index, kind in enumerate(entries):
        name, path = f"A{index}", sub / f"a{index}.yaml"
        text = f"name: {name}\nexpression: x = {index}\n"
        if kind == "regular":
            path.write_text(text, encoding="utf-8")
        elif kind == "link-inside":
            target = root / "targets" / f"a{index}.txt"
            target.write_text(text, encoding="utf-8")
            path.symlink_to(target)
        elif kind == "link-outside":
            path.symlink_to(outside / "secret.yaml")
        elif kind == "link-to-fifo":
            os.mkfifo(root / "targets" / f"a{index}.fifo")
            fifos.append(root / "targets" / f"a{index}.fifo")
            path.symlink_to(root / "targets" / f"a{index}.fifo")
        elif kind == "broken-link":
            path.symlink_to(root / "targets" / "nowhere.yaml")
        elif kind == "fifo":
            os.mkfifo(path)
            fifos.append(path)
        else:
            path.write_text(text + OVERSIZED, encoding="utf-8")
        rule = ENTRY_RULES[kind]
        if rule is None:
            readable.add(name)
        else:
            refused[str(path)] = (rule, name)
    up = "../" * depth
    for index, kind in enumerate(expressions):
        name, path = f"E{index}", sub / f"e{index}.yaml"
        if kind == "inside":
            expression = f"{up}pql/ok.pql"
        elif kind == "dotdot-inside":
            expression = f"{up}targets/../pql/ok.pql"
        elif kind == "dotdot-outside":
            expression = f"{up}../outside/secret.pql"
        elif kind == "absolute":
            expression = str(outside / "secret.pql")
        elif kind == "link-outside":
            (root / "pql" / f"l{index}.pql").symlink_to(outside / "secret.pql")
            expression = f"{up}pql/l{index}.pql"
        elif kind == "fifo":
            os.mkfifo(root / "pql" / f"f{index}.pql")
            fifos.append(root / "pql" / f"f{index}.pql")
            expression = f"{up}pql/f{index}.pql"
        else:
            (root / "pql" / f"big{index}.pql").write_text("x = 1" + " " * MAX_FILE_BYTES, encoding="utf-8")
            expression = f"{up}pql/big{index}.pql"
        path.write_text(f"name: {name}\nexpression: {expression}\n", encoding="utf-8")
        rule = EXPRESSION_RULES[kind]
        if rule is None:
            readable.add(name)
        else:
            refused[str(path)] = (rule, name)
    return {"root": root, "readable": readable, "refused": refused, "fifos": fifos}


@settings(max_examples=25, deadline=None)
@given(
    entries=st.lists(st.sampled_from(ENTRY_KINDS), min_size=1, max_size=5),
    expressions=st.lists(st.sampled_from(EXPRESSION_KINDS), max_size=4),
    depth=st.integers(0, 2),
)
def test_lint_and_plan_read_only_regular_files_inside_the_folder(
    entries: list[str], expressions: list[str], depth: int
) -> None:
    with tempfile.TemporaryDirectory() as base:
        tree = build_tree(Path(base), entries, expressions, depth)
        root = tree["root"]
        read, issues = guarded(lambda: read_folder(root), tree["fifos"])
        assert {a.name for a in read} == tree["readable"]  # never Secret, never an oversized file
        by_file = {issue.file: issue for issue in issues}
        assert len(issues) == len(by_file) == len(tree["refused"]), [str(i) for i in issues]
        for file, (rule, _) in tree["refused"].items():
            assert RULES[rule] in by_file[file].message, (rule, str(by_file[file]))
        if tree["refused"]:  # plan reads through the same door: the same issues, before any HTTP call
            with pytest.raises(audiences.AudienceLintError) as raised:
                guarded(lambda: audiences.load(root), tree["fifos"])
            assert raised.value.issues == issues


@settings(max_examples=25, deadline=None)
@given(
    kind=st.sampled_from(sorted(k for k, rule in ENTRY_RULES.items() if rule)),
    depth=st.integers(0, 2),
)
def test_a_refused_file_is_a_typed_error_naming_the_file_and_the_rule(kind: str, depth: int) -> None:
    with tempfile.TemporaryDirectory() as base:
        tree = build_tree(Path(base), [kind], [], depth)
        [(file, (rule, _))] = tree["refused"].items()
        with pytest.raises(FolderFileError) as raised:
            guarded(lambda: read_inside(tree["root"], Path(file)), tree["fifos"])
        assert (raised.value.path, raised.value.rule) == (file, rule)
        assert str(raised.value).startswith(f"{file}: ") and RULES[rule] in str(raised.value)


def as_yaml(name: str) -> str:
    """A double-quoted YAML scalar holding ``name`` as it is (no escapes: the file has its code points)."""
    return json.dumps(name, ensure_ascii=False)


def name_key(name: str) -> str:
    """Unicode's canonical caseless match (D145): NFD, case folding, then a canonical form (NFC here)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", name).casefold())


# letters with canonical or case variants: precomposed and combining accents, sharp s, Kelvin and
# Angstrom signs (NFC makes them K and Å), dotless i, a fullwidth G (NFKC would fold it; NFC does not)
LETTERS = st.sampled_from(
    [
        *("a", "e", "\u00e9", "e\u0301", "\u00df", "s", "S", "k", "\u212a", "\u00c5", "\u212b"),
        *("\u0131", "I", "\uff27", "g"),
    ]
)
VARIANTS: dict[str, Callable[[str], str]] = {
    "NFD": lambda s: unicodedata.normalize("NFD", s),
    "NFC": lambda s: unicodedata.normalize("NFC", s),
    "upper": str.upper,
    "lower": str.lower,
    "swapcase": str.swapcase,
    "title": str.title,
}


@settings(max_examples=60, deadline=None)
@given(
    first=st.lists(LETTERS, min_size=1, max_size=5).map("".join),
    other=st.one_of(
        st.lists(st.sampled_from(sorted(VARIANTS)), min_size=1, max_size=3),
        st.lists(LETTERS, min_size=1, max_size=5).map("".join),
    ),
    as_earlier_name=st.booleans(),
)
def test_names_that_look_the_same_clash(first: str, other: str | list[str], as_earlier_name: bool) -> None:
    second = first
    if isinstance(other, list):
        for variant in other:
            second = VARIANTS[variant](second)
    else:
        second = other
    with tempfile.TemporaryDirectory() as base:
        root = Path(base)
        (root / "a.yaml").write_text(f"name: {as_yaml(first)}\nexpression: x = 1\n", encoding="utf-8")
        if as_earlier_name:  # an earlier name that looks like another audience's name
            text = f"name: Renamed 9\nrenamed_from: {as_yaml(second)}\nexpression: x = 2\n"
        else:
            text = f"name: {as_yaml(second)}\nexpression: x = 2\n"
        (root / "b.yaml").write_text(text, encoding="utf-8")
        issues = audiences.lint(root)
    clashes = [i for i in issues if i.file.endswith("b.yaml") and "a.yaml:1" in i.message]
    assert len(clashes) == (name_key(first) == name_key(second)), [str(i) for i in issues]
    assert len(issues) == len(clashes), [str(i) for i in issues]
