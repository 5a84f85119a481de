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
from tests.compat import requires_connection_forms


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


@requires_connection_forms
def test_airflows_connection_form_shows_the_credential_fields() -> None:
    """What Airflow itself builds from our metadata (not our dicts compared with themselves)."""
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    behaviour = manager.field_behaviours["adobe_experience_platform"]
    assert behaviour["relabeling"] == {
        "login": "Client ID",
        "password": "Client secret",
        "schema": "Sandbox name",
    }
    assert set(behaviour["hidden_fields"]) == {"host", "port", "extra"}
    prefix = "extra__adobe_experience_platform__"
    widgets = {k.removeprefix(prefix) for k in manager.connection_form_widgets if k.startswith(prefix)}
    assert widgets == {
        *("ims_org_id", "scopes", "ims_host", "platform_host"),
        *("aep_rules", "sandbox_type", "on_demand_daily_runs", "on_demand_yearly_runs", "contract_start"),
    }
    legacy = SegmentationHook.get_ui_field_behaviour()  # what Airflow 3.0-3.1 read instead
    assert legacy["relabeling"] == behaviour["relabeling"]


def test_airflow_lists_the_provider_and_connection_type(tmp_path) -> None:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",  # Airflow 3.0 logs INFO lines to stdout
    }
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


def test_reading_provider_info_imports_nothing_heavy() -> None:
    """Airflow reads provider info in every process it starts: it must not pull in the client, the
    hook, pydantic or requests (tests/benchmarks/bench_provider_info.py measures the milliseconds)."""
    probe = (
        "import sys\n"
        "from airflow_provider_segmentation.get_provider_info import get_provider_info\n"
        "get_provider_info()\n"
        "heavy = ('pydantic', 'requests', 'httpx', 'airflow')\n"
        "ours = 'airflow_provider_segmentation.client.'\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m.startswith(ours)))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "['airflow_provider_segmentation.client.defaults']"


def test_a_dag_file_that_declares_tasks_imports_no_http_library() -> None:
    """Parsing a DAG file imports the operators; the HTTP libraries load only when a task really calls
    AEP (tests/benchmarks/bench_peers.py measures the DAG-parse cost)."""
    probe = (
        "import sys, airflow.sdk\n"
        "before = set(sys.modules)\n"
        "import airflow_provider_segmentation.operators.segment_jobs\n"
        "import airflow_provider_segmentation.operators.export_jobs\n"
        "import airflow_provider_segmentation.sensors.segmentation\n"
        "print(sorted(m for m in ('requests', 'httpx', 'urllib3') if m in sys.modules and m not in before))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
