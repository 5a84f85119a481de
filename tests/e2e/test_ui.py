"""The "AEP audiences" page in headless Chromium (Debian's ``chromium``) against the real deployment.

After the example pipeline ran, the test evaluates two audiences on several emulator days (the clock
advanced a day at a time) and lets one evaluation fail, then opens the page as a person would: refused
without a login, and after it (the UI's ``_token`` cookie, set through the DevTools protocol) the
audiences with their sizes, one chart point per evaluation, the failed job shown as failed. Screenshots
(light and dark) are kept in the e2e temp folder (``<workdir>/screenshots``).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from websockets.sync.client import ClientConnection, connect

from tests.e2e.deployment import Deployment
from tests.e2e.services import free_port, wait_for

pytestmark = pytest.mark.e2e
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DAYS = 3
READY = "document.querySelector('main')?.dataset.ready === 'true' || !!document.getElementById('refused')"


class Page:
    """One Chromium tab driven over the DevTools protocol (a websocket, no driver)."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.next_id = 0

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=60))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def open(self, url: str) -> None:
        self.send("Page.navigate", url=url)
        wait_for(f"{url} to be drawn", lambda: self.evaluate(READY), 60, 0.2)

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        path.write_bytes(base64.b64decode(data))
        return path


@pytest.fixture
def browser(deployment: Deployment) -> Iterator[Page]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)")
    port = free_port()
    profile = tempfile.mkdtemp(prefix="chromium-", dir=deployment.workdir)
    log = (deployment.logs / "chromium.log").open("ab")
    process = subprocess.Popen(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-allow-origins=*",
            f"--remote-debugging-port={port}",
            "--remote-debugging-address=127.0.0.1",
            f"--user-data-dir={profile}",
            "--window-size=1280,1000",
            "about:blank",
        ],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        targets = wait_for(
            "chromium's DevTools", lambda: requests.get(f"{base}/json/list", timeout=5).json(), 60
        )
        ws_url = next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"]
        with connect(ws_url, max_size=64 * 1024 * 1024) as ws:
            page = Page(ws)
            page.send("Page.enable")
            page.send("Network.enable")
            yield page
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def evaluations_on_several_days(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[str], str]:
    """Two audiences evaluated once a day for ``DAYS`` emulator days, then one evaluation that fails."""
    emulator = deployment.emulator
    assert emulator is not None
    monkeypatch.setenv("AIRFLOW_CONN_AEP_DEFAULT", emulator.exported["AIRFLOW_CONN_AEP_DEFAULT"])
    from airflow_provider_segmentation.hooks.segmentation import SegmentationHook

    hook = SegmentationHook()
    ids = [
        hook.client.create_segment_definition(
            {"name": f"e2e ui {tier}", "expression": {"value": f'loyalty.tier = "{tier}"'}}
        ).id
        for tier in ("gold", "platinum")
    ]
    for _ in range(DAYS):
        emulator._call("POST", "/clock", json={"advance_seconds": 86400})
        job = hook.client.create_segment_job(ids)
        hook.wait_for_segment_job(job.id, poll_interval=0.5, timeout=120)
    emulator._call("POST", "/clock", json={"advance_seconds": 86400})
    emulator.configure(fail_segment_jobs=True)
    try:
        failed = hook.client.create_segment_job(ids[:1])
        wait_for(
            "the failing job", lambda: hook.client.get_segment_job(failed.id).status.value == "FAILED", 120
        )
    finally:
        emulator.configure(fail_segment_jobs=False)
    return [str(i) for i in ids], failed.id


def test_the_audiences_page_shows_sizes_charts_and_failed_jobs(
    deployment: Deployment, example_runs: Any, browser: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids, failed_job = evaluations_on_several_days(deployment, monkeypatch)
    shots = deployment.workdir / "screenshots"
    shots.mkdir(exist_ok=True)
    url = f"{deployment.api_url}/aep-audiences/"

    browser.open(url)  # no login yet
    assert browser.evaluate("document.getElementById('refused')?.dataset.status") == "401"
    assert "Log in to Airflow" in browser.evaluate("document.body.innerText")

    token = requests.post(
        f"{deployment.api_url}/auth/token",
        json={"username": "e2e", "password": deployment.password},
        timeout=30,
    ).json()["access_token"]
    browser.send("Network.setCookie", name="_token", value=token, url=deployment.api_url, path="/")
    for scheme in ("light", "dark"):
        browser.send(
            "Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": scheme}]
        )
        browser.open(url)
        seen = browser.evaluate(
            """JSON.stringify({
              error: (e => e.hidden ? null : e.innerText)(document.getElementById('error')),
              audiences: [...document.querySelectorAll('li.audience')].map(li => ({
                id: li.dataset.id, size: li.querySelector('.size').innerText,
                points: Number(li.querySelector('svg.chart').dataset.points)})),
              jobs: [...document.querySelectorAll('#jobs tbody tr')].map(tr => ({
                id: tr.dataset.job, status: tr.querySelector('.status')?.innerText}))})"""
        )
        page = json.loads(seen)
        assert page["error"] is None, page["error"]
        shown = {a["id"]: a for a in page["audiences"]}
        for ident in ids:
            assert shown[ident]["points"] == DAYS, shown[ident]
            assert shown[ident]["size"].endswith("profiles") and shown[ident]["size"][0].isdigit()
        assert {j["id"]: j["status"] for j in page["jobs"]}[failed_job] == "FAILED"
        browser.screenshot(shots / f"aep-audiences-{scheme}.png")
