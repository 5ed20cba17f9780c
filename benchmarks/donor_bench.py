"""Donor inference from faces against the demo's truth: the figures behind the thresholds.

    python benchmarks/donor_bench.py --data DATA_DIR --truth demo_data/demo_truth.json

DATA_DIR is a data folder where the demo was materialised up to `fake_identities` (e.g. by
`deepfake-assets demo`). It compares the donors found from the fakes' own faces with those
found once the donor faces rebuilt from fake - original (`fake_residuals`) are matched too, per
blend strength, lists the fakes still without a donor and draws donor_bench.png. For every fake
with a face match it prints the target distance, the candidate's distance and the margin beside
the truth, then how many donors each pair of thresholds finds, rightly and wrongly, per blend
strength (the demo's alpha: 0.9 strong, 0.6 medium, 0.35 weak), and the same for the naive rule
"nearest actor other than the target, closer than the target by a distance margin". Writes
benchmarks/results/donor_bench.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import polars as pl

from deepfake_assets.catalog import Catalog
from deepfake_assets.identity import donors

RESULTS = Path(__file__).resolve().parent / "results" / "donor_bench.json"
SHIFTS = (0.0, 0.25, 0.28, 0.30, 0.32, 0.35)
MARGINS = (0.0, 0.05, 0.08, 0.10, 0.12, 0.15)
NAIVE_MARGINS = (0.0, 0.03, 0.05, 0.08)


def true_identities(catalog: Catalog, truth: dict) -> tuple[pl.DataFrame, dict[str, str]]:
    """Per demo fake: alpha, true target, true donor; and each actor's true identity."""
    videos = catalog.read("videos").select("source", "video_id", "rel_path")
    by_path = truth["videos"]
    rows = []
    for r in videos.to_dicts():
        entry = by_path.get(r["rel_path"])
        if entry and entry["label"] == "FAKE":
            rows.append(
                {
                    "source": r["source"],
                    "video_id": r["video_id"],
                    "alpha": entry["alpha"],
                    "true_target": entry["target_identity"],
                    "true_donor": entry["donor_identity"],
                }
            )
    real = catalog.read("video_actors").filter(
        (pl.col("label") == "REAL") & pl.col("actor_id").is_not_null()
    )
    identity_of = {}
    for r in real.join(videos, on=["source", "video_id"]).to_dicts():
        entry = by_path.get(r["rel_path"])
        if entry and entry.get("identity"):
            identity_of[r["actor_id"]] = entry["identity"]
    return pl.DataFrame(rows), identity_of


def _tally(table: pl.DataFrame, identity_of: dict[str, str]) -> dict[str, dict[str, int]]:
    """Per blend strength: fakes, donors found, right, wrong (against demo_truth.json)."""
    rows = table.filter(~pl.col("orphan_fake")).with_columns(
        right=pl.col("donor_actor_id").replace_strict(identity_of, default=None)
        == pl.col("true_donor")
    )
    out = {}
    for (alpha,), g in rows.group_by("alpha"):
        found = g.filter(pl.col("donor_actor_id").is_not_null())
        out[str(alpha)] = {
            "n": g.height,
            "found": found.height,
            "right": int(found["right"].fill_null(False).sum()),
            "wrong": found.height - int(found["right"].fill_null(False).sum()),
        }
    return dict(sorted(out.items()))


def residual_figures(catalog: Catalog, fakes: pl.DataFrame, identity_of: dict[str, str]):
    """Donors found per blend strength without and with the rebuilt donor faces
    (`fake_residuals`), the fakes still without a donor, and the margin grid of the rebuild."""
    from deepfake_assets.identity.residual import residual_means

    embeddings, video_actors = catalog.read("embeddings"), catalog.read("video_actors")
    model = embeddings["model"][0]
    params = donors.default_donor_params(model)
    args = (catalog.read("videos"), video_actors, embeddings, catalog.read("fake_embeddings"))
    rebuilt = residual_means(catalog.read("fake_residuals"))
    tables = {
        "faces_only": donors.identities_from_tables(*args, donors.TrackMeans.empty(), params),
        "with_residual": donors.identities_from_tables(*args, rebuilt, params),
    }
    before_after = {}
    for name, t in tables.items():
        before_after[name] = _tally(t.join(fakes, on=["source", "video_id"]), identity_of)
        print(f"{name}: " + "  ".join(
            f"a{a}: {v['found']}/{v['right']}/{v['wrong']} of {v['n']}"
            for a, v in before_after[name].items()
        ))  # fmt: skip
    after = tables["with_residual"].join(fakes, on=["source", "video_id"])
    remaining = (
        after.filter(pl.col("donor_actor_id").is_null() & ~pl.col("orphan_fake"))
        .select("video_id", "alpha", "true_target", "true_donor", "residual_gain",
                "residual_margin", "margin")
        .sort("alpha", "video_id")
    )  # fmt: skip
    print("still without a donor:")
    print(remaining)
    grid = []
    base = after.filter(pl.col("residual_margin").is_not_null())
    for margin in MARGINS:
        t = donors.identities_from_tables(
            *args, rebuilt, donors.DonorParams(params.min_target_shift, margin)
        ).join(fakes, on=["source", "video_id"])
        grid.append({"min_margin": margin, **_tally(t, identity_of)})
    _figure(before_after)
    return before_after, remaining.to_dicts(), {"rebuilt_tracks": base.height, "grid": grid}


