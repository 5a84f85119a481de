"""The connection form's Test message: an IMS or platform answer that echoes the client secret or the
token, in any spelling, shows neither; the message speaks the form's labels, never the client's
operation names."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_segmentation.client import redaction
from airflow_provider_segmentation.client.redaction import Hider
from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
from tests.client.test_secret_classes import SECRETS, SHAPES, SPELLINGS, assert_hidden, body_for, spelled
from tests.scripted_server import Answer, ScriptedServer, Seen

OPERATION_NAMES = ("imsToken", "listSchedules")


@pytest.fixture(autouse=True)
def _forget_the_generated_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redaction, "_known", type(redaction._known)(maxlen=redaction._known.maxlen))
    monkeypatch.setattr(redaction, "_known_hider", [Hider(())])


def connection(emulator, secret: str, *, ims: str, platform: str) -> str:
    conn = json.loads(emulator.connection_json())
    conn["password"] = secret
    conn["extra"].update(ims_host=ims, platform_host=platform)
    return json.dumps(conn)


def test_connection_test_messages_never_show_an_echoed_credential(emulator, monkeypatch) -> None:
    echo: dict = {}
    tokens: list[str] = []

    def answer(seen: Seen) -> Answer:
        if seen.path == "/ims/token/v3":
            value = echo["secret"]
        else:
            value = seen.headers["authorization"].removeprefix("Bearer ")
            tokens.append(value)
        text = spelled(value, echo["spelling"], random.Random(echo["seed"]))
        body, content_type = body_for(text, echo["shape"], echo["spelling"])
        return Answer(echo["status"], body, {"Content-Type": content_type})

    with ScriptedServer(answer) as server:

        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
        @given(
            secret=SECRETS,
            at_ims=st.booleans(),
            status=st.sampled_from([400, 401, 403, 404, 500]),
            spelling=st.sampled_from(SPELLINGS),
            shape=st.sampled_from(SHAPES),
            seed=st.integers(0, 2**16),
        )
        def check(secret: str, at_ims: bool, status: int, spelling: str, shape: str, seed: int) -> None:
            echo.update(secret=secret, status=status, spelling=spelling, shape=shape, seed=seed)
            tokens.clear()
            if at_ims:  # IMS echoes the client secret
                conn = connection(emulator, secret, ims=server.url, platform=emulator.url)
            else:  # the emulator's IMS mints a token, the platform echoes it
                conn = connection(
                    emulator, emulator.settings.client_secret, ims=emulator.url, platform=server.url
                )
            monkeypatch.setenv("AIRFLOW_CONN_AEP_ECHO", conn)
            ok, message = SegmentationHook("aep_echo").test_connection()
            assert not ok
            for credential in [secret, emulator.settings.client_secret, *tokens]:
                assert_hidden(credential, message)
            assert not [name for name in OPERATION_NAMES if name in message], message
            assert "client_secret" not in message

        check()


def test_an_incomplete_connection_is_told_with_the_forms_labels(emulator, monkeypatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_AEP_ECHO", connection(emulator, "", ims=emulator.url, platform=emulator.url)
    )
    ok, message = SegmentationHook("aep_echo").test_connection()
    assert not ok and "Client secret" in message and "password" not in message
