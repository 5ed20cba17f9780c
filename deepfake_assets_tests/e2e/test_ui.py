"""The Dagster UI as a user sees it: graph, checks, a source partition, a launch from the UI.

Starts `dagster dev` on a free loopback port with a temporary instance (the repository's
dagster.yaml) and data directory, registers a tiny DFDC folder with the CLI, and drives headless
Chromium through Playwright. Every step saves a screenshot under `test-artifacts/ui/`.

Needs the `playwright` Python package and a system Chromium (Debian: `apt-get install
chromium`; Playwright's own browser download is not used). Without them the test skips and says
why.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from deepfake_assets import cli
from deepfake_assets.definitions import defs
from deepfake_assets_tests.conftest import make_dfdc_folder
from deepfake_assets_tests.e2e.conftest import (
    ARTIFACTS_DIR,
    LOOPBACK,
    SERVER_START_TIMEOUT_S,
    WORKSPACE_YAML,
    dagster_bin,
    dagster_process,
    free_port,
    graphql,
    skip_loudly,
    wait_for,
    wait_for_webserver,
)

pytestmark = pytest.mark.e2e

SOURCE = "tiny"
SCREENSHOTS = ARTIFACTS_DIR / "ui"
UI_TIMEOUT_MS = 60_000
RUN_TIMEOUT_S = 600.0
CHROMIUM_ENV = "DEEPFAKE_E2E_CHROMIUM"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Without the background-networking flags Chromium dials out at start; this network is closed.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

RUNS_QUERY = """
query Runs($partition: String!) {
  runsOrError(filter: {tags: [{key: "dagster/partition", value: $partition}]}) {
    __typename
    ... on Runs { results { runId status jobName } }
    ... on PythonError { message }
  }
}
"""

RUN_QUERY = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { runId status }
    ... on PythonError { message }
  }
}
"""

TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


