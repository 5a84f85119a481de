"""What the tests need that differs between Airflow 3.0 and 3.3, written once.

The package's own shims are in ``airflow_provider_segmentation.compat``; ``BaseHook`` and the version
flags are re-exported from there.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import logging
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_segmentation.compat import (
    AIRFLOW_V_3_1_PLUS,
    AIRFLOW_V_3_2_PLUS,
    AIRFLOW_V_3_3_PLUS,
    BaseHook,
)

__all__ = [
    "AIRFLOW_V_3_1_PLUS",
    "AIRFLOW_V_3_2_PLUS",
    "AIRFLOW_V_3_3_PLUS",
    "BaseHook",
    "SecretsMasker",
    "SharedStreamManager",
    "TaskDeferred",
    "dag_bag",
    "get_connection_off_the_loop",
    "requires_asset_state_store",
    "requires_connection_forms",
    "requires_shared_streams",
    "requires_user_info_in_asset_uris",
    "runtime_providers_manager",
    "serialize_dag",
    "trigger_log_messages",
    "without_in_process_comms_debug",
]

# TaskDeferred: airflow.sdk.exceptions since 3.2; airflow.exceptions before (still an alias there).
if TYPE_CHECKING or AIRFLOW_V_3_2_PLUS:
    from airflow.sdk.exceptions import TaskDeferred
else:
    from airflow.exceptions import TaskDeferred

# SecretsMasker: airflow.sdk._shared.secrets_masker since 3.1; airflow.sdk.execution_time in 3.0.
if TYPE_CHECKING or AIRFLOW_V_3_1_PLUS:
    from airflow.sdk._shared.secrets_masker.secrets_masker import SecretsMasker
else:
    from airflow.sdk.execution_time.secrets_masker import SecretsMasker

# DagBag: airflow.dag_processing.dagbag in newer releases (3.3 keeps a deprecated alias in
# airflow.models.dagbag); airflow.models.dagbag in 3.0.
try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:
    from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

# Shared trigger streams (BaseEventTrigger.shared_stream_key and the triggerer's manager): 3.3.
if TYPE_CHECKING or AIRFLOW_V_3_3_PLUS:
    from airflow.triggers.shared_stream import SharedStreamManager
else:
    SharedStreamManager = None

requires_shared_streams = pytest.mark.skipif(
    not AIRFLOW_V_3_3_PLUS, reason="shared trigger streams came in Airflow 3.3"
)

# The asset state store (AssetStateStoreAccessors, injected into event triggers): 3.3.
requires_asset_state_store = pytest.mark.skipif(
    not AIRFLOW_V_3_3_PLUS, reason="the asset state store came in Airflow 3.3"
)

# Airflow 3.0 drops an asset URI's user info (with a UserWarning) before the scheme's handler sees it;
# 3.1+ hands it to the handler (and drops it, warning, only with a password).
requires_user_info_in_asset_uris = pytest.mark.skipif(
    not AIRFLOW_V_3_1_PLUS, reason="Airflow 3.0 drops an asset URI's user info before the scheme's handler"
)

# Connection forms: Airflow 3.2+ builds them from provider info ("conn-fields", "ui-field-behaviour");
# 3.0/3.1 from the hook's wtforms widgets, and only where flask-appbuilder is installed (the FAB provider).
requires_connection_forms = pytest.mark.skipif(
    not AIRFLOW_V_3_2_PLUS and importlib.util.find_spec("flask_appbuilder") is None,
    reason="Airflow 3.0/3.1 build connection forms only where flask-appbuilder is installed",
)


def trigger_log_messages(logger: str, stdout: str, records: list[logging.LogRecord]) -> list[str]:
    """The messages logged by ``logger`` (a trigger's ``self.log``), oldest first.

    Airflow 3.1+ logs triggers with structlog, which writes ``<time> [info     ] <message> [<logger>]
    ...`` lines to stdout (pass ``capsys.readouterr().out``); 3.0 with stdlib logging (``caplog.records``).
    """
    if AIRFLOW_V_3_1_PLUS:
        tag = f" [{logger}]"
        return [line.split("] ", 1)[1].split(tag, 1)[0] for line in stdout.splitlines() if tag in line]
    return [record.getMessage() for record in records if record.name == logger]


def get_connection_off_the_loop(message: str) -> Any:
    """A stand-in for ``BaseHook.get_connection`` that fails when called on an event loop's thread.

    That is the blocking read a trigger must never make. From any other thread it reads the connection
    as Airflow does: before Airflow 3.3.2 the provider's async path calls ``get_connection`` in asgiref's
    worker thread (``compat.aget_connection``), from 3.3.2 on it never calls it.
    """
    original = inspect.getattr_static(BaseHook, "get_connection").__func__

    def get_connection(cls: type[Any], conn_id: str, *args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return original(cls, conn_id, *args, **kwargs)
        raise AssertionError(message)

    return classmethod(get_connection)


def runtime_providers_manager() -> Any:
    """What resolves provider features (asset URI handlers...) where tasks run: the Task SDK's
    ``ProvidersManagerTaskRuntime`` since Airflow 3.2, airflow-core's ``ProvidersManager`` before."""
    if AIRFLOW_V_3_2_PLUS:
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

        return ProvidersManagerTaskRuntime()
    from airflow.providers_manager import ProvidersManager

    return ProvidersManager()


def serialize_dag(dag: Any) -> dict[str, Any]:
    """A DAG as the DAG processor stores it: ``DagSerialization`` since Airflow 3.2, ``SerializedDAG``
    before."""
    from airflow.serialization import serialized_objects

    name = "DagSerialization" if AIRFLOW_V_3_2_PLUS else "SerializedDAG"
    serializer: Any = getattr(serialized_objects, name)
    return dict(serializer.to_dict(dag))


def without_in_process_comms_debug(output: str) -> str:
    """``airflow dags test`` output without the debug lines Airflow 3.0.x itself adds there.

    Airflow 3.0 logs every message from the task at debug, body included (``Sending request msg=...``
    from the in-process test comms, ``Received message from task runner msg=...`` from the supervisor):
    XCom values, and each secret handed to the masker. ``dags test`` shows debug lines (a deployment
    logs at INFO by default) and Airflow 3.1 stopped logging the bodies, so the provider's own hygiene
    is judged on the rest.
    """
    if AIRFLOW_V_3_1_PLUS:
        return output
    airflow_own = ("Sending request", "Received message from task runner")
    return "\n".join(line for line in output.splitlines() if not any(tag in line for tag in airflow_own))


def dag_bag(folder: str) -> Any:
    """The DAGs of ``folder`` only: Airflow 3.0's ``DagBag`` adds its own example DAGs unless told not to
    (``include_examples``, a parameter later releases dropped)."""
    takes = inspect.signature(DagBag.__init__).parameters
    return DagBag(folder, **({"include_examples": False} if "include_examples" in takes else {}))
