"""Benchmark: /delegation against a bare-Django ideal path, in one run, on PostgreSQL.

Run: ``make bench`` (or ``.venv/bin/python bench/delegation.py``). Needs PostgreSQL
(``BENCH_DATABASE_URL``, default the local server; the database is dropped and re-created),
Redis (``BENCH_REDIS_URL``) and ``wrk`` (installed with apt-get when missing and root).

What runs, side by side, on the same database and the same machine:

* the project (``bench.settings``: the project's settings plus the in-project reference view)
  under gunicorn, 2 sync workers;
* the bare reference project (``bench.bare``: its own settings and URL conf, no middleware,
  its own two tables) under its own gunicorn, 2 sync workers: the ideal delegation (verify the
  HS256 id_token, read two rows by indexed key, sign HS256 or RS256, insert one row, one
  transaction) and django-oauth-toolkit's token endpoint (client credentials, plain secret).

The database is filled (fillers, users, 20,000 audit rows) and ANALYZEd. Then ``--rounds``
interleaved rounds (default 9 of 5 s): in each round every case runs at c4 and at c16 (wrk
pinned to one core with taskset, every response checked for status 200), the two sides of
each targeted ratio back to back (the order of ``cases``), the order reversed every other round. For
each ratio the median of the within-round ratios is reported, so a slow moment of the shared
machine hits both sides of a ratio. Targets
(issue 13): HS256 /delegation >= 1.0x the bare HS256 throughput and p99 <= 1.5x; >= 1.2x
DOT's throughput; RS256 >= 0.9x the bare RS256. The in-project reference view is reported as a
diagnostic only (it pays the project's per-request stack), and so are the two add-on cases
(issue 8): a Firebase custom token (RS256 with the admin's service-account key) against the
RS256 app token, and an Azure Blob SAS (HMAC-SHA256) against the HS256 one.

Finally a profile (``bench/request_profile.py``): the top 15 functions of one HS256 delegation,
cProfile over many requests through the project's WSGI application on the same database.
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable
DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tenantauth_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
PORT = int(os.environ.get("BENCH_PORT", "8765"))
BARE_PORT = int(os.environ.get("BENCH_BARE_PORT", "8766"))
BASE = f"http://127.0.0.1:{PORT}"
BARE = f"http://127.0.0.1:{BARE_PORT}"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def sh(*args, **kwargs):
    return subprocess.run(args, check=True, **kwargs)


def prepare_database(env, bare_env):
    name = DB_URL.rsplit("/", 1)[1]
    admin = DB_URL.rsplit("/", 1)[0] + "/postgres"
    sh("psql", "-q", admin, "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    sh("psql", "-q", admin, "-c", f"CREATE DATABASE {name}")
    sh(PY, "manage.py", "migrate", "-v0", cwd=ROOT, env=env)
    sh(PY, "manage.py", "migrate", "--run-syncdb", "-v0", cwd=ROOT, env=bare_env)
    subprocess.run(["redis-cli", "-u", REDIS_URL, "flushdb"], check=True, capture_output=True)


PROJECT_FIXTURE = r"""
import json, sys, time, django
django.setup()
import jwt
from addons import services as addon_services
from delegation.models import AuditEvent
from tenantauth import crypto, services, signing
from tenantauth.models import Application, Tenant, GRANT_DELEGATION_ID_TOKEN

tenant = services.tenant_create(slug="bench", name="Bench")
Tenant.objects.filter(pk=tenant.pk).update(delegation_rate_limit=2_000_000_000)
tenant.refresh_from_db()
source = services.application_create(tenant=tenant, name="source",
                                     grant_types=[GRANT_DELEGATION_ID_TOKEN],
                                     jwt_signature_algorithm="HS256")
fillers = [services.application_create(tenant=tenant, name=f"filler{i}").client_id
           for i in range(50)]
hs = services.application_create(tenant=tenant, name="apiHS", app_type="resource_server",
                                 jwt_signature_algorithm="HS256",
                                 allowed_clients=fillers + [source.client_id])
rs = services.application_create(tenant=tenant, name="apiRS", app_type="resource_server",
                                 jwt_signature_algorithm="RS256",
                                 allowed_clients=fillers + [source.client_id])
AZURITE_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
               "KBHBeksoGMGw==")
azure_blob = ({"account_name": "devstoreaccount1", "container_name": "bench",
               "blob_name": "report.txt", "expiration": 5, "signed_identifier": "",
               "blob_read": True, "blob_write": True, "blob_delete": False,
               "container_read": True, "container_write": False, "container_delete": False,
               "container_list": False, "https_only": True, "allow_blob_name_override": False,
               "allow_container_name_override": False},
              {"storage_access_key": AZURITE_KEY})
