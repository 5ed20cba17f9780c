"""Face embedders over the pipeline's 160x160 RGB face crops, one protocol, two models.

* :class:`FacenetEmbedder` - facenet-pytorch ``InceptionResnetV1`` trained on VGGFace2 (512-d),
  the model seed 001 used. Its weights are a 107 MB download that facenet-pytorch fetches on
  first use; offline it is found in a configured file, the torch hub cache, or facenet-pytorch's
  own cache, and if none has it :class:`EmbedderUnavailable` says where to put it.
* :class:`DlibEmbedder` - dlib's face recognition ResNet (128-d), whose weights ship in the
  ``face_recognition_models`` wheel, so it works on every install (the fallback).

:func:`load_embedder` picks facenet when its weights load, else dlib, and logs why. Each
embedder's ``name`` (``facenet-vggface2``, ``dlib-resnet-v1``) is stored with every embedding row:
vectors of different models are not comparable, and clustering defaults differ per model.

Crop convention (from the faces stage): the detector's face box grown slightly and
stretch-resized to 160x160, RGB uint8.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = [
    "FACENET_VGGFACE2_FILE",
    "WEIGHTS_ENV",
    "DlibEmbedder",
    "Embedder",
    "EmbedderUnavailable",
    "FacenetEmbedder",
    "dlib_model_paths",
    "facenet_weight_candidates",
    "load_embedder",
]

log = logging.getLogger(__name__)

WEIGHTS_ENV = "DEEPFAKE_FACENET_WEIGHTS"
FACENET_VGGFACE2_FILE = "20180402-114759-vggface2.pt"
_FACENET_URL = (
    "https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/" + FACENET_VGGFACE2_FILE
)


class EmbedderUnavailable(RuntimeError):
    """The requested embedder cannot run here (weights missing and not downloadable, ...)."""


@runtime_checkable
class Embedder(Protocol):
    """Maps face crops ``(N, 160, 160, 3)`` uint8 RGB to ``(N, dim)`` float32 unit vectors."""

    name: str
    dim: int

    def embed(self, faces_160: np.ndarray) -> np.ndarray: ...


def _check_faces(faces: np.ndarray) -> np.ndarray:
    arr = np.asarray(faces)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[3] != 3:
        raise ValueError(f"expected (N, H, W, 3) RGB faces, got {arr.shape}")
    if arr.dtype != np.uint8:
        raise ValueError(f"expected uint8 faces, got {arr.dtype}")
    return arr


def _l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


# --------------------------------------------------------------------------------------------
# facenet-pytorch
# --------------------------------------------------------------------------------------------


def facenet_weight_candidates(weights_path: Path | str | None = None) -> list[Path]:
    """Where the VGGFace2 state dict is looked for, in order.

    1. ``weights_path``, else ``$DEEPFAKE_FACENET_WEIGHTS``;
    2. ``torch.hub.get_dir()/checkpoints/`` (where torch's own hub downloads land);
    3. facenet-pytorch's cache, ``$TORCH_HOME/checkpoints/`` (default ``~/.cache/torch``): this
       is where ``InceptionResnetV1(pretrained='vggface2')`` downloads it.
    """
    import torch.hub

    out: list[Path] = []
    configured = weights_path or os.environ.get(WEIGHTS_ENV)
    if configured:
        out.append(Path(configured).expanduser())
    out.append(Path(torch.hub.get_dir()) / "checkpoints" / FACENET_VGGFACE2_FILE)
    torch_home = os.path.expanduser(
        os.getenv("TORCH_HOME", os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch"))
    )
    out.append(Path(torch_home) / "checkpoints" / FACENET_VGGFACE2_FILE)
    seen: set[Path] = set()
    return [p for p in out if not (p in seen or seen.add(p))]


def _download_facenet_weights(target: Path, timeout_s: float) -> None:
    """facenet-pytorch's own download (its URL, to its cache), failing fast when offline."""
    import socket

    from torch.hub import download_url_to_file

    target.parent.mkdir(parents=True, exist_ok=True)
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout_s)
    try:
        download_url_to_file(_FACENET_URL, str(target), progress=False)
    finally:
        socket.setdefaulttimeout(old)


