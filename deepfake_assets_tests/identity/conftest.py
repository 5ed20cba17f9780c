"""Real face crops and their dlib embeddings, computed once per test session."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepfake_assets.identity.embedders import DlibEmbedder
from deepfake_assets.testing.face_data import FIXTURES, variant_faces

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def dlib_embedder() -> DlibEmbedder:
    return DlibEmbedder()


@pytest.fixture(scope="session")
def variant_set() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Faces of 2 identities (10 with ../shared/fixtures), 10 altered variants each."""
    faces, ids, names = variant_faces(with_fixtures=FIXTURES.is_dir())
    return faces, np.asarray(ids), names


@pytest.fixture(scope="session")
def variant_embeddings(dlib_embedder, variant_set) -> np.ndarray:
    return dlib_embedder.embed(variant_set[0])
