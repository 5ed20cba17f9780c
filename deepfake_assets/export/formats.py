"""The consumer formats the export can write beside info.csv (README "The export and its
consumers")."""

from enum import StrEnum


class ExportFormat(StrEnum):
    """Member names are the config values (Dagster's config takes an enum's names)."""

    deepfakebench = "deepfakebench"
    hf = "hf"
    webdataset = "webdataset"
    test_videos = "test_videos"


FORMATS = tuple(f.value for f in ExportFormat)
