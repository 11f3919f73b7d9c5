"""Benchmark: /delegation under gunicorn on PostgreSQL, against a minimal reference view.

Run: ``make bench`` (or ``.venv/bin/python bench/delegation.py``). It needs PostgreSQL
(``BENCH_DATABASE_URL``, default the local server), Redis (``BENCH_REDIS_URL``) and ``wrk``
(installed with apt-get when missing and running as root).

It creates a fresh database, loads one tenant with a source app, an HS256 target, an RS256
target and two add-on targets (Firebase custom token, Azure Blob SAS), plus filler
applications, add-on configurations, users and audit rows so nothing benefits from an empty
table, starts gunicorn, and drives it from a second process (wrk) at the reference view and
each delegation in turn, every response checked. It prints requests/s, p50 and p99 for each,
and the ratios the targets are stated in:

* HS256 delegation throughput >= 80 % of the reference's, p99 <= 2x the reference's;
* RS256 cost per request <= 1.3x HS256's;
* (reported) each add-on's cost per request relative to the RS256 / HS256 app token.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable
DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tenantauth_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
PORT = int(os.environ.get("BENCH_PORT", "8765"))
BASE = f"http://127.0.0.1:{PORT}"


def sh(*args, **kwargs):
    return subprocess.run(args, check=True, **kwargs)


def prepare_database(env):
    name = DB_URL.rsplit("/", 1)[1]
    admin = DB_URL.rsplit("/", 1)[0] + "/postgres"
    sh("psql", admin, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    sh("psql", admin, "-qc", f"CREATE DATABASE {name}")
    sh(PY, "manage.py", "migrate", "-v0", cwd=ROOT, env=env)
    subprocess.run(["redis-cli", "-u", REDIS_URL, "flushdb"], check=True, capture_output=True)


def load_fixture(env) -> dict:
    """Create the benchmark tenant in a child process (Django set up with bench settings)."""
    code = r"""
import json, time, django
django.setup()
import jwt
from addons import services as addon_services
from delegation.models import AuditEvent
from tenantauth import services, signing
from tenantauth.models import Application, Tenant, GRANT_DELEGATION_ID_TOKEN

tenant = services.tenant_create(slug="bench", name="Bench")
Tenant.objects.filter(pk=tenant.pk).update(delegation_rate_limit=2_000_000_000)
source = services.application_create(tenant=tenant, name="source",
                                     grant_types=[GRANT_DELEGATION_ID_TOKEN])
fillers = [services.application_create(tenant=tenant, name=f"filler{i}").client_id
           for i in range(50)]
hs = services.application_create(tenant=tenant, name="apiHS", app_type="resource_server",
                                 allowed_clients=fillers + [source.client_id])
rs = services.application_create(tenant=tenant, name="apiRS", app_type="resource_server",
                                 jwt_signature_algorithm="RS256",
                                 allowed_clients=fillers + [source.client_id])
AZURITE_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
               "KBHBeksoGMGw==")
fb = services.application_create(tenant=tenant, name="apiFirebase", app_type="resource_server",
                                 allowed_clients=fillers + [source.client_id])
blob = services.application_create(tenant=tenant, name="apiBlob", app_type="resource_server",
                                   allowed_clients=fillers + [source.client_id])
pem = signing.private_key_to_pem(signing.generate_rsa_private_key())
firebase = ({"token_format": "custom_token", "client_email": "bench@demo.iam.gserviceaccount.com",
             "private_key_id": "ab" * 20, "lifetime_in_seconds": 3600,
             "uid_attribute": "user_id", "claims_attributes": ["email"]},
            {"private_key": pem})
azure_blob = ({"account_name": "devstoreaccount1", "container_name": "bench",
               "blob_name": "report.txt", "expiration": 5, "signed_identifier": "",
               "blob_read": True, "blob_write": True, "blob_delete": False,
               "container_read": True, "container_write": False, "container_delete": False,
               "container_list": False, "https_only": True, "allow_blob_name_override": False,
               "allow_container_name_override": False},
              {"storage_access_key": AZURITE_KEY})
for target, addon, (settings, secrets) in [(fb, "firebase", firebase),
                                           (blob, "azure_blob", azure_blob)]:
    addon_services.addon_configure(tenant=tenant, application=target, addon=addon,
                                   enabled=True, settings=settings, secrets=secrets)
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
                       "iat": now, "exp": now + 3600}, source.client_secret(), algorithm="HS256")
print(json.dumps({"source": source.client_id, "hs": hs.client_id, "rs": rs.client_id,
                  "fb": fb.client_id, "blob": blob.client_id, "id_token": id_token}))
