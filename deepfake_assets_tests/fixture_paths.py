"""Where the shared real-data fixtures live, and the skip marker for tests that need them."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"

requires_fixtures = pytest.mark.skipif(
    not SHARED_FIXTURES.is_dir(),
    reason=f"shared fixtures not found at {SHARED_FIXTURES} (real videos and photos)",
)