def _chromium_or_skip() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        skip_loudly(f"the playwright package is not installed ({exc}): pip install playwright")
    path = os.environ.get(CHROMIUM_ENV) or next(
        (found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None
    )
    if path and not os.access(path, os.X_OK):
        skip_loudly(f"${CHROMIUM_ENV}={path} is not an executable")
    if not path:
        skip_loudly(
            f"no Chromium found (looked for {', '.join(CHROMIUM_NAMES)} on PATH and "
            f"${CHROMIUM_ENV}): apt-get install chromium"
        )
    return path


class Screenshots:
    """Numbered full-page screenshots of each step, paths printed for the person reading."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.png"):
            old.unlink()
        self.n = 0

    def take(self, page, name: str) -> Path:
        self.n += 1
        path = self.folder / f"{self.n:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}", flush=True)
        return path

    def element(self, locator, name: str) -> Path:
        """A screenshot of one element (a metadata row, a dialog), whole even when the page
        scrolls it inside a panel."""
        self.n += 1
        path = self.folder / f"{self.n:02d}-{name}.png"
        locator.screenshot(path=str(path))
        print(f"screenshot: {path}", flush=True)
        return path


def _wait_for_run(base_url: str, run_id: str) -> str:
    def terminal() -> str | None:
        run = graphql(base_url, RUN_QUERY, {"runId": run_id})["runOrError"]
        return run.get("status") if run.get("status") in TERMINAL else None

    return wait_for(f"run {run_id} to finish", terminal, RUN_TIMEOUT_S, interval_s=2.0)


def _show_whole_graph(page, names: list[str]) -> None:
    """Expand every asset group of the global lineage graph (collapsed by default)."""
    graph = page.locator("svg foreignObject")
    graph.first.wait_for(timeout=UI_TIMEOUT_MS)  # the graph (groups or assets) has rendered
    first = graph.get_by_text(names[0], exact=True).first
    try:
        first.wait_for(timeout=3_000)
        return  # already expanded
    except Exception:
        pass
    # The graph's own shortcut for "Expand all groups" (also in its settings menu).
    page.keyboard.press("Alt+e")
    first.wait_for(timeout=UI_TIMEOUT_MS)


def test_user_materialises_a_source_partition_from_the_ui(instance_env, tmp_path):
    chromium = _chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=UI_TIMEOUT_MS)
    started = time.monotonic()
    folder = make_dfdc_folder(tmp_path / "tiny_dfdc")
    assert cli.main(["sources", "add", SOURCE, str(folder)]) == 0

    asset_keys = sorted(defs.resolve_all_asset_keys(), key=lambda k: k.to_user_string())
    asset_graph = defs.resolve_asset_graph()
    checks_by_asset: dict[str, list[str]] = {}
    for check_key in asset_graph.asset_check_keys:
        checks_by_asset.setdefault(check_key.asset_key.to_user_string(), []).append(check_key.name)

    port = free_port()
    base = f"http://{LOOPBACK}:{port}"
    command = [
        dagster_bin("dagster"),
        "dev",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--workspace",
        str(WORKSPACE_YAML),
    ]
    shots = Screenshots(SCREENSHOTS)
    with dagster_process(command, tmp_path / "dagster_dev.log") as server:
        wait_for_webserver(server, base, SERVER_START_TIMEOUT_S)
        print(f"dagster dev ready at {base} after {time.monotonic() - started:.0f} s")
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path),
                executable_path=chromium,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1600, "height": 1000},
            )
            try:
                context.set_default_timeout(UI_TIMEOUT_MS)
                page = context.pages[0] if context.pages else context.new_page()
                # A fresh instance greets a new user with a "Join the community" dialog.
                page.add_locator_handler(
                    page.get_by_role("button", name="Skip", exact=True), lambda b: b.click()
                )

                # 1. The asset graph: every asset of `defs`.
                page.goto(f"{base}/asset-groups")
                expect(page.get_by_text("Global asset lineage")).to_be_visible()
                names = [key.path[-1] for key in asset_keys]
                _show_whole_graph(page, names)
                graph = page.locator("svg foreignObject")
                for name in names:
                    expect(graph.get_by_text(name, exact=True).first).to_be_visible()
                shots.take(page, "asset-graph")

                # 1b. Their checks, on each checked asset's Checks tab.
                for asset, check_names in sorted(checks_by_asset.items()):
                    page.goto(f"{base}/assets/{asset}?view=checks")
                    expect(page.get_by_text(f"Checks ({len(check_names)})")).to_be_visible()
                    for check_name in sorted(check_names):
                        # The list middle-truncates long names; the full name is its title.
                        page.get_by_placeholder("Filter checks").fill(check_name)
                        page.get_by_title(check_name, exact=True).first.click()
                        expect(page).to_have_url(re.compile(f"checkDetail={check_name}"))
                        shown = page.get_by_text(check_name, exact=True).filter(visible=True)
                        expect(shown.first).to_be_visible()  # the selected check's heading
                    page.get_by_placeholder("Filter checks").fill("")
                    shots.take(page, f"checks-{asset.replace('/', '_')}")

                # 2. The `tiny` partition of `videos`, not materialised yet.
                page.goto(f"{base}/assets/videos?view=partitions")
                page.get_by_text(SOURCE, exact=True).first.click()
                expect(page).to_have_url(re.compile(rf"partition={SOURCE}\b"))
                expect(page.get_by_text("No metadata entries")).to_be_visible()
                shots.take(page, "videos-partition-tiny-missing")

                # 3. Materialize -> partition selection -> launch.
                page.get_by_role("button", name="Materialize…").first.click()
                dialog = page.get_by_role("dialog")
                expect(dialog.get_by_text("Launch runs to materialize videos")).to_be_visible()
                expect(dialog.get_by_text("1 partition", exact=True)).to_be_visible()
                expect(dialog.get_by_text(SOURCE, exact=True).first).to_be_visible()
                launch = dialog.get_by_role("button", name="Launch 1 run")
                expect(launch).to_be_enabled()
                shots.take(page, "launch-dialog")
                launch.click()
                expect(dialog).to_be_hidden()
                toast = page.get_by_text(re.compile(r"Launched run [0-9a-f]{8}"))
                expect(toast.first).to_be_visible()
                run_prefix = re.search(r"[0-9a-f]{8}", toast.first.inner_text()).group(0)
                shots.take(page, "launched")

                # 4. The run the UI launched, until it succeeds.
                def launched_run() -> dict | None:
                    runs = graphql(base, RUNS_QUERY, {"partition": SOURCE})["runsOrError"]
                    return next(
                        (r for r in runs.get("results") or [] if r["runId"].startswith(run_prefix)),
                        None,
                    )

                run = wait_for(f"run {run_prefix} in the instance", launched_run, 60.0)
                status = _wait_for_run(base, run["runId"])
                page.goto(f"{base}/runs/{run['runId']}")
                expect(page.get_by_text("Success", exact=True).first).to_be_visible()
                expect(page.get_by_text("RUN_SUCCESS").first).to_be_visible()
                shots.take(page, "run-succeeded")
                assert status == "SUCCESS", f"run {run['runId']} ended {status} ({server.log_path})"

                # 5. The materialisation's metadata on the partition's page.
                page.goto(f"{base}/assets/videos?view=partitions&partition={SOURCE}")
                expect(page.get_by_text("Materialized", exact=True).first).to_be_visible()
                rows = page.get_by_role("row")

                def metadata_row(label: str):
                    return rows.filter(has=page.get_by_text(label, exact=True)).first

                for label in ("source_fingerprint", "num_videos", "num_ok", "problems"):
                    expect(metadata_row(label)).to_be_visible()
                # The tiny folder lists 5 videos: real, fake, broken, lost, ../../escape.
                expect(metadata_row("num_videos").get_by_role("cell").nth(1)).to_have_text("5")
                expect(metadata_row("num_ok").get_by_role("cell").nth(1)).to_have_text("2")
                shots.take(page, "videos-tiny-metadata")

                # 5b. The `problems` table names each bad entry with its status.
                problems = metadata_row("problems")
                for text in ("broken.mp4", "unreadable", "lost.mp4", "missing", "rejected"):
                    expect(problems.get_by_text(text).first).to_be_visible()
                problems.scroll_into_view_if_needed()
                shots.take(page, "videos-tiny-problems-table")
            except BaseException:
                # What the user would have seen when it went wrong.
                for open_page in context.pages:
                    shots.take(open_page, "failure")
                raise
            finally:
                context.close()
    print(f"UI end-to-end test took {time.monotonic() - started:.0f} s")


# -- what the metadata of the faces, actors and fakes looks like ------------------------------
METADATA_SCREENSHOTS = SCREENSHOTS / "metadata"
CROPS_FOLDER = "$DEEPFAKE_DATA_DIR/faces/<source>/<video slug>-<hash>/"
# whole tables and pictures in element screenshots, not the window's first rows
TALL_VIEWPORT = {"width": 1600, "height": 3200}


@contextmanager
def _dagster_ui(tmp_path: Path, chromium: str) -> Iterator[tuple[str, Any]]:
    """`dagster dev` on a free loopback port and a headless Chromium page: (base URL, page)."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    base = f"http://{LOOPBACK}:{port}"
    command = [
        dagster_bin("dagster"),
        "dev",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--workspace",
        str(WORKSPACE_YAML),
    ]
    with dagster_process(command, tmp_path / "dagster_dev.log") as server:
        wait_for_webserver(server, base, SERVER_START_TIMEOUT_S)
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path),
                executable_path=chromium,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1600, "height": 1000},
            )
            try:
                context.set_default_timeout(UI_TIMEOUT_MS)
                page = context.pages[0] if context.pages else context.new_page()
                page.add_locator_handler(
                    page.get_by_role("button", name="Skip", exact=True), lambda b: b.click()
                )
                yield base, page
            finally:
                context.close()


