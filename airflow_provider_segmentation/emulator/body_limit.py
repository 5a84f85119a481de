"""The cap on request bodies, in the ASGI layer so that no route reads an oversized body.

Adobe documents no request body limit for the Segmentation Service (the spec and the docs name none),
so the cap is the emulator's own guard, ``EmulatorSettings.max_request_body_bytes`` (10 MiB by default,
far above the largest documented bodies: 1,500 segment ids in a job or a bulk-get are under 100 KiB),
answered 413 with the Platform's generic problem body; it is not AEP's behaviour.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airflow_provider_segmentation.emulator.state import EmulatorState
from airflow_provider_segmentation.emulator.wire import problem


class BodySizeLimit:
    """Refuses a body over the cap: at once when its ``Content-Length`` says so, else once the bytes
    read pass it (a chunked body). A body under the cap is read whole and handed on unchanged."""

    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.state.settings.max_request_body_bytes
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > cap:
            await self._refuse(cap, scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before its body arrived
            body += message.get("body", b"")
            if len(body) > cap:
                await self._refuse(cap, scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replaying(bytes(body), receive), send)

    @staticmethod
    async def _refuse(cap: int, scope: Scope, receive: Receive, send: Send) -> None:
        answer = problem(
            413,
            "PayloadTooLarge",
            f"The request body is over {cap} bytes, the emulator's cap (setting max_request_body_bytes); "
            "Adobe documents no limit",
        )
        await answer(scope, receive, send)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` first, then whatever the connection says next (a disconnect)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay
