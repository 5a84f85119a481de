"""What the "AEP audiences" page shows for one connection and sandbox, read from AEP and Airflow.

AEP, per read (at most ``2 + ceil(definitions / 100) + ceil(max_jobs / 100)`` requests, and an IMS
token only when the connection's cached one ran out): the sandbox's definitions (list pages, the read
that audiences-as-code plans with), its latest ``max_jobs`` segment jobs of any status (SUCCEEDED ones
carry each audience's counts: ``size_history.points_from_jobs``) and its latest export jobs. Airflow's
metadata database, in two bounded queries: this package's asset events for the sandbox (audience sizes
recorded by tasks, for jobs older than the listing reaches) and the ``aep_job_id`` XComs (which task
started which job).
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlsplit

from airflow_provider_segmentation.assets import SCHEME
from airflow_provider_segmentation.audiences.planning import compare, load
from airflow_provider_segmentation.audiences.sandbox import PAGE_SIZE, read_sandbox
from airflow_provider_segmentation.models import ExportJob, SegmentJob, epoch_to_datetime
from airflow_provider_segmentation.size_history import SizePoint, points_from_jobs

MAX_DB_ROWS = 500  # asset events and XComs read per view, newest first
RECENT_JOBS = 20  # segment and export jobs listed as "latest jobs"
# A plan's actions, as the page names them: the definition matches its file, or it does not.
FOLDER_STATES = {"unchanged": "managed", "update": "drifted", "conflict": "conflict", "orphan": "orphaned"}


@dataclass(frozen=True)
class Source:
    """One connection and sandbox the page may read (``sandbox`` None: the connection's own)."""

    conn_id: str
    sandbox: str | None = None

    @property
    def key(self) -> str:
        return f"{self.conn_id}:{self.sandbox}" if self.sandbox else self.conn_id


@dataclass(frozen=True)
class Settings:
    """The ``[aep_audiences]`` section of airflow.cfg (or ``AIRFLOW__AEP_AUDIENCES__*``)."""

    sources: tuple[Source, ...] = (Source("aep_default"),)
    folder: str | None = None
    project: str = "default"
    max_jobs: int = 200
    cache_ttl: float = 300.0


def parse_sources(text: str) -> tuple[Source, ...]:
    """``"aep_default, aep_default:dev"`` -> the sources, in order, each once."""
    sources = []
    for item in (part.strip() for part in text.split(",")):
        if item:
            conn_id, _, sandbox = item.partition(":")
            sources.append(Source(conn_id.strip(), sandbox.strip() or None))
    return tuple(dict.fromkeys(sources))


def read_overview(source: Source, settings: Settings) -> dict[str, Any]:
    """Everything the page shows for ``source``, as JSON."""
    from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
    from airflow_provider_segmentation.links import ui_url

    hook = SegmentationHook(aep_conn_id=source.conn_id, sandbox=source.sandbox)
    client, config = hook.client, hook.config
    snapshot = read_sandbox(client, page_size=PAGE_SIZE)
    jobs: list[SegmentJob] = list(
        itertools.islice(client.list_segment_jobs(limit=min(settings.max_jobs, 100)), settings.max_jobs)
    )
    exports: list[ExportJob] = list(itertools.islice(client.list_export_jobs(limit=RECENT_JOBS), RECENT_JOBS))
    events, tasks = read_airflow_records(config.sandbox)
    history = merge_points(points_from_jobs(jobs), events)
    folder = folder_state(settings, snapshot) if settings.folder else None
    states = folder.pop("states") if folder else {}
    audiences = []
    for definition in sorted(snapshot.by_id.values(), key=lambda d: (d.name.lower(), d.id or "")):
        ident = str(definition.id)
        series = history.get(ident, [])
        latest = series[-1] if series else None
        audiences.append(
            {
                "id": ident,
                "name": definition.name,
                "size": latest["total"] if latest else None,
                "measured_at": latest["at"] if latest else None,
                "points": series,
                "state": states.get(ident),
                "url": ui_url(config, "segment_definition", ident),
            }
        )
    recent = [job_row("segment", j, tasks, ui_url(config, "segment_job", j.id)) for j in jobs[:RECENT_JOBS]]
    recent += [job_row("export", j, tasks, ui_url(config, "export_job", j.id)) for j in exports]
    recent.sort(key=lambda row: row["created"] or "", reverse=True)
    return {
        "connection": source.conn_id,
        "sandbox": config.sandbox,
        "audiences": audiences,
        "jobs": recent,
        "folder": folder,
    }


def merge_points(
    from_aep: Mapping[str, list[SizePoint]], events: Iterable[dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """Each audience's sizes, oldest first: AEP's, plus those the asset events recorded for jobs AEP's
    listing no longer reaches (one point per job: AEP's own when both have it)."""
    merged: dict[str, dict[str, dict[str, Any]]] = {}
    for segment_id, points in from_aep.items():
        merged[segment_id] = {p.job_id: point_row(p) for p in points}
    for event in events:
        for segment_id, total in event["sizes"].items():
            series = merged.setdefault(segment_id, {})
            if event["job_id"] not in series:
                series[event["job_id"]] = {
                    "at": event["at"],
                    "total": total,
                    "realized": None,
                    "existing": None,
                    "exited": None,
                    "job_id": event["job_id"],
                    "scheduled": False,
                    "source": "airflow",
                }
    return {k: sorted(v.values(), key=lambda p: (p["at"], p["job_id"])) for k, v in merged.items()}


def point_row(point: SizePoint) -> dict[str, Any]:
    return {
        "at": point.at.isoformat(),
        "total": point.total,
        "realized": point.realized,
        "existing": point.existing,
        "exited": point.exited,
        "job_id": point.job_id,
        "scheduled": point.scheduled,
        "source": "aep",
    }


def job_row(
    kind: str, job: SegmentJob | ExportJob, tasks: Mapping[str, dict[str, Any]], url: str
) -> dict[str, Any]:
    created = epoch_to_datetime(job.creation_time)
    return {
        "kind": kind,
        "id": job.id,
        "status": job.status.value,
        "created": created.isoformat() if created else None,
        "duration_seconds": duration_seconds(job),
        "url": url,
        "task": tasks.get(job.id),
        "audiences": len(job.segment_ids) if isinstance(job, SegmentJob) else None,
    }


def duration_seconds(job: SegmentJob | ExportJob) -> float | None:
    """AEP's own total time when it reports one, else creation to last update of a finished job."""
    metrics: Any = job.metrics
    total_time = (
        metrics.get("totalTime") if isinstance(metrics, dict) else getattr(metrics, "total_time", None)
    ) or {}
    millis = total_time.get("totalTimeInMs")
    if isinstance(millis, int | float) and not isinstance(millis, bool):
        return round(millis / 1000, 1)
    if job.status.value in ("SUCCEEDED", "FAILED", "CANCELLED") and job.creation_time and job.update_time:
        return round(max(job.update_time - job.creation_time, 0) / 1000, 1)
    return None


def folder_state(settings: Settings, snapshot: Any) -> dict[str, Any]:
    """The audiences-as-code state of the configured folder against the sandbox already read (no more
    AEP requests): per definition id managed / drifted / conflict / orphaned, and the plan's counts."""
    assert settings.folder is not None
    try:
        plan = compare(load(settings.folder), snapshot, project=settings.project, folder=settings.folder)
    except Exception as exc:  # a broken folder is shown on the page, it does not break the page
        return {"path": settings.folder, "project": settings.project, "error": str(exc), "states": {}}
    states = {c.id: FOLDER_STATES[c.action] for c in plan.changes if c.id and c.action in FOLDER_STATES}
    return {
        "path": settings.folder,
        "project": settings.project,
        "drifted": plan.drifted,
        "counts": plan.counts(),
        "to_create": [c.name for c in plan.of("create")],
        "states": states,
    }


def read_airflow_records(sandbox: str) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """This sandbox's audience sizes from asset events, and which task started each job (XCom
    ``aep_job_id``, and the events' own source task); two queries of at most ``MAX_DB_ROWS`` rows."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    prefix = f"{SCHEME}://{sandbox}/"
    with create_session() as session:
        event_rows = session.execute(
            select(
                AssetEvent.timestamp,
                AssetEvent.extra,
                AssetEvent.source_dag_id,
                AssetEvent.source_run_id,
                AssetEvent.source_task_id,
                AssetEvent.source_map_index,
            )
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri.startswith(prefix, autoescape=True))
            .order_by(AssetEvent.timestamp.desc())
            .limit(MAX_DB_ROWS)
        ).all()
        xcom_rows = session.execute(
            select(
                XComModel.dag_id, XComModel.run_id, XComModel.task_id, XComModel.map_index, XComModel.value
            )
            .where(XComModel.key == "aep_job_id")
            .order_by(XComModel.timestamp.desc())
            .limit(MAX_DB_ROWS)
        ).all()
    tasks: dict[str, dict[str, Any]] = {}
    for dag_id, run_id, task_id, map_index, value in xcom_rows:
        job_id = _xcom_text(value)
        if job_id:
            tasks.setdefault(job_id, task_link(dag_id, run_id, task_id, map_index))
    events = []
    for at, extra, dag_id, run_id, task_id, map_index in event_rows:
        extra = extra if isinstance(extra, dict) else {}
        sizes, job_id = extra.get("segment_sizes"), extra.get("job_id")
        if not isinstance(job_id, str) or not isinstance(sizes, dict):
            continue
        if dag_id and run_id and task_id:
            tasks.setdefault(job_id, task_link(dag_id, run_id, task_id, map_index))
        totals = {str(k): int(v) for k, v in sizes.items() if isinstance(v, int) and not isinstance(v, bool)}
        events.append({"at": _utc(at).isoformat(), "job_id": job_id, "sizes": totals})
    return events, tasks


def task_link(dag_id: str, run_id: str, task_id: str, map_index: int | None) -> dict[str, Any]:
    """The task instance, and its page in Airflow 3's UI (under the api-server's base path)."""
    from airflow_provider_segmentation.compat import conf

    base = urlsplit(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")
    path = (
        f"{base}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}/tasks/{quote(task_id, safe='')}"
    )
    if map_index is not None and map_index >= 0:
        path += f"/mapped/{map_index}"
    return {"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "map_index": map_index, "url": path}


def _xcom_text(value: Any) -> str | None:
    """An XCom's value as the job id it holds (stored as JSON text, or already decoded)."""
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = json.loads(value)
    return value if isinstance(value, str) and value else None


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)
