"""The shape of the code (CONTRIBUTING.md): thin assets over a core that never imports dagster.

Read from the source with `ast`, so a breach is named by file and line: an asset function that
grew past `MAX_ASSET_LINES` (its work belongs in the core), an asset module importing another
(shared logic belongs in the core), a core module importing dagster.
"""

from __future__ import annotations

import ast
from pathlib import Path

import deepfake_assets

PACKAGE = Path(deepfake_assets.__file__).parent
ASSETS = PACKAGE / "assets"
CORE = ("sources", "media", "faces", "identity", "fakes", "splits", "export", "compute")
MAX_ASSET_LINES = 60  # `def` to last line, decorators not counted
# What every asset module may import from `assets/`: the metadata helpers, which define no asset.
SHARED_SHELL = {"deepfake_assets.assets.metadata"}
# Functions of modules other issues are slimming, at most their length today: they may shrink,
# not grow. Delete an entry when its function is under the limit.
NOT_YET_SLIM: dict[tuple[str, str], int] = {}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _imported_modules(tree: ast.Module) -> list[tuple[int, str]]:
    """Every module an `import` or `from ... import` names, anywhere in the file (functions
    too), with `from pkg import mod` counted as `pkg.mod`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def test_no_asset_function_is_longer_than_the_limit():
    too_long = []
    for path in sorted(ASSETS.glob("*.py")):
        for node in _tree(path).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                limit = NOT_YET_SLIM.get((path.name, node.name), MAX_ASSET_LINES)
                if lines > limit:
                    too_long.append(f"assets/{path.name}:{node.lineno} {node.name}: {lines} lines")
    assert not too_long, f"over {MAX_ASSET_LINES} lines (move the work to the core): {too_long}"


def test_no_asset_module_imports_another():
    asset_modules = {f"deepfake_assets.assets.{p.stem}" for p in ASSETS.glob("*.py")}
    crossings = []
    for path in sorted(ASSETS.glob("*.py")):
        own = f"deepfake_assets.assets.{path.stem}"
        for line, module in _imported_modules(_tree(path)):
            if module in asset_modules - SHARED_SHELL - {own}:
                crossings.append(f"assets/{path.name}:{line} imports {module}")
    assert not crossings, f"asset modules importing each other: {crossings}"


def test_no_core_module_imports_dagster():
    offenders = []
    for package in CORE:
        for path in sorted((PACKAGE / package).rglob("*.py")):
            for line, module in _imported_modules(_tree(path)):
                if (
                    module == "dagster"
                    or module.startswith("dagster.")
                    or module.startswith("dagster_")
                ):
                    offenders.append(f"{path.relative_to(PACKAGE)}:{line} imports {module}")
    assert not offenders, f"the core imports dagster: {offenders}"


def test_the_checks_see_what_they_check():
    """The walks find files and functions (an empty glob would pass every test above)."""
    functions = [
        node.name
        for path in ASSETS.glob("*.py")
        for node in _tree(path).body
        if isinstance(node, ast.FunctionDef)
    ]
    assert {"face_detections_and_crops", "fold_splits", "videos"} <= set(functions)
    assert all(list((PACKAGE / p).glob("*.py")) for p in CORE)
    tree = ast.parse("import dagster as dg\nfrom deepfake_assets.assets import identity\n")
    assert [m for _, m in _imported_modules(tree)] == [
        "dagster",
        "deepfake_assets.assets",
        "deepfake_assets.assets.identity",
    ]
