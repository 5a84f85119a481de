"""A credential that a server echoes, in any spelling, reaches no field of an error, no traceback's
locals and no log line (IMS and platform answers, sync and async, over real HTTP)."""

from __future__ import annotations

import asyncio
import base64
import html
import html.entities
import json
import logging
import random
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_segmentation.client import (
    AEPError,
    AsyncSegmentationClient,
    ClientConfig,
    RetrySettings,
    SegmentationClient,
    redaction,
)
from airflow_provider_segmentation.client.config import Secret
from airflow_provider_segmentation.client.redaction import Hider
from tests.client.conftest import make_config
from tests.scripted_server import Answer, ScriptedServer, Seen


@pytest.fixture(autouse=True)
def _forget_the_generated_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The generated credentials are remembered process-wide (every error hides them): keep them here."""
    monkeypatch.setattr(redaction, "_known", type(redaction._known)(maxlen=redaction._known.maxlen))
    monkeypatch.setattr(redaction, "_known_hider", [Hider(())])


# Hypothesis also tries strings found in the code; a traceback shows those lines, which are no leak.
REPOSITORY = Path(__file__).resolve().parents[2]
KNOWN_TEXT = "\n".join(
    path.read_text()
    for root in ("airflow_provider_segmentation", "tests")
    for path in (REPOSITORY / root).rglob("*.py")
)
SPELLINGS = ("plain", "json-escapes", "html-entities", "percent", "form", "base64", "base64-prefix")
SHAPES = ("json-field", "json-key", "html", "plain-text")
SECRETS = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x2FFFF, exclude_categories=("Cs", "Cc", "Zs")),
    min_size=12,
    max_size=40,
).filter(lambda s: len(set(s[:8])) >= 6 and s[:8] not in KNOWN_TEXT and s[-8:] not in KNOWN_TEXT)


def spelled(value: str, spelling: str, rng: random.Random) -> str:
    """``value`` as a server may echo it; ``rng`` picks which characters are escaped and their case."""
    if spelling == "json-escapes":  # some characters as \\uXXXX (astral ones as surrogate pairs)
        out = []
        for char in value:
            if rng.random() < 0.5 or char in '"\\':
                units = char.encode("utf-16-be")
                out.extend(f"\\u{units[i : i + 2].hex()}" for i in range(0, len(units), 2))
            else:
                out.append(char)
        return "".join(out)
    if spelling == "html-entities":
        names = html.entities.codepoint2name
        forms = [
            lambda c: f"&{names[ord(c)]};" if ord(c) in names else c,
            lambda c: f"&#{ord(c)};",
            lambda c: f"&#x{ord(c):x};",
            lambda c: c if c not in "&<" else f"&#{ord(c)};",
        ]
        return "".join(rng.choice(forms)(c) for c in value)
    if spelling in ("percent", "form"):
        encoded = "".join(f"%{b:02x}" if rng.random() < 0.5 else f"%{b:02X}" for b in value.encode())
        return encoded.replace("%20", "+") if spelling == "form" else encoded
    if spelling == "base64":
        return rng.choice([base64.b64encode, base64.urlsafe_b64encode])(value.encode()).decode()
    if spelling == "base64-prefix":
        prefix = value[: rng.randint(8, len(value))]
        return base64.b64encode(prefix.encode()).decode()
    return value


def body_for(text: str, shape: str, spelling: str) -> tuple[bytes, str]:
    """An answer that carries ``text`` (already spelled) in ``shape``."""
    in_json = text if spelling == "json-escapes" else json.dumps(text)[1:-1]
    if shape == "json-field":
        body = f'{{"error":"invalid_client","error_description":"bad: {in_json}"}}'
        return body.encode(), "application/json"
    if shape == "json-key":
        return f'{{"error_code":"{in_json}","message":"{in_json}"}}'.encode(), "application/json"
    if shape == "html":
        return f"<html><title>{text}</title><h1>{text}</h1></html>".encode(), "text/html"
    return f"rejected: {text}".encode(), "text/plain"


def all_outputs(error: BaseException, logs: list[str]) -> str:
    """Every text of the error a user, a log or an error reporter could see, with the captured logs."""
    captured = traceback.TracebackException.from_exception(error, capture_locals=True)
    return "\n".join(
        [
            str(error),
            repr(error),
            repr(error.args),
            str(getattr(error, "message", "")),
            str(getattr(error, "error_code", "")),
            *captured.format(),
            *logs,
        ]
    )


def assert_hidden(value: str, output: str) -> None:
    """Neither ``value`` nor its start in any spelling (decoded the same ways a server may encode)."""
    assert value not in output
    hider = Hider([Secret(value)])
    assert not [line for line in output.splitlines() if hider.finds(line)]


@contextmanager
def captured_logs() -> Iterator[list[str]]:
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler, logger = Keep(logging.DEBUG), logging.getLogger()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def failure_of(config: ClientConfig, asynchronous: bool) -> BaseException:
    """The error of one call (its frames hold the config, never the credential in plain text)."""
    try:
        if asynchronous:

            async def call() -> None:
                async with AsyncSegmentationClient(config) as client:
                    await client.get_segment_job("job-1")

            asyncio.run(call())
        else:
            SegmentationClient(config).get_segment_job("job-1")
    except AEPError as exc:
        return exc
    raise AssertionError("the echoing server's answer was accepted")


@dataclass
class Echo:
    """What the scripted server answers next: ``shape`` holding the request's credential ``spelling``."""

    status: int = 400
    spelling: str = "plain"
    shape: str = "json-field"
    seed: int = 0
    secret: str = ""  # the IMS case: the client secret; else the bearer token is echoed

    def __call__(self, seen: Seen) -> Answer:
        value = self.secret or seen.headers["authorization"].removeprefix("Bearer ")
        body, content_type = body_for(
            spelled(value, self.spelling, random.Random(self.seed)), self.shape, self.spelling
        )
        return Answer(self.status, body, {"Content-Type": content_type})


