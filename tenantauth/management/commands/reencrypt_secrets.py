"""Re-encrypt every stored secret and private key under the newest field-encryption key."""

from django.core.management.base import BaseCommand

from tenantauth import services


class Command(BaseCommand):
    help = "Re-encrypt all secrets under the first key of FIELD_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        counts = services.reencrypt_all_secrets()
        for label, count in counts.items():
            self.stdout.write(f"{label}: {count} re-encrypted")
