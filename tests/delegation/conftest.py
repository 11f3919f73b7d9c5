import pytest

from delegation.models import AuditEvent


@pytest.fixture
def audit(db):
    """Delegation audit events (sd / fd), oldest first."""

    def rows(**filters):
        return list(AuditEvent.objects.filter(type__in=["sd", "fd"], **filters).order_by("id"))

    return rows
