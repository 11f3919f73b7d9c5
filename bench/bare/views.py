"""The ideal delegation: verify the HS256 id_token, read two rows by indexed key, sign
(HS256 with the target's secret, or RS256 with a key parsed once per process), insert one row,
one transaction. Nothing else: the floor ``/delegation`` is measured against."""

import json
import time
import uuid
from functools import cache

import jwt
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.db import transaction
from django.http import HttpResponse

from bench.bare.models import Client, Event


@cache
def _rsa_key():
    with open(settings.BARE_RSA_PRIVATE_KEY_FILE, "rb") as handle:
        return serialization.load_pem_private_key(handle.read(), password=None)


def ideal_delegation(request):
    body = json.loads(request.body)
    with transaction.atomic():
        source = Client.objects.get(client_id=body["client_id"])
        target = Client.objects.get(client_id=body["target"])
        claims = jwt.decode(
            body["id_token"],
            source.secret,
            algorithms=["HS256"],
            audience=source.client_id,
        )
        now = int(time.time())
        jti = uuid.uuid4().hex
        payload = {
            "iss": claims["iss"],
            "sub": claims["sub"],
            "aud": target.client_id,
            "iat": now,
            "exp": now + target.lifetime,
            "jti": jti,
        }
        if target.algorithm == "RS256":
            token = jwt.encode(payload, _rsa_key(), algorithm="RS256", headers={"kid": "bare"})
        else:
            token = jwt.encode(payload, target.secret, algorithm="HS256")
        Event.objects.create(
            type="sd",
            source=source.client_id,
            target=target.client_id,
            user_id=claims["sub"],
            jti=jti,
        )
    return HttpResponse(
        json.dumps({"id_token": token, "token_type": "Bearer", "expires_in": target.lifetime}),
        content_type="application/json",
    )
