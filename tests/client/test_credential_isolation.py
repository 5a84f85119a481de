"""Credentials never cross: the token cache, cleartext hosts, reprs and pickles, echoed secrets, redirects."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import random

import pytest

from airflow_provider_segmentation.client import (
    AEPAuthError,
    AEPConfigurationError,
    AEPServerError,
    AsyncSegmentationClient,
    RetrySettings,
    SegmentationClient,
)
from airflow_provider_segmentation.client.api import SegmentationAPI as api
from airflow_provider_segmentation.client.auth import build_token_request
from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
from tests.client.conftest import make_config
from tests.scripted_server import Answer, ScriptedServer, Seen

IMS = "/ims/token/v3"
WRONG = "totally-wrong"


def ims_calls(emulator_admin) -> list[int]:
    return [r["status"] for r in emulator_admin.requests("POST", IMS)]


def test_a_wrong_secret_is_never_handed_a_cached_token(emulator, emulator_admin) -> None:
    right = SegmentationClient(make_config(emulator))
    wrong = SegmentationClient(make_config(emulator, client_secret=WRONG))
    assert list(right.list_schedules()) == []
    with pytest.raises(AEPAuthError, match="IMS rejected the credential"):
        list(wrong.list_schedules())
    # IMS saw the wrong credential's own request (and refused it); no platform call was made with it.
    assert ims_calls(emulator_admin) == [200, 401]
    assert len(emulator_admin.requests("GET", "/data/core/ups/config/schedules")) == 1


async def test_a_wrong_secret_is_never_handed_a_cached_token_async(emulator, emulator_admin) -> None:
    async with AsyncSegmentationClient(make_config(emulator)) as right:
        assert [j async for j in right.list_segment_jobs()] == []
    async with AsyncSegmentationClient(make_config(emulator, client_secret=WRONG)) as wrong:
        with pytest.raises(AEPAuthError):
            await wrong.get_segment_job("some-job")
    assert ims_calls(emulator_admin) == [200, 401]


def test_same_credential_still_shares_one_token(emulator, emulator_admin) -> None:
    for _ in range(3):
        list(SegmentationClient(make_config(emulator)).list_schedules())
    assert ims_calls(emulator_admin) == [200]


def test_other_org_or_scopes_mint_their_own_token(emulator, emulator_admin) -> None:
    list(SegmentationClient(make_config(emulator)).list_schedules())
    list(SegmentationClient(make_config(emulator, scopes="openid,AdobeID")).list_schedules())
    assert ims_calls(emulator_admin) == [200, 200]


def test_connection_test_rejects_a_wrong_secret_after_a_right_one(
    aep_conn: str, emulator, emulator_admin, monkeypatch
) -> None:
    assert SegmentationHook().test_connection()[0]
    conn = json.loads(emulator.connection_json())
    conn["password"] = WRONG
    monkeypatch.setenv("AIRFLOW_CONN_AEP_DEFAULT", json.dumps(conn))
    ok, message = SegmentationHook().test_connection()
    assert not ok and "Client secret" in message and WRONG not in message


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("platform_host", "http://platform.example.com", "cleartext"),
        ("ims_host", "http://10.1.2.3:8080", "cleartext"),
        ("platform_host", "https://user:pass@platform.adobe.io", "user name or password"),
        ("ims_host", "https://:pw@ims-na1.adobelogin.com", "user name or password"),
        ("platform_host", "https://platform.adobe.io\r\nX-Evil: 1", "not a URL"),
    ],
)
def test_hosts_that_would_leak_credentials_are_refused(emulator, field, value, words) -> None:
    with pytest.raises(AEPConfigurationError, match=words) as excinfo:
        make_config(emulator, **{field: value})
    assert excinfo.value.field == field


@pytest.mark.parametrize("host", ["http://127.0.0.1:8765", "http://localhost:1", "http://[::1]:2"])
def test_plain_http_to_loopback_stays_allowed(emulator, host) -> None:
    assert make_config(emulator, platform_host=host).platform_host == host


def test_secret_is_not_in_reprs_copies_or_pickles(emulator) -> None:
    config = make_config(emulator, client_secret="s3cr3t-value")
    secret = "s3cr3t-value"
    assert secret not in repr(config)
    assert secret not in repr(dataclasses.asdict(config))
    assert secret not in repr(copy.deepcopy(config).__dict__)
    pickled = pickle.dumps(config)
    assert secret.encode() not in pickled
    assert pickle.loads(pickled).secret.reveal() == ""  # a pickled config carries no secret
    request = build_token_request(config, "ua")
    assert secret.encode() in (request.body or b"") and secret not in repr(request)


def test_bearer_token_is_not_in_request_reprs(client: SegmentationClient) -> None:
    token = client.access_token()
    flow = client._operation_flow(api.list_schedules.build())
    flow.send(None)
    request = flow.send(token).request  # type: ignore[union-attr]
    assert request.headers["Authorization"] == f"Bearer {token}"
    assert token not in repr(request)


def echoing_ims(status: int) -> ScriptedServer:
    """An IMS that echoes the whole form body, secret included, in its error description."""

    def answer(seen: Seen) -> Answer:
        echoed = seen.body.decode()
        return Answer(status, json.dumps({"error": "invalid_request", "error_description": echoed}).encode())

    return ScriptedServer(answer)


@pytest.mark.parametrize("status", [400, 500])
def test_an_ims_error_that_echoes_the_request_does_not_carry_the_secret(emulator, status) -> None:
    secret = "p@ss+word/with=specials"
    with echoing_ims(status) as ims:
        config = make_config(
            emulator,
            ims_host=ims.url,
            client_secret=secret,
            retry=RetrySettings(max_attempts=1),
        )
        with pytest.raises((AEPAuthError, AEPServerError)) as excinfo:
            SegmentationClient(config).access_token()
    text = str(excinfo.value) + repr(excinfo.value.args)
    assert "client_secret=***" in text
    assert secret not in text and "p%40ss%2Bword%2Fwith%3Dspecials" not in text
    if status == 500:
        assert "IMS answered HTTP 500" in text and "AEP" not in text.split(":")[0]


def test_a_redirect_is_not_followed_and_says_where_it_pointed(emulator) -> None:
    def answer(seen: Seen) -> Answer:
        return Answer(302, b"", {"Location": "https://login.elsewhere.example/sso?next=/"})

    with ScriptedServer(answer) as server:
        config = make_config(emulator, ims_host=server.url)
        with pytest.raises(AEPServerError, match=r"redirect to login\.elsewhere\.example.*not followed"):
            SegmentationClient(config, rng=random.Random(0)).access_token()
        assert len(server.seen) == 1
