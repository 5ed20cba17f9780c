"""Embedders on real faces: dlib always; facenet's loading rules (its weights are offline-only
here) and its architecture with untrained weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from deepfake_assets.identity.clustering import calibrate_eps, default_params
from deepfake_assets.identity.embedders import (
    FACENET_VGGFACE2_FILE,
    WEIGHTS_ENV,
    DlibEmbedder,
    Embedder,
    EmbedderUnavailable,
    FacenetEmbedder,
    dlib_model_paths,
    facenet_weight_candidates,
    load_embedder,
)
from deepfake_assets.testing.face_data import FIXTURES

torch.set_num_threads(2)


def test_dlib_model_files_found_without_pkg_resources() -> None:
    for path in dlib_model_paths():
        assert path.is_file(), path


def test_dlib_embeddings_are_unit_vectors(dlib_embedder, variant_set, variant_embeddings):
    faces, _, _ = variant_set
    assert isinstance(dlib_embedder, Embedder)
    assert dlib_embedder.name == "dlib-resnet-v1" and dlib_embedder.dim == 128
    assert variant_embeddings.shape == (len(faces), 128)
    assert variant_embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(variant_embeddings, axis=1), 1.0, atol=1e-5)
    # Batched and one-by-one give the same vectors.
    one = dlib_embedder.embed(faces[:1])
    np.testing.assert_allclose(one[0], variant_embeddings[0], atol=1e-5)
    assert dlib_embedder.embed(np.zeros((0, 160, 160, 3), np.uint8)).shape == (0, 128)


def test_dlib_landmarks_fall_inside_the_crop(dlib_embedder, variant_set) -> None:
    faces, _, names = variant_set
    shape = dlib_embedder.landmarks(faces[names.index("original@0")])
    pts = np.array([(shape.part(k).x, shape.part(k).y) for k in range(5)])
    assert pts.min() > 10 and pts.max() < 150
    # eyes above the nose (point 4 is the nose base in dlib's 5-point model)
    assert pts[:4, 1].max() < pts[4, 1]


def test_same_person_variants_closer_than_different_people(variant_set, variant_embeddings):
    _, ids, _ = variant_set
    stats = calibrate_eps(variant_embeddings, ids)
    eps = default_params("dlib-resnet-v1").eps
    assert stats["same_max"] < eps < stats["diff_min"], stats


def test_facenet_unavailable_offline_names_where_to_put_weights(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    candidates = facenet_weight_candidates()
    assert candidates[0] == tmp_path / "torch" / "hub" / "checkpoints" / FACENET_VGGFACE2_FILE
    assert candidates[1] == tmp_path / "torch" / "checkpoints" / FACENET_VGGFACE2_FILE
    with pytest.raises(EmbedderUnavailable, match=WEIGHTS_ENV):
        FacenetEmbedder(allow_download=False)
    missing = tmp_path / "nowhere.pt"
    with pytest.raises(EmbedderUnavailable, match="not found"):
        FacenetEmbedder(weights_path=missing)
    monkeypatch.setenv(WEIGHTS_ENV, str(missing))
    with pytest.raises(EmbedderUnavailable):
        load_embedder("facenet")
    monkeypatch.delenv(WEIGHTS_ENV)
    # 'auto' falls back to dlib and says why.
    assert load_embedder("auto", allow_download=False).name == "dlib-resnet-v1"
    with pytest.raises(ValueError):
        load_embedder("arcface")


def test_facenet_loads_a_state_dict_file_from_the_configured_path(tmp_path, variant_set):
    # The real loading path (checkpoint with the VGGFace2 classifier, which is dropped), fed
    # with the architecture's own untrained state dict saved as facenet-pytorch ships it.
    from facenet_pytorch import InceptionResnetV1

    torch.manual_seed(0)
    model = InceptionResnetV1(pretrained=None, classify=True, num_classes=8631)
    path = tmp_path / FACENET_VGGFACE2_FILE
    torch.save(model.state_dict(), path)
    emb = FacenetEmbedder(weights_path=path, device="cpu", allow_download=False)
    assert emb.name == "facenet-vggface2" and emb.weights_file == path
    faces = variant_set[0][:2]
    out = emb.embed(faces)
    assert out.shape == (2, 512) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    # fixed_image_standardization, as facenet-pytorch's MTCNN feeds the model
    model.eval()
    with torch.inference_mode():
        x = torch.from_numpy(faces).permute(0, 3, 1, 2).float()
        model.classify = False
        ref = model((x - 127.5) / 128.0).numpy()
    np.testing.assert_allclose(out, ref, atol=1e-4)


def _vggface2_weights() -> Path | None:
    for path in facenet_weight_candidates():
        if path.is_file():
            return path
    return None


@pytest.mark.skipif(_vggface2_weights() is None, reason="facenet VGGFace2 weights not present")
def test_facenet_vggface2_separates_people(variant_set) -> None:
    emb = FacenetEmbedder(weights_path=_vggface2_weights(), allow_download=False)
    faces, ids, _ = variant_set
    stats = calibrate_eps(emb.embed(faces), ids)
    assert stats["same_max"] < default_params("facenet-vggface2").eps < stats["diff_min"], stats


def test_dlib_embedder_rejects_bad_input(dlib_embedder) -> None:
    with pytest.raises(ValueError):
        dlib_embedder.embed(np.zeros((2, 160, 160), np.uint8))
    with pytest.raises(ValueError):
        dlib_embedder.embed(np.zeros((2, 160, 160, 3), np.float32))


def test_fixture_identities_present_when_fixtures_exist(variant_set) -> None:
    _, ids, _ = variant_set
    if not FIXTURES.is_dir():
        pytest.skip(f"shared fixtures not found at {FIXTURES}: only the 2 packaged identities")
    assert len(set(ids.tolist())) == 10


def test_dlib_embedder_is_the_dlib_class(dlib_embedder) -> None:
    assert isinstance(dlib_embedder, DlibEmbedder)
