"""Each operation is declared once (``client/api``) and has a sync and an async face that cannot drift."""

from __future__ import annotations

import inspect

import pytest

from airflow_provider_segmentation.client import AsyncSegmentationClient, ClientConfig, SegmentationClient
from airflow_provider_segmentation.client.client import SegmentationAPI
from airflow_provider_segmentation.client.operations import Call, Pages
from airflow_provider_segmentation.hooks.segmentation import SegmentationHook

FACES = {
    name: face
    for cls in SegmentationAPI.__mro__
    for name, face in vars(cls).items()
    if isinstance(face, Call | Pages)
}
CONFIG = ClientConfig(client_id="id", client_secret="secret", org_id="ORG@AdobeOrg", sandbox="prod")


def test_every_operation_of_the_spec_is_declared_once() -> None:
    names = {face.build.__name__ for face in FACES.values()}
    assert len(names) == len(FACES) == 36  # 35 operations, and retrievePreview's pages as a listing too
    operation_ids = set()
    for face in FACES.values():
        parameters = inspect.signature(face.build).parameters
        sample = {
            name: "x" if p.annotation in ("str", "str | int") else ["x"]
            for name, p in parameters.items()
            if p.default is inspect.Parameter.empty
        }
        if face.build.__name__ == "create_schedule":
            sample["cron"] = "0 0 1 * * ?"
        if face.build.__name__ in ("create_segment_definition", "update_segment_definition"):
            sample["definition"] = {"name": "n", "expression": {"value": "a = 1"}}
        if face.build.__name__ == "create_export_job":
            sample["request"] = {"destination": {"datasetId": "d"}}
        if face.build.__name__ in ("create_audience", "replace_audience"):
            sample["audience"] = {"name": "n"}
        if face.build.__name__ == "patch_audience":
            sample["operations"] = [{"op": "add", "path": "/name", "value": "n"}]
        if face.build.__name__ == "search_taxonomy":
            sample.update(namespace="AAM", entity_id="e")
        if face.build.__name__ == "search_entities":
            sample["namespace"] = "AAM"
        if face.build.__name__ == "update_schedule":
            sample = {"schedule_id": "x", "state": "active"}
        operation_ids.add(face.build(**sample).name)
    assert len(operation_ids) == 35


@pytest.mark.parametrize("name", sorted(FACES))
def test_sync_and_async_faces_have_the_same_signature(name: str) -> None:
    sync = inspect.signature(getattr(SegmentationClient(CONFIG), name))
    asynchronous = inspect.signature(getattr(AsyncSegmentationClient(CONFIG), name))
    hook = inspect.signature(getattr(SegmentationHook(), name))
    assert (
        sync
        == asynchronous
        == hook
        == inspect.signature(FACES[name].build).replace(return_annotation=inspect.Signature.empty)
    )