fb = services.application_create(tenant=tenant, name="apiFirebase", app_type="resource_server",
                                 allowed_clients=fillers + [source.client_id])
blob = services.application_create(tenant=tenant, name="apiBlob", app_type="resource_server",
                                   allowed_clients=fillers + [source.client_id])
firebase = ({"token_format": "custom_token", "client_email": "bench@demo.iam.gserviceaccount.com",
             "private_key_id": "ab" * 20, "lifetime_in_seconds": 3600,
             "uid_attribute": "user_id", "claims_attributes": ["email"]},
            {"private_key": signing.private_key_to_pem(signing.generate_rsa_private_key())})
for target, addon, (values, secrets) in [(fb, "firebase", firebase),
                                         (blob, "azure_blob", azure_blob)]:
    addon_services.addon_configure(tenant=tenant, application=target, addon=addon,
                                   enabled=True, settings=values, secrets=secrets)
for filler in Application.objects.filter(tenant=tenant, name__startswith="filler")[:20]:
    addon_services.addon_configure(tenant=tenant, application=filler, addon="azure_blob",
                                   enabled=True, settings=azure_blob[0], secrets=azure_blob[1])
users = [services.tenant_user_create(tenant=tenant, email=f"u{i}@bench.example",
                                     password="bench-password-1") for i in range(200)]
AuditEvent.objects.bulk_create([
    AuditEvent(tenant=tenant, type="sd", source_client_id=source.client_id,
               target_client_id=hs.client_id, user_id=users[0].user_id, jti=f"filler{i}")
    for i in range(20_000)])
now = int(time.time())
id_token = jwt.encode({"iss": tenant.issuer, "sub": users[7].user_id, "aud": source.client_id,
                       "iat": now, "exp": now + 3 * 3600}, source.client_secret(),
                      algorithm="HS256")
tenant.refresh_from_db()
with open(sys.argv[1], "w") as handle:
    handle.write(crypto.decrypt(tenant.active_signing_key.private_key_ciphertext))
print(json.dumps({"source": source.client_id, "source_secret": source.client_secret(),
                  "hs": hs.client_id, "hs_secret": hs.client_secret(), "rs": rs.client_id,
                  "fb": fb.client_id, "blob": blob.client_id,
                  "fillers": fillers, "id_token": id_token}))
"""

BARE_FIXTURE = r"""
import json, sys, django
django.setup()
from django.db import connection
from oauth2_provider.models import Application as DotApplication
from bench.bare.models import Client, Event

fx = json.loads(sys.argv[1])
Client.objects.create(client_id=fx["source"], secret=fx["source_secret"])
Client.objects.create(client_id=fx["hs"], secret=fx["hs_secret"], allowed=fx["fillers"])
Client.objects.create(client_id=fx["rs"], secret=fx["hs_secret"], algorithm="RS256",
                      allowed=fx["fillers"])
Client.objects.bulk_create([Client(client_id=c, secret=fx["hs_secret"]) for c in fx["fillers"]])
Event.objects.bulk_create([Event(type="sd", source=fx["source"], target=fx["hs"], user_id="u",
                                 jti=f"filler{i}") for i in range(20_000)])
dot = DotApplication.objects.create(
    name="bench", client_type=DotApplication.CLIENT_CONFIDENTIAL,
    authorization_grant_type=DotApplication.GRANT_CLIENT_CREDENTIALS,
    client_secret="bench-dot-secret-0123456789abcdef", hash_client_secret=False)
with connection.cursor() as cursor:
    cursor.execute("ANALYZE")  # the planner must know the tables it plans for
print(json.dumps({"dot_client_id": dot.client_id}))
"""


def load_fixtures(env, bare_env, key_file: str) -> dict:
    out = subprocess.run(
        [PY, "-c", PROJECT_FIXTURE, key_file],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    fx = json.loads(out.stdout.strip().splitlines()[-1])
    out = subprocess.run(
        [PY, "-c", BARE_FIXTURE, json.dumps(fx)],
        cwd=ROOT,
        env=bare_env,
        check=True,
        capture_output=True,
        text=True,
    )
    fx.update(json.loads(out.stdout.strip().splitlines()[-1]))
    return fx


def start_server(env, app: str, port: int, workers: int):
    log = open(tempfile.mktemp(prefix="bench-gunicorn-", suffix=".log"), "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            str(Path(PY).parent / "gunicorn"),
            app,
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)  # noqa: S310
            return proc
        except urllib.error.HTTPError:
            return proc
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"gunicorn {app} did not start; see {log.name}")


def post(url: str, body: dict, form: bool) -> tuple[int, dict]:
    data = urllib.parse.urlencode(body).encode() if form else json.dumps(body).encode()
    media = "application/x-www-form-urlencoded" if form else "application/json"
    req = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Content-Type": media},
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


# wrk counts responses whose status is not 200 (wrk's own "Non-2xx" line would let a 201 or
# 204 pass) and prints them in done().
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "{media}"
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
not200 = 0
function response(status, headers, body)
  if status ~= 200 then not200 = not200 + 1 end
end
function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("not200") end
  io.write(string.format("not200: %d\\n", bad))
end
"""


