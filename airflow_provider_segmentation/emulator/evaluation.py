"""What finished jobs produce: memberships and metrics of segment jobs, batches of export jobs, previews.

Every count comes from the ``AudienceEngine`` evaluating the definitions' PQL over the profile store.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from airflow_provider_segmentation.emulator.state import (
    DEFAULT_MERGE_POLICY_ID,
    MEMBER_STATUSES,
    SEGMENT_JOB_STEPS,
    EmulatorState,
    Job,
    Sandbox,
)
from airflow_provider_segmentation.models import ExportJobStatus, PreviewState, SegmentJobStatus
from airflow_provider_segmentation.pql import PQLError

LAST_EPOCH_SECOND = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc).timestamp()


def _identities(profile: dict[str, Any]) -> Iterable[str]:
    return (profile.get("identityMap") or {}).keys()


def refresh_segment_job(state: EmulatorState, sandbox: Sandbox, job: Job) -> dict[str, Any]:
    """The job's wire body as of now; evaluates the audience the first time the job is seen finished."""
    status = state.status_of(job)
    body = job.body
    body["status"] = status.value
    if status is SegmentJobStatus.SUCCEEDED and not job.finished:
        job.finished = True
        try:
            _evaluate(state, sandbox, job)
        except PQLError as exc:  # AEP reports a job that could not evaluate as FAILED with its errors
            job.final = status = SegmentJobStatus.FAILED
            body["status"] = status.value
            body["errors"] = [_job_error("0100000004", f"Segment evaluation failed: {exc}")]
            body["metrics"]["totalTime"]["endTimeInMs"] = state.now_ms()
    elif status in (SegmentJobStatus.FAILED, SegmentJobStatus.CANCELLED) and not job.finished:
        job.finished = True
        if status is SegmentJobStatus.FAILED:
            body["errors"] = [_job_error("0100000003", "Emulated segmentation failure (fail_segment_jobs)")]
        body["metrics"]["totalTime"]["endTimeInMs"] = state.now_ms()
    if status is not SegmentJobStatus.NEW:
        body["updateTime"] = state.now_ms()
        body["updateEpoch"] = int(state.now())
    return body


def _job_error(code: str, msg: str) -> dict[str, str]:
    """One entry of a failed segment job's ``errors[]``; the codes are the emulator's (Adobe lists none)."""
    return {"code": code, "msg": msg, "callStack": "com.adobe.aep.emulator.SegmentationJob.run"}


def _select(
    state: EmulatorState, sandbox: Sandbox, expression: str, realized: dict[str, set[str]], at: float
) -> tuple[frozenset[str], dict[str, int]]:
    """The profiles an expression selects at ``at`` (the day's population), and their count per identity
    namespace, memoised per expression for the day."""
    population = state.population(at)
    if sandbox.selections_population != population:
        sandbox.selections.clear()
        sandbox.selections_population = population
    cached = sandbox.selections.get(expression)
    if cached is None:
        members = frozenset(
            state.engine.select(expression, memberships=realized, now=_utc(at), population=population)
        )
        by_namespace: dict[str, int] = {}
        for profile_id in members:
            for namespace in _identities(dict(state.engine.profile(profile_id))):
                by_namespace[namespace] = by_namespace.get(namespace, 0) + 1
        cached = sandbox.selections[expression] = (members, by_namespace)
    return cached


