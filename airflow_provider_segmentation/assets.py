"""Airflow Assets for AEP objects: the ``aep://`` URI scheme this provider registers, and helpers.

An AEP object is named ``aep://<sandbox>/<kind>/<id>``, for instance ``aep://prod/datasets/65a1...``:

==============  ==========================================================================
``datasets``    a Catalog dataset (what an export writes; ``aep_dataset_asset``)
``schedules``   a batch segmentation schedule's runs (``aep_schedule_asset``, always watched)
``segments``    a segment definition (lineage: what a segment job reads)
``audiences``   the members of a segment definition (lineage: what a segment job writes)
==============  ==========================================================================

The sandbox is in the URI because every AEP call is scoped to one and the same DAG runs against
``dev`` or ``prod``. The IMS org is not: a DAG author names the asset when the DAG is parsed, where the
org (a field of the connection) is not known and should not be looked up, and Catalog dataset ids,
schedule ids and segment ids are generated ids that are unique across orgs. OpenLineage names follow the
same rule (namespace ``aep://<sandbox>``, name ``<kind>/<id>``), so that an export's lineage output and
the asset a consumer DAG schedules on are one and the same dataset.

``sanitize_uri`` (the scheme's handler in provider info) validates and normalises every ``aep://``
URI Airflow sees: the sandbox lowercased (URI hosts are case-insensitive; AEP sandbox names are lower
case), no user, password, port, query or fragment, a known kind and one id. This module imports nothing
heavy: Airflow's provider discovery loads it wherever an ``aep://`` asset is built.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, quote, unquote, urlsplit

from airflow.sdk import Asset, AssetAlias, AssetWatcher

from airflow_provider_segmentation.client import validate_sandbox
from airflow_provider_segmentation.compat import alias_event_extra

if TYPE_CHECKING:
    from airflow.providers.common.compat.openlineage.facet import Dataset as OpenLineageDataset

SCHEME = "aep"
KINDS = ("datasets", "schedules", "segments", "audiences")
# Outlet of exports whose dataset or sandbox is only known at run time (a template, the connection's
# sandbox): the event is emitted through this alias for the concrete dataset asset.
EXPORT_ALIAS = "aep-dataset-exports"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class AEPObject:
    """What an ``aep://`` URI names."""

    sandbox: str
    kind: str
    ident: str

    @property
    def uri(self) -> str:
        return f"{SCHEME}://{self.sandbox}/{self.kind}/{quote(self.ident, safe='')}"


def aep_uri(sandbox: str, kind: str, ident: str) -> str:
    """The canonical URI of an AEP object; a bad sandbox, kind or id raises ``ValueError``."""
    return AEPObject(_sandbox(sandbox), _kind(kind), _ident(ident, kind)).uri


def parse_aep_uri(uri: str) -> AEPObject:
    """Read an ``aep://`` URI (as a user wrote it or Airflow stored it); ``ValueError`` says what is wrong."""
    parts = urlsplit(uri)
    if parts.scheme.lower() != SCHEME:
        raise ValueError(f"{uri!r} is not an {SCHEME}:// URI")
    return _parse(sanitize_uri(parts._replace(scheme=SCHEME, path=parts.path.rstrip("/"), fragment="")))


def sanitize_uri(uri: SplitResult) -> SplitResult:
    """Airflow's URI handler for ``aep``: ``aep://<sandbox>/<kind>/<id>`` or a ``ValueError``.

    Airflow has already lowercased the scheme, dropped the fragment, sorted the query and stripped
    trailing slashes; this lowercases the sandbox and refuses anything that is not one AEP object.
    """
    form = f"{SCHEME}://<sandbox>/<{'|'.join(KINDS)}>/<id>"
    if uri.username is not None or uri.password is not None or "@" in uri.netloc:
        raise ValueError(f"an {SCHEME}:// URI holds no user or password; expected {form}")
    if ":" in uri.netloc:
        raise ValueError(f"an {SCHEME}:// URI has no port; expected {form}")
    if uri.query:
        raise ValueError(f"an {SCHEME}:// URI has no query ({uri.query!r}); expected {form}")
    if not uri.netloc:
        raise ValueError(f"the {SCHEME}:// URI names no sandbox; expected {form}")
    sandbox = _sandbox(uri.netloc.lower())
    steps = uri.path.split("/")
    if len(steps) != 3 or steps[0] != "":
        raise ValueError(f"{uri.path!r} is not /<kind>/<id>; expected {form}")
    kind = _kind(steps[1])
    ident = _ident(unquote(steps[2]), kind)
    return uri._replace(netloc=sandbox, path=f"/{kind}/{quote(ident, safe='')}")