def wrk(url: str, body: dict, form: bool, *, seconds: int, connections: int, cpu: int) -> dict:
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)  # noqa: SIM115
    payload = urllib.parse.urlencode(body) if form else json.dumps(body)
    media = "application/x-www-form-urlencoded" if form else "application/json"
    script.write(WRK_SCRIPT.format(body=json.dumps(payload), media=media))
    script.close()
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name]
    out = subprocess.run(
        ["taskset", "-c", str(cpu), *command, url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    os.unlink(script.name)
    bad = int(re.search(r"^not200: (\d+)$", out, re.M).group(1))
    if bad or "Non-2xx" in out:
        raise SystemExit(f"responses other than 200 under load for {url}:\n{out}")
    errors = re.search(r"Socket errors: (.*)$", out, re.M)

    def latency(pct):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {
        "rps": rps,
        "p50": latency(50),
        "p99": latency(99),
        "errors": errors.group(1) if errors else "",
    }


def ensure_wrk():
    if shutil.which("wrk"):
        return
    if os.geteuid() != 0:
        raise SystemExit("wrk is required: apt-get install wrk")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env).returncode:
        sh("apt-get", "update", "-qq", env=env)
        sh("apt-get", "install", "-y", "-qq", "wrk", env=env, stdout=subprocess.DEVNULL)


# (numerator, denominator, measure, target, direction): the ratios issue 13 states.
RATIOS = [
    ("delegation HS256", "bare HS256", "rps", 1.0, ">="),
    ("delegation HS256", "bare HS256", "p99", 1.5, "<="),
    ("delegation HS256", "DOT client_credentials", "rps", 1.2, ">="),
    ("delegation RS256", "bare RS256", "rps", 0.9, ">="),
    ("delegation RS256", "bare RS256", "p99", None, ""),
    ("add-on Firebase", "delegation RS256", "rps", None, ""),
    ("add-on Azure Blob", "delegation HS256", "rps", None, ""),
    ("in-project reference", "bare HS256", "rps", None, ""),
]
# The member of a 200 answer that proves the case did its work (default: id_token).
ANSWER_KEYS = {"DOT client_credentials": "access_token", "add-on Azure Blob": "azure_blob_sas"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="duration of each measured run")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--profile-requests", type=int, default=2000)
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()

    ensure_wrk()
    cpu = (os.cpu_count() or 1) - 1  # the client on one core (the last one)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": DB_URL,
        "REDIS_URL": REDIS_URL,
        "PUBLIC_BASE_URL": BASE,
        "DEBUG": "false",
    }
    env.pop("DJANGO_ENV", None)
    key_file = tempfile.NamedTemporaryFile(suffix=".pem", delete=False)  # noqa: SIM115
    key_file.close()
    bare_env = {
        **env,
        "DJANGO_SETTINGS_MODULE": "bench.bare.settings",
        "BARE_RSA_PRIVATE_KEY_FILE": key_file.name,
    }
    started = time.monotonic()
    prepare_database(env, bare_env)
    fx = load_fixtures(env, bare_env, key_file.name)
    servers = [
        start_server(env, "tenantauth.wsgi:application", PORT, args.workers),
        start_server(bare_env, "bench.bare.wsgi:application", BARE_PORT, args.workers),
    ]
    delegation = {"client_id": fx["source"], "grant_type": JWT_BEARER, "id_token": fx["id_token"]}
    ideal = {"client_id": fx["source"], "id_token": fx["id_token"]}
    cases = {
        # In the order each round runs them: the two sides of every targeted ratio back to
        # back (DOT | bare HS256 | delegation HS256 | Azure; bare RS256 | delegation RS256 |
        # Firebase), so the machine's speed, which drifts over tens of seconds on a shared VM,
        # is the same for both figures of a within-round ratio; reversed every other round, so
        # neither side always runs first.
        "DOT client_credentials": (
            f"{BARE}/o/token/",
            {
                "grant_type": "client_credentials",
                "client_id": fx["dot_client_id"],
                "client_secret": "bench-dot-secret-0123456789abcdef",
            },
            True,
        ),
        "bare HS256": (f"{BARE}/ideal/delegation", {**ideal, "target": fx["hs"]}, False),
        "delegation HS256": (
            f"{BASE}/t/bench/delegation",
            {**delegation, "target": fx["hs"], "scope": "openid"},
            False,
        ),
        "add-on Azure Blob": (
            f"{BASE}/t/bench/delegation",
            {**delegation, "target": fx["blob"], "api_type": "azure_blob"},
            False,
        ),
        "in-project reference": (
            f"{BASE}/bench/t/bench/reference",
            {**ideal, "target": fx["hs"]},
            False,
        ),
        "bare RS256": (f"{BARE}/ideal/delegation", {**ideal, "target": fx["rs"]}, False),
        "delegation RS256": (
            f"{BASE}/t/bench/delegation",
            {**delegation, "target": fx["rs"], "scope": "openid"},
            False,
        ),
        "add-on Firebase": (
            f"{BASE}/t/bench/delegation",
            {**delegation, "target": fx["fb"], "api_type": "firebase"},
            False,
        ),
    }
    rounds: list[dict] = []
    try:
        for name, (url, body, form) in cases.items():
            status, payload = post(url, body, form)
            key = ANSWER_KEYS.get(name, "id_token")
            if status != 200 or key not in payload:
                raise SystemExit(f"{name}: expected 200 with {key}, got {status} {payload}")
            for connections in args.concurrency:  # warm-up: connections, caches, plans
                wrk(url, body, form, seconds=2, connections=connections, cpu=cpu)
        for number in range(args.rounds):
            results: dict = {}
            names = list(cases)
            if number % 2:  # alternate the order so no case always follows the same one
                names.reverse()
            for connections in args.concurrency:
                for name in names:
                    url, body, form = cases[name]
                    results[(name, connections)] = wrk(
                        url, body, form, seconds=args.seconds, connections=connections, cpu=cpu
                    )
            rounds.append(results)
            print(f"round {number + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=10)

    report(args, cases, rounds)
    if not args.no_profile:
        sh(
            PY,
            "bench/request_profile.py",
            "--requests",
            str(args.profile_requests),
            "--target",
            fx["hs"],
            "--source",
            fx["source"],
            "--id-token",
            fx["id_token"],
            cwd=ROOT,
            env=env,
        )
    os.unlink(key_file.name)
    print(f"\nbench finished in {time.monotonic() - started:.0f} s")


def report(args, cases, rounds):
    print(
        f"\nworkers={args.workers} (sync, each server) seconds={args.seconds} "
        f"rounds={args.rounds} wrk -t1 pinned to one core; every response checked for 200"
    )
    for connections in args.concurrency:
        print(f"\n-- c{connections}: req/s and p99 ms per round, then the median")
        for name in cases:
            runs = [r[(name, connections)] for r in rounds]
            rps = " ".join(f"{run['rps']:7.1f}" for run in runs)
            p99 = " ".join(f"{run['p99']:6.2f}" for run in runs)
            print(
                f"{name:<24} req/s {rps}  median {statistics.median(r['rps'] for r in runs):7.1f}"
            )
            print(
                f"{'':<24} p99   {p99}  median {statistics.median(r['p99'] for r in runs):6.2f}"
                f"  p50 median {statistics.median(r['p50'] for r in runs):.2f}"
            )
            errors = {run["errors"] for run in runs if run["errors"]}
            if errors:
                print(f"{'':<24} socket errors: {'; '.join(sorted(errors))}")
    print("\n-- ratios: median of the within-round ratios (each round's figures, one ratio)")
    for connections in args.concurrency:
        for numerator, denominator, measure, target, direction in RATIOS:
            ratios = [
                r[(numerator, connections)][measure] / r[(denominator, connections)][measure]
                for r in rounds
            ]
            value = statistics.median(ratios)
            each = " ".join(f"{x:.2f}" for x in ratios)
            if target is None:
                verdict = "(diagnostic)"
            else:
                ok = value >= target if direction == ">=" else value <= target
                verdict = f"target {direction} {target:.1f}  {'OK' if ok else 'MISSED'}"
            label = f"c{connections} {numerator} / {denominator} {measure}"
            print(f"{label:<62} {value:5.2f}x  [{each}]  {verdict}")


if __name__ == "__main__":
    main()
