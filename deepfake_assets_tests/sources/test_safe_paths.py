import os

import pytest

from deepfake_assets.sources import resolve_inside


@pytest.fixture
def root(tmp_path):
    data = tmp_path / "data"
    (data / "part").mkdir(parents=True)
    (data / "part" / "a.mp4").write_bytes(b"x")
    (tmp_path / "secret.mp4").write_bytes(b"s")
    return data


def test_inside_paths_resolve(root):
    assert resolve_inside(root, "part/a.mp4") == (root / "part" / "a.mp4").resolve()
    assert resolve_inside(root, "part/../part/a.mp4") == (root / "part" / "a.mp4").resolve()
    assert resolve_inside(root, "part/not_yet.mp4") == (root / "part" / "not_yet.mp4").resolve()


@pytest.mark.parametrize(
    "rel",
    [
        "../secret.mp4",
        "part/../../secret.mp4",
        "/etc/passwd",
        "C:\\x.mp4",
        "..\\secret.mp4",
        "",
        ".",
        "part/..",
    ],
)
def test_escapes_and_absolute_paths_rejected(root, rel):
    assert resolve_inside(root, rel) is None


def test_symlinks_pointing_out_rejected(root):
    os.symlink(root.parent / "secret.mp4", root / "part" / "link.mp4")
    os.symlink(root.parent, root / "updir")
    os.symlink(root / "part" / "a.mp4", root / "inner.mp4")
    assert resolve_inside(root, "part/link.mp4") is None
    assert resolve_inside(root, "updir/secret.mp4") is None
    assert resolve_inside(root, "inner.mp4") == (root / "part" / "a.mp4").resolve()


def test_missing_root_rejects_everything(tmp_path):
    assert resolve_inside(tmp_path / "nope", "a.mp4") is None
