"""Errors the format adapters raise.

Both carry a message meant for a person: which file or row is wrong and why, so that a failed
``sources add`` or manifest run can be fixed without reading a traceback.
"""

from __future__ import annotations


class SourceFormatError(ValueError):
    """A folder claims (or was told) to be a known format but its metadata is malformed."""


class UnknownFormatError(SourceFormatError):
    """The folder matches no known layout, or the format name is not one we know."""