def _evaluate(state: EmulatorState, sandbox: Sandbox, job: Job) -> None:
    """Evaluate the job's definitions on the emulator day it finished (a run-all job: every definition
    the sandbox holds then); raises ``PQLError`` before changing anything when one cannot be evaluated."""
    started = state.now()
    at = finished_at(state, job)
    body = job.body
    metrics = body["metrics"]
    realized_before = sandbox.realized()
    ids = [e["segmentId"] for e in body["segments"]]
    ids = list(sandbox.definitions) if ids == ["*"] else ids
    selections = {
        segment_id: _select(
            state, sandbox, sandbox.definitions[segment_id]["expression"]["value"], realized_before, at
        )
        for segment_id in ids
        if segment_id in sandbox.definitions
    }
    changed = False
    for segment_id in ids:
        selected, by_namespace = selections.get(segment_id, (frozenset(), {}))
        members = set(selected)
        previous = sandbox.memberships.get(segment_id)
        before = (previous["realized"] | previous["existing"]) if previous else set()
        changed = changed or members != before
        statuses = {"realized": members - before, "existing": members & before, "exited": before - members}
        sandbox.memberships[segment_id] = statuses
        metrics["segmentedProfileCounter"][segment_id] = len(members)
        metrics["segmentedProfileByStatusCounter"][segment_id] = {
            s: len(statuses[s]) for s in MEMBER_STATUSES
        }
        metrics["segmentedProfileByNamespaceCounter"][segment_id] = dict(by_namespace)
    if changed:  # inSegment answers may differ now
        sandbox.selections.clear()
    finished = state.now()
    metrics["totalProfiles"] = state.engine.total_profiles(state.population(at))
    metrics["totalTime"]["endTimeInMs"] = int(finished * 1000)
    metrics["totalTime"]["totalTimeInMs"] = int(finished * 1000) - metrics["totalTime"]["startTimeInMs"]
    metrics["profileSegmentationTime"] = {
        "startTimeInMs": int(started * 1000),
        "endTimeInMs": int(finished * 1000),
        "totalTimeInMs": int((finished - started) * 1000),
    }


def _project(record: dict[str, Any], fields: str | None) -> dict[str, Any]:
    """Keep only the comma-separated dotted ``fields`` (all fields when None), as AEP's export does."""
    if not fields:
        return record
    out: dict[str, Any] = {}
    for path in (f.strip() for f in fields.split(",") if f.strip()):
        source: Any = record
        target = out
        parts = path.split(".")
        for index, part in enumerate(parts):
            if not isinstance(source, dict) or part not in source:
                break
            if index == len(parts) - 1:
                target[part] = source[part]
            else:
                source = source[part]
                target = target.setdefault(part, {})
    return out


def refresh_export_job(state: EmulatorState, sandbox: Sandbox, job: Job) -> dict[str, Any]:
    """The export job's wire body as of now; writes its batches the first time it is seen finished."""
    status = state.status_of(job)
    body = job.body
    body["status"] = status.value
    if (status.is_terminal or status == job.cancel_steps[1]) and not job.finished:
        job.finished = True
        body["updateTime"] = state.now_ms()
        if status is ExportJobStatus.SUCCEEDED:
            _write_batches(state, sandbox, job)
        elif status is ExportJobStatus.FAILED:
            body["errors"] = [
                {
                    "code": "0090000009",
                    "msg": "Emulated export failure (fail_export_jobs)",
                    "callStack": "com.adobe.aep.emulator.ExportJob.run",
                }
            ]
    return body


def _write_batches(state: EmulatorState, sandbox: Sandbox, job: Job) -> None:
    body = job.body
    filters = body.get("filter") or {}
    destination = body["destination"]
    selections: list[tuple[str | None, set[str]]] = []
    if filters.get("segments"):
        for entry in filters["segments"]:
            statuses = entry.get("status") or ["realized", "existing"]
            membership = sandbox.memberships.get(entry["segmentId"], {})
            members: set[str] = set()
            for status in statuses:
                members |= membership.get(status, set())
            selections.append((entry["segmentId"], members))
    else:
        at = finished_at(state, job)
        everyone = state.engine.select("true", memberships={}, now=_utc(at), population=state.population(at))
        selections.append((None, set(everyone)))
    batches = sandbox.batches.setdefault(destination["datasetId"], {})
    exported: set[str] = set()

    def write(members: set[str]) -> str:
        batch_id = str(uuid.uuid4()).replace("-", "")[:26].upper()
        batches[batch_id] = [
            _project(dict(state.engine.profile(pid)), body.get("fields")) for pid in sorted(members)
        ]
        return batch_id

    if destination.get("segmentPerBatch"):
        destination["batches"] = [
            {"segmentId": seg, "batchId": write(members)} for seg, members in selections
        ]
    else:
        union: set[str] = set().union(*(members for _, members in selections))
        destination["batchId"] = write(union)
    for _, members in selections:
        exported |= members
    body["metrics"] = {
        "totalTime": {
            "startTimeInMs": body["creationTime"],
            "endTimeInMs": state.now_ms(),
            "totalTimeInMs": state.now_ms() - body["creationTime"],
        },
        "totalExportedProfileCounter": len(exported),
        "exportedProfileByNamespaceCounter": {"ECID": len(exported)},
    }


