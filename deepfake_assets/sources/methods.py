"""What a manipulation method does to the person a face shows, for identity and splits.

* **Identity swaps** (Deepfakes, FaceSwap, ...) put another person's face (a donor) on the
  target: a fake's donor can carry a person to another side of the split.
* **Expression swaps** (Face2Face, NeuralTextures) and **attribute edits** (FaceApp, StarGAN)
  keep the person of the photo or video: no donor.
* **Entire-face synthesis** (StyleGAN, PGGAN, ...) draws a face of nobody: there is no identity
  to leak, so its faces are never clustered with real people (one generated face between two
  people would chain them into one actor) nor matched to a donor (a face that looks like
  someone is not that person); each item keeps a pseudo-actor of its own unless the dataset
  names a person for it.

One normalisation (:func:`method_key`) and one table for ``splits/swaps.py`` and
``identity/``: DFFD's folder table (``sources/dffd.py``) gives the families of its methods, and
the names below add the spellings other sources use. A method nobody classified is a swap
(the careful reading for a split) and is not synthesis (its faces are real people's).
"""

from __future__ import annotations

import re

import polars as pl

from deepfake_assets.sources.dffd import DEFAULT_FOLDERS

__all__ = [
    "ENTIRE_FACE_SYNTHESIS",
    "NOT_A_SWAP",
    "is_entire_face_synthesis",
    "is_identity_swap",
    "method_key",
    "methods_where",
    "synthesis_rows",
]


def method_key(method: str) -> str:
    """Lower case, letters and digits only, a trailing version dropped (``StyleGAN2``,
    ``pggan_v1`` -> ``stylegan``, ``pggan``), so spellings of one method compare equal."""
    key = re.sub(r"[^a-z0-9]", "", method.lower())
    return re.sub(r"(v?\d+)+$", "", key) or key


SYNTHESIS_FAMILY = "entire_face_synthesis"
_NO_DONOR_FAMILIES = {"expression_swap", "attribute_editing", SYNTHESIS_FAMILY}


def _family_methods(families: set[str]) -> set[str]:
    return {
        method_key(rule.method)
        for rule in DEFAULT_FOLDERS.values()
        if rule.method and rule.family in families
    }


# normalised names (`method_key`) of generators that draw a whole face: DFFD's, and the names
# generated-face collections use (StyleGAN2/3 are `stylegan` after normalisation)
ENTIRE_FACE_SYNTHESIS: frozenset[str] = frozenset(
    _family_methods({SYNTHESIS_FAMILY})
    | {
        method_key(m)
        for m in (
            "StyleGAN", "StyleGAN2-ADA", "StyleGAN3-T", "StyleGAN3-R", "StyleGAN-XL",
            "PGGAN", "ProGAN", "ProgressiveGAN", "thispersondoesnotexist",
            "generated", "synthetic", "synthesised", "synthesized", "entire_face_synthesis",
        )
    }
)  # fmt: skip

# normalised names known not to change identity: DFFD's folders of the families above,
# FaceForensics++' methods that keep the target's face, and every synthesis method
NOT_A_SWAP: frozenset[str] = frozenset(
    _family_methods(_NO_DONOR_FAMILIES) | {"face2face", "neuraltextures"} | ENTIRE_FACE_SYNTHESIS
)


def is_identity_swap(method: str | None) -> bool:
    """True unless ``method`` is known not to change the person shown (unknown: a swap)."""
    if method is None or not method.strip():
        return True
    return method_key(method) not in NOT_A_SWAP


def is_entire_face_synthesis(method: str | None) -> bool:
    """True when ``method`` draws a whole face of nobody (unknown or missing: False)."""
    if method is None or not method.strip():
        return False
    return method_key(method) in ENTIRE_FACE_SYNTHESIS


def methods_where(df: pl.DataFrame, keep, column: str = "method") -> pl.Expr:
    """Rows of ``df`` whose ``column`` is a method ``keep(method)`` accepts, by the distinct
    methods (few) rather than per row; ``lit(False)`` without the column."""
    if column not in df.columns:
        return pl.lit(False)
    methods = df[column].cast(pl.Utf8).drop_nulls().unique().to_list()
    return pl.col(column).cast(pl.Utf8).is_in([m for m in methods if keep(m)]).fill_null(False)


def synthesis_rows(df: pl.DataFrame, column: str = "method") -> pl.Expr:
    """Rows of ``df`` (``label`` FAKE where there is a label) whose method is entire-face
    synthesis."""
    label = pl.col("label").cast(pl.Utf8).str.to_uppercase()
    fake = label == "FAKE" if "label" in df.columns else pl.lit(True)
    return fake.fill_null(False) & methods_where(df, is_entire_face_synthesis, column)
