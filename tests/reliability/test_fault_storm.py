"""Job life cycles through the hook while the emulator misbehaves: 429s and 503s with Retry-After,
dropped connections, creates whose answer is lost after AEP made the job, and tokens that expire under
the client's feet. Every life cycle must reach the state it asked for, and AEP must hold exactly the
jobs the client knows: none created twice, none lost."""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import replace

import pytest

from airflow_provider_segmentation.client import RetrySettings
from airflow_provider_segmentation.hooks.segmentation import SegmentationHook
from airflow_provider_segmentation.models import SegmentJobStatus

pytestmark = pytest.mark.reliability
LIFECYCLES = 200
PLATFORM = "/data/core/ups/*"
QUICK_RETRIES = RetrySettings(
    max_attempts=12, max_elapsed_seconds=60, base_delay_seconds=0.01, max_delay_seconds=0.05
)


def test_job_lifecycles_survive_a_fault_storm(aep_conn, emulator_admin) -> None:
    hook = SegmentationHook(retry=QUICK_RETRIES)
    hook.config = replace(hook.config, aep_rules="off")  # the client's check of the allowance too
    segment_id = hook.client.create_segment_definition(
        {"name": "storm", "expression": {"value": "loyalty.points > 5000"}}
    ).id
    # A storm of job life cycles, not a test of AEP's on-demand allowance (2 a day, 50 a year): the quota
    # is switched off; stepping the clock a day per job would also move jobs away from the client's
    # reconciliation window.
    emulator_admin.configure(max_processing_segment_jobs=1000, rules={"enforce_on_demand_quota": False})
    emulator_admin.inject_fault(
        method="*", path=PLATFORM, kind="status", status=429, retry_after=0.01, probability=0.10, seed=1
    )
    emulator_admin.inject_fault(
        method="*", path=PLATFORM, kind="status", status=503, retry_after=0.01, probability=0.10, seed=2
    )
    emulator_admin.inject_fault(method="GET", path=PLATFORM, kind="drop", probability=0.05, seed=3)
    # creates that AEP performs, then the answer is lost: a 503 or a dropped connection
    jobs_path = "/data/core/ups/segment/jobs"
    emulator_admin.inject_fault(
        method="POST", path=jobs_path, kind="status", status=503, after=True, probability=0.08, seed=4
    )
    emulator_admin.inject_fault(
        method="POST", path=jobs_path, kind="drop", after=True, probability=0.08, seed=5
    )
    stop = threading.Event()

    # "token expiry every 30 s", compressed to every 1.5 s: often enough for dozens of refreshes in a run,
    # rarely enough that a freshly minted token survives its replay on a loaded 2-core machine (a token
    # rejected right after a refresh is, by contract, a credential problem and fails the call)
    def expire_tokens() -> None:
        while not stop.wait(1.5):
            emulator_admin.expire_tokens()

    expiring = threading.Thread(target=expire_tokens, daemon=True)
    expiring.start()
    outcomes: Counter[str] = Counter()
    created: list[str] = []
    rng = random.Random(7)
    # The emulator's clock is frozen: a job only moves when the test steps it, so a job cancelled right
    # after its create is still NEW when the DELETE arrives, however slow the storm makes the calls.
    emulator_admin.advance_clock(0, frozen=True)
    try:
        for _ in range(LIFECYCLES):
            # A 503 or a broken connection on a create is never retried blindly: the client looks for
            # the job the attempt may have made, adopts it, or (none made) creates it again.
            job = hook.client.create_segment_job([segment_id])  # type: ignore[list-item]
            created.append(job.id)
            if rng.random() < 0.2:
                hook.client.cancel_segment_job(job.id)
                expected = SegmentJobStatus.CANCELLED
            else:
                expected = SegmentJobStatus.SUCCEEDED
            for _ in range(20):
                status = hook.client.get_segment_job(job.id).status
                if status.is_terminal:
                    break
                emulator_admin.advance_clock(0.05)
            assert status is expected, f"job {job.id} is {status.value}, expected {expected.value}"
            outcomes[status.value] += 1
    finally:
        stop.set()
        expiring.join()
        emulator_admin.clear_faults()

    creates = Counter(
        entry["fault"] or entry["status"] for entry in emulator_admin.requests("POST", jobs_path)
    )
    faults = Counter(entry["status"] for entry in emulator_admin.requests())
    print(
        f"\n{LIFECYCLES} life cycles: {dict(outcomes)}; create answers: {dict(creates)}; "
        f"all answers: {dict(sorted(faults.items()))}"
    )
    assert sum(outcomes.values()) == LIFECYCLES and outcomes["SUCCEEDED"] > LIFECYCLES / 2
    assert len(created) == len(set(created)) == LIFECYCLES  # every life cycle got its own job
    listed = [job.id for job in hook.client.list_segment_jobs()]
    assert sorted(listed) == sorted(created)  # AEP holds exactly those: none twice, none lost
    # answers lost after AEP made the job (503 and dropped) did happen, and were reconciled
    assert creates["status after the work"] > 0 and creates["drop after the work"] > 0
    assert faults[429] > 0 and faults[401] > 0
