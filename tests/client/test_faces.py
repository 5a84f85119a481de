"""Each operation is declared once (``client/api``) and has a sync and an async face that cannot drift."""

from __future__ import annotations

import inspect

import pytest

from airflow_provider_segmentation.client import AsyncSegmentationClient, ClientConfig, SegmentationClient
from airflow_provider_segmentation.client.client import SegmentationAPI
from airflow_provider_segmentation.client.operations import Call, Pages

FACES = {
    name: face
    for cls in SegmentationAPI.__mro__
    for name, face in vars(cls).items()
    if isinstance(face, Call | Pages)
}
CONFIG = ClientConfig(client_id="id", client_secret="secret", org_id="ORG@AdobeOrg", sandbox="prod")


def sample_arguments(face: Call | Pages) -> dict[str, object]:
    """Arguments with which the face's builder makes its operation (no I/O happens in a builder)."""
    parameters = inspect.signature(face.build).parameters
    sample: dict[str, object] = {
        name: "x" if p.annotation in ("str", "str | int") else ["x"]
        for name, p in parameters.items()
        if p.default is inspect.Parameter.empty
    }
    name = face.build.__name__
    if name == "create_schedule":
        sample["cron"] = "0 0 1 * * ?"
    if name in ("create_segment_definition", "update_segment_definition"):
        sample["definition"] = {"name": "n", "expression": {"value": "a = 1"}}
    if name == "create_export_job":
        sample["request"] = {"destination": {"datasetId": "d"}}
    if name in ("create_audience", "replace_audience"):
        sample["audience"] = {"name": "n"}
    if name == "patch_audience":
        sample["operations"] = [{"op": "add", "path": "/name", "value": "n"}]
    if name == "search_taxonomy":
        sample.update(namespace="AAM", entity_id="e")
    if name == "search_entities":
        sample["namespace"] = "AAM"
    if name == "update_schedule":
        sample = {"schedule_id": "x", "state": "active"}
    return sample


def test_every_operation_of_the_spec_is_declared_once() -> None:
    names = {face.build.__name__ for face in FACES.values()}
    assert len(names) == len(FACES) == 36  # 35 operations, and retrievePreview's pages as a listing too
    operation_ids = {face.build(**sample_arguments(face)).name for face in FACES.values()}
    assert len(operation_ids) == 35


@pytest.mark.parametrize("runner", [SegmentationClient, AsyncSegmentationClient])
def test_no_runner_overrides_a_face(runner: type) -> None:
    """Every operation of the client and the async client is the one declaration itself (the hook holds a
    client and declares no operation: ``tests/hooks/test_hook_holds_client.py``)."""
    overridden = [name for name, face in FACES.items() if inspect.getattr_static(runner, name) is not face]
    assert overridden == []


@pytest.mark.parametrize("name", sorted(FACES))
def test_async_faces_are_awaited_or_iterated(name: str) -> None:
    """A call of the async client is a coroutine, a listing an async iterator: nothing runs until then."""
    face = FACES[name]
    result = getattr(AsyncSegmentationClient(CONFIG), name)(**sample_arguments(face))
    if isinstance(face, Pages):
        assert inspect.isasyncgen(result)
        return
    assert inspect.iscoroutine(result)
    result.close()


@pytest.mark.parametrize("name", sorted(FACES))
def test_sync_and_async_faces_have_the_same_signature(name: str) -> None:
    sync = inspect.signature(getattr(SegmentationClient(CONFIG), name))
    asynchronous = inspect.signature(getattr(AsyncSegmentationClient(CONFIG), name))
    assert (
        sync
        == asynchronous
        == inspect.signature(FACES[name].build).replace(return_annotation=inspect.Signature.empty)
    )
