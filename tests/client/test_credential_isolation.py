"""Credentials never cross: the token cache, cleartext hosts, reprs and pickles, echoed secrets, redirects."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import random
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from airflow_provider_segmentation.client import (
    AEPAuthError,
    AEPConfigurationError,
    AEPError,
    AEPServerError,
    AsyncSegmentationClient,
    ClientConfig,
    RetrySettings,
    SegmentationClient,
    http,
)
from airflow_provider_segmentation.client.auth import build_token_request
from airflow_provider_segmentation.client.client import SegmentationAPI as api
from airflow_provider_segmentation.client.config import Secret
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
        ("platform_host", "https://platform.adobe.io/?x=1#f", r"more than a scheme and host \('/\?x=1#f'\)"),
        ("platform_host", "https://platform.adobe.io#f", "more than a scheme and host"),
        ("ims_host", "https://ims-na1.adobelogin.com/ims/token/v3", "more than a scheme and host"),
        ("ims_host", "https://ims-na1.adobelogin.com?", "scheme://host"),
        ("platform_host", "https://platform.adobe.io:99999", "port"),
    ],
)
def test_hosts_that_would_leak_credentials_are_refused(emulator, field, value, words) -> None:
    with pytest.raises(AEPConfigurationError, match=words) as excinfo:
        make_config(emulator, **{field: value})
    assert excinfo.value.field == field


def test_a_host_with_a_trailing_slash_still_reaches_the_api(emulator, emulator_admin) -> None:
    client = SegmentationClient(make_config(emulator, platform_host=emulator.url + "/"))
    assert list(client.list_schedules()) == []
    assert emulator_admin.requests("GET")[-1]["path"] == "/data/core/ups/config/schedules"


def test_configs_with_a_non_ascii_secret_compare(emulator) -> None:
    """``hmac.compare_digest`` refuses non-ASCII ``str``: a config with such a secret raised TypeError."""
    same = make_config(emulator, client_secret="pässwörd-€")
    assert same == make_config(emulator, client_secret="pässwörd-€")
    assert same != make_config(emulator, client_secret="passwort-€")


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
    request = flow.send(Secret(token)).request  # type: ignore[union-attr]
    assert request.wire_headers()["Authorization"] == f"Bearer {token}"
    assert token not in repr(request) and token not in repr(request.headers)


SECRET = "p@ss+wörd/with=specials-€-and-then-some"
SPELLINGS = [SECRET, quote_plus(SECRET), quote(SECRET, safe=""), json.dumps(SECRET)[1:-1]]


def _fragments(text: str, size: int = 6) -> set[str]:
    return {text[i : i + size] for i in range(len(text) - size + 1)}


def assert_no_trace_of(secrets: list[str], error: BaseException) -> None:
    """Not the secret, nor any 6 characters of it in any spelling (a cut-off prefix is a leak too)."""
    fields = [
        str(error),
        repr(error.args),
        str(getattr(error, "error_code", "")),
        getattr(error, "message", ""),
    ]
    text = " ".join(fields)
    leaked = {piece for secret in secrets for piece in _fragments(secret) if piece in text}
    assert not leaked, f"{leaked} in {text!r}"


ECHOES = [
    pytest.param(lambda form: {"error": form}, "application/json", id="echo-in-error"),
    pytest.param(
        lambda form: {"error_code": form, "message": "bad"}, "application/json", id="echo-in-error_code"
    ),
    pytest.param(
        lambda form: {"error": "invalid_client", "error_description": form},
        "application/json",
        id="echo-in-desc",
    ),
    pytest.param(lambda form: f"<html><title>{form}</title></html>", "text/html", id="echo-in-an-html-page"),
    pytest.param(lambda form: f"rejected: {form}", "text/plain", id="echo-in-plain-text"),
]


def ims_echoing(shape: Callable[[str], Any], content_type: str, status: int) -> ScriptedServer:
    """An IMS that echoes its form body (client secret included) in the error's ``shape``."""

    def answer(seen: Seen) -> Answer:
        body = shape(seen.body.decode())
        encoded = body.encode() if isinstance(body, str) else json.dumps(body, ensure_ascii=False).encode()
        return Answer(status, encoded, {"Content-Type": content_type})

    return ScriptedServer(answer)