def _metadata_row(page, label: str):
    return page.get_by_role("row").filter(has=page.get_by_text(label, exact=True)).first


def _header(row) -> list[str]:
    return [t.strip() for t in row.locator("thead th").all_inner_texts()]


def _open_picture(page, label: str):
    """Open a metadata entry's Markdown (pictures are too big to show inline): its dialog and
    the picture's natural size in pixels."""
    from playwright.sync_api import expect

    _metadata_row(page, label).get_by_text("[Show Markdown]").click()
    dialog = page.get_by_role("dialog").filter(has=page.locator("img"))
    image = dialog.locator("img").first
    expect(image).to_be_visible()
    image.evaluate("img => img.decode()")
    size = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    return dialog, tuple(size)


def _close(page) -> None:
    from playwright.sync_api import expect

    page.get_by_role("dialog").get_by_role("button", name="Close").last.click()
    expect(page.get_by_role("dialog")).to_have_count(0)


def _goto_metadata(page, url: str, first_label: str) -> None:
    """A metadata page in a window tall enough for whole tables and pictures."""
    from playwright.sync_api import expect

    page.set_viewport_size(TALL_VIEWPORT)
    page.goto(url)
    expect(_metadata_row(page, first_label)).to_be_visible()


def test_user_reads_the_metadata_of_faces_actors_and_fakes(instance_env, tmp_path):
    """The demo, materialised by the CLI, read in the UI: the crop folder in face_crops'
    description, tables with their key columns first and 'showing N of M' when cut, the
    t-SNE, the faces per actor and the level histogram at the sizes they are drawn."""
    chromium = _chromium_or_skip()
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_TIMEOUT_MS)
    started = time.monotonic()
    assert cli.main(["demo", str(tmp_path / "dfdc_demo")]) == 0
    print(f"demo materialised after {time.monotonic() - started:.0f} s")
    shots = Screenshots(METADATA_SCREENSHOTS)
    with _dagster_ui(tmp_path, chromium) as (base, page):
        try:
            read_metadata_pages(base, page, shots)
        except BaseException:
            shots.take(page, "failure")
            raise
    print(f"metadata UI test took {time.monotonic() - started:.0f} s")