def _figure(before_after: dict) -> None:
    """Right and wrong donors per blend strength, faces only vs with the rebuilt faces."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    alphas = list(before_after["faces_only"])
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    width = 0.38
    for k, (name, tally) in enumerate(before_after.items()):
        xs = np.arange(len(alphas)) + (k - 0.5) * width
        right = [tally[a]["right"] / tally[a]["n"] for a in alphas]
        wrong = [tally[a]["wrong"] / tally[a]["n"] for a in alphas]
        ax.bar(xs, right, width, label=f"{name}: right")
        ax.bar(xs, wrong, width, bottom=right, color="red", label="wrong" if k else None)
    ax.set_xticks(np.arange(len(alphas)), [f"blend {a}" for a in alphas])
    ax.set_ylabel("share of fakes with a donor")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("demo: donors found from faces (dlib)")
    fig.tight_layout()
    fig.savefig(RESULTS.with_suffix(".png"))
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--truth", type=Path, required=True)
    args = parser.parse_args()
    catalog = Catalog(args.data)
    truth = json.loads(args.truth.read_text())
    fakes, identity_of = true_identities(catalog, truth)
    table = catalog.read("fake_identities").join(fakes, on=["source", "video_id"])
    matched = table.filter(pl.col("margin").is_not_null()).with_columns(
        candidate_is_donor=pl.col("candidate_actor_id").replace_strict(
            identity_of, default=None, return_dtype=pl.Utf8
        )
        == pl.col("true_donor")
    )
    pl.Config.set_tbl_rows(200)
    pl.Config.set_tbl_cols(20)
    print(
        matched.select(
            "alpha",
            "true_donor",
            "candidate_is_donor",
            "target_distance",
            "donor_distance",
            "margin",
            "donor_source",
        ).sort("alpha", "margin")
    )
    stats = (
        matched.group_by("alpha")
        .agg(
            pl.len().alias("n"),
            pl.col("target_distance").min().alias("target_d_min"),
            pl.col("target_distance").median().alias("target_d_median"),
            pl.col("target_distance").max().alias("target_d_max"),
            pl.col("donor_distance").median().alias("candidate_d_median"),
            pl.col("margin").filter(pl.col("candidate_is_donor")).min().alias("margin_min_right"),
            pl.col("margin").filter(~pl.col("candidate_is_donor")).max().alias("margin_max_wrong"),
        )
        .sort("alpha")
    )
    print(stats)

    def tally(found: pl.Expr, right: pl.Expr) -> dict[str, dict[str, int]]:
        out = {}
        for alpha, group in matched.group_by("alpha"):
            g = group.filter(found)
            out[str(alpha[0])] = {
                "n": group.height,
                "found": g.height,
                "right": g.filter(right).height,
                "wrong": g.filter(~right).height,
            }
        return dict(sorted(out.items()))

    grid = []
    for shift in SHIFTS:
        for margin in MARGINS:
            found = (pl.col("target_distance") >= shift) & (pl.col("margin") >= margin)
            grid.append(
                {
                    "min_target_shift": shift,
                    "min_margin": margin,
                    **tally(found, pl.col("candidate_is_donor")),
                }
            )
    print("direction rule (found/right/wrong per alpha):")
    for g in grid:
        cells = "  ".join(
            f"a{a}: {v['found']}/{v['right']}/{v['wrong']} of {v['n']}"
            for a, v in g.items()
            if a.startswith("0.")
        )
        print(f"  shift>={g['min_target_shift']:.2f} margin>={g['min_margin']:.2f}  {cells}")

    # the naive rule, recomputed from the centroids: nearest other actor closer than the target
    embeddings = catalog.read("embeddings")
    video_actors = catalog.read("video_actors")
    centroids = donors.actor_centroids(embeddings, video_actors)
    means = donors.track_means(catalog.read("fake_embeddings"))
    originals = {
        (r["source"], r["video_id"]): r["main_track"]
        for r in video_actors.filter(pl.col("label") == "REAL").to_dicts()
    }
    naive_rows = []
    for r in matched.to_dicts():
        track = originals.get((r["source"], r["original_video_id"]))
        vec, _ = means.get((r["source"], r["video_id"], int(track)))
        d = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * centroids.matrix @ vec))
        ids = list(centroids.ids)
        ti = ids.index(r["target_actor_id"])
        order = [i for i in np.argsort(d) if i != ti]
        naive_rows.append(
            {
                "alpha": r["alpha"],
                "naive_margin": float(d[ti] - d[order[0]]),
                "naive_right": identity_of.get(ids[order[0]]) == r["true_donor"],
            }
        )
    naive = pl.DataFrame(naive_rows)
    naive_grid = []
    print("naive rule (found/right/wrong per alpha):")
    for margin in NAIVE_MARGINS:
        out = {"min_margin": margin}
        for alpha, group in naive.group_by("alpha"):
            g = group.filter(pl.col("naive_margin") >= margin)
            out[str(alpha[0])] = {
                "n": group.height,
                "found": g.height,
                "right": int(g["naive_right"].sum()),
                "wrong": g.height - int(g["naive_right"].sum()),
            }
        naive_grid.append(dict(sorted(out.items(), key=lambda kv: str(kv[0]))))
        cells = "  ".join(
            f"a{a}: {v['found']}/{v['right']}/{v['wrong']}"
            for a, v in sorted(out.items())
            if a != "min_margin"
        )
        print(f"  margin>={margin:.2f}  {cells}")

    before_after, remaining, residual_grid = residual_figures(catalog, fakes, identity_of)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "model": table["model"][0] if table.height else None,
                "per_alpha": stats.to_dicts(),
                "direction_rule": grid,
                "naive_rule": naive_grid,
                "before_after_residual": before_after,
                "residual_rule": residual_grid,
                "still_without_donor": remaining,
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
