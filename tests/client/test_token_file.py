"""One IMS call per credential per token lifetime for every process of the machine (client/token_file.py),
over real HTTP against the emulator; IMS calls are counted by the emulator."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import pickle
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_segmentation.client import AEPAuthError, AEPConfigurationError, ClientConfig
from airflow_provider_segmentation.client.auth import TokenCache
from airflow_provider_segmentation.client.client import (
    AsyncSegmentationClient,
    SegmentationAPI,
    SegmentationClient,
)
from airflow_provider_segmentation.client.config import Secret
from airflow_provider_segmentation.client.redaction import Hider
from tests.client import token_workers
from tests.client.conftest import make_config
from tests.conftest import EmulatorAdmin

LISTING = SegmentationAPI.list_schedules.build(limit=1)  # a cheap platform read: where a 401 shows


def ims_calls(admin: EmulatorAdmin) -> int:
    """IMS calls so far; the emulator logs a call just after its answer is sent, so read until it settles."""
    counts = [-1, len(admin.requests(path="/ims/token/v3"))]
    while counts[-1] != counts[-2]:
        time.sleep(0.02)
        counts.append(len(admin.requests(path="/ims/token/v3")))
    return counts[-1]


class Machine:
    """Processes of one machine, simulated: each has its own token cache (as a new process would), on
    one shared clock, all sharing the token directory ``directory``."""

    def __init__(self, emulator: object, directory: Path) -> None:
        self.emulator, self.directory, self.now = emulator, directory, 1_000_000.0

    def config(self, **overrides: object) -> ClientConfig:
        return make_config(self.emulator, token_cache_dir=str(self.directory), **overrides)

    def process(
        self, on_token: Callable[[str], None] | None = None, **overrides: object
    ) -> SegmentationClient:
        def clock() -> float:
            return self.now

        cache = TokenCache(clock=clock, machine_wide=True)
        return SegmentationClient(self.config(**overrides), token_cache=cache, clock=clock, on_token=on_token)

    def files(self) -> list[Path]:
        return sorted(self.directory.glob("*.token"))


@pytest.fixture
def machine(emulator, emulator_admin, tmp_path: Path) -> Machine:
    return Machine(emulator, tmp_path / "tokens")


def spellings_found(machine: Machine, *tokens: str) -> list[str]:
    """Files of the token directory in which ``tokens`` show up in any spelling ``Hider`` knows."""
    hider = Hider(tuple(Secret(t) for t in tokens))
    texts = {p.name: p.read_bytes().decode("latin-1") for p in machine.directory.iterdir()}
    return [name for name, text in texts.items() if hider.hide(text) != text]


def test_processes_that_start_together_mint_one_token(emulator, emulator_admin, tmp_path: Path) -> None:
    spawn = multiprocessing.get_context("spawn")
    ready, results, go = spawn.Queue(), spawn.Queue(), spawn.Event()
    settings_ = emulator.settings
    fields = {
        "client_id": settings_.client_id,
        "client_secret": settings_.client_secret,
        "org_id": settings_.org_id,
        "sandbox": "prod",
        "ims_host": emulator.url,
        "platform_host": emulator.url,
        "token_cache_dir": str(tmp_path / "tokens"),
    }
    workers = [
        spawn.Process(target=token_workers.token_digest, args=(fields, ready, go, results)) for _ in range(8)
    ]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.get(timeout=120)
    go.set()
    digests = {results.get(timeout=60) for _ in workers}
    for worker in workers:
        worker.join(30)
    assert len(digests) == 1  # every process holds the same token
    assert ims_calls(emulator_admin) == 1


def test_another_credential_mints_its_own_and_a_wrong_secret_reads_none(machine, emulator_admin) -> None:
    token = machine.process().access_token()
    assert machine.process().access_token() == token
    assert machine.process(scopes="openid,AdobeID").access_token() != token  # another credential
    with pytest.raises(AEPAuthError):
        machine.process(client_secret="not-the-secret-" + "x" * 20).access_token()
    assert ims_calls(emulator_admin) == 3  # the wrong secret asked IMS, which refused it
    assert len(machine.files()) == 2
    assert spellings_found(machine, token, machine.emulator.settings.client_secret) == []


def flip_last_bit(path: Path) -> None:
    """Alter the file for certain: writing a fixed last byte would leave 1 file in 256 as it was."""
    blob = path.read_bytes()
    path.write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda p: p.write_bytes(os.urandom(200)), id="garbage"),
        pytest.param(lambda p: p.write_bytes(p.read_bytes()[:20]), id="truncated"),
        pytest.param(lambda p: p.write_bytes(b""), id="empty"),
        pytest.param(flip_last_bit, id="altered"),
        pytest.param(lambda p: os.chown(p, 12345, 12345), id="another-user"),
        pytest.param(lambda p: p.chmod(0o644), id="readable-by-others"),
    ],
)
def test_an_unusable_file_is_a_miss_that_one_mint_replaces(machine, emulator_admin, spoil) -> None:
    first = machine.process().access_token()
    spoil(machine.files()[0])
    second = machine.process().access_token()
    assert second != first
    assert machine.process().access_token() == second  # the replacement is shared
    assert ims_calls(emulator_admin) == 2
    assert oct(machine.files()[0].stat().st_mode & 0o777) == oct(0o600)


@pytest.mark.parametrize("spoil", ["readable-by-others", "another-user", "a-file"])
def test_an_unusable_directory_keeps_tokens_in_each_process(machine, emulator_admin, spoil, caplog) -> None:
    if spoil == "a-file":
        machine.directory.write_text("")
    else:
        machine.directory.mkdir(mode=0o755 if spoil == "readable-by-others" else 0o700)
        if spoil == "another-user":
            os.chown(machine.directory, 12345, 12345)
        else:
            machine.directory.chmod(0o755)
    with caplog.at_level(logging.WARNING):
        first, second = machine.process(), machine.process()
        assert first.access_token() != second.access_token()
        assert first.access_token() == first.access_token()  # each process still keeps its own
    assert ims_calls(emulator_admin) == 2
    warnings = [r.getMessage() for r in caplog.records if "not shared between processes" in r.getMessage()]
    assert len(warnings) == 1 and str(machine.directory) in warnings[0]


def test_a_token_near_its_expiry_is_not_served_but_replaced_once(machine, emulator_admin) -> None:
    first = machine.process().access_token()
    machine.now += 86_399 - 299  # within the 5-minute refresh lead of its end
    renewed = machine.process().access_token()
    assert renewed != first
    assert machine.process().access_token() == renewed
    assert ims_calls(emulator_admin) == 2


def test_a_rejected_token_is_replaced_once_for_every_process(machine, emulator_admin) -> None:
    seen: list[str] = []
    a, b, c = machine.process(), machine.process(), machine.process(on_token=seen.append)
    tokens = {a.access_token(), b.access_token(), c.access_token()}
    emulator_admin.expire_tokens()
    for process in (a, b, c):
        process.execute(LISTING)  # a 401, then the token the first process minted
    assert ims_calls(emulator_admin) == 2
    renewed = {a.access_token(), b.access_token(), c.access_token()}
    assert len(tokens) == len(renewed) == 1 and tokens != renewed
    assert seen == [*tokens, *renewed]  # an adopted token goes through on_token (masking) too


async def test_async_clients_adopt_the_shared_token_and_are_told_it(machine, emulator_admin) -> None:
    token = machine.process().access_token()
    told: list[str] = []

    async def on_token(value: str) -> None:
        told.append(value)

    cache = TokenCache(clock=lambda: machine.now, machine_wide=True)
    clients = [
        AsyncSegmentationClient(
            machine.config(), token_cache=cache, clock=lambda: machine.now, on_token=on_token
        )
        for _ in range(50)
    ]
    await asyncio.gather(*(client.execute(LISTING) for client in clients))
    await asyncio.gather(*(client.aclose() for client in clients))
    assert told == [token]  # one adoption for the 50 (the process cache is in front of the file)
    assert ims_calls(emulator_admin) == 1


def test_the_cache_holds_no_secret_in_reprs_pickles_or_tracebacks(machine, emulator_admin) -> None:
    client = machine.process()
    token, secret = client.access_token(), machine.emulator.settings.client_secret
    file = client._tokens.token_file(client.config)
    assert file is not None
    shown = [
        repr(file),
        repr(client._tokens),
        repr(file.load()),
        str(pickle.loads(pickle.dumps(file)).load()),
    ]
    try:
        machine.process(client_secret=secret + "-wrong").access_token()  # through the file, to IMS's refusal
    except AEPAuthError as exc:
        below_this_test = exc.with_traceback(exc.__traceback__.tb_next if exc.__traceback__ else None)
        locals_ = traceback.TracebackException.from_exception(below_this_test, capture_locals=True)
        shown.append("".join(locals_.format()))
    hider = Hider((Secret(token),))  # the emulator's secret starts like its client id: looked for as is
    assert [text for text in shown if hider.hide(text) != text or secret in text] == []


def test_a_relative_token_cache_dir_is_refused_before_any_call(emulator) -> None:
    with pytest.raises(AEPConfigurationError, match="token_cache_dir"):
        make_config(emulator, token_cache_dir="tokens")
    assert make_config(emulator, token_cache_dir="OFF").token_cache_dir == "OFF"


ACTIONS = st.lists(
    st.tuples(
        st.integers(0, 2),  # which process
        st.sampled_from(["get", "call", "expire", "corrupt", "advance", "wrong-secret"]),
        st.sampled_from([3_000.0, 40_000.0, 86_200.0]),  # how far "advance" moves the clock
    ),
    min_size=1,
    max_size=10,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=ACTIONS)
def test_processes_mint_only_when_no_usable_token_exists_and_never_for_a_wrong_secret(
    emulator, emulator_admin, tmp_path: Path, actions
) -> None:
    """A model of the machine: the file's token, each process's token, which tokens the gateway rejects.
    Every action's IMS calls and served token must be the model's (a mint only when no process could
    reuse a token: none, stale, corrupted or rejected), and a wrong secret never gets one."""
    machine = Machine(emulator, Path(tempfile.mkdtemp(dir=tmp_path)))  # 0700, new for each example
    processes = [machine.process() for _ in range(3)]
    lifetime, lead = 86_399.0, 300.0
    minted_at: dict[str, float] = {}
    rejected: set[str] = set()
    held: list[str | None] = [None, None, None]
    shared: list[str | None] = [None]
    expected_calls = ims_calls(emulator_admin)

    def fresh(token: str | None) -> bool:
        return token is not None and minted_at[token] + lifetime - machine.now > lead

    def expected(process: int, stale: str | None = None) -> str | None:
        """The token the process should serve: its own, the file's, or None for a new one (a mint)."""
        if stale is None and fresh(held[process]):
            return held[process]
        return shared[0] if fresh(shared[0]) and shared[0] != stale else None

    def record(process: int, want: str | None, got: str) -> None:
        nonlocal expected_calls
        if want is None:
            assert got not in minted_at, "a mint was expected"
            expected_calls += 1
            minted_at[got], shared[0] = machine.now, got
        assert got == (want or got), "a process minted although a usable token was there"
        held[process] = got

    for process, action, seconds in actions:
        client = processes[process]
        first = expected(process)
        if action == "get" or (action == "call" and first not in rejected):
            if action == "call":
                client.execute(LISTING)
            record(process, first, client.access_token())
        elif action == "call":  # the gateway rejects ``first``: one refresh, then a replay
            record(process, first, first)
            second = expected(process, stale=first)
            if second in rejected:  # another process saved a replacement that was rejected too
                with pytest.raises(AEPAuthError):
                    client.execute(LISTING)
            else:
                client.execute(LISTING)
            record(process, second, client.access_token())
        elif action == "expire":
            emulator_admin.expire_tokens()
            rejected.update(minted_at)
        elif action == "corrupt" and machine.files():
            machine.files()[0].write_bytes(os.urandom(64))
            shared[0] = None
        elif action == "advance":
            machine.now += seconds
        elif action == "wrong-secret":
            with pytest.raises(AEPAuthError):
                machine.process(client_secret="wrong-" + "s" * 30).access_token()
            expected_calls += 1  # IMS was asked, and refused
        assert ims_calls(emulator_admin) == expected_calls
    assert spellings_found(machine, *minted_at) == []