def read_metadata_pages(base: str, page, shots: Screenshots) -> None:
    """Open the metadata of face_crops, face_detections, actor_clusters and fake_groups of the
    materialised demo (catalog in $DEEPFAKE_DATA_DIR), check what must read well and save
    element screenshots of each."""
    from playwright.sync_api import expect

    from deepfake_assets.catalog import Catalog
    from deepfake_assets.fakes.figures import DPI as HISTOGRAM_DPI
    from deepfake_assets.fakes.figures import HISTOGRAM_SIZE
    from deepfake_assets.identity.figures import DPI as TSNE_DPI
    from deepfake_assets.identity.figures import TSNE_SIZE

    catalog = Catalog()
    # the UI shows the latest materialisation: the demo's video source (its image source runs
    # first)
    n_videos = catalog.read("face_videos", "demo").height
    n_fake_videos = catalog.read("fake_groups", "demo")["video_id"].n_unique()
    # 1. face_crops: the crop folder reads as written (Markdown ate <source>/<video>)
    page.goto(f"{base}/assets/face_crops")
    description = page.get_by_text(CROPS_FOLDER, exact=False)
    expect(description.first).to_be_visible()
    shots.take(page, "face_crops-description")

    # 1b. its sample faces
    _goto_metadata(page, f"{base}/assets/face_crops?view=partitions&partition=demo", "sample_faces")
    dialog, _ = _open_picture(page, "sample_faces")
    shots.element(dialog, "face_crops-sample_faces")
    _close(page)

    # 2. face_detections: key columns first, the cut said in the table's last row
    _goto_metadata(
        page,
        f"{base}/assets/face_detections?view=partitions&partition=demo",
        "faces_per_video",
    )
    table = _metadata_row(page, "faces_per_video")
    assert _header(table)[:4] == ["video_id", "status", "reason", "num_faces"]
    expect(table.get_by_text(f"showing 50 of {n_videos} rows", exact=False)).to_be_visible()
    shots.element(table, "face_detections-faces_per_video")

    # 3. actor_clusters: the actors table, the t-SNE and the faces of each actor
    _goto_metadata(page, f"{base}/assets/actor_clusters", "actors")
    table = _metadata_row(page, "actors")
    assert _header(table)[:2] == ["actor_id", "n_faces"]
    shots.element(table, "actor_clusters-actors")
    dialog, size = _open_picture(page, "tsne")
    assert size == (round(TSNE_SIZE[0] * TSNE_DPI), round(TSNE_SIZE[1] * TSNE_DPI))
    shots.element(dialog, "actor_clusters-tsne")
    _close(page)
    dialog, size = _open_picture(page, "same_actor_in_several_videos")
    # a row label (120 px) and 6 faces of 96 px with 4 px gaps: more than two per actor
    assert size[0] == 120 + 6 * (96 + 4) + 4
    shots.element(dialog, "actor_clusters-same_actor")
    _close(page)

    # 4. fake_groups: levels first in the per-video table, the histogram of levels
    _goto_metadata(page, f"{base}/assets/fake_groups?view=partitions&partition=demo", "per_video")
    table = _metadata_row(page, "per_video")
    assert _header(table)[:3] == ["video_id", "level", "difference"]
    expect(table.get_by_text(f"showing 30 of {n_fake_videos} rows", exact=False)).to_be_visible()
    shots.element(table, "fake_groups-per_video")
    dialog, size = _open_picture(page, "ssim_histogram")
    assert size == (
        round(HISTOGRAM_SIZE[0] * HISTOGRAM_DPI),
        round(HISTOGRAM_SIZE[1] * HISTOGRAM_DPI),
    )
    shots.element(dialog, "fake_groups-ssim_histogram")
    _close(page)
    dialog, _ = _open_picture(page, "examples_per_level")
    shots.element(dialog, "fake_groups-examples_per_level")
    _close(page)
