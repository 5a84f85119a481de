"""Provider metadata: valid against Airflow's own schema, every class path imports, Airflow finds it."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from importlib import metadata
from importlib.resources import files
from typing import Any

import jsonschema
from packaging.utils import canonicalize_name

from airflow_provider_segmentation.get_provider_info import get_provider_info
from airflow_provider_segmentation.hooks.segmentation import SegmentationHook


def _import(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_provider_info_matches_airflows_schema() -> None:
    schema = json.loads(files("airflow").joinpath("provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_package_name_is_the_distribution_name() -> None:
    dist = metadata.distribution("airflow-provider-segmentation")
    assert get_provider_info()["package-name"] == canonicalize_name(dist.metadata["Name"])
    [entry] = [e for e in dist.entry_points if e.group == "apache_airflow_provider"]
    assert entry.load() is get_provider_info


def test_every_class_path_imports() -> None:
    info = get_provider_info()
    for conn in info["connection-types"]:
        hook = _import(conn["hook-class-name"])
        assert hook.conn_type == conn["connection-type"]
    for key in ("hooks", "operators", "sensors", "triggers"):
        for entry in info.get(key, []):
            for module in entry["python-modules"]:
                importlib.import_module(module)
    for link in info.get("extra-links", []):
        _import(link)


def test_form_metadata_is_the_same_in_both_formats() -> None:
    [conn] = get_provider_info()["connection-types"]
    legacy = SegmentationHook.get_ui_field_behaviour()
    assert legacy["hidden_fields"] == conn["ui-field-behaviour"]["hidden-fields"]
    assert legacy["relabeling"] == {
        "login": "Client ID",
        "password": "Client secret",
        "schema": "Sandbox name",
    }
    assert "schema" not in legacy["hidden_fields"]
    assert set(conn["conn-fields"]) == {"ims_org_id", "scopes", "ims_host", "platform_host"}


def test_airflow_lists_the_provider_and_connection_type(tmp_path) -> None:
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    bin_dir = os.path.dirname(sys.executable)
    providers = subprocess.run(
        [f"{bin_dir}/airflow", "providers", "list", "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "airflow-provider-segmentation" in providers.stdout
    hooks = subprocess.run(
        [f"{bin_dir}/airflow", "providers", "hooks", "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    entries = {h["connection_type"]: h for h in json.loads(hooks.stdout)}
    assert entries["adobe_experience_platform"]["class"] == (
        "airflow_provider_segmentation.hooks.segmentation.SegmentationHook"
    )
