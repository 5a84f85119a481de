"""Lint: every problem of every file at once, each with file, line and column; the JSON Schema agrees."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest
import yaml

from airflow_provider_segmentation import audiences
from airflow_provider_segmentation.audiences.files import FIELDS
from airflow_provider_segmentation.audiences.folder import audience_files
from tests.audiences.conftest import EXAMPLES, write

REPOSITORY = EXAMPLES.parents[1]
SCHEMA = json.loads(audiences.SCHEMA_PATH.read_text(encoding="utf-8"))


def make_bad_folder(folder: Path) -> None:
    write(
        folder,
        "a.yaml",
        """
        audiences:
          - name: Gold
            expression: loyalty.tier = "gold"
            evaluaton: batch
          - name: Silver
            expression: |
              loyalty.tier = "silver"
                and loyalty.points >> 10
            labels: [ok, "bad label"]
            ttl_in_days: 0
          - name: Bronze
            expression: loyalty.tier = "bronze"
            schedule: maybe
            evaluation: streamin
          - name: Tin
            expression: loyalty.tier = "tin"
        """,
    )
    write(folder, "b.yaml", 'name: Broken\nexpression: "unterminated\ndescription: x\n')
    write(folder, "c.yaml", "name: Copper\nexpression: 'loyalty.tier = \"gold\" and'\n")
    write(folder, "d.yaml", "name: Platinum\nname: Platinum again\nexpression: queries/missing.pql\n")
    write(
        folder,
        "nested/e.yaml",
        """
        - name: From a file
          expression: ../queries/bad.pql
        - name: 2024
          expression: x = 1
        - description: no name, no expression
        - name: Tin
          expression: loyalty.tier = "tin"
        """,
    )
    write(folder, "queries/bad.pql", 'loyalty.tier = "gold"\nand loyalty.points > > 5\n')
    write(folder, ".hidden/ignored.yaml", "not: [valid")


def test_every_problem_of_every_file_is_reported_at_once_with_file_line_and_column(tmp_path) -> None:
    make_bad_folder(tmp_path)
    issues = audiences.lint(tmp_path)
    found = [(Path(i.file).relative_to(tmp_path).as_posix(), i.line, i.column, i.message) for i in issues]
    expected = [
        ("a.yaml", 4, 5, "unknown key 'evaluaton': did you mean 'evaluation'?"),
        ("a.yaml", 8, 29, "PQL: unexpected '>'"),  # inside a literal block: the second '>'
        ("a.yaml", 9, 18, "label 'bad label' must be a word"),
        ("a.yaml", 10, 18, "ttl_in_days 0 must be a whole number of days, at least 1"),
        ("a.yaml", 13, 15, "schedule 'maybe' must be true or false"),
        (
            "a.yaml",
            14,
            17,
            "evaluation 'streamin' must be one of batch, streaming, edge (did you mean 'streaming'?)",
        ),
        ("b.yaml", 4, 1, "invalid YAML: while scanning a quoted scalar"),
        ("c.yaml", 2, 39, "PQL: unexpected 'end of the expression'"),  # one-line quoted: exact column
        ("d.yaml", 2, 1, "duplicate key 'name' (first at line 1)"),
        ("d.yaml", 3, 13, "cannot read the PQL file 'queries/missing.pql'"),
        ("nested/e.yaml", 3, 9, "name must be text, got int 2024: quote it"),
        ("nested/e.yaml", 5, 3, "missing key 'name'"),
        ("nested/e.yaml", 5, 3, "missing key 'expression'"),
        ("nested/e.yaml", 6, 9, "duplicate audience name 'Tin' (also at "),
        ("queries/bad.pql", 2, 22, "PQL: unexpected '>'"),  # errors in a .pql file point into it
    ]
    assert len(found) == len(expected), "\n".join(map(str, issues))
    for (file, line, column, message), (want_file, want_line, want_column, want) in zip(
        found, expected, strict=True
    ):
        assert (file, line, column) == (want_file, want_line, want_column), message
        assert message.startswith(want), message
    assert "it began at line 2, column 13" in found[6][3]  # where the unterminated string started
    # printed like a compiler: file:line:column, the line itself and a caret under the column
    assert str(issues[1]).endswith("            and loyalty.points >> 10\n                                ^")
    assert issues[1].github().startswith(f"::error file={tmp_path / 'a.yaml'},line=8,col=29::PQL")
    with pytest.raises(audiences.AudienceLintError) as raised:
        audiences.load(tmp_path)
    assert len(raised.value.issues) == len(expected) and "15 problems" in str(raised.value)


def where(tmp_path: Path) -> list[tuple[str, int, str]]:
    return [
        (Path(i.file).relative_to(tmp_path).as_posix(), i.line, i.message) for i in audiences.lint(tmp_path)
    ]


def test_a_name_used_twice_is_reported_even_when_the_audiences_have_other_problems(tmp_path) -> None:
    write(tmp_path, "a.yaml", "name: Same\nexpression: loyalty.points >\n")
    write(tmp_path, "b.yaml", "name: Same\nexpression: loyalty.points > 1\nschedule: maybe\n")
    found = where(tmp_path)
    assert [(file, line) for file, line, _ in found] == [("a.yaml", 2), ("b.yaml", 1), ("b.yaml", 3)]
    assert found[0][2].startswith("PQL: ")
    assert found[1][2].startswith(f"duplicate audience name 'Same' (also at {tmp_path / 'a.yaml'}:1)")
    assert found[2][2] == "schedule 'maybe' must be true or false"


def test_invalid_yaml_checks_the_documents_before_it_and_says_the_rest_was_not_checked(tmp_path) -> None:
    write(
        tmp_path,
        "several.yaml",
        """
        name: First
        expression: loyalty.points >
        ---
        name: Second
        expression: [unclosed
        ---
        name: Third
        expression: also broken >
        """,
    )
    (pql_error, yaml_error) = where(tmp_path)
    assert pql_error[:2] == ("several.yaml", 2) and pql_error[2].startswith("PQL: ")
    assert yaml_error[0] == "several.yaml" and yaml_error[2].startswith("invalid YAML: ")
    assert yaml_error[2].endswith("; the rest of this file was not checked: fix this and lint again")


def test_renamed_from_lists_earlier_names_that_no_other_audience_uses(tmp_path) -> None:
    write(
        tmp_path,
        "a.yaml",
        """
        audiences:
          - name: New
            expression: x = 1
            renamed_from: [Old, New, Old]
          - name: Other
            expression: x = 2
            renamed_from: Old
          - name: Third
            expression: x = 3
            renamed_from: [Other, 7, " padded"]
          - name: Fourth
            expression: x = 4
            renamed_from: []
        """,
    )
    found = [(line, message) for _, line, message in where(tmp_path)]
    assert found == [
        (4, "renamed_from 'New' is the audience's own name: list only earlier names"),
        (4, "renamed_from 'Old' is listed twice"),
        (
            7,
            f"renamed_from 'Old' is also an earlier name of the audience at {tmp_path / 'a.yaml'}:2: "
            "one definition cannot become two audiences; keep one",
        ),
        (
            10,
            f"renamed_from 'Other' is the name of the audience at {tmp_path / 'a.yaml'}:5: an earlier name "
            "must not be in use; remove it here",
        ),
        (10, "renamed_from must be text, got int 7: quote it"),
        (10, "renamed_from ' padded' has surrounding spaces or a control character: remove them"),
        (13, "renamed_from is an empty list: list the audience's earlier names, or remove it"),
    ]
    write(tmp_path, "a.yaml", "name: New\nexpression: x = 1\nrenamed_from: [Old, Older]\n")
    (new,) = audiences.load(tmp_path)
    assert new.renamed_from == ("Old", "Older")


def test_inline_expressions_that_cannot_be_mapped_exactly_say_where_in_the_expression(tmp_path) -> None:
    write(tmp_path, "folded.yaml", "name: F\nexpression: >-\n  a = 1\n  and and b = 2\n")
    (issue,) = audiences.lint(tmp_path)
    assert (issue.line, issue.column) == (2, 13)  # the start of the folded value
    assert issue.message.endswith(" (line 1, column 11 of the expression)"), issue.message  # the 2nd 'and'


def test_a_folder_without_audience_files_is_an_error_not_an_empty_plan(tmp_path) -> None:
    # an empty plan with prune would delete every managed definition: a wrong path must not do that
    (issue,) = audiences.lint(tmp_path)
    assert "no audience files" in issue.message
    (missing,) = audiences.lint(tmp_path / "nope")
    assert "no such folder" in missing.message


def test_the_example_folder_is_clean_and_reads_every_field() -> None:
    assert audiences.lint(EXAMPLES) == []
    by_name = {a.name: a for a in audiences.load(EXAMPLES)}
    assert len(by_name) == 4
    gold = by_name["US gold and platinum members"]
    assert gold.expression == 'homeAddress.countryCode = "US"\nand loyalty.tier in ["gold", "platinum"]'
    assert (gold.evaluation, gold.ttl_in_days, gold.schedule, gold.labels) == (
        "batch",
        30,
        True,
        ("loyalty", "us"),
    )
    buyers = by_name["Recent high-value buyers"]
    assert buyers.expression.startswith("exists P from xEvent where (") and buyers.evaluation == "batch"
    assert by_name["Engaged by e-mail, no purchase"].schedule is False


def test_the_example_files_validate_against_the_shipped_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    validator = jsonschema.Draft202012Validator(SCHEMA)
    files = audience_files(EXAMPLES)
    assert len(files) == 3
    for path in files:
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            errors = list(validator.iter_errors(document))
            assert not errors, f"{path}: {[e.message for e in errors]}"


def test_the_schema_and_the_linter_know_the_same_keys() -> None:
    audience = SCHEMA["$defs"]["audience"]
    assert set(audience["properties"]) == set(FIELDS)
    assert set(audience["required"]) == {key for key, (required, _) in FIELDS.items() if required}
    assert audience["properties"]["evaluation"]["enum"] == list(audiences.files.EVALUATIONS)


@pytest.mark.parametrize(
    "document",
    [
        {"name": "x", "expression": "a = 1", "evaluaton": "batch"},
        {"name": "x"},
        {"name": "x", "expression": "a = 1", "evaluation": "nightly"},
        {"name": "x", "expression": "a = 1", "ttl_in_days": 0},
        {"name": "x", "expression": "a = 1", "schedule": "yes please"},
        {"name": "x", "expression": "a = 1", "labels": ["two words"]},
        {"name": " x", "expression": "a = 1"},
        {"audiences": []},
        {"audiences": [{"name": "x", "expression": "a = 1"}], "extra": 1},
        {"name": "x", "expression": "a = 1", "renamed_from": [7]},
        {"name": "x", "expression": "a = 1", "renamed_from": []},
        {"name": "x", "expression": "a = 1", "renamed_from": "old "},
    ],
)
def test_documents_the_schema_rejects_the_linter_rejects_too(tmp_path, document) -> None:
    assert list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(document))
    write(tmp_path, "one.yaml", yaml.safe_dump(document))
    assert audiences.lint(tmp_path)


def test_the_wheel_ships_the_schema_and_the_command(tmp_path) -> None:
    uv = Path(sys.executable).parent / "uv"
    if not uv.exists():
        pytest.skip("uv is not installed in this environment")
    built = subprocess.run(
        [str(uv), "build", "--offline", "--wheel", "-o", str(tmp_path), str(REPOSITORY)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if built.returncode != 0:
        pytest.skip(f"cannot build offline here: {built.stderr[-300:]}")
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = next(archive.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert "airflow_provider_segmentation/audiences/audience-file.schema.json" in names
    assert "aep-audiences = airflow_provider_segmentation.audiences.cli:main" in entry_points
