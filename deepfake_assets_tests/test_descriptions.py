"""Descriptions are Markdown in the UI: a raw `<source>` is read as an HTML tag and vanishes."""

from __future__ import annotations

import re

import pytest

from deepfake_assets.definitions import defs

# What Markdown keeps as written: fenced blocks and code spans.
CODE = re.compile(r"```.*?```|(`+)(?:.+?)\1", re.DOTALL)
# What it swallows: anything shaped like an HTML tag or comment; <https://...> is an autolink.
TAG = re.compile(r"<(?!https?://)[A-Za-z/!?][^<>]*>")


def eaten_by_markdown(text: str) -> list[str]:
    """The `<...>` pieces of `text` a Markdown renderer would take for HTML and not show."""
    return TAG.findall(CODE.sub("", text))


def _descriptions() -> list[tuple[str, str]]:
    graph = defs.resolve_asset_graph()
    found = []
    for key in graph.get_all_asset_keys():
        found.append((f"asset {key.to_user_string()}", graph.get(key).description or ""))
    for check_key in graph.asset_check_keys:
        spec = graph.get_check_spec(check_key)
        found.append((f"check {check_key.name}", spec.description or ""))
    for job in defs.resolve_all_job_defs():
        found.append((f"job {job.name}", job.description or ""))
    for sensor in defs.sensors or []:
        found.append((f"sensor {sensor.name}", sensor.description or ""))
    for schedule in defs.schedules or []:
        found.append((f"schedule {schedule.name}", schedule.description or ""))
    return found


def test_the_detector_finds_what_markdown_eats() -> None:
    assert eaten_by_markdown("under $DATA/faces/<source>/<video>/") == ["<source>", "<video>"]
    assert eaten_by_markdown("under `$DATA/faces/<source>/<video>/`") == []
    assert eaten_by_markdown("```\nfaces/<source>/\n```") == []
    assert eaten_by_markdown("a < b and c > d, <https://dagster.io>") == []


DESCRIPTIONS = _descriptions()


@pytest.mark.parametrize("what,description", DESCRIPTIONS, ids=[w for w, _ in DESCRIPTIONS])
def test_no_description_has_html_markdown_would_eat(what: str, description: str) -> None:
    assert not eaten_by_markdown(description), (
        f"{what}: {eaten_by_markdown(description)} would vanish in the UI; put them in a "
        "code span (`faces/<source>/`)"
    )
