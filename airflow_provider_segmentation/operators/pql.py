"""Convert PQL between pql/text and pql/json on AEP (``/segment/conversion``); nothing is stored."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import Context

from airflow_provider_segmentation.client import AEPValidationError
from airflow_provider_segmentation.operators.base import AEPBaseOperator

FORMATS = {"pql/json": "pql/text", "pql/text": "pql/json"}


class AEPConvertPQLOperator(AEPBaseOperator):
    """Return ``{"format", "value"}``: the expression converted to ``to_format``; a syntax error fails with
    AEP's message."""

    template_fields: Sequence[str] = ("expression", "sandbox")

    def __init__(self, *, expression: str, to_format: str = "pql/json", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if to_format not in FORMATS:
            raise AEPValidationError(
                f"to_format {to_format!r} must be pql/json or pql/text", field="to_format"
            )
        self.expression = expression
        self.to_format = to_format

    def execute(self, context: Context) -> dict[str, Any]:
        converted = self.hook.client.convert_pql(self.expression, source_format=FORMATS[self.to_format])
        return {"format": converted.expression.format, "value": converted.expression.value}
