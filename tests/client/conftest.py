from __future__ import annotations

import random

import pytest

from airflow_provider_segmentation.client import ClientConfig, SegmentationClient
from airflow_provider_segmentation.emulator.server import EmulatorServer


class SleepRecorder:
    """An injectable sleep: records the delays the client asked for instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def make_config(emulator: EmulatorServer, **overrides: object) -> ClientConfig:
    settings = emulator.settings
    values: dict[str, object] = {
        "client_id": settings.client_id,
        "client_secret": settings.client_secret,
        "org_id": settings.org_id,
        "sandbox": "prod",
        "ims_host": emulator.url,
        "platform_host": emulator.url,
    }
    values.update(overrides)
    return ClientConfig(**values)


@pytest.fixture
def config(emulator: EmulatorServer) -> ClientConfig:
    return make_config(emulator)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def client(config: ClientConfig, emulator_admin: object, sleeps: SleepRecorder) -> SegmentationClient:
    return SegmentationClient(config, sleep=sleeps, rng=random.Random(1))
