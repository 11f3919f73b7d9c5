"""Where one /delegation goes: cProfile over many requests through the project's WSGI app.

Run by ``bench/delegation.py`` (``make bench``) on the benchmark database, or on its own:

    DJANGO_SETTINGS_MODULE=bench.settings DATABASE_URL=... REDIS_URL=... \\
        .venv/bin/python bench/request_profile.py --source ID --target ID --id-token JWT

The same WSGI application gunicorn serves (``tenantauth.wsgi.application``, so the middleware
and URL routing the server runs are in the profile) is called in this process with a WSGI
environ per request, against the same PostgreSQL database and Redis. Every answer must be 200.
It prints the wall time per request without the profiler, then the 15 functions with the most
own time (``tottime``) per request in microseconds, with their cumulative time per request.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--id-token", required=True)
    parser.add_argument("--slug", default="bench")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()

    from tenantauth.wsgi import application

    body = json.dumps(
        {
            "client_id": args.source,
            "target": args.target,
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "id_token": args.id_token,
            "scope": "openid",
        }
    ).encode()
    statuses: list[str] = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    def one():
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": f"/t/{args.slug}/delegation",
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8765",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1:8765",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.version": (1, 0),
        }
        result = application(environ, start_response)
        b"".join(result)
        if hasattr(result, "close"):
            result.close()

    for _ in range(200):  # warm-up: connections, key caches, prepared statements
        one()
    n = args.requests
    began = time.perf_counter()
    for _ in range(n):
        one()
    wall = (time.perf_counter() - began) / n
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        one()
    profiler.disable()
    bad = [s for s in statuses if not s.startswith("200")]
    if bad:
        raise SystemExit(f"profile: {len(bad)} answers were not 200 (first: {bad[0]})")

    stats = pstats.Stats(profiler)
    total = stats.total_tt / n
    print(
        f"\n-- profile: HS256 /delegation, {n} requests in process through the WSGI app; "
        f"{wall * 1e6:.0f} us per request without the profiler, {total * 1e6:.0f} us with it"
    )
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[: args.top]
    print(f"{'own us/req':>10} {'cum us/req':>10} {'calls/req':>9}  function")
    for (filename, line, name), (_cc, calls, tottime, cumtime, _) in rows:
        where = filename
        for marker in ("site-packages/", str(ROOT) + "/"):
            if marker in where:
                where = where.split(marker, 1)[1]
        label = f"{where}:{line}({name})" if line else name
        print(f"{tottime / n * 1e6:>10.1f} {cumtime / n * 1e6:>10.1f} {calls / n:>9.1f}  {label}")


if __name__ == "__main__":
    main()
