"""Every param of every example DAG is checked when a run is triggered, with the client's own rules: a
value the task would refuse after the segment job ran (a dataset id with a ``/``) is refused up front."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_segmentation.client.checks import (
    ID_PATTERN,
    SANDBOX_NAME_PATTERN,
    check_id,
    validate_sandbox,
)
from airflow_provider_segmentation.client.errors import AEPError

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"
# ids as people paste them: hex, uuids, base64, with the characters and spaces that make a bad one
ID_TEXT = st.text(
    alphabet=st.sampled_from(
        [*"0a9fZ-_=+.", "/", "\\", "?", "#", " ", "\n", "\t", "\x00", "\x7f", "\u00a0", "é"]
    ),
    max_size=12,
)
SANDBOX_TEXT = st.text(alphabet=st.sampled_from([*"az09-", "A", "_", " ", "\n", "."]), max_size=8)


@pytest.fixture(scope="module")
def example_params() -> dict[tuple[str, str], Any]:
    from tests.compat import dag_bag

    bag = dag_bag(str(EXAMPLE_DAGS))
    assert not bag.import_errors and bag.dags
    return {
        (dag_id, name): dag.params.get_param(name) for dag_id, dag in bag.dags.items() for name in dag.params
    }


def accepts(check: Any, value: str) -> bool:
    try:
        check(value)
    except AEPError:
        return False
    return True


def param_accepts(param: Any, value: Any) -> bool:
    from airflow.sdk.definitions.param import ParamValidationError

    try:
        copy.deepcopy(param).resolve(value)
    except ParamValidationError:
        return False
    return True


def test_every_param_has_a_type_and_a_rule(example_params) -> None:
    for (dag_id, name), param in example_params.items():
        schema = param.schema
        assert schema.get("type"), f"{dag_id}.{name} has no type"
        if schema["type"] == "string":
            assert schema.get("pattern") or schema.get("enum"), f"{dag_id}.{name}: any text is accepted"


@settings(max_examples=300, deadline=None)
@given(value=ID_TEXT)
def test_the_dataset_id_param_accepts_exactly_what_the_export_accepts(example_params, value: str) -> None:
    assert bool(re.search(ID_PATTERN, value)) == accepts(
        lambda v: check_id(v, field_name="dataset_id"), value
    )
    param = example_params[("aep_audience_pipeline", "dataset_id")]
    assert param_accepts(param, value) == accepts(lambda v: check_id(v, field_name="dataset_id"), value)


@settings(max_examples=200, deadline=None)
@given(value=SANDBOX_TEXT)
def test_sandbox_params_accept_exactly_what_the_connection_accepts(example_params, value: str) -> None:
    valid = accepts(lambda v: validate_sandbox(v, field_name="sandbox"), value)
    assert bool(re.search(SANDBOX_NAME_PATTERN, value)) == valid
    for (_, name), param in example_params.items():
        if name == "sandbox":
            assert param_accepts(param, value) == valid