"""
    out = subprocess.run(
        [PY, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_server(env, workers: int):
    log = open(tempfile.mktemp(prefix="bench-gunicorn-", suffix=".log"), "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            str(Path(PY).parent / "gunicorn"),
            "tenantauth.wsgi:application",
            "--bind",
            f"127.0.0.1:{PORT}",
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
    for _ in range(100):
        try:
            urllib.request.urlopen(BASE + "/t/bench/.well-known/jwks.json", timeout=1)  # noqa: S310
            return proc
        except urllib.error.HTTPError:
            return proc
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"gunicorn did not start; see {log.name}")


def post(path: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(
        BASE + path,
        data=json.dumps(body).encode(),
        method="POST",  # noqa: S310
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def wrk(path: str, body: dict, *, seconds: int, connections: int) -> dict:
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)  # noqa: SIM115
    script.write(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(json.dumps(body))}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    script.close()
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            script.name,
            BASE + path,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    os.unlink(script.name)
    if "Non-2xx" in out:
        raise SystemExit(f"non-2xx responses under load for {path}:\n{out}")

    def latency(pct):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {"rps": rps, "p50": latency(50), "p99": latency(99)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="duration of each measured run")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (best kept)")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    if not shutil.which("wrk"):
        if os.geteuid() == 0:
            sh("apt-get", "install", "-y", "-qq", "wrk", stdout=subprocess.DEVNULL)
        else:
            raise SystemExit("wrk is required: apt-get install wrk")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": DB_URL,
        "REDIS_URL": REDIS_URL,
        "PUBLIC_BASE_URL": BASE,
    }
    env.pop("DJANGO_ENV", None)
    prepare_database(env)
    fx = load_fixture(env)
    server = start_server(env, args.workers)
    try:
        cases = {
            "reference": (
                "/bench/t/bench/reference",
                {"client_id": fx["source"], "target": fx["hs"], "id_token": fx["id_token"]},
            ),
            "delegation HS256": (
                "/t/bench/delegation",
                {
                    "client_id": fx["source"],
                    "target": fx["hs"],
                    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    "id_token": fx["id_token"],
                    "scope": "openid",
                },
            ),
            "delegation RS256": (
                "/t/bench/delegation",
                {
                    "client_id": fx["source"],
                    "target": fx["rs"],
                    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    "id_token": fx["id_token"],
                    "scope": "openid",
                },
            ),
            "add-on Firebase": (
                "/t/bench/delegation",
                {
                    "client_id": fx["source"],
                    "target": fx["fb"],
                    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    "id_token": fx["id_token"],
                    "api_type": "firebase",
                },
            ),
            "add-on Azure Blob": (
                "/t/bench/delegation",
                {
                    "client_id": fx["source"],
                    "target": fx["blob"],
                    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    "id_token": fx["id_token"],
                    "api_type": "azure_blob",
                },
            ),
        }
        expected = {"add-on Azure Blob": "azure_blob_sas"}
        for name, (path, body) in cases.items():
            status, payload = post(path, body)
            key = expected.get(name, "id_token")
            if status != 200 or key not in payload:
                raise SystemExit(f"{name}: expected 200 with {key}, got {status} {payload}")
            wrk(path, body, seconds=2, connections=args.connections)  # warm-up
        results: dict[str, dict] = {}
        for _ in range(args.rounds):
            for name, (path, body) in cases.items():
                r = wrk(path, body, seconds=args.seconds, connections=args.connections)
                if name not in results or r["rps"] > results[name]["rps"]:
                    results[name] = r
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)

    print(
        f"\nworkers={args.workers} connections={args.connections} seconds={args.seconds} "
        f"rounds={args.rounds} (best round kept)"
    )
    print(f"{'case':<20} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for name, r in results.items():
        print(f"{name:<20} {r['rps']:>9.1f} {r['p50']:>8.2f} {r['p99']:>8.2f}")
    ref, hs, rs = results["reference"], results["delegation HS256"], results["delegation RS256"]
    throughput = hs["rps"] / ref["rps"]
    p99 = hs["p99"] / ref["p99"]
    rs_cost = hs["rps"] / rs["rps"]
    print(
        f"\nHS256 throughput / reference: {throughput:.2f}  (target >= 0.80) "
        f"{'OK' if throughput >= 0.8 else 'MISSED'}"
    )
    print(
        f"HS256 p99 / reference p99:    {p99:.2f}  (target <= 2.00) "
        f"{'OK' if p99 <= 2 else 'MISSED'}"
    )
    print(
        f"RS256 cost / HS256 cost:      {rs_cost:.2f}  (target <= 1.30) "
        f"{'OK' if rs_cost <= 1.3 else 'MISSED'}"
    )
    fb, blob = results["add-on Firebase"], results["add-on Azure Blob"]
    print(f"Firebase cost / RS256 cost:   {rs['rps'] / fb['rps']:.2f}  (both one RS256 signature)")
    print(f"Azure Blob cost / HS256 cost: {hs['rps'] / blob['rps']:.2f}  (both one HMAC)")


if __name__ == "__main__":
    main()
