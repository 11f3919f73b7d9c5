"""Configuration changes reach every worker process on its very next request (issue 13).

``/delegation`` keeps the parties it reads (tenant, active key, source and target) per
process (``delegation.config_cache``) and checks a per-tenant version in Redis in its one
rate-limit round trip. Two gunicorn servers (two processes) share one database and one Redis;
both have served (and cached) the same delegation; then another process changes the
allow-list, rotates a client secret, rotates the signing key. The very next request to either
server decides on the new configuration: nothing stale is ever served.
"""

import json
import subprocess
import sys
import time

import jwt
import pytest
import requests

from tests.servers import BASE_DIR, ProjectServer, two_project_servers

GRANT_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@pytest.fixture
def two_servers(tmp_path):
    with two_project_servers(tmp_path) as servers:
        yield servers


def _change(server: ProjectServer, code: str) -> dict:
    """Run ``code`` through the services in a third process (as an admin's request would),
    with the servers' database and Redis; it prints one JSON object."""
    setup = server.setup
    program = (
        "import json, django\n"
        "django.setup()\n"
        "from tenantauth import services\n"
        "from tenantauth.models import Application, Tenant\n"
        f"tenant = Tenant.objects.get(slug={setup['slug']!r})\n"
        f"app_a = Application.objects.get(client_id={setup['appA']!r})\n"
        f"api_c = Application.objects.get(client_id={setup['apiC']!r})\n" + code
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=BASE_DIR,
        env=server.env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _id_token(setup: dict, secret: str) -> str:
    now = int(time.time())
    claims = {
        "iss": setup["issuer"],
        "sub": setup["user_id"],
        "aud": setup["appA"],
        "iat": now,
        "exp": now + 3600,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def _delegate(server: ProjectServer, id_token: str) -> requests.Response:
    setup = server.setup
    return requests.post(
        f"{server.base}/t/{setup['slug']}/delegation",
        json={
            "client_id": setup["appA"],
            "target": setup["apiC"],
            "grant_type": GRANT_JWT_BEARER,
            "id_token": id_token,
            "scope": "openid",
        },
        timeout=30,
    )


def _both_on_hs256(server: ProjectServer) -> dict:
    """appA and apiC on HS256; their client secrets."""
    return _change(
        server,
        "services.application_update(application=app_a, jwt_signature_algorithm='HS256')\n"
        "services.application_update(application=api_c, jwt_signature_algorithm='HS256')\n"
        "print(json.dumps({'appA': app_a.client_secret(), 'apiC': api_c.client_secret()}))\n",
    )


def _issued(response: requests.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["id_token"]


def test_allow_list_secret_and_key_changes_reach_the_other_process_at_once(two_servers):
    first, second = two_servers
    setup = first.setup
    secrets = _both_on_hs256(first)
    id_token = _id_token(setup, secrets["appA"])

    def warm():
        # Three answers per process: the second one cached the parties, the third used them.
        for server in (first, second) * 3:
            _issued(_delegate(server, id_token))

    warm()
    # 1. The allow-list: apiC stops allowing appA, then allows it again.
    _change(first, "services.application_update(application=api_c, allowed_clients=[])\nprint(1)")
    for server in (second, first):
        refused = _delegate(server, id_token)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_target"
    _change(
        first,
        "services.application_update(application=api_c, allowed_clients=[app_a.client_id])\n"
        "print(1)",
    )
    for server in (second, first):
        _issued(_delegate(server, id_token))

    # 2. The target's client secret (which signs what apiC receives), then the source's (which
    # signed the user's id_token).
    warm()
    rotated = _change(
        first, "print(json.dumps(services.application_rotate_secret(application=api_c)))"
    )
    for server in (second, first):
        token = _issued(_delegate(server, id_token))
        jwt.decode(token, rotated, algorithms=["HS256"], audience=setup["apiC"])
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(token, secrets["apiC"], algorithms=["HS256"], audience=setup["apiC"])
    warm()
    new_source_secret = _change(
        first, "print(json.dumps(services.application_rotate_secret(application=app_a)))"
    )
    for server in (second, first):
        refused = _delegate(server, id_token)  # signed with the old secret
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    id_token = _id_token(setup, new_source_secret)
    for server in (second, first):
        _issued(_delegate(server, id_token))

    # 3. The tenant's signing key: apiC on RS256, the key rotated.
    _change(
        first,
        "services.application_update(application=api_c, jwt_signature_algorithm='RS256')\nprint(1)",
    )
    warm()
    old_kid = jwt.get_unverified_header(_issued(_delegate(second, id_token)))["kid"]
    new_kid = _change(
        first,
        "key = services.signing_key_rotate(tenant=tenant)\nprint(json.dumps(key.kid))",
    )
    assert new_kid != old_kid
    for server in (second, first):
        token = _issued(_delegate(server, id_token))
        assert jwt.get_unverified_header(token)["kid"] == new_kid
    jwks = requests.get(f"{second.base}/t/{setup['slug']}/.well-known/jwks.json", timeout=30)
    key = next(k for k in jwks.json()["keys"] if k["kid"] == new_kid)
    jwt.decode(
        token,
        jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(key)),
        algorithms=["RS256"],
        audience=setup["apiC"],
    )


def test_user_changes_reach_the_other_process_at_once(two_servers):
    """The live user is kept per process too (under the configuration it was read with):
    blocking, unblocking and editing the user in a third process take effect on the very next
    request to either server."""
    first, second = two_servers
    setup = first.setup
    secrets = _both_on_hs256(first)
    id_token = _id_token(setup, secrets["appA"])
    user = (
        "from tenantauth.models import TenantUser\n"
        f"user = TenantUser.objects.get(tenant=tenant, user_id={setup['user_id']!r})\n"
    )

    def warm():
        # Three answers per process: the second kept the user, the third served it kept.
        for server in (first, second) * 3:
            _issued(_delegate(server, id_token))

    def named(server, name_wanted):
        response = requests.post(
            f"{server.base}/t/{setup['slug']}/delegation",
            json={
                "client_id": setup["appA"],
                "target": setup["apiC"],
                "grant_type": GRANT_JWT_BEARER,
                "id_token": id_token,
                "scope": "openid name",
            },
            timeout=30,
        )
        claims = jwt.decode(
            _issued(response), secrets["apiC"], algorithms=["HS256"], audience=setup["apiC"]
        )
        assert claims.get("name") == name_wanted

    warm()
    _change(first, user + "services.tenant_user_set_blocked(user=user, blocked=True)\nprint(1)")
    for server in (second, first):
        refused = _delegate(server, id_token)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    _change(first, user + "services.tenant_user_set_blocked(user=user, blocked=False)\nprint(1)")
    for server in (second, first):
        _issued(_delegate(server, id_token))

    _change(first, user + "services.tenant_user_update(user=user, name='Before')\nprint(1)")
    for server in (first, second) * 3:
        named(server, "Before")
    _change(first, user + "services.tenant_user_update(user=user, name='Renamed')\nprint(1)")
    for server in (second, first):
        named(server, "Renamed")

    warm()
    _change(first, user + "user.delete()\nprint(1)")
    for server in (second, first):
        refused = _delegate(server, id_token)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
