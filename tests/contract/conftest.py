"""One capture for the contract tests: the scenario runs once per session with ``capture_bodies`` on."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from airflow_provider_segmentation.client import ClientConfig, SegmentationClient
from airflow_provider_segmentation.client.auth import PROCESS_TOKEN_CACHE
from airflow_provider_segmentation.emulator.server import EmulatorServer
from tests.conftest import TEST_SETTINGS, EmulatorAdmin, mint_token
from tests.contract import scenario
from tests.contract.spec import MISSING_SPEC, Exchange


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Without the spec each contract module is one easily missed ``s``: say so in the run's last lines."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if MISSING_SPEC in str(r.longrepr)]
    if skipped:
        title = f"contract tests SKIPPED ({len(skipped)} modules)"
        terminalreporter.write_sep("!", title, yellow=True, bold=True)
        terminalreporter.write_line(MISSING_SPEC, yellow=True, bold=True)


def platform_headers(emulator: EmulatorServer) -> dict[str, str]:
    settings = emulator.settings
    token = mint_token(emulator.url, settings.client_id, settings.client_secret, scope="openid,AdobeID")
    return {
        "Authorization": f"Bearer {token}",
        "x-api-key": settings.client_id,
        "x-gw-ims-org-id": settings.org_id,
        "x-sandbox-name": "prod",
    }


@pytest.fixture(scope="session")
def captured(emulator: EmulatorServer) -> Iterator[list[Exchange]]:
    """Every platform exchange of the contract scenario, as the emulator received and answered it."""
    admin = EmulatorAdmin(emulator.url)
    admin.reset()
    # Tokens live on the emulator's clock too: one that outlives the scenario's clock steps (days).
    admin.configure(
        **{
            **TEST_SETTINGS,
            "job_step_seconds": 1,
            "token_lifetime_seconds": 400 * 86400,
            "capture_bodies": True,
        }
    )
    PROCESS_TOKEN_CACHE.clear()
    try:
        admin.advance_clock(0, frozen=True)
        settings = emulator.settings
        config = ClientConfig(
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            org_id=settings.org_id,
            sandbox="prod",
            ims_host=emulator.url,
            platform_host=emulator.url,
        )
        client = SegmentationClient(config, sleep=lambda _s: None, rng=random.Random(1))
        try:
            ids = scenario.drive_client(client, admin)
            scenario.drive_errors(client, admin, emulator.url, platform_headers(emulator), ids)
        finally:
            client.close()
        entries = [e for e in admin.requests() if e["path"].startswith(scenario.BASE)]
    finally:
        # Restored before the tests read the capture: the session emulator serves other modules next.
        admin.configure(capture_bodies=False)
        admin.reset()
    yield [Exchange.from_log(entry) for entry in entries]
