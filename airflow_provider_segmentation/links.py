"""Extra links from a task to what it created in AEP, pushed to XCom before any waiting.

Because the URL is in XCom as soon as the job exists, the link works while the task is deferred and
after it fails. Against Adobe the link opens the Experience Platform UI in the task's sandbox; against
the emulator (any other platform host) it opens the emulator's JSON for the object.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, urlsplit

from airflow.sdk import BaseOperatorLink, Context
from airflow.sdk.execution_time.xcom import XCom

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

    from airflow_provider_segmentation.client import Call, ClientConfig

AEP_UI = "https://experience.adobe.com/#/platform"
UI_PATHS = {
    "segment_job": "segment/jobs/",
    "segment_definition": "segment/edit/",
    "export_job": "segment/jobs/export/",
}


def ui_url(config: ClientConfig, kind: str, ident: str) -> str:
    """Where a person looks at this object: the AEP UI, or the emulator's own resource (its API path:
    the path of ``SegmentationAPI.get_<kind>``, imported here because only a running task makes links)."""
    from airflow_provider_segmentation.client import SegmentationAPI

    sandbox = quote(config.sandbox)
    if (urlsplit(config.platform_host).hostname or "").endswith("adobe.io"):
        return f"{AEP_UI}/{UI_PATHS[kind]}{quote(ident, safe='')}?sandboxName={sandbox}"
    read: Call[[str], Any] = getattr(SegmentationAPI, f"get_{kind}")
    return f"{config.base_url}{read.build(ident).path}?sandbox={sandbox}"


def push_link(context: Context, kind: str, url: str) -> None:
    context["ti"].xcom_push(key=AEPLink.xcom_keys[kind], value=url)


class AEPLink(BaseOperatorLink):
    """Base of the three links; each reads its URL from the XCom its operator pushed."""

    kind: ClassVar[str] = ""
    xcom_keys: ClassVar[dict[str, str]] = {kind: f"aep_{kind}_url" for kind in UI_PATHS}

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        value = XCom.get_value(key=self.xcom_keys[self.kind], ti_key=ti_key)
        return str(value) if value else ""


class AEPSegmentJobLink(AEPLink):
    name = "AEP segment job"
    kind = "segment_job"


class AEPSegmentDefinitionLink(AEPLink):
    name = "AEP segment definition"
    kind = "segment_definition"


class AEPExportJobLink(AEPLink):
    name = "AEP export job"
    kind = "export_job"