class FacenetEmbedder:
    """facenet-pytorch ``InceptionResnetV1`` (VGGFace2), 512-d, batched, CUDA when present.

    Input standardisation is ``fixed_image_standardization`` ((x - 127.5) / 128), what
    facenet-pytorch's MTCNN feeds the model by default (``post_process=True``), i.e. what the
    VGGFace2 weights saw in seed 001's pipeline.

    ``weights='random'`` builds the architecture with untrained weights: for timing only (its
    vectors mean nothing and its name says so).
    """

    dim = 512

    def __init__(
        self,
        weights: str = "vggface2",
        weights_path: Path | str | None = None,
        device: str | None = None,
        batch_size: int = 64,
        allow_download: bool = True,
        download_timeout_s: float = 20.0,
        num_threads: int | None = None,
    ) -> None:
        import torch
        from facenet_pytorch import InceptionResnetV1

        if num_threads is not None:
            torch.set_num_threads(num_threads)
        if weights not in ("vggface2", "random"):
            raise ValueError("weights must be 'vggface2' (or 'random' for timing)")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.batch_size = batch_size
        path = None
        if weights == "vggface2":  # fail fast, before building the network
            path = self._find_weights(weights_path, allow_download, download_timeout_s)
        if path is not None:
            model = InceptionResnetV1(pretrained=None, classify=False)
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
                # The checkpoint also holds the 8631-way VGGFace2 classifier ('logits.*').
                state = {k: v for k, v in state.items() if not k.startswith("logits.")}
                model.load_state_dict(state, strict=True)
            except Exception as exc:  # corrupt, truncated or not this architecture
                raise EmbedderUnavailable(f"cannot load facenet weights {path}: {exc}") from exc
            self.weights_file: Path | None = path
            self.name = "facenet-vggface2"
        else:
            with torch.random.fork_rng(devices=[]):  # reproducible, global RNG untouched
                torch.manual_seed(0)
                model = InceptionResnetV1(pretrained=None, classify=False)
            self.weights_file = None
            self.name = "facenet-random-untrained"
        self.model = model.eval().to(self.device)

    @staticmethod
    def _find_weights(
        weights_path: Path | str | None, allow_download: bool, timeout: float
    ) -> Path:
        candidates = facenet_weight_candidates(weights_path)
        for path in candidates:
            if path.is_file():
                return path
        if weights_path or os.environ.get(WEIGHTS_ENV):
            raise EmbedderUnavailable(f"facenet weights not found at {candidates[0]}")
        target = candidates[-1]  # facenet-pytorch's own cache location
        if allow_download:
            try:
                _download_facenet_weights(target, timeout)
                return target
            except Exception as exc:
                reason = f"download failed ({type(exc).__name__}: {exc})"
        else:
            reason = "download disabled"
        looked = ", ".join(str(p) for p in candidates)
        raise EmbedderUnavailable(
            f"facenet VGGFace2 weights unavailable: {reason}. Looked in {looked}. Put "
            f"{FACENET_VGGFACE2_FILE} (from {_FACENET_URL}) in one of them or set {WEIGHTS_ENV}."
        )

    def embed(self, faces_160: np.ndarray) -> np.ndarray:
        import torch

        faces = _check_faces(faces_160)
        if len(faces) == 0:
            return np.zeros((0, self.dim), np.float32)
        out = []
        with torch.inference_mode():
            for s in range(0, len(faces), self.batch_size):
                chunk = faces[s : s + self.batch_size]
                if chunk.shape[1:3] != (160, 160):
                    chunk = _resize_batch(chunk, 160)
                x = torch.from_numpy(np.ascontiguousarray(chunk)).to(self.device)
                x = x.permute(0, 3, 1, 2).float()
                x = (x - 127.5) / 128.0  # facenet_pytorch fixed_image_standardization
                out.append(self.model(x).float().cpu().numpy())
        return _l2_normalise(np.concatenate(out))


def _resize_batch(faces: np.ndarray, size: int) -> np.ndarray:
    import cv2

    return np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in faces])


# --------------------------------------------------------------------------------------------
# dlib
# --------------------------------------------------------------------------------------------


def dlib_model_paths() -> tuple[Path, Path]:
    """(5-point shape predictor, face recognition ResNet) files of ``face_recognition_models``.

    Its ``__init__`` imports ``pkg_resources``, which setuptools >= 81 no longer ships, so the
    files are located from the package's spec without importing it when that import fails.
    """
    try:
        import face_recognition_models as frm

        return (
            Path(frm.pose_predictor_five_point_model_location()),
            Path(frm.face_recognition_model_location()),
        )
    except ImportError:
        spec = importlib.util.find_spec("face_recognition_models")
        if spec is None or not spec.submodule_search_locations:
            raise EmbedderUnavailable("face_recognition_models is not installed") from None
        models = Path(next(iter(spec.submodule_search_locations))) / "models"
        return (
            models / "shape_predictor_5_face_landmarks.dat",
            models / "dlib_face_recognition_resnet_model_v1.dat",
        )


