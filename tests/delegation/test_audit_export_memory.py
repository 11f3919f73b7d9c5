"""The export streams in constant memory: its peak does not grow with the number of rows."""

import tracemalloc

from django.test import Client

from delegation.models import AuditEvent

EXPORT = "/admin/delegation/auditevent/export/"


def add_rows(tenant, start: int, count: int) -> None:
    batch = []
    for i in range(start, start + count):
        batch.append(
            AuditEvent(
                tenant=tenant,
                type="sd",
                source_client_id="s" * 32,
                target_client_id="t" * 32,
                api_type="app",
                scope="openid email",
                user_id=f"auth0|user-{i % 1000}",
                jti=f"{i:032x}",
                token_fingerprint=f"{i:064x}",
                client_ip="192.0.2.1",
                user_agent="memory-test/1.0",
            )
        )
        if len(batch) == 5000:
            AuditEvent.objects.bulk_create(batch)
            batch = []
    AuditEvent.objects.bulk_create(batch)


def peak_while_exporting(client, fmt: str) -> tuple[int, int]:
    """(rows exported, peak bytes traced) for one streamed export."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    rows = 0
    response = client.get(EXPORT, {"format": fmt})
    assert response.status_code == 200
    for chunk in response.streaming_content:
        rows += chunk.count(b"\n")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return rows, peak


def test_export_memory_does_not_grow_with_rows(tenant_a):
    """Export 20,000 rows (CSV, JSON Lines) then 200,000 (CSV): the peak memory stays within a
    few MB and does not grow tenfold with the rows (a list of all rows would be ~200 MB)."""
    client = Client()
    client.force_login(tenant_a["auditor"])
    add_rows(tenant_a["tenant"], 0, 20_000)
    small_rows, small_peak = peak_while_exporting(client, "csv")
    jsonl_rows, jsonl_peak = peak_while_exporting(client, "jsonl")
    assert jsonl_rows >= 20_000 and jsonl_peak < 40_000_000
    add_rows(tenant_a["tenant"], 20_000, 180_000)
    big_rows, big_peak = peak_while_exporting(client, "csv")
    assert small_rows >= 20_000 and big_rows >= 200_000
    assert big_peak < small_peak * 1.5 + 1_000_000, (small_peak, big_peak)
    assert big_peak < 40_000_000, big_peak
