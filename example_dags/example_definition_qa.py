# mypy: disable-error-code="arg-type"
"""Definition QA: lint every definition offline, validate it on AEP, preview a few members.

Runs before definitions are deployed: a typo fails here, not inside AEP after activation.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow.sdk import dag, task

from airflow_provider_segmentation import pql
from airflow_provider_segmentation.operators.pql import AEPConvertPQLOperator
from airflow_provider_segmentation.operators.previews import AEPPreviewAudienceOperator

POLL_INTERVAL = float(os.environ.get("AEP_DEMO_POLL_INTERVAL", "5"))

DEFINITIONS = {
    "platinum": 'loyalty.tier = "platinum"',
    "big_spenders": 'exists P from xEvent where (P.eventType = "commerce.purchases" '
    "and P.commerce.order.priceTotal > 300)",
    "opted_in_emailable": 'consents.marketing.email.val = "y" '
    'and personalEmail.address.endsWith("@example.com")',
}


@dag(
    dag_id="aep_definition_qa",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["adobe", "aep", "segmentation", "example"],
    doc_md=__doc__,
)
def aep_definition_qa() -> None:
    @task
    def lint_offline() -> dict[str, str]:
        """Parse every definition with the package's own PQL parser: no network, instant feedback."""
        return {key: pql.to_text(pql.parse(text)) for key, text in DEFINITIONS.items()}

    linted = lint_offline()
    for key, text in DEFINITIONS.items():
        validated = AEPConvertPQLOperator(task_id=f"validate_{key}", expression=text)
        preview = AEPPreviewAudienceOperator(
            task_id=f"preview_{key}", expression=text, max_members=3, poll_interval=POLL_INTERVAL
        )
        linted >> validated >> preview

        @task(task_id=f"show_{key}")
        def show(result: dict[str, Any], name: str = key) -> None:
            # Members are personal data: they stay in XCom; the log shows counts and profile ids only.
            ids = [
                next(iter(member), "?") if len(member) == 1 else member.get("objectId", "?")
                for member in result["members"]
            ]
            print(
                f"{name}: about {result['estimated_size']} profiles; {len(ids)} previewed: {', '.join(ids)}"
            )

        show(preview.output)


aep_definition_qa()
