"""How reasons name files: as the dataset lists them, never by the machine's absolute path.

Reasons end up in the catalog, the UI and exports, which are shared and moved between machines;
``/home/alice/datasets/dfdc/part_3/x.mp4`` tells a reader nothing the row's ``rel_path`` does not,
and leaks the layout of the machine that ran it. Error texts from PyAV and the OS quote the path
they were given, so it is replaced by the relative one wherever it appears.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def relative_reason(
    text: str | None, path: str | os.PathLike[str], rel_path: str | None = None
) -> str | None:
    """``text`` with every spelling of ``path`` replaced by ``rel_path`` (default: the file's
    name alone)."""
    if not text:
        return text
    name = rel_path if rel_path else Path(path).name
    spellings = {os.fspath(path), str(Path(path)), str(Path(path).absolute())}
    with contextlib.suppress(OSError, RuntimeError):
        spellings.add(str(Path(path).resolve()))
    # absolute spellings only (a relative one tells nothing of the machine), longest first
    for spelling in sorted(filter(os.path.isabs, spellings), key=len, reverse=True):
        text = text.replace(spelling, name)
    return text
