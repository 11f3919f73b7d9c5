"""The floor a delegation cannot go below, served by the same server for comparison.

It does only the minimal work of a delegation: verify an HS256 JWT, read two rows by indexed
key, sign a JWT, insert one row, in one transaction. No parsing hardening, no rate limit, no
scope handling, no allow-list: the benchmark reports the real endpoint as a ratio of this.
"""

import json
import time
import uuid

import jwt
from django.db import transaction
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from delegation.models import AuditEvent
from tenantauth import signing
from tenantauth.models import Application


@csrf_exempt
def reference_delegation(request, tenant_slug):
    body = json.loads(request.body)
    with transaction.atomic():
        source = Application.objects.get(tenant__slug=tenant_slug, client_id=body["client_id"])
        target = Application.objects.get(tenant_id=source.tenant_id, client_id=body["target"])
        claims = jwt.decode(
            body["id_token"],
            signing.hs256_secret(source),
            algorithms=["HS256"],
            audience=source.client_id,
        )
        now = int(time.time())
        jti = uuid.uuid4().hex
        token = jwt.encode(
            {
                "iss": claims["iss"],
                "sub": claims["sub"],
                "aud": target.client_id,
                "iat": now,
                "exp": now + target.jwt_lifetime_seconds,
                "jti": jti,
            },
            signing.hs256_secret(target),
            algorithm="HS256",
        )
        AuditEvent.objects.create(
            tenant_id=source.tenant_id,
            type="sd",
            source_client_id=source.client_id,
            target_client_id=target.client_id,
            user_id=claims["sub"],
            jti=jti,
        )
    return HttpResponse(
        json.dumps(
            {"id_token": token, "token_type": "Bearer", "expires_in": target.jwt_lifetime_seconds}
        ),
        content_type="application/json",
    )
