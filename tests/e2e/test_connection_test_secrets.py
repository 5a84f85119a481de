"""The Test endpoint of a real api-server: an IMS or platform that echoes the client secret or the
token, in every spelling, gets neither into the Test message."""

from __future__ import annotations

import json
import random

from airflow_provider_segmentation.client.config import Secret
from airflow_provider_segmentation.client.redaction import Hider
from tests.client.test_secret_classes import SHAPES, SPELLINGS, body_for, spelled
from tests.e2e.deployment import Deployment
from tests.scripted_server import Answer, ScriptedServer, Seen

ECHO_SECRET = "Echo-e2e-4Tq!w8Zr#Np3$Hs6"


def test_the_test_endpoint_never_shows_an_echoed_credential(deployment: Deployment) -> None:
    api, emulator = deployment.api, deployment.emulator
    assert emulator is not None
    conn = json.loads(emulator.exported["AIRFLOW_CONN_AEP_DEFAULT"])
    rng, tokens, case = random.Random(16), [], {}

    def answer(seen: Seen) -> Answer:
        if seen.path == "/ims/token/v3":
            value = ECHO_SECRET
        else:
            value = seen.headers["authorization"].removeprefix("Bearer ")
            tokens.append(value)
        text = spelled(value, case["spelling"], rng)
        body, content_type = body_for(text, case["shape"], case["spelling"])
        return Answer(rng.choice([400, 401, 403]), body, {"Content-Type": content_type})

    with ScriptedServer(answer) as echo:
        for spelling in SPELLINGS:
            for at_ims in (True, False):
                case.update(spelling=spelling, shape=rng.choice(SHAPES))
                extra = {**conn["extra"], ("ims_host" if at_ims else "platform_host"): echo.url}
                form = {
                    "connection_id": "aep_echo_form",
                    "conn_type": "adobe_experience_platform",
                    "login": conn["login"],
                    "password": ECHO_SECRET if at_ims else conn["password"],
                    "schema": conn["schema"],
                    "extra": json.dumps(extra),
                }
                answered = api.request("POST", "/connections/test", json=form)
                assert answered["status"] is False, answered
                hider = Hider([Secret(ECHO_SECRET), Secret(conn["password"]), *map(Secret, tokens)])
                assert answered["message"] and not hider.finds(answered["message"]), (spelling, answered)
                assert "imsToken" not in answered["message"] and "listSchedules" not in answered["message"]
    assert tokens, "the platform echo was never reached with a token"
