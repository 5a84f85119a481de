"""Fixtures for audiences as code: a client on the emulator (quick retries) and a copy of the examples."""

from __future__ import annotations

import shutil
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from airflow_provider_segmentation.audiences.connection import config_from_environment
from airflow_provider_segmentation.client import RetrySettings, SegmentationClient

EXAMPLES = Path(__file__).resolve().parents[2] / "example_dags" / "audiences"
QUICK_RETRIES = RetrySettings(
    max_attempts=10, max_elapsed_seconds=30, base_delay_seconds=0.005, max_delay_seconds=0.02
)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


@pytest.fixture
def client(emulator, emulator_admin) -> SegmentationClient:
    """A client on the emulator's ``dev`` sandbox, built from the connection JSON as the CLI reads it."""
    config = config_from_environment(environ={"AIRFLOW_CONN_AEP_DEFAULT": emulator.connection_json("dev")})
    return SegmentationClient(replace(config, retry=QUICK_RETRIES))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of ``example_dags/audiences`` that a test may edit."""
    return Path(shutil.copytree(EXAMPLES, tmp_path / "audiences"))
