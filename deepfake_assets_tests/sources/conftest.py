"""Helpers that build tiny dataset layouts: placeholder bytes, never real videos."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest


def make_files(root: Path, rels: Iterable[str], content: bytes = b"not a video") -> None:
    for rel in rels:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


@pytest.fixture
def files() -> Callable[..., None]:
    return make_files
