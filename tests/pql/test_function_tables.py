"""The evaluator's function tables (``pql.functions``) cover every function the parser can write."""

from __future__ import annotations

from airflow_provider_segmentation.pql.ast import CALLABLE_WORDS, INFIX, METHODS, OCCURS_FORMS
from airflow_provider_segmentation.pql.dates import DAY_OFFSETS
from airflow_provider_segmentation.pql.evaluate import ARITHMETIC
from airflow_provider_segmentation.pql.functions import COMPILERS

WALKER_FORMS = {"and", "or", "chain", *ARITHMETIC}  # compiled by evaluate itself (they walk their operands)


def test_every_function_of_the_grammar_has_one_compiler() -> None:
    written = (
        METHODS
        | CALLABLE_WORDS
        | INFIX.keys()
        | set(OCCURS_FORMS)
        | DAY_OFFSETS.keys()
        | {"not", "forall", "select", "aggregateOver", "relativePeriod", "object", "let"}
    )
    assert written - COMPILERS.keys() - WALKER_FORMS == set()
    assert not COMPILERS.keys() & WALKER_FORMS
