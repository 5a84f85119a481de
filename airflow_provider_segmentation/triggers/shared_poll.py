"""The shared poll: one question per cycle for every job of a kind that a group of triggers watches.

Triggers of one kind of job that AEP reads in bulk (the kind's ``read_many``, ``client.JOB_TYPES``:
segment jobs, ``POST /segment/jobs/bulk-get``), of one connection, sandbox and poll interval, form a
group (Airflow 3.3's shared trigger streams, see ``AEPJobTrigger.shared_stream_key``). Each cycle the
group asks AEP about all the jobs its triggers watch (``WATCHED``) and hands every trigger the answer
about its own job, a job or an error (``Snapshot``); each trigger then drives its own polling flow
with its own deadline and poll-error budget. One job, one id or one failed request never costs the rest:

- An id is checked when its trigger joins: a malformed one fails that trigger alone, before any call.
- Ids go ``chunk_size`` to a request. AEP does not document how many ids a segment-job bulk-get takes
  (its audiences bulk-get takes 1 to 100 and answers more with a 400 ``UPAPI-113015-400``), so a group
  starts at the kind's ``read_many_ids``; a 400 with that code (or a 413) halves the chunk and asks again in
  the same cycle, and the group keeps the smaller size for as long as its poll runs.
- Any other 400 for several ids (AEP refuses one of them) splits the chunk in two and asks each half; an
  id refused on its own, and every id of a chunk answered with another 4xx (403, 404...), is read with its
  own GET, whose answer is that trigger's alone. Ids refused on their own are read by GET from then on.
- An id missing from a 207 answer (an error entry, or one this package cannot read) is read by GET too:
  a job AEP does not know ends its trigger with AEP's 404, as it would without sharing.
- A transient failure (5xx, 429, a network error) is the answer for the ids of the failed request only:
  each of their triggers spends one unit of its own budget; a trigger that joined since is not charged.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_segmentation.client import AEPError, check_id

if TYPE_CHECKING:
    from airflow_provider_segmentation.client import AsyncSegmentationClient, JobType

log = logging.getLogger(__name__)

ID_COUNT_ERROR = "UPAPI-113015-400"  # "The number of requested IDs is invalid. Cannot be 0 or exceed 100."
NOT_ABOUT_THE_IDS = frozenset({401, 429})  # 4xx that refuse no id: the token, the rate limit (transient)
GETS_AT_ONCE = 10  # ids read by their own GET side by side, when a bulk-get cannot answer them

Answer = Any  # the kind's job (``JobType.model``) or the ``AEPError`` that answered for it


@dataclass(frozen=True)
class Snapshot:
    """One cycle of a group's poll: the answer (job or error) about each id it asked for."""

    answers: Mapping[str, Answer]


class WatchedJobs:
    """Which jobs each group's poll must ask about: triggers join and leave as they start and end."""

    def __init__(self) -> None:
        self._by_key: dict[Hashable, Counter[str]] = defaultdict(Counter)

    def add(self, key: Hashable, job_id: str) -> None:
        """Join ``job_id`` to the group; a malformed id raises ``AEPValidationError`` (``field="job_id"``)
        and never reaches a bulk-get, where it would spoil the request of every other job."""
        check_id(job_id, field_name="job_id")
        self._by_key[key][job_id] += 1

    def discard(self, key: Hashable, job_id: str) -> None:
        watched = self._by_key[key]
        watched[job_id] -= 1
        if watched[job_id] <= 0:
            del watched[job_id]
        if not watched:
            del self._by_key[key]

    def ids(self, key: Hashable) -> list[str]:
        return sorted(self._by_key.get(key, ()))


WATCHED = WatchedJobs()  # one per triggerer process, like the shared streams themselves


class GroupPoll:
    """One group's poll: asks about the watched ids each cycle, keeping its chunk size and ids read alone."""

    def __init__(self, job_type: JobType[Any]) -> None:
        if job_type.read_many is None:
            raise ValueError(f"AEP cannot read many {job_type.label}s at once: each wait polls its own")
        self.job_type, self.read_many = job_type, job_type.read_many
        self.chunk_size = job_type.read_many_ids
        self.read_alone: set[str] = set()

    async def ask(self, client: AsyncSegmentationClient, ids: list[str]) -> Snapshot:
        """The answer about every id of ``ids``, in as few requests as AEP takes."""
        self.read_alone &= set(ids)
        answers = await self._get_each(client, [i for i in ids if i in self.read_alone])
        batched = [i for i in ids if i not in self.read_alone]
        start = 0
        while start < len(batched):
            chunk = batched[start : start + self.chunk_size]
            try:
                answers.update(await self._bulk_get(client, chunk))
            except AEPError as exc:
                if _about_the_id_count(exc) and len(chunk) > 1:
                    self.chunk_size = len(chunk) // 2
                    log.warning(
                        "AEP refused %d ids in one %s bulk read (%s); asking %d at a time now",
                        len(chunk),
                        self.job_type.label,
                        exc,
                        self.chunk_size,
                    )
                    continue
                answers.update(await self._after_failure(client, chunk, exc))
            start += len(chunk)
        return Snapshot(answers)

    async def _ask(self, client: AsyncSegmentationClient, chunk: list[str]) -> dict[str, Answer]:
        try:
            return await self._bulk_get(client, chunk)
        except AEPError as exc:
            return await self._after_failure(client, chunk, exc)

    async def _bulk_get(self, client: AsyncSegmentationClient, chunk: list[str]) -> dict[str, Answer]:
        """One bulk-get; the ids its 207 leaves out (error or unreadable entries) are read by GET."""
        found: dict[str, Answer] = dict(await client.execute(self.read_many.build(chunk)))
        found.update(await self._get_each(client, [i for i in chunk if i not in found]))
        return found

    async def _after_failure(
        self, client: AsyncSegmentationClient, chunk: list[str], error: AEPError
    ) -> dict[str, Answer]:
        status = error.status or 0
        if not 400 <= status < 500 or status in NOT_ABOUT_THE_IDS:
            return dict.fromkeys(chunk, error)  # AEP or the network, not the ids: one unit of each budget
        if status == 400 and len(chunk) > 1:  # one id can spoil the request: ask each half
            half = len(chunk) // 2
            return {**await self._ask(client, chunk[:half]), **await self._ask(client, chunk[half:])}
        if status == 400:
            label = self.job_type.label
            log.warning("AEP refused %s %s in a bulk read (%s); reading it by GET", label, chunk[0], error)
            self.read_alone.add(chunk[0])
        return await self._get_each(client, chunk)

    async def _get_each(self, client: AsyncSegmentationClient, ids: list[str]) -> dict[str, Answer]:
        at_once = asyncio.Semaphore(GETS_AT_ONCE)

        async def get(job_id: str) -> Answer:
            async with at_once:
                try:
                    return await client.execute(self.job_type.read.build(job_id))
                except AEPError as exc:
                    return exc

        return dict(zip(ids, await asyncio.gather(*(get(i) for i in ids)), strict=True))


def _about_the_id_count(error: AEPError) -> bool:
    return error.status == 413 or (error.status == 400 and error.error_code == ID_COUNT_ERROR)
