"""The first run as a new user does it: ``make run PORT=<port>`` migrates, loads the demo and
serves on that port, and everything it advertises (issuer, printed links, discovery) names
that port; each log line appears once; the printed commands work as printed."""

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings

pytestmark = pytest.mark.e2e

BASE_DIR = Path(settings.BASE_DIR)
PASSWORDS = {
    "DEMO_ADMIN_PASSWORD": "first-run-admin-pw-1",
    "DEMO_AUDITOR_PASSWORD": "first-run-auditor-pw-1",
    "DEMO_USER_PASSWORD": "first-run-user-pw-1",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(tmp_path, **extra) -> dict:
    """This process's environment minus anything that would choose the URL or database."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in ("PUBLIC_BASE_URL", "PORT", "DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
        and not k.startswith("PYTEST")
    }
    env.update(PASSWORDS, DATABASE_URL=f"sqlite:///{tmp_path / 'first-run.sqlite3'}", **extra)
    return env


def _wait_for(url: str, proc, seconds: float = 90) -> requests.Response:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"make run exited with {proc.returncode}")
        try:
            return requests.get(url, timeout=2)
        except (requests.ConnectionError, requests.Timeout):  # still starting, or busy
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {seconds} s")


@pytest.mark.skipif(not Path("/usr/bin/make").exists(), reason="make is not installed")
def test_make_run_on_another_port_advertises_that_port(tmp_path):
    """``make run PORT=<p>``: the demo prints links and an issuer with <p>, discovery on the
    running server names <p>, and "Watching for file changes" is logged once."""
    port = _free_port()
    log = tmp_path / "run.log"
    with log.open("w") as out:
        proc = subprocess.Popen(  # noqa: S603 - fixed arguments
            ["make", "--no-print-directory", "-o", ".venv/.installed", "run", f"PORT={port}"],
            cwd=BASE_DIR,
            env=_env(tmp_path),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped below by its id
        )
    try:
        base = f"http://127.0.0.1:{port}"
        discovery = _wait_for(f"{base}/t/acme/.well-known/openid-configuration", proc)
        assert discovery.status_code == 200
        assert discovery.json()["issuer"] == f"{base}/t/acme/"
        assert discovery.json()["token_endpoint"] == f"{base}/t/acme/oauth/token"
        time.sleep(1)  # let the reloader's start-up lines reach the log
        output = log.read_text()
        assert f"Issuer:        {base}/t/acme/" in output
        assert f"Admin login:   {base}/admin/  acme-admin" in output
        assert f"Auditor login: {base}/admin/  acme-auditor" in output
        assert ":8000" not in output
        assert output.count("Watching for file changes") == 1, output
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


def _manage(tmp_path, *args, **env):
    return subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_public_base_url_wins_over_port(tmp_path):
    """With PUBLIC_BASE_URL set, the issuer is that URL whatever PORT says."""
    _manage(tmp_path, "migrate", "--noinput", "-v0")
    out = _manage(
        tmp_path, "demo", "--json", PORT="8101", PUBLIC_BASE_URL="https://id.example.com/"
    ).stdout
    assert '"issuer": "https://id.example.com/t/acme/"' in out


def test_printed_commands_work_as_printed(tmp_path):
    """The command the demo prints for client secrets runs, as printed, from the project
    directory and prints the demo as JSON."""
    _manage(tmp_path, "migrate", "--noinput", "-v0")
    out = _manage(tmp_path, "demo", PORT="8101").stdout
    command = re.search(r"Client secrets[^:]*: (.+)", out).group(1).strip()
    assert command.endswith("manage.py demo --json")
    result = subprocess.run(  # noqa: S603 - the command under test, split as a shell would
        shlex.split(command),
        cwd=BASE_DIR,
        env=_env(tmp_path, PORT="8101"),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert '"issuer": "http://127.0.0.1:8101/t/acme/"' in result.stdout


@pytest.mark.parametrize("port", ["abc", "0", "70000"])
def test_a_bad_port_stops_at_start_up(tmp_path, port):
    """PORT names the advertised URL: a value that is no TCP port fails fast, by name."""
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=_env(tmp_path, PORT=port),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "PORT must be a TCP port number" in result.stderr
