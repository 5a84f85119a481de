"""Read what a sandbox holds, in as few requests as AEP allows: list pages, then bulk-gets if needed.

One listing (``GET /segment/definitions``, ``limit`` per page) returns every definition with its
expression, so planning N audiences costs ``ceil(definitions in the sandbox / limit)`` requests, not N
GETs. Should a listed item come without its expression, the definitions that matter (managed ones and
those named like a file's audience) are fetched with ``bulk-get``, ``BULK_GET_SIZE`` ids per call.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from airflow_provider_segmentation.client import (
    Operation,
    Page,
    SegmentationAPI,
    SegmentationClient,
    validate_sandbox,
)
from airflow_provider_segmentation.models import SegmentDefinition

PAGE_SIZE = 100  # AEP's documented page size; larger pages are not documented
BULK_GET_SIZE = 100


@dataclass
class Reads:
    """The requests one read of a sandbox cost."""

    list_pages: int = 0
    bulk_gets: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"list_pages": self.list_pages, "bulk_gets": self.bulk_gets}


@dataclass
class Snapshot:
    """Every definition of a sandbox at one moment, by id and by name."""

    sandbox: str
    by_id: dict[str, SegmentDefinition] = field(default_factory=dict)
    by_name: dict[str, list[SegmentDefinition]] = field(default_factory=dict)
    reads: Reads = field(default_factory=Reads)

    def add(self, definition: SegmentDefinition) -> None:
        if not definition.id or definition.id in self.by_id:
            return  # a page that shifted under a concurrent delete repeats an item: keep the first
        self.by_id[definition.id] = definition
        self.by_name.setdefault(definition.name, []).append(definition)

    def named(self, name: str) -> list[SegmentDefinition]:
        return self.by_name.get(name, [])


def client_for(client: SegmentationClient, sandbox: str) -> SegmentationClient:
    """A client on ``sandbox`` with the same credential (the token cache is shared: no new IMS call)."""
    validate_sandbox(sandbox)
    if client.config.sandbox == sandbox:
        return client
    return SegmentationClient(replace(client.config, sandbox=sandbox))


def read_sandbox(
    client: SegmentationClient, *, wanted_names: Iterable[str] = (), page_size: int = PAGE_SIZE
) -> Snapshot:
    """List every definition; bulk-get those whose listed item lacks the expression and that matter."""
    snapshot = Snapshot(client.config.sandbox)
    operation: Operation[Page[SegmentDefinition]] | None = SegmentationAPI.list_segment_definitions.build(
        limit=page_size
    )
    while operation is not None:
        page = client.execute(operation)
        snapshot.reads.list_pages += 1
        for definition in page.items:
            snapshot.add(definition)
        operation = page.next
    names = set(wanted_names)
    incomplete = [
        definition.id
        for definition in snapshot.by_id.values()
        if definition.id
        and (definition.expression is None or not definition.expression.value)
        and (definition.name in names or "aep-audiences" in (definition.description or ""))
    ]
    for start in range(0, len(incomplete), BULK_GET_SIZE):
        chunk = incomplete[start : start + BULK_GET_SIZE]
        found = client.bulk_get_segment_definitions(chunk)
        snapshot.reads.bulk_gets += 1
        for ident, definition in found.items():
            if ident in snapshot.by_id:
                old = snapshot.by_id[ident]
                snapshot.by_id[ident] = definition
                same = snapshot.by_name.get(old.name, [])
                snapshot.by_name[old.name] = [definition if d.id == ident else d for d in same]
    return snapshot
