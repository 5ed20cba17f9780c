"""Source format adapters: a dataset folder -> one normalised video table (pure, no dagster)."""

from deepfake_assets.sources.errors import SourceFormatError, UnknownFormatError
from deepfake_assets.sources.fingerprint import file_content_fingerprint, folder_fingerprint
from deepfake_assets.sources.formats import (
    FORMAT_NAMES,
    SOURCE_FORMATS,
    AdapterOptions,
    detect_format,
    list_source,
    normalise_format_name,
    read_source,
)
from deepfake_assets.sources.safe_paths import resolve_inside
from deepfake_assets.sources.schema import (
    VIDEO_TABLE_COLUMNS,
    VIDEO_TABLE_SCHEMA,
    MetadataProblem,
    SourceListing,
    empty_video_table,
    validate_video_table,
)

__all__ = [
    "AdapterOptions",
    "FORMAT_NAMES",
    "MetadataProblem",
    "SourceListing",
    "SOURCE_FORMATS",
    "VIDEO_TABLE_COLUMNS",
    "VIDEO_TABLE_SCHEMA",
    "SourceFormatError",
    "UnknownFormatError",
    "detect_format",
    "empty_video_table",
    "file_content_fingerprint",
    "list_source",
    "folder_fingerprint",
    "normalise_format_name",
    "read_source",
    "resolve_inside",
    "validate_video_table",
]
