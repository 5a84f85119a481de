"""The Airflow-free clients: ``SegmentationClient`` (sync) and ``AsyncSegmentationClient`` (async).

``SegmentationAPI`` gathers the 35 operations of ``segmentation.yaml``, each declared once in its
resource group's module of ``client/api`` (``definitions``, ``segment_jobs``, ``exports``, ``previews``,
``schedules``, ``audiences``, ``search``); a runner that inherits it (these clients, the hook) has every
operation as a method, and ``SegmentationAPI.<name>.build(...)`` returns the ``Operation`` itself.

Both clients drive the same ``call_flow``; they differ only in how they send bytes, sleep and lock the
token cache. Tokens come from the process-wide cache, so every client with the same credential shares
one; that cache shares them with this user's other processes too (``client/token_file.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from airflow_provider_segmentation import __version__
from airflow_provider_segmentation.client.api.audiences import Audiences
from airflow_provider_segmentation.client.api.definitions import SegmentDefinitions
from airflow_provider_segmentation.client.api.exports import ExportJobs
from airflow_provider_segmentation.client.api.previews import Previews
from airflow_provider_segmentation.client.api.schedules import Schedules
from airflow_provider_segmentation.client.api.search import Search
from airflow_provider_segmentation.client.api.segment_jobs import SegmentJobs
from airflow_provider_segmentation.client.auth import (
    PROCESS_TOKEN_CACHE,
    AccessToken,
    TokenCache,
    build_token_request,
    cacheable,
    parse_token_response,
    token_key,
)
from airflow_provider_segmentation.client.config import ClientConfig, Secret
from airflow_provider_segmentation.client.flow import (
    CallFlow,
    NeedToken,
    Send,
    Sleep,
    call_flow,
    platform_request,
)
from airflow_provider_segmentation.client.http import (
    AsyncTransport,
    HttpResponse,
    SyncTransport,
    TransportError,
)
from airflow_provider_segmentation.client.on_demand import check_on_demand, created_segment_ids, utc_now
from airflow_provider_segmentation.client.operations import AsyncFace, Operation, SyncFace
from airflow_provider_segmentation.client.reconcile import ServerClock, adopt, claiming, reconciler_for
from airflow_provider_segmentation.client.redaction import remember
from airflow_provider_segmentation.client.token_file import SavedToken, TokenFile
from airflow_provider_segmentation.rules import RuleFinding

if TYPE_CHECKING:
    import requests

T = TypeVar("T")
USER_AGENT = f"airflow-provider-segmentation/{__version__}"
IMS_REFUSALS = frozenset({400, 401, 403})  # read by parse_token_response, which names the fix
TokenCallback = Callable[[str], None]  # told each new token before anything can log it (masking)
AsyncTokenCallback = Callable[[str], Awaitable[None]]


class SegmentationAPI(SegmentDefinitions, SegmentJobs, ExportJobs, Previews, Schedules, Audiences, Search):
    """Every operation of the Segmentation Service, declared once in its group's module."""


class _ClientBase:
    def __init__(
        self,
        config: ClientConfig,
        *,
        clock: Callable[[], float],
        token_cache: TokenCache,
        rng: random.Random | None,
    ) -> None:
        self.config = config
        self._clock = clock
        self._tokens = token_cache
        self._token_key = token_key(config)
        self._rng = rng or random.Random()
        remember(config.secret)  # every error of this process hides it
        self._server_clock = ServerClock()  # from the Date of platform answers; for reconciling creates

    def __repr__(self) -> str:
        return f"{type(self).__name__}(client_id={self.config.client_id!r}, sandbox={self.config.sandbox!r})"

    def _operation_flow(self, op: Operation[T]) -> CallFlow:
        reconciler = reconciler_for(op) if op.creates else None
        flow = call_flow(
            lambda token: platform_request(self.config, op, token, USER_AGENT),
            name=op.name,
            creates=op.creates,
            config=self.config,
            clock=self._clock,
            rng=self._rng,
            reconcile=None
            if reconciler is None
            else lambda sent_at: adopt(
                reconciler,
                self._server_clock.created_since(sent_at),
                self._operation_flow(reconciler.lookup),
                operation=op.name,
            ),
            secrets=(self.config.secret,),
            on_answer=self._server_clock.observe,
        )
        return flow if reconciler is None else claiming(flow)

    def _token_flow(self) -> CallFlow:
        return call_flow(
            lambda _token: build_token_request(self.config, USER_AGENT),
            name="imsToken",
            creates=False,
            config=self.config,
            clock=self._clock,
            rng=self._rng,
            needs_token=False,
            handled_statuses=IMS_REFUSALS,
            service="IMS",
            secrets=(self.config.secret,),
        )

    def _reusable_token(self, stale: Secret | None) -> Secret | None:
        """The cached token unless it is ``stale`` (rejected by the gateway) or near its expiry."""
        if stale is not None:
            self._tokens.invalidate(self._token_key, stale)
        cached = self._tokens.valid(self._token_key)
        return cached.value if cached is not None else None

    def _read_token(self, response: HttpResponse) -> AccessToken:
        token = parse_token_response(response, now=self._clock())
        remember(token.value)  # every error of this process hides it from now on
        return token

    def _adopted(self, saved: SavedToken | None, stale: Secret | None) -> AccessToken | None:
        """The token another process of this machine saved, if it can serve (not ``stale``, not expiring)."""
        token = self._tokens.adoptable(saved, stale)
        if token is not None:
            remember(token.value)
        return token

    def _keep(self, token: AccessToken, file: TokenFile | None, minted: bool) -> Secret:
        """Cache ``token`` in the process, and share it through ``file`` if this process minted it."""
        self._tokens.store(self._token_key, token)
        if minted and file is not None and cacheable(token):
            file.save(token.value, token.expires_at, token.lifetime)
        return token.value


