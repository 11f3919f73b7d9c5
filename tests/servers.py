"""Real servers that tests start, own and stop: Redis, PostgreSQL and the project under
gunicorn. Nothing here is mocked: a "stopped" Redis refuses connections because its process is
gone, a "hung" one is a process stopped with SIGSTOP, a "killed" database connection is ended
by ``pg_terminate_backend``.
"""

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

BASE_DIR = Path(__file__).resolve().parents[1]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, *, seconds: float = 15) -> None:
    deadline = time.time() + seconds
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.time() > deadline:
                raise RuntimeError(f"nothing listens on port {port}") from None
            time.sleep(0.05)


# --- Redis -----------------------------------------------------------------------------------
def can_run_redis() -> bool:
    return Path(REDIS_SERVER).exists()


class OwnRedis:
    """A ``redis-server`` on a free loopback port, without persistence, owned by one test."""

    def __init__(self):
        self.port = free_port()
        self.process = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        """Stopped: the process is gone, connections are refused."""
        if self.process is not None and self.process.poll() is None:
            self.resume()
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def hang(self) -> None:
        """Hung: the process is stopped (SIGSTOP); the kernel still accepts connections, but
        nothing is ever answered."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)

    def running(self) -> "OwnRedis":
        """Answering again, whatever an earlier test did to it (stopped or hung)."""
        if self.process is None:
            self.start()
        self.resume()
        return self

    def close(self) -> None:
        self.stop()


# --- PostgreSQL ------------------------------------------------------------------------------
def can_run_postgres() -> bool:
    if not (PG_BIN / "initdb").exists() or not shutil.which("runuser"):
        return False
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return False
    return os.geteuid() == 0


class OwnPostgres:
    """A throw-away PostgreSQL cluster on its own port, owned by this test."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="deleg-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        pg = pwd.getpwnam("postgres")
        os.chown(self.root, pg.pw_uid, pg.pw_gid)
        self._run(
            PG_BIN / "initdb",
            "-D",
            self.data,
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )

    def _run(self, *args):
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *map(str, args)],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def url_for(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def start(self):
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=40"
        )
        self._run(
            PG_BIN / "pg_ctl",
            "-D",
            self.data,
            "-l",
            self.root / "log",
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self):
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "60", "stop")

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one statement as the superuser (through ``psql`` on the cluster's socket)."""
        result = subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(PG_BIN / "psql") if (PG_BIN / "psql").exists() else "psql",
                "-h",
                str(self.root),
                "-p",
                str(self.port),
                "-d",
                database,
                "-qAtc",
                statement,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return result.stdout.strip()

    def destroy(self):
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.root, ignore_errors=True)


# --- the project under gunicorn ---------------------------------------------------------------
class ProjectServer:
    """The project served by gunicorn on loopback with the given environment (DATABASE_URL,
    REDIS_URL, throttle settings ...). ``prepare`` runs ``tests.e2e.server_setup`` first
    (migrate and create the tenant this server's tests use) and keeps what it printed."""

    def __init__(self, env: dict, workdir: Path, *, workers: int = 1, prepare: bool = True):
        self.port = free_port()
        base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
        self.env = {
            **base,
            "DJANGO_SETTINGS_MODULE": "tenantauth.settings",
            "DEBUG": "false",
            "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL", f"http://127.0.0.1:{self.port}"),
            **env,
        }
        self.setup = {}
        if prepare:
            done = subprocess.run(
                [sys.executable, "-m", "tests.e2e.server_setup"],
                cwd=BASE_DIR,
                env=self.env,
                check=True,
                capture_output=True,
                text=True,
                timeout=180,
            )
            self.setup = json.loads(done.stdout.strip().splitlines()[-1])
        self.log = open(workdir / f"gunicorn-{self.port}.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "tenantauth.wsgi:application",
                "-b",
                f"127.0.0.1:{self.port}",
                "-w",
                str(workers),
                "--timeout",
                "60",
            ],
            cwd=BASE_DIR,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 60  # generous: the machine may be busy with other tests
        while True:
            try:
                requests.get(self.base, timeout=2)
                break
            # A busy machine: gunicorn's master accepts before its worker has loaded the app,
            # so the first request may time out rather than be refused; keep waiting.
            except (requests.ConnectionError, requests.Timeout):
                if time.time() > deadline or self.process.poll() is not None:
                    self.close()  # never leave a server behind
                    raise RuntimeError("the project server did not start") from None
                time.sleep(0.2)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.log.close()


@contextlib.contextmanager
def two_project_servers(tmp_path, extra_env: dict | None = None):
    """Two ProjectServers (two processes) on one SQLite file and one Redis of their own, with
    one issuer; yields ``(first, second)``. Every process started is stopped, also when a later
    one fails to start. Skips when redis-server is missing."""
    if not can_run_redis():
        pytest.skip("skipped: needs redis-server")
    with contextlib.ExitStack() as stack:
        redis_server = OwnRedis()
        stack.callback(redis_server.close)
        env = {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite3'}",
            "REDIS_URL": redis_server.url,
            **(extra_env or {}),
        }
        first = ProjectServer(env, tmp_path)
        stack.callback(first.close)
        env["PUBLIC_BASE_URL"] = first.env["PUBLIC_BASE_URL"]  # one issuer for both
        second = ProjectServer(env, tmp_path, prepare=False)
        stack.callback(second.close)
        second.setup = first.setup
        yield first, second
