"""The README stays true where code can check it: its "AEP's limits" table lists exactly the rules the
package applies (``rules.RULES``), and it stays short enough to be read."""

from __future__ import annotations

import re
from pathlib import Path

from airflow_provider_segmentation.rules import RULES

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_limits_table_lists_exactly_the_rules_applied() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("## AEP's limits", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `([a-z-]+\.[a-z-]+)` \|", section, flags=re.MULTILINE)
    assert sorted(listed) == sorted(RULES)
    for rule in RULES.values():
        row = next(line for line in section.splitlines() if line.startswith(f"| `{rule.id}` |"))
        assert rule.url in row, f"{rule.id}: its source link"


def test_the_readme_is_short_enough_to_be_read() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) < 300
