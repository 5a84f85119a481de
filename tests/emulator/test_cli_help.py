"""``aep-emulator --help`` is the emulator's guide: the demo command, every option with its default, every
runtime setting (rules and history included) and its admin routes."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

from airflow_provider_segmentation.emulator.history import HistorySettings
from airflow_provider_segmentation.emulator.settings import RUNTIME_SETTINGS, RuleSettings


def help_text() -> str:
    command = [sys.executable, "-m", "airflow_provider_segmentation.emulator", "--help"]
    env = {**os.environ, "COLUMNS": "200"}  # no wrapping inside a default (aep-emulator- / client)
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True, env=env)
    return done.stdout


def test_help_lists_demo_every_setting_and_every_default() -> None:
    text = help_text()
    assert "aep-emulator demo [--dags-folder DIR]" in text and "./example_dags" in text
    for option, default in [
        ("--host", "127.0.0.1"),
        ("--port", "8765"),
        ("--profiles", "10000"),
        ("--seed", "42"),
        ("--job-step-seconds", "2.0"),
        ("--token-lifetime", "86399"),
        ("--client-id", "aep-emulator-client"),
        ("--org-id", "EMULATOR0000000000000000@AdobeOrg"),
        ("--sandbox", "prod dev"),
        ("--growth-per-day", "0.0"),
        ("--churn-per-day", "0.0"),
        ("--ingestion-drop", "None"),
    ]:
        assert option in text, option
        assert default in " ".join(text.split(option, 1)[1].split("(default:", 1)[1].split()[:2]), option
    settings = [*RUNTIME_SETTINGS, *(f.name for f in dataclasses.fields(RuleSettings))]
    settings += [f.name for f in dataclasses.fields(HistorySettings)]
    for name in settings:
        assert name in text, name
    for route in ("/reset", "/requests", "/faults", "/tokens/expire", "/settings", "/clock", "/trigger"):
        assert route in text, route
