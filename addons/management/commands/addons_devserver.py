"""``manage.py addons_devserver``: the providers the demo's AWS, Salesforce and SAP add-ons
call, on loopback, until Ctrl-C.

* AWS STS: moto in server mode on 127.0.0.1:5010 (``AssumeRoleWithSAML``, and
  ``GetCallerIdentity`` for the credentials it returns);
* Salesforce: an Authlib RFC 7523 token endpoint on 127.0.0.1:5011 trusting the demo
  tenant's active key for the demo consumer key, audiences ``https://login.salesforce.com``
  and ``https://test.salesforce.com``, usernames = the tenant's users' e-mails;
* SAP: an RFC 7522 token endpoint on 127.0.0.1:5012 checking HTTP Basic with addonsDemo's
  SAP client id and service password.

It reads the tenant's key and addonsDemo's SAP password from the database, so run ``manage.py
demo`` first (and again after a key rotation, restart this). Needs the test extras (Authlib,
moto: ``pip install -e '.[test]'``). Development only: it refuses to run in production.
"""

import signal
import threading
from contextlib import contextmanager

from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from addons import demo, selectors
from addons.minters import salesforce
from tenantauth import signing
from tenantauth.models import Application, Tenant, TenantUser


@contextmanager
def providers(tenant_slug: str):
    """Start the three stand-ins for ``tenant_slug``'s addonsDemo; yields ``{service: URL}``
    and stops them on exit. Raises ``CommandError`` when the demo is missing."""
    try:
        from moto.server import ThreadedMotoServer

        from addons.devservices import SalesforceTokenEndpoint, SapTokenEndpoint
    except ImportError as exc:
        raise CommandError(
            f"{exc.name} is missing: install the test extras (pip install -e '.[test]')."
        ) from None
    tenant = Tenant.objects.filter(slug=tenant_slug).first()
    app = Application.objects.filter(tenant=tenant, name=demo.DEMO_APP).first()
    if tenant is None or app is None or tenant.active_signing_key is None:
        raise CommandError(f"Run 'manage.py demo' first: no {demo.DEMO_APP} in '{tenant_slug}'.")
    sap = selectors.addon_configuration_get(tenant=tenant, application=app, addon="sap_api")
    if sap is None:
        raise CommandError("Run 'manage.py demo' again: addonsDemo has no SAP add-on.")
    public_pem = (
        signing.rsa_public_key(tenant.active_signing_key)
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    usernames = list(TenantUser.objects.filter(tenant=tenant).values_list("email", flat=True))
    salesforce_endpoint = SalesforceTokenEndpoint(
        consumer_key=demo.DEV_CONSUMER_KEY,
        public_key_pem=public_pem,
        audience=[salesforce.PRODUCTION_AUDIENCE, salesforce.SANDBOX_AUDIENCE],
        usernames=usernames,
        port=demo.DEV_PORTS["salesforce"],
    )
    sap_endpoint = SapTokenEndpoint(
        client_id=sap.settings["client_id"],
        password=sap.secret_values()["service_password"],
        port=demo.DEV_PORTS["sap"],
    )
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=demo.DEV_PORTS["aws"], verbose=False)
    moto.start()
    try:
        with salesforce_endpoint, sap_endpoint:
            yield {
                "aws": demo.dev_url("aws"),
                "salesforce": salesforce_endpoint.token_url,
                "sap": sap_endpoint.token_url,
            }
    finally:
        moto.stop()


class Command(BaseCommand):
    help = (
        "Serve local stand-ins for AWS STS (moto), Salesforce and SAP on loopback for the "
        "demo's addonsDemo (development only)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", default="acme", help="the demo tenant's slug")

    def handle(self, *args, tenant: str, **options):
        if settings.PRODUCTION:
            raise CommandError("addons_devserver is for development only.")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with providers(tenant) as urls:
            self.stdout.write(self.style.SUCCESS("Add-on providers for addonsDemo:"))
            self.stdout.write(f"  AWS STS (moto)   {urls['aws']}")
            self.stdout.write(f"  Salesforce       {urls['salesforce']}")
            self.stdout.write(f"  SAP              {urls['sap']}")
            self.stdout.write("Ctrl-C stops them.")
            try:
                stop.wait()
            except KeyboardInterrupt:
                pass