@pytest.mark.parametrize("status", [400, 500])
@pytest.mark.parametrize(("shape", "content_type"), ECHOES)
@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
async def test_an_ims_echo_of_the_secret_reaches_no_field_of_the_error(
    emulator, shape, content_type: str, status: int, asynchronous: bool
) -> None:
    with ims_echoing(shape, content_type, status) as ims:
        config = make_config(
            emulator, ims_host=ims.url, client_secret=SECRET, retry=RetrySettings(max_attempts=1)
        )
        with pytest.raises((AEPAuthError, AEPServerError)) as excinfo:
            if asynchronous:
                async with AsyncSegmentationClient(config) as aclient:
                    await aclient.get_segment_job("job-1")
            else:
                SegmentationClient(config).access_token()
    print(excinfo.value)
    assert quote_plus(SECRET).encode() in ims.seen[0].body  # the echo did carry the secret
    assert_no_trace_of(SPELLINGS, excinfo.value)
    assert "IMS" in str(excinfo.value)


PLATFORM_ECHOES = [
    pytest.param(400, lambda auth: {"error_code": auth, "message": auth}, "application/json", id="json-400"),
    pytest.param(502, lambda auth: f"<html><title>{auth}</title></html>", "text/html", id="html-502"),
    pytest.param(500, lambda auth: f"no: {auth}", "text/plain", id="plain-500"),
    pytest.param(200, lambda auth: f"{{bad json {auth}", "application/json", id="garbage-200"),
]


@pytest.mark.parametrize(("status", "shape", "content_type"), PLATFORM_ECHOES)
@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
async def test_a_platform_echo_of_the_bearer_token_reaches_no_field_of_the_error(
    emulator, emulator_admin, status: int, shape, content_type: str, asynchronous: bool
) -> None:
    def answer(seen: Seen) -> Answer:
        body = shape(seen.headers["authorization"])
        encoded = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        return Answer(status, encoded, {"Content-Type": content_type})

    with ScriptedServer(answer) as platform:
        config = make_config(emulator, platform_host=platform.url, retry=RetrySettings(max_attempts=1))
        with pytest.raises(AEPError) as excinfo:
            if asynchronous:
                async with AsyncSegmentationClient(config) as aclient:
                    await aclient.get_segment_job("job-1")
            else:
                SegmentationClient(config).get_segment_job("job-1")
    token = platform.seen[0].headers["authorization"].removeprefix("Bearer ")
    print(excinfo.value)
    assert_no_trace_of([token], excinfo.value)


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


def test_a_netrc_entry_never_replaces_the_bearer_token(
    emulator, emulator_admin, tmp_path, monkeypatch
) -> None:
    """requests would send a ``~/.netrc`` entry for the host (or its ``default``) as Basic credentials in
    place of the bearer token: the client's session does not read it (nor the proxy variables per call)."""
    netrc = tmp_path / "netrc"
    netrc.write_text("default login someone password their-netrc-password\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("CURL_CA_BUNDLE", "")  # requests reads it too; loopback http needs no bundle
    emulator_admin.configure(capture_bodies=True)
    assert list(SegmentationClient(make_config(emulator)).list_schedules()) == []
    [sent] = emulator_admin.requests("GET", "/data/core/ups/config/schedules")
    authorization = {k.lower(): v for k, v in sent["request_headers"].items()}["authorization"]
    assert authorization.startswith("Bearer ") and "their-netrc-password" not in json.dumps(sent)


def fresh_proxy_lookups() -> None:
    """Forget the proxies looked up per host (once per process), so that this environment's count."""
    http._proxies_for_origin.cache_clear()


def test_the_environments_proxy_is_still_used(monkeypatch) -> None:
    """The proxy variables are read once per host (with NO_PROXY), not ignored."""
    target = "http://127.0.0.1:9"  # nothing listens there: only the proxy can answer

    def proxy(seen: Seen) -> Answer:
        if seen.path == IMS:
            return Answer(body=json.dumps({"access_token": "t0k", "expires_in": 86399}).encode())
        return Answer(body=json.dumps({"children": [], "_page": {"count": 0}}).encode())

    with ScriptedServer(proxy) as server:
        for name in ("HTTP_PROXY", "http_proxy"):  # requests reads the lowercase ones first
            monkeypatch.setenv(name, server.url)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.setenv(name, "")
        fresh_proxy_lookups()
        config = ClientConfig(
            client_id="id",
            client_secret="s3cret",
            org_id="ORG@AdobeOrg",
            sandbox="prod",
            ims_host=target,
            platform_host=target,
        )
        assert list(SegmentationClient(config).list_schedules()) == []
    fresh_proxy_lookups()  # the next test's environment has no proxy
    assert [(s.path, s.headers["host"]) for s in server.seen] == [
        (IMS, "127.0.0.1:9"),
        ("/data/core/ups/config/schedules", "127.0.0.1:9"),
    ]