ECHO = dict(
    status=st.sampled_from([200, 400, 401, 403, 500]),
    spelling=st.sampled_from(SPELLINGS),
    shape=st.sampled_from(SHAPES),
    seed=st.integers(0, 2**16),
    asynchronous=st.booleans(),
)


def test_an_ims_echo_of_the_secret_in_any_spelling_is_never_shown(emulator) -> None:
    echo = Echo()
    with ScriptedServer(echo) as ims:

        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        @given(secret=SECRETS, **ECHO)
        def check(secret: str, status: int, spelling: str, shape: str, seed: int, asynchronous: bool) -> None:
            echo.__init__(status, spelling, shape, seed, secret)  # type: ignore[misc]
            config = make_config(
                emulator, ims_host=ims.url, client_secret=secret, retry=RetrySettings(max_attempts=1)
            )
            with captured_logs() as logs:
                error = failure_of(config, asynchronous)
            assert_hidden(secret, all_outputs(error, logs))

        check()


def test_a_platform_echo_of_the_token_in_any_spelling_is_never_shown(emulator) -> None:
    echo = Echo()
    tokens: list[str] = []

    def answer(seen: Seen) -> Answer:
        tokens.append(seen.headers["authorization"].removeprefix("Bearer "))
        return echo(seen)

    with ScriptedServer(answer) as aep:

        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        @given(**ECHO)
        def check(status: int, spelling: str, shape: str, seed: int, asynchronous: bool) -> None:
            echo.__init__(status if status != 401 else 404, spelling, shape, seed)  # type: ignore[misc]
            config = make_config(emulator, platform_host=aep.url, retry=RetrySettings(max_attempts=1))
            with captured_logs() as logs:
                error = failure_of(config, asynchronous)
            assert_hidden(tokens[-1], all_outputs(error, logs))

        check()