def _parse(uri: SplitResult) -> AEPObject:
    _, kind, ident = uri.path.split("/")
    return AEPObject(uri.netloc, kind, unquote(ident))


def _sandbox(sandbox: Any) -> str:
    try:
        return validate_sandbox(sandbox, field_name="the sandbox of an aep:// URI")
    except ValueError as exc:
        raise ValueError(str(getattr(exc, "message", exc))) from None


def _kind(kind: str) -> str:
    if kind not in KINDS:
        hint = f" (did you mean {kind + 's'!r}?)" if kind + "s" in KINDS else ""
        raise ValueError(f"{kind!r} is not a kind of AEP object{hint}: use one of {', '.join(KINDS)}")
    return kind


def _ident(ident: Any, kind: str) -> str:
    text = str(ident) if isinstance(ident, str | int) and not isinstance(ident, bool) else ""
    if not text.strip() or text != text.strip() or _CONTROL.search(text) or text in (".", ".."):
        raise ValueError(f"{ident!r} is not the id of one of the {kind}: pass the id AEP returned")
    if "/" in text:
        raise ValueError(f"{ident!r} holds '/', which no AEP id does: pass one id, not a path")
    return text


# -- the assets a DAG author writes ---------------------------------------------------------------------


def aep_dataset_asset(
    sandbox: str,
    dataset_id: str,
    *,
    watch_exports: bool = False,
    segment_ids: Sequence[str] | None = None,
    aep_conn_id: str = "aep_default",
    poll_interval: float = 60.0,
    statuses: Sequence[str] = ("SUCCEEDED",),
) -> Asset:
    """The Asset of an AEP dataset: ``AEPExportAudienceOperator`` emits an event on it for each export.

    Schedule a DAG on it to run when members of audiences landed in the dataset
    (``schedule=[aep_dataset_asset("prod", dataset_id)]``). With ``watch_exports=True`` an
    ``AEPJobFinishedTrigger`` also reports exports into the dataset that Airflow did not run (the AEP UI,
    another tool), optionally only those of ``segment_ids``. Do not watch a dataset that an
    ``AEPExportAudienceOperator`` also writes: such an export would then be reported twice, once by the
    task and once by the watcher.
    """
    uri = aep_uri(sandbox, "datasets", dataset_id)
    if not watch_exports:
        return Asset(name=uri, uri=uri)
    from airflow_provider_segmentation.triggers.events import AEPJobFinishedTrigger

    trigger = AEPJobFinishedTrigger(
        kind="export_job",
        sandbox=sandbox,
        dataset_id=dataset_id,
        segment_ids=list(segment_ids) if segment_ids else None,
        aep_conn_id=aep_conn_id,
        poll_interval=poll_interval,
        statuses=list(statuses),
    )
    return Asset(
        name=uri,
        uri=uri,
        watchers=[AssetWatcher(name=f"aep-exports-{sandbox}-{dataset_id}", trigger=trigger)],
    )


def aep_schedule_asset(
    sandbox: str,
    schedule_id: str | None = None,
    *,
    schedule_name: str | None = None,
    aep_conn_id: str = "aep_default",
    poll_interval: float = 60.0,
    statuses: Sequence[str] = ("SUCCEEDED",),
) -> Asset:
    """The runs of an AEP evaluation schedule, watched: a DAG scheduled on it runs once per finished run.

    Name the schedule by ``schedule_id``, or by ``schedule_name`` (the name ``AEPUpsertScheduleOperator``
    keeps as code; looked up at each poll, so a schedule created later is found). ``statuses``: which
    endings to report (``SUCCEEDED`` by default; add ``FAILED``/``CANCELLED`` to hear about those too).
    The event's ``payload`` (in the asset event's extra) carries the job id, status and audiences.
    """
    if (schedule_id is None) == (schedule_name is None):
        raise ValueError("pass exactly one of schedule_id and schedule_name")
    from airflow_provider_segmentation.triggers.events import AEPJobFinishedTrigger

    trigger = AEPJobFinishedTrigger(
        kind="scheduled_segment_job",
        sandbox=sandbox,
        schedule_id=schedule_id,
        schedule_name=schedule_name,
        aep_conn_id=aep_conn_id,
        poll_interval=poll_interval,
        statuses=list(statuses),
    )
    key = schedule_id if schedule_id is not None else str(schedule_name)
    uri = aep_uri(sandbox, "schedules", key)
    return Asset(
        name=uri, uri=uri, watchers=[AssetWatcher(name=f"aep-schedule-runs-{sandbox}-{key}", trigger=trigger)]
    )


