"""``airflow dags test`` at DEBUG: the hook masks the client secret and every token without a log line
that shows them (sync call, async call, and calls whose answers echo the credential in any spelling).

Airflow's own connection read masks the connection's password through its in-process comms, which log
``Sending request msg=MaskSecret(value='<password>')`` and then the extra: that pair is Airflow's, in a
task that uses no provider code too (the ``read_connection_only`` task shows it), and is the only line
allowed to carry the secret. No line carries a token.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from airflow_provider_segmentation.client.config import Secret
from airflow_provider_segmentation.client.redaction import Hider
from tests.client.test_secret_classes import SHAPES, SPELLINGS, body_for, spelled
from tests.compat import without_in_process_comms_debug
from tests.scripted_server import Answer, ScriptedServer, Seen

pytestmark = pytest.mark.dags
AIRFLOW = str(Path(sys.executable).parent / "airflow")
ECHO_SECRET = "Echo-7f3Qz!x9Lw2#Kd5$Vb8"  # the echoing IMS connection's secret (only there)
ECHOED_CALLS = 8  # mapped tasks per echoing host, each a fresh spelling and shape

DAG = textwrap.dedent(
    """
    import asyncio
    import pendulum
    from airflow.sdk import dag, task
    from airflow_provider_segmentation.compat import BaseHook
    from airflow_provider_segmentation.client import SegmentationAPI
    from airflow_provider_segmentation.hooks.segmentation import SegmentationHook

    @dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1), catchup=False)
    def masking_probe():
        @task
        def read_connection_only():
            BaseHook.get_connection("aep_default")

        @task
        def sync_call():
            list(SegmentationHook().client.list_schedules(limit=1))

        @task
        def async_call():
            async def call():
                async with SegmentationHook() as hook:
                    await (await hook.aclient()).execute(SegmentationAPI.list_schedules.build(limit=1))
            asyncio.run(call())

        @task
        def echoed(conn_id, asynchronous):
            hook = SegmentationHook(conn_id)
            print("Test message:", hook.test_connection()[1])
            if asynchronous:
                async def call():
                    async with SegmentationHook(conn_id) as hook:
                        await (await hook.aclient()).get_segment_job("job-1")
                asyncio.run(call())
            else:
                hook.client.get_segment_job("job-1")

        read_connection_only() >> sync_call() >> async_call()
        echoed.expand(
            conn_id=["aep_ims_echo", "aep_platform_echo"], asynchronous=[False, True, False, True]
        )

    masking_probe()
    """
)


class Echoes:
    """Answers every request with its credential in the next spelling and shape (all are covered)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.tokens: list[str] = []
        self.n = 0

    def __call__(self, seen: Seen) -> Answer:
        if seen.path == "/ims/token/v3":
            value = ECHO_SECRET
        else:
            value = seen.headers["authorization"].removeprefix("Bearer ")
            self.tokens.append(value)
        spelling, shape = SPELLINGS[self.n % len(SPELLINGS)], self.rng.choice(SHAPES)
        self.n += 1
        body, content_type = body_for(spelled(value, spelling, self.rng), shape, spelling)
        return Answer(self.rng.choice([400, 403, 404]), body, {"Content-Type": content_type})


def connection(emulator, *, ims: str, platform: str, secret: str) -> str:
    conn = json.loads(emulator.connection_json())
    conn["password"] = secret
    conn["extra"].update(ims_host=ims, platform_host=platform)
    return json.dumps(conn)


def airflow_own_connection_masking(lines: list[str], at: int) -> bool:
    """Line ``at`` is the in-process comms' MaskSecret of a connection's password that Airflow sends
    when it reads a connection: the next request it sends masks that connection's extra."""
    if "Sending request" not in lines[at] or "msg=MaskSecret(value=" not in lines[at]:
        return False
    following = next((line for line in lines[at + 1 :] if "Sending request" in line), "")
    return "msg=MaskSecret(value=" in following and "ims_org_id" in following


def test_no_log_line_of_a_dags_test_at_debug_shows_a_credential(
    tmp_path: Path, emulator, emulator_admin
) -> None:
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "masking_probe.py").write_text(DAG)
    echoes = Echoes(seed=15)
    with ScriptedServer(echoes) as echo:
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(tmp_path),
            "AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/airflow.db",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG",
            "AIRFLOW_CONN_AEP_DEFAULT": emulator.connection_json(),
            "AIRFLOW_CONN_AEP_IMS_ECHO": connection(
                emulator, ims=echo.url, platform=emulator.url, secret=ECHO_SECRET
            ),
            "AIRFLOW_CONN_AEP_PLATFORM_ECHO": connection(
                emulator, ims=emulator.url, platform=echo.url, secret=emulator.settings.client_secret
            ),
        }
        subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=180)
        done = subprocess.run(
            [AIRFLOW, "dags", "test", "masking_probe"], env=env, capture_output=True, text=True, timeout=300
        )
    output = done.stdout + done.stderr
    output += "".join(p.read_text(errors="replace") for p in (tmp_path / "logs").rglob("*") if p.is_file())
    # Airflow 3.0's in-process comms log every message body at debug (its own connection reads too)
    lines = without_in_process_comms_debug(output).splitlines()
    tokens = list(emulator.app.state.emulator.tokens)
    assert tokens and echoes.tokens and echoes.n >= 2 * len(SPELLINGS)  # every spelling was echoed
    assert output.count("Test message:") == ECHOED_CALLS
    assert "Hider" not in output and "Traceback" in output  # the echoed calls failed, with tracebacks

    token_hider = Hider([Secret(t) for t in {*tokens, *echoes.tokens}])
    assert not [line for line in lines if token_hider.finds(line)]
    secret_hider = Hider([Secret(emulator.settings.client_secret), Secret(ECHO_SECRET)])
    client_id = emulator.settings.client_id  # shares its first 8 characters with the emulator's secret
    shown = [at for at, line in enumerate(lines) if secret_hider.finds(line.replace(client_id, ""))]
    assert not [lines[at] for at in shown if not airflow_own_connection_masking(lines, at)]