class DlibEmbedder:
    """dlib ``face_recognition_model_v1`` (ResNet-29, 128-d), on CPU via dlib's own BLAS.

    The network expects a 150x150 chip aligned the way ``dlib.get_face_chip`` does (eyes and
    nose at fixed places), so each 160 crop gets 5 landmarks from dlib's 5-point shape predictor,
    using as face rectangle the crop inset by ``rect_inset`` per side (the crop is a detector box
    grown slightly; dlib's predictor was trained on its own detector's tighter boxes); dlib then
    aligns and embeds a whole batch in one call. On the 100 test faces of 10 people (see
    ``clustering``) the closest different people were 0.360 apart with the full crop as the
    rectangle, 0.39 with insets 0.05-0.12 (same-person maximum 0.30 either way): 0.08.
    """

    name = "dlib-resnet-v1"
    dim = 128

    def __init__(self, rect_inset: float = 0.08, batch_size: int = 64) -> None:
        try:
            import dlib
        except ImportError as exc:  # pragma: no cover - dlib-bin is a dependency
            raise EmbedderUnavailable(f"dlib is not importable: {exc}") from exc
        predictor, recogniser = dlib_model_paths()
        for path in (predictor, recogniser):
            if not path.is_file():
                raise EmbedderUnavailable(f"dlib model file missing: {path}")
        self._dlib = dlib
        self.rect_inset = rect_inset
        self.batch_size = batch_size
        self.shape_predictor = dlib.shape_predictor(str(predictor))
        self.recogniser = dlib.face_recognition_model_v1(str(recogniser))

    def landmarks(self, face: np.ndarray):  # -> dlib.full_object_detection
        """The 5-point shape of one crop (exposed for inspection and tests)."""
        h, w = face.shape[:2]
        dx, dy = round(self.rect_inset * w), round(self.rect_inset * h)
        rect = self._dlib.rectangle(dx, dy, w - 1 - dx, h - 1 - dy)
        return self.shape_predictor(face, rect)

    def embed(self, faces_160: np.ndarray) -> np.ndarray:
        faces = _check_faces(faces_160)
        if len(faces) == 0:
            return np.zeros((0, self.dim), np.float32)
        out = []
        for s in range(0, len(faces), self.batch_size):
            imgs = [np.ascontiguousarray(f) for f in faces[s : s + self.batch_size]]
            shapes = []
            for img in imgs:
                dets = self._dlib.full_object_detections()
                dets.append(self.landmarks(img))
                shapes.append(dets)
            vecs = self.recogniser.compute_face_descriptor(imgs, shapes)
            out.append(np.asarray([np.asarray(v[0]) for v in vecs], dtype=np.float32))
        return _l2_normalise(np.concatenate(out))


# --------------------------------------------------------------------------------------------
# Choice
# --------------------------------------------------------------------------------------------


def load_embedder(
    preference: str = "auto",
    *,
    weights_path: Path | str | None = None,
    device: str | None = None,
    allow_download: bool = True,
) -> Embedder:
    """``'facenet'`` | ``'dlib'`` | ``'auto'`` (facenet when its weights load, else dlib).

    ``'auto'`` logs at WARNING why it fell back, since embeddings of the two models do not mix
    and seed 001 used facenet.
    """
    builders: dict[str, Callable[[], Embedder]] = {
        "facenet": lambda: FacenetEmbedder(
            "vggface2", weights_path=weights_path, device=device, allow_download=allow_download
        ),
        "dlib": DlibEmbedder,
    }
    if preference in builders:
        emb = builders[preference]()
        log.info("embedder %s (requested)", emb.name)
        return emb
    if preference != "auto":
        raise ValueError("preference must be 'auto', 'facenet' or 'dlib'")
    try:
        emb = builders["facenet"]()
        log.info("embedder %s: weights %s", emb.name, getattr(emb, "weights_file", None))
        return emb
    except EmbedderUnavailable as exc:
        log.warning("facenet unavailable, falling back to dlib-resnet-v1: %s", exc)
    return builders["dlib"]()