def export_outlet(sandbox: Any, dataset_id: Any) -> Asset | AssetAlias:
    """What an export task declares: its dataset's Asset when sandbox and dataset are known when the DAG
    is parsed, else the ``EXPORT_ALIAS`` alias (a template, or the connection's sandbox)."""
    if _literal(sandbox) and _literal(dataset_id):
        return aep_dataset_asset(sandbox, dataset_id)
    return AssetAlias(name=EXPORT_ALIAS)


def _literal(value: Any) -> bool:
    return isinstance(value, str) and "{{" not in value and not hasattr(value, "resolve")


def emit_export_event(
    context: Mapping[str, Any], outlets: Sequence[Any], sandbox: str, dataset_id: str, extra: dict[str, Any]
) -> Asset | None:
    """Attach ``extra`` to the event of the dataset's Asset, through whichever outlet the task declared.

    Returns the asset the event is for, or None when the task declared neither (or runs outside Airflow).
    """
    events = context.get("outlet_events")
    if events is None:
        return None
    asset = aep_dataset_asset(sandbox, dataset_id)
    for outlet in outlets:
        if isinstance(outlet, Asset) and outlet.uri == asset.uri:
            events[outlet].extra.update(extra)
            return asset
    for outlet in outlets:
        if isinstance(outlet, AssetAlias) and outlet.name == EXPORT_ALIAS:
            events[outlet].add(asset, extra=alias_event_extra(extra))
            return asset
    return None


def emit_size_events(
    context: Mapping[str, Any], outlets: Sequence[Any], sandbox: str, job_id: str, sizes: Mapping[str, int]
) -> list[Asset]:
    """Attach audience sizes (``segment_sizes: {segment_id: total}``) to the events of the task's
    declared Asset outlets, so a downstream DAG reads them without calling AEP: an
    ``aep://<sandbox>/audiences/<id>`` outlet gets its own audience's size, any other Asset all of them.

    Returns the assets that got sizes (none outside Airflow, or when the task declared no Asset).
    """
    events = context.get("outlet_events")
    if events is None or not sizes:
        return []
    emitted = []
    for outlet in outlets:
        if not isinstance(outlet, Asset):
            continue
        chosen = _sizes_for(outlet.uri, sandbox, sizes)
        if not chosen:
            continue
        events[outlet].extra.update({"job_id": job_id, "sandbox": sandbox, "segment_sizes": chosen})
        emitted.append(outlet)
    return emitted


def _sizes_for(uri: str, sandbox: str, sizes: Mapping[str, int]) -> dict[str, int]:
    """The sizes an outlet carries: an audience asset its own (none for another sandbox's), else all."""
    try:
        obj = parse_aep_uri(uri)
    except ValueError:
        return dict(sizes)
    if obj.kind != "audiences":
        return dict(sizes)
    return {obj.ident: sizes[obj.ident]} if obj.sandbox == sandbox and obj.ident in sizes else {}


# -- provider info: factory and OpenLineage converter ----------------------------------------------------


def create_asset(
    *,
    sandbox: str,
    dataset_id: str | None = None,
    schedule_id: str | None = None,
    segment_id: str | None = None,
    audience_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Asset:
    """Airflow's asset factory for ``aep``: the Asset of exactly one AEP object."""
    given = {
        kind: ident
        for kind, ident in (
            ("datasets", dataset_id),
            ("schedules", schedule_id),
            ("segments", segment_id),
            ("audiences", audience_id),
        )
        if ident is not None
    }
    if len(given) != 1:
        raise ValueError("pass exactly one of dataset_id, schedule_id, segment_id and audience_id")
    [(kind, ident)] = given.items()
    uri = aep_uri(sandbox, kind, ident)
    return Asset(name=uri, uri=uri, extra=extra)


def openlineage_namespace(sandbox: str) -> str:
    """The OpenLineage namespace of a sandbox's objects."""
    return f"{SCHEME}://{sandbox}"


def convert_asset_to_openlineage(asset: Asset, lineage_context: Any) -> OpenLineageDataset:
    """Airflow's OpenLineage converter for ``aep``: namespace ``aep://<sandbox>``, name ``<kind>/<id>``."""
    from airflow.providers.common.compat.openlineage.facet import Dataset as OpenLineageDataset

    obj = parse_aep_uri(asset.uri)
    return OpenLineageDataset(namespace=openlineage_namespace(obj.sandbox), name=f"{obj.kind}/{obj.ident}")
