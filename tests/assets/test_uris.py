"""The ``aep://`` scheme as Airflow applies it: the registered handler, factory and OpenLineage converter."""

from __future__ import annotations

import pytest
from airflow.sdk import Asset, AssetAlias

from airflow_provider_segmentation.assets import (
    EXPORT_ALIAS,
    aep_dataset_asset,
    aep_schedule_asset,
    aep_uri,
    convert_asset_to_openlineage,
    create_asset,
    export_outlet,
    parse_aep_uri,
)
from airflow_provider_segmentation.triggers.events import AEPJobFinishedTrigger
from tests.compat import requires_user_info_in_asset_uris, runtime_providers_manager

DATASET = "65a1b2c3d4e5f60718293a4b"


def test_airflow_finds_the_scheme_handler_factory_and_converter() -> None:
    import airflow_provider_segmentation.assets as assets

    manager = runtime_providers_manager()
    assert manager.asset_uri_handlers["aep"] is assets.sanitize_uri
    assert manager.asset_factories["aep"] is assets.create_asset
    assert manager.asset_to_openlineage_converters["aep"] is assets.convert_asset_to_openlineage


@pytest.mark.parametrize(
    ("written", "normalized"),
    [
        (f"aep://prod/datasets/{DATASET}", f"aep://prod/datasets/{DATASET}"),
        (f"AEP://Prod/datasets/{DATASET}/", f"aep://prod/datasets/{DATASET}"),  # scheme, host case; slash
        (f"aep://dev-eu/datasets/{DATASET}#latest", f"aep://dev-eu/datasets/{DATASET}"),  # fragment
        ("aep://prod/schedules/nightly audiences", "aep://prod/schedules/nightly%20audiences"),
        ("aep://prod/segments/0f6c%2Dx", "aep://prod/segments/0f6c-x"),  # one spelling per id
    ],
)
def test_airflow_normalizes_aep_uris(written: str, normalized: str) -> None:
    assert Asset(uri=written).uri == normalized


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        (f"aep://prod/dataset/{DATASET}", "did you mean 'datasets'"),
        (f"aep://prod/tables/{DATASET}", "not a kind of AEP object"),
        ("aep://prod/datasets", "is not /<kind>/<id>"),
        (f"aep://prod/datasets/{DATASET}/batches/1", "is not /<kind>/<id>"),
        ("aep://prod/datasets/a%2Fb", "holds '/'"),
        (f"aep:///datasets/{DATASET}", "names no sandbox"),
        (f"aep://my_sandbox/datasets/{DATASET}", "not a sandbox name"),
        (f"aep://prod:443/datasets/{DATASET}", "no port"),
        pytest.param(f"aep://org@prod/datasets/{DATASET}", "no user", marks=requires_user_info_in_asset_uris),
        (f"aep://prod/datasets/{DATASET}?org=x", "no query"),
        ("aep://prod/datasets/%20x", "is not the id"),
    ],
)
def test_airflow_refuses_what_is_not_one_aep_object(uri: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        Asset(uri=uri)


def test_the_helpers_build_the_canonical_asset() -> None:
    asset = aep_dataset_asset("prod", DATASET)
    assert asset.uri == asset.name == f"aep://prod/datasets/{DATASET}" and asset.watchers == []
    assert asset == Asset(name=asset.uri, uri=f"AEP://PROD/datasets/{DATASET}/")
    assert create_asset(sandbox="prod", dataset_id=DATASET) == asset
    assert create_asset(sandbox="dev", segment_id="s1").uri == "aep://dev/segments/s1"
    with pytest.raises(ValueError, match="exactly one"):
        create_asset(sandbox="prod", dataset_id=DATASET, schedule_id="s")
    with pytest.raises(ValueError, match="not a sandbox name"):
        aep_dataset_asset("Prod", DATASET)
    assert parse_aep_uri("aep://prod/schedules/nightly%20audiences").ident == "nightly audiences"
    assert aep_uri("prod", "audiences", "a b") == "aep://prod/audiences/a%20b"


def test_watched_assets_carry_the_event_trigger() -> None:
    nightly = aep_schedule_asset("prod", schedule_name="nightly audiences", poll_interval=30)
    [watcher] = nightly.watchers
    assert isinstance(watcher.trigger, AEPJobFinishedTrigger)
    assert watcher.trigger.serialize()[1]["schedule_name"] == "nightly audiences"
    exports = aep_dataset_asset("prod", DATASET, watch_exports=True, segment_ids=["s1"])
    [watcher] = exports.watchers
    assert watcher.trigger.serialize()[1] | {"poll_interval": 0} == {
        "kind": "export_job",
        "sandbox": "prod",
        "schedule_id": None,
        "schedule_name": None,
        "dataset_id": DATASET,
        "segment_ids": ["s1"],
        "statuses": ["SUCCEEDED"],
        "aep_conn_id": "aep_default",
        "poll_interval": 0,
        "max_jobs_per_poll": 500,
    }
    assert exports.uri == aep_dataset_asset("prod", DATASET).uri  # one asset, with or without a watcher
    with pytest.raises(ValueError, match="exactly one"):
        aep_schedule_asset("prod")


def test_an_export_declares_its_dataset_or_the_alias_when_it_is_known_only_at_run_time() -> None:
    assert export_outlet("prod", DATASET) == aep_dataset_asset("prod", DATASET)
    assert export_outlet(None, DATASET) == AssetAlias(name=EXPORT_ALIAS)  # the connection's sandbox
    assert export_outlet("prod", "{{ params.dataset_id }}") == AssetAlias(name=EXPORT_ALIAS)


def test_openlineage_names_are_the_asset_uri_split_in_two() -> None:
    dataset = convert_asset_to_openlineage(aep_dataset_asset("prod", DATASET), None)
    assert (dataset.namespace, dataset.name) == ("aep://prod", f"datasets/{DATASET}")
    assert f"{dataset.namespace}/{dataset.name}" == aep_dataset_asset("prod", DATASET).uri
