"""End-to-end helpers: real `dagster dev` / `dagster-daemon` processes on loopback.

Each server runs in its own process group (webserver, daemon, code servers and run workers all
inherit it), so a test can always end everything it started with one `killpg`, even when an
assertion failed half-way.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKSPACE_YAML = REPO_ROOT / "workspace.yaml"
INSTANCE_YAML = REPO_ROOT / "dagster.yaml"
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"
LOOPBACK = "127.0.0.1"
# A loaded two-core machine can take a minute to import torch in every code server.
SERVER_START_TIMEOUT_S = 240.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: starts real Dagster servers (and a browser); minutes, not seconds"
    )


def skip_loudly(reason: str) -> None:
    """Skip with the reason on stderr too, so a missing browser is never a silent pass."""
    print(f"\nSKIPPED (e2e): {reason}", file=sys.stderr, flush=True)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def wait_for(what: str, probe: Callable[[], Any], timeout_s: float, interval_s: float = 1.0) -> Any:
    """Call `probe` until it returns something truthy; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
        except Exception as exc:  # the server may not be up yet: keep the last error for the report
            last_error, value = exc, None
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what} ({last_error!r})")


@pytest.fixture
def instance_env(data_env: dict[str, Path]) -> dict[str, Path]:
    """`data_env` (temporary DEEPFAKE_DATA_DIR, DAGSTER_HOME, DEEPFAKE_SOURCES_DIR, settle 0)
    with the repository's own dagster.yaml in DAGSTER_HOME, as `deepfake-assets` would copy it."""
    shutil.copyfile(INSTANCE_YAML, data_env["home"] / "dagster.yaml")
    return data_env


# A process started from a background job inherits SIGINT ignored, and Dagster maps SIGTERM to
# SIGINT's handler: such a server would ignore both. Restore the defaults, then exec the command.
_RESET_SIGNALS_AND_EXEC = (
    "import os, signal, sys\n"
    "for s in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT):\n"
    "    signal.signal(s, signal.SIG_DFL)\n"
    "os.execvp(sys.argv[1], sys.argv[1:])\n"
)


class DagsterProcess:
    """A `dagster` command in its own process group, its output in a log file."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _RESET_SIGNALS_AND_EXEC, *args],
            cwd=REPO_ROOT,
            env=dict(os.environ if env is None else env),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, n_chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n_chars:]
        except OSError:
            return ""

    def check_alive(self) -> None:
        if not self.alive():
            raise AssertionError(
                f"{' '.join(self.args)} exited with {self.proc.returncode}:\n{self.log_tail()}"
            )

    def stop(self, grace_s: float = 20.0) -> None:
        """SIGTERM the whole group (children included), SIGKILL whatever is left after grace."""
        pgid = self.proc.pid
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                continue
            # The leader is gone; children of the group may still be draining.
            deadline = time.monotonic() + grace_s
            while time.monotonic() < deadline and _group_alive(pgid):
                time.sleep(0.2)
            if not _group_alive(pgid):
                break
        self._log.close()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def dagster_bin(name: str) -> str:
    """An entry point of the interpreter running the tests (the project's venv)."""
    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else shutil.which(name) or name


@contextmanager
def dagster_process(args: list[str], log_path: Path) -> Iterator[DagsterProcess]:
    process = DagsterProcess(args, log_path)
    try:
        yield process
    finally:
        process.stop()
        print(f"server log: {log_path}")


def graphql(
    base_url: str, query: str, variables: dict | None = None, timeout_s: float = 30
) -> dict:
    """POST a query to the webserver's /graphql; the `data` of the answer, or an AssertionError."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"{base_url}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        answer = json.loads(response.read())
    if answer.get("errors"):
        raise AssertionError(f"GraphQL errors: {answer['errors']}")
    return answer["data"]


WORKSPACE_QUERY = """
{
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message }
        }
      }
    }
  }
}
"""


def wait_for_webserver(process: DagsterProcess, base_url: str, timeout_s: float) -> None:
    """Until the webserver answers and every code location has loaded (or failed: then fail)."""

    def loaded() -> bool:
        process.check_alive()
        urllib.request.urlopen(f"{base_url}/server_info", timeout=10).read()
        workspace = graphql(base_url, WORKSPACE_QUERY)["workspaceOrError"]
        entries = workspace.get("locationEntries") or []
        for entry in entries:
            error = entry.get("locationOrLoadError") or {}
            if error.get("__typename") == "PythonError":
                raise AssertionError(f"code location {entry['name']} failed: {error['message']}")
        return bool(entries) and all(
            e["loadStatus"] == "LOADED"
            and (e.get("locationOrLoadError") or {}).get("__typename") == "RepositoryLocation"
            for e in entries
        )

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if loaded():
                return
        except AssertionError:
            raise
        except Exception:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(
                f"dagster webserver at {base_url} not ready after {timeout_s:.0f} s:\n"
                f"{process.log_tail()}"
            )
        time.sleep(1.0)