def refresh_preview(state: EmulatorState, job: Job) -> PreviewState:
    """RUNNING until its steps have passed, then RESULT_READY with the members computed once (on the
    day's population), or FAILED with ``_error`` when the expression cannot be evaluated then."""
    if state.in_progress(job):
        return PreviewState.RUNNING
    if not job.finished:
        job.finished = True
        sandbox: Sandbox = job.body["_sandbox"]
        at = finished_at(state, job)
        try:
            job.body["_members"] = state.engine.select(
                job.body["predicateExpression"],
                memberships=sandbox.realized(),
                now=_utc(at),
                population=state.population(at),
            )
        except PQLError as exc:
            job.final = PreviewState.FAILED
            job.body["_error"] = f"Segment evaluation failed: {exc}"
    return PreviewState(job.final)


def finished_at(state: EmulatorState, job: Job) -> float:
    """When a job's steps ended on the emulator's clock: the instant (and day) it is evaluated at."""
    return min(state.now(), job.started + len(job.steps) * state.settings.job_step_seconds)


def _utc(epoch_seconds: float) -> datetime:
    return datetime.fromtimestamp(min(epoch_seconds, LAST_EPOCH_SECOND), tz=timezone.utc)


def new_segment_job(
    state: EmulatorState,
    sandbox: Sandbox,
    entries: list[dict[str, Any]],
    *,
    source: str,
    properties: dict[str, Any] | None = None,
    started: float | None = None,
) -> Job:
    started = state.now() if started is None else started
    job_id = state.new_id()
    # a run-all job keeps "*" as AEP's does, and evaluates every definition the sandbox holds when it runs
    run_all = [e["segmentId"] for e in entries] == ["*"]
    segments = entries if run_all else [_segment_info(sandbox.definitions[e["segmentId"]]) for e in entries]
    body: dict[str, Any] = {
        "id": job_id,
        "imsOrgId": state.settings.org_id,
        "sandbox": {"sandboxName": sandbox.name},
        "profileInstanceId": "ups",
        "source": source,
        "status": SegmentJobStatus.NEW.value,
        "segments": segments,
        "metrics": {
            "totalTime": {"startTimeInMs": int(started * 1000)},
            "profileSegmentationTime": {},
            "segmentedProfileCounter": {},
            "segmentedProfileByNamespaceCounter": {},
            "segmentedProfileByStatusCounter": {},
        },
        "errors": [],
        "schema": {"name": "_xdm.context.profile"},
        "properties": properties or {},
        "requestId": state.new_id(),
        "_links": {
            "cancel": {"href": f"/segment/jobs/{job_id}", "method": "DELETE"},
            "checkStatus": {"href": f"/segment/jobs/{job_id}", "method": "GET"},
        },
        "creationTime": int(started * 1000),
        "updateTime": int(started * 1000),
        "updateEpoch": int(started),
    }
    final = SegmentJobStatus.FAILED if state.settings.fail_segment_jobs else SegmentJobStatus.SUCCEEDED
    job = Job(body, started, SEGMENT_JOB_STEPS, final)
    sandbox.segment_jobs[job_id] = job
    return job


def _segment_info(definition: dict[str, Any]) -> dict[str, Any]:
    """A job's ``segments[]`` entry: the definition's expression and merge policy, as id and as the
    ``mergePolicy`` object (``{id, version}``) that the spec's ``SegmentInfo`` requires."""
    merge_policy_id = definition.get("mergePolicyId") or DEFAULT_MERGE_POLICY_ID
    return {
        "segmentId": definition["id"],
        "segment": {
            "id": definition["id"],
            "expression": definition["expression"],
            "mergePolicyId": merge_policy_id,
            "mergePolicy": {"id": merge_policy_id, "version": 1},
        },
    }
