"""A cancelled call stops: the triggerer cancels triggers (a cleared task, a timeout) and is obeyed."""

from __future__ import annotations

import asyncio
import time

from airflow_provider_segmentation.client.http import AsyncTransport, HttpRequest


async def test_a_cancel_that_arrives_as_the_answer_lands_is_never_lost(emulator) -> None:
    """``asyncio.wait_for`` on Python < 3.12 returns the answer and drops a cancel that races it; a trigger
    whose cancel is dropped keeps polling for ever after Airflow let go of it."""
    transport = AsyncTransport((5.0, 5.0))
    request = HttpRequest("GET", f"{emulator.url}/data/core/ups/segment/jobs", (), {}, None)
    try:
        started = time.perf_counter()
        for _ in range(5):
            await transport.send(request)
        typical = (time.perf_counter() - started) / 5
        lost = 0
        for step in range(300):
            task = asyncio.ensure_future(transport.send(request))
            await asyncio.sleep(typical * (step % 60) / 30)  # from at once to twice a typical call
            if not task.cancel():
                continue  # it had already answered: nothing to lose
            try:
                await task
            except asyncio.CancelledError:
                continue
            lost += 1
        assert lost == 0, f"{lost} of 300 cancels were swallowed"
    finally:
        await transport.aclose()
