"""Start the emulators the add-on tests check against, on loopback, from tests/node.

Azurite (``azurite-blob``) and the Firebase Auth emulator (``firebase emulators:start --only
auth``) run as child processes in a temporary directory, on free ports, with telemetry and
update checks off; the fixtures stop them (their whole process group) afterwards. A missing
Node.js or package is a skip locally and a failure in CI (``CI`` set), like Chromium.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parent.parent / "node"
BIN = NODE_DIR / "node_modules" / ".bin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require(executable: Path) -> None:
    if shutil.which("node") and executable.exists():
        return
    message = f"{executable.name} is not installed (make node)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"emulator exited early:\n{log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=1)  # noqa: S310 - loopback only
            return
        except urllib.error.HTTPError:
            return  # it answers: up
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"emulator did not start in {timeout}s:\n{log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def _environment(home: Path) -> dict:
    return {
        **os.environ,
        "HOME": str(home),  # no user config: no stored consent, no cached credentials
        "FIREBASE_CLI_DISABLE_UPDATE_CHECK": "true",
        "NO_UPDATE_NOTIFIER": "1",
    }


def start_azurite(workdir: Path):
    """Azurite's blob service in memory on a free loopback port; yields its base URL."""
    executable = BIN / "azurite-blob"
    require(executable)
    port = free_port()
    log = workdir / "azurite.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                str(executable),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(port),
                "--inMemoryPersistence",
                "--extentMemoryLimit",
                "64",
                "--disableTelemetry",
            ],
            cwd=workdir,
            env=_environment(workdir),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_http(f"http://127.0.0.1:{port}/devstoreaccount1?comp=list", proc, log, 30)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)


def start_firebase_auth(workdir: Path, project: str):
    """The Firebase Auth emulator for ``project`` (a ``demo-`` project: offline by design);
    yields its base URL."""
    executable = BIN / "firebase"
    require(executable)
    port, hub, logging = free_port(), free_port(), free_port()
    (workdir / "firebase.json").write_text(
        json.dumps(
            {
                "emulators": {
                    "auth": {"host": "127.0.0.1", "port": port},
                    "hub": {"host": "127.0.0.1", "port": hub},
                    "logging": {"host": "127.0.0.1", "port": logging},
                    "ui": {"enabled": False},
                }
            }
        )
    )
    log = workdir / "firebase.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(executable), "emulators:start", "--only", "auth", "--project", project],
            cwd=workdir,
            env=_environment(workdir),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_http(f"http://127.0.0.1:{port}/", proc, log, 90)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)