class SegmentationClient(_ClientBase, SyncFace, SegmentationAPI):
    """Synchronous client on one pooled ``requests.Session``; one method per API operation.

    The sandbox is the config's (``dataclasses.replace(config, sandbox="dev")`` for another one).
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        token_cache: TokenCache = PROCESS_TOKEN_CACHE,
        on_token: TokenCallback | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(config, clock=clock, token_cache=token_cache, rng=rng)
        self._on_token = on_token
        self._transport = SyncTransport(
            (config.connect_timeout, config.read_timeout),
            session,
            call_timeout=config.call_timeout,
            max_response_bytes=config.max_response_bytes,
        )
        self._sleep = sleep

    def execute(self, operation: Operation[T]) -> T:
        """Run one operation; a new segment job is first checked against AEP's on-demand rules (once:
        the call flow's retries and its adoption of a lost answer's job do not check again)."""
        segment_ids = created_segment_ids(operation)
        if segment_ids is not None:
            self.check_on_demand(segment_ids)
        return operation.parse(self._drive(self._operation_flow(operation)), operation)

    def check_on_demand(self, segment_ids: list[str]) -> list[RuleFinding]:
        """Refuse (``AEPGuardrailError``) an on-demand segment job for ``segment_ids`` that AEP's rules
        or the sandbox's allowance refuse, before it is sent (``client.on_demand``: usually 2 reads);
        returns the findings that only warn (a run-all job), which are logged."""
        return check_on_demand(
            self.execute,
            self.config,
            segment_ids,
            lambda: utc_now(self._clock() + (self._server_clock.lead or 0.0)),
        )

    def access_token(self) -> str:
        """A valid access token, minted if neither this process nor the machine has one for the credential."""
        return self._token(None).reveal()

    def close(self) -> None:
        self._transport.close()

    def _drive(self, flow: CallFlow) -> HttpResponse:
        reply: Secret | HttpResponse | TransportError | None = None
        while True:
            try:
                command = flow.send(reply)
            except StopIteration as done:
                return done.value
            if isinstance(command, Send):
                try:
                    reply = self._transport.send(command.request, command.timeout)
                except TransportError as exc:
                    reply = exc
            elif isinstance(command, Sleep):
                self._sleep(command.seconds)
                reply = None
            elif isinstance(command, NeedToken):
                reply = self._token(command.stale)

    def _token(self, stale: Secret | None) -> Secret:
        cached = self._reusable_token(stale)
        if cached is not None:
            return cached
        with self._tokens.sync_lock(self._token_key):
            reusable = self._reusable_token(None)
            if reusable is not None:
                return reusable
            file = self._tokens.token_file(self.config)
            with file.locked() if file is not None else contextlib.nullcontext():
                token = self._adopted(file.load() if file is not None else None, stale)
                minted = token is None
                if token is None:
                    token = self._read_token(self._drive(self._token_flow()))
                if self._on_token is not None:
                    self._on_token(token.value.reveal())
                return self._keep(token, file, minted)


class AsyncSegmentationClient(_ClientBase, AsyncFace, SegmentationAPI):
    """Async client on one ``httpx.AsyncClient``; use it as ``async with AsyncSegmentationClient(...)``.

    It has every operation of ``SegmentationClient``, awaited, with the same signatures.
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        token_cache: TokenCache = PROCESS_TOKEN_CACHE,
        on_token: AsyncTokenCallback | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(config, clock=clock, token_cache=token_cache, rng=rng)
        self._on_token = on_token
        self._transport = AsyncTransport(
            (config.connect_timeout, config.read_timeout),
            call_timeout=config.call_timeout,
            max_response_bytes=config.max_response_bytes,
        )
        self._sleep = sleep

    async def __aenter__(self) -> AsyncSegmentationClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def execute(self, operation: Operation[T]) -> T:
        return operation.parse(await self._drive(self._operation_flow(operation)), operation)

    async def _drive(self, flow: CallFlow) -> HttpResponse:
        reply: Secret | HttpResponse | TransportError | None = None
        while True:
            try:
                command = flow.send(reply)
            except StopIteration as done:
                return done.value
            if isinstance(command, Send):
                try:
                    reply = await self._transport.send(command.request, command.timeout)
                except TransportError as exc:
                    reply = exc
            elif isinstance(command, Sleep):
                await self._sleep(command.seconds)
                reply = None
            elif isinstance(command, NeedToken):
                reply = await self._token(command.stale)

    async def _token(self, stale: Secret | None) -> Secret:
        cached = self._reusable_token(stale)
        if cached is not None:
            return cached
        async with self._tokens.async_lock(self._token_key):
            reusable = self._reusable_token(None)
            if reusable is not None:
                return reusable
            # Off the event loop: finding the directory (it may be created) and reading or writing the file.
            file = await asyncio.to_thread(self._tokens.token_file, self.config)
            async with file.alocked() if file is not None else contextlib.nullcontext():
                saved = await asyncio.to_thread(file.load) if file is not None else None
                token = self._adopted(saved, stale)
                minted = token is None
                if token is None:
                    token = self._read_token(await self._drive(self._token_flow()))
                if self._on_token is not None:
                    await self._on_token(token.value.reveal())
                await asyncio.to_thread(self._keep, token, file, minted)
                return token.value
