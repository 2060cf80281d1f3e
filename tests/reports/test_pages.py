"""The statistics page: permissions, the Secretariat's tables, the SVG chart, the audit."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from liaison.audit.models import AuditEvent
from tests.factories import MemberFactory, PublishedContactPointFactory

pytestmark = pytest.mark.django_db

ALLOWED = {"secretariat", "auditor"}


def test_permission_matrix(client, world):
    url = reverse("reports:stats", args=["budapest"])
    assert client.get(url).status_code == 302
    for who, user in world.users().items():
        client.force_login(user)
        status = client.get(url).status_code
        expected = 404 if who == "outsider" else 200 if who in ALLOWED else 403
        assert status == expected, (who, status)
        client.logout()
    # Only the two allowed consultations were recorded.
    assert AuditEvent.objects.filter(action="stats.view").count() == 2


def test_tables_and_chart(client, world):
    for kind in ("prosecution", "prosecution", "cybersecurity"):
        PublishedContactPointFactory(member=world.member_b, type=kind)
    MemberFactory(network=world.network, code="JP", name="Japan", status="observer")
    client.force_login(world.secretariat)
    response = client.get(reverse("reports:stats", args=["budapest"]))
    html = response.content.decode()

    def row(label):
        match = re.search(
            rf'<th scope="row">{re.escape(label)}</th><td class="num">(\d+)</td>', html
        )
        assert match, label
        return int(match.group(1))

    assert row("Parties") == 2
    assert row("Observers") == 1
    assert row("States") == 3
    assert row("Parties with contact points") == 2
    assert row("Parties with more than 1 contact point") == 1
    assert row("Police") == 2
    assert row("Prosecution") == 2
    assert row("Cybersecurity") == 1
    assert row("Security services") == 0
    # The chart: an SVG with a text alternative, bars as <rect> widths, no inline style.
    assert 'role="img"' in html
    assert '<desc id="chart-type-desc">Police: 2; Security services: 0; Prosecution: 2;' in html
    widths = re.findall(r'<rect class="chart-bar" x="0" y="[\d.]+" width="([\d.]+)"', html)
    assert len(widths) == 3 + 6  # statuses, then types
    type_widths = [float(w) for w in widths[3:]]
    assert type_widths[0] == type_widths[2] == max(type_widths)  # police = prosecution = top
    assert type_widths[1] == 0  # security services
    assert 0 < type_widths[4] < type_widths[0]  # cybersecurity
    assert "style=" not in html
    event = AuditEvent.objects.get(action="stats.view")
    assert (event.actor_id, event.via, event.network_slug) == (
        world.secretariat.pk,
        "web",
        "budapest",
    )


def test_french_rendering_keeps_svg_numbers_parseable(client, world):
    PublishedContactPointFactory(member=world.member_b, type="other")
    PublishedContactPointFactory(member=world.member_b, type="other")
    PublishedContactPointFactory(member=world.member_b, type="prosecution")
    client.force_login(world.secretariat)
    html = client.get(
        reverse("reports:stats", args=["budapest"]), HTTP_ACCEPT_LANGUAGE="fr"
    ).content.decode()
    assert '<html lang="fr">' in html
    values = re.findall(r'<rect [^>]*\swidth="([^"]*)"', html)
    values += re.findall(r'<text x="([^"]*)"', html)
    assert any("." in value for value in values)  # 2 of 3 bars: a fraction of the width
    for value in values:
        float(value)  # "229,3" would not parse
