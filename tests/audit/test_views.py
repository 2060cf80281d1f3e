"""The audit page: who may see it, what it shows, filters, paging, query counts, verify now."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from liaison.audit.models import AuditEvent
from liaison.audit.services import create_checkpoint, record_event
from liaison.core.context import Origin, origin
from tests.audit.helpers import append, sql

pytestmark = pytest.mark.django_db


def url(slug="budapest"):
    return reverse("audit:list", args=[slug])


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("secretariat", 200),
        ("auditor", 200),
        ("coordinator_a", 403),
        ("officer_a", 403),
        ("officer_b", 403),
        ("outsider", 404),
    ],
)
def test_permissions(client, world, who, status):
    client.force_login(world.users()[who])
    assert client.get(url()).status_code == status
    assert client.post(reverse("audit:verify", args=["budapest"])).status_code in (
        {302} if status == 200 else {status}
    )


def test_anonymous_is_sent_to_sign_in(client, world):
    response = client.get(url())
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_unknown_network_is_404(client, world):
    client.force_login(world.auditor)
    assert client.get(url("nowhere")).status_code == 404


def test_shows_only_this_networks_events_newest_first(client, world):
    with origin(Origin(via="web", ip="198.51.100.4")):
        record_event(
            world.secretariat,
            "member.update",
            obj=world.member_a,
            network=world.network,
            details={"code": "FR", "changes": {"status": {"from": "observer", "to": "party"}}},
            justification="ratification deposited",
        )
    record_event(None, "network.update", network=world.other_network, details={"secret": "x"})
    record_event(None, "directory.publish", network=world.network)
    client.force_login(world.auditor)
    response = client.get(url())
    body = response.content.decode()
    assert response.status_code == 200
    assert "directory.publish" in body
    assert "member.update" in body
    assert body.index("directory.publish") < body.index("member.update")
    assert "sec@coe.example" in body
    assert "198.51.100.4" in body
    assert "ratification deposited" in body
    assert str(world.member_a.public_id) in body
    assert "network.update" not in body  # another network's event
    assert "Integrity of the whole trail" in body


def test_consulting_the_page_is_audited(client, world):
    client.force_login(world.auditor)
    client.get(url(), {"action": "directory."})
    event = AuditEvent.objects.order_by("-seq").first()
    assert (event.action, event.actor_label, event.network_slug) == (
        "audit.view",
        "dpo@coe.example",
        "budapest",
    )
    assert event.details == {"action": "directory."}
    assert event.via == "web"


def test_filters(client, world):
    record_event(world.secretariat, "directory.import", network=world.network)
    record_event(world.auditor, "directory.export", network=world.network, object_id="abc123")
    with origin(Origin(via="api")):
        record_event(world.coordinator_a, "member.update", network=world.network)
    client.force_login(world.auditor)

    def actions(**params):
        body = client.get(url(), params).content.decode()
        found = {"directory.import", "directory.export", "member.update"}
        return {a for a in found if f"<code>{a}</code>" in body}

    assert actions(actor="SEC@coe") == {"directory.import"}
    assert actions(action="directory.") == {"directory.import", "directory.export"}
    assert actions(action="export") == set()  # a prefix, not a substring
    assert actions(object_id="abc123") == {"directory.export"}
    assert actions(via="api") == {"member.update"}
    today = dt.datetime.now(dt.UTC).date()
    assert len(actions(since=today.isoformat(), until=today.isoformat())) == 3
    assert actions(until=(today - dt.timedelta(days=1)).isoformat()) == set()
    # Bad input shows an error instead of failing or filtering silently.
    response = client.get(url(), {"since": "2024-02-30"})
    assert response.status_code == 200
    assert "Enter a valid date" in response.content.decode()


def test_keyset_pages_and_constant_query_count(client, world):
    client.force_login(world.auditor)
    append(5)
    client.get(url())  # the first request of a session does a few one-off things
    with CaptureQueriesContext(connection) as few:
        client.get(url())
    append(115)
    with CaptureQueriesContext(connection) as many:
        first = client.get(url())
    assert len(many.captured_queries) == len(few.captured_queries), [
        q["sql"] for q in many.captured_queries
    ]
    seqs = [e["event"].seq for e in first.context["rows"]]
    assert len(seqs) == 50
    assert seqs == sorted(seqs, reverse=True)
    older = first.context["page"].older
    assert older == seqs[-1]
    assert first.context["page"].newer is None
    second = client.get(url(), {"before": older})
    seqs2 = [e["event"].seq for e in second.context["rows"]]
    assert len(seqs2) == 50
    assert max(seqs2) < min(seqs)
    assert f"before={older}" in first.content.decode()
    back = client.get(url(), {"after": second.context["page"].newer})
    assert [e["event"].seq for e in back.context["rows"]] == seqs
    last = client.get(url(), {"before": min(seqs2)})
    assert last.context["page"].older is None


def test_verify_now_reports_and_is_audited(client, world):
    append(10)
    create_checkpoint()
    client.force_login(world.auditor)
    response = client.post(reverse("audit:verify", args=["budapest"]), follow=True)
    body = response.content.decode()
    event = AuditEvent.objects.filter(action="audit.verify").get()
    assert event.details["ok"] is True
    # Every event before the verification (force_login's sign-in is audited too).
    assert event.details["events"] == event.seq >= 10
    assert f"Audit trail intact: {event.seq} events, 1 signed checkpoints" in body

    sql("UPDATE audit_auditevent SET action = 'test.forged' WHERE seq = 3")
    body = client.post(reverse("audit:verify", args=["budapest"]), follow=True).content.decode()
    assert "Audit trail BROKEN: event 3 was altered (leaf hash mismatch)." in body
    assert AuditEvent.objects.filter(action="audit.verify").count() == 2


def test_verify_needs_post(client, world):
    client.force_login(world.auditor)
    assert client.get(reverse("audit:verify", args=["budapest"])).status_code == 405
