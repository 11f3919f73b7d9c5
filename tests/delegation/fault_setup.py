"""Run by tests/delegation/test_faults.py in a subprocess: migrate the test-owned database,
create a tenant with appA and apiC (allowing appA) and a user, print what the test needs."""

import json
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.delegation.fault_settings")
django.setup()

from django.core.management import call_command  # noqa: E402

from tenantauth import services  # noqa: E402
from tenantauth.models import GRANT_DELEGATION_ID_TOKEN, Application  # noqa: E402

call_command("migrate", verbosity=0, interactive=False)
tenant = services.tenant_create(slug="fault", name="Fault")
# Both sides HS256 (the seed's scenario): the test signs the user's id_token with appA's
# secret, so it needs neither the tenant key nor the server to mint one.
app_a = services.application_create(
    tenant=tenant,
    name="appA",
    grant_types=[GRANT_DELEGATION_ID_TOKEN],
    jwt_signature_algorithm=Application.SigningAlgorithm.HS256,
)
api_c = services.application_create(
    tenant=tenant,
    name="apiC",
    app_type=Application.AppType.API,
    allowed_clients=[app_a.client_id],
    jwt_signature_algorithm=Application.SigningAlgorithm.HS256,
)
user = services.tenant_user_create(tenant=tenant, email="u@fault.example", password="x" * 20)
print(
    json.dumps(
        {
            "slug": tenant.slug,
            "issuer": tenant.issuer,
            "source": app_a.client_id,
            "source_secret": app_a.client_secret(),
            "target": api_c.client_id,
            "target_secret": api_c.client_secret(),
            "user_id": user.user_id,
        }
    )
)
