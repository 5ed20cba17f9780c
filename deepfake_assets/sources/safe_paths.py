"""Keep dataset-provided paths inside the dataset.

Metadata is untrusted: a ``metadata.json`` or ``manifest.csv`` can name ``../../etc/passwd`` or
a symlink to somewhere else. The adapters keep such paths verbatim so they can be reported;
everything that opens a file first passes it through ``resolve_inside``.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath


def resolve_inside(root: Path, rel: str) -> Path | None:
    """The absolute, resolved path of ``rel`` under ``root``, or None if it could leave ``root``.

    Rejected: empty paths, absolute paths (posix or Windows style, drive letters, UNC), NUL
    bytes, and anything that after resolving ``..`` and symlinks (the file's own and its
    folders', dangling ones included) lands outside ``root`` or on ``root`` itself. The file
    need not exist (a missing file is reported elsewhere); a symlink loop is rejected.
    """
    if not rel or "\x00" in rel:
        return None
    if PurePosixPath(rel).is_absolute() or PureWindowsPath(rel).is_absolute():
        return None
    if PureWindowsPath(rel).drive or rel.startswith(("\\", "/")):
        return None
    try:
        base = Path(root).resolve(strict=True)
        resolved = (base / rel).resolve(strict=False)
        # Metadata written on Windows may use backslashes: ``..\\x`` is one odd file name here
        # but an escape there, and the folder may be shared; refuse it either way.
        as_posix = (base / rel.replace("\\", "/")).resolve(strict=False)
    except (OSError, RuntimeError, ValueError):
        return None  # missing root, symlink loop, invalid name
    for path in (resolved, as_posix):
        if path == base or not path.is_relative_to(base):
            return None
    return resolved
