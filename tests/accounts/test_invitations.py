"""Invitations: the service rules, the real views (people page, public acceptance page) and the
e-mail, which goes through the outbox (a Delivery row of the invite transaction) and a worker to a
real SMTP server."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from liaison.accounts import services
from liaison.accounts.models import Invitation, InvitationStatus, User
from liaison.audit.models import AuditEvent
from liaison.core.errors import ServiceError
from liaison.delivery.models import Delivery, DeliveryStatus
from liaison.delivery.services import deliver_due
from liaison.networks.models import RoleAssignment

PASSWORD = "a long and unusual passphrase 7"
LINK_RE = re.compile(r"http://testserver/invitations/([A-Za-z0-9_-]+)/")

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _mail_settings(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.BASE_URL = "http://testserver"


def _invite(actor, world, email="new@fr.example", role="officer", member="A"):
    member = {"A": world.member_a, "B": world.member_b, None: None}[member]
    return services.invite(actor, world.network, email, role, member)


# --- service -------------------------------------------------------------------------------


def test_invite_stores_only_the_hash_and_mails_through_the_outbox(
    world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        invitation, raw = _invite(world.coordinator_a, world)
    assert len(callbacks) == 1  # the worker's wake-up, after commit
    assert invitation.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert invitation.status == InvitationStatus.PENDING
    assert invitation.invited_by == world.coordinator_a
    delta = invitation.expires_at - timezone.now()
    assert dt.timedelta(days=6, hours=23) < delta <= dt.timedelta(days=7)
    (delivery,) = Delivery.objects.all()
    assert (delivery.kind, delivery.recipient) == ("account.invitation", "new@fr.example")
    assert (delivery.related_type, delivery.related_id) == (
        "accounts.invitation",
        invitation.public_id,
    )
    assert delivery.network == world.network
    assert mail.outbox == []  # nothing leaves until a worker sends it
    assert deliver_due("test-worker") == 1
    (message,) = mail.outbox
    assert message.to == ["new@fr.example"]
    assert f"http://testserver/invitations/{raw}/" in message.body
    assert "Budapest 24/7 Network" in message.body
    assert "Duty officer" in message.body
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.body_text == ""  # the link does not outlive the sending
    event = AuditEvent.objects.get(action="account.invitation.create")
    assert event.actor == world.coordinator_a
    assert event.network_slug == "budapest"
    assert raw not in str(event.details)
    for event in AuditEvent.objects.all():
        assert raw not in str(event.details)


def test_a_rolled_back_invitation_leaves_no_mail(world):
    class Abort(Exception):
        pass

    def invite_then_fail():
        with transaction.atomic():
            _invite(world.secretariat, world)
            assert Delivery.objects.count() == 1  # written in the same transaction...
            raise Abort

    with pytest.raises(Abort):
        invite_then_fail()
    assert not Invitation.objects.exists()
    assert Delivery.objects.count() == 0  # ...and gone with it
    assert deliver_due("test-worker") == 0
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("actor", "role", "member"),
    [
        ("coordinator_a", "officer", "B"),  # another member's officer
        ("coordinator_a", "coordinator", "A"),  # a coordinator invites officers only
        ("coordinator_a", "secretariat", None),
        ("officer_a", "officer", "A"),
        ("auditor", "officer", "A"),
        ("outsider", "officer", "A"),
    ],
)
def test_invite_permission(world, actor, role, member):
    with pytest.raises(PermissionDenied):
        _invite(getattr(world, actor), world, role=role, member=member)
    assert not Invitation.objects.exists()


def test_secretariat_invites_any_role(world):
    for role, member in [("coordinator", "B"), ("auditor", None), ("secretariat", None)]:
        _invite(world.secretariat, world, email=f"{role}@x.example", role=role, member=member)
    assert Invitation.objects.count() == 3


@pytest.mark.parametrize(
    ("email", "role", "member", "message"),
    [
        ("bad", "officer", "A", "invalid e-mail address"),
        ("x@fr.example", "officer", None, "a member is required"),
        ("x@fr.example", "auditor", "A", "acts for the whole network"),
        ("officer@fr.example", "officer", "A", "already holds this role"),
    ],
)
def test_invite_bad_input(world, email, role, member, message):
    with pytest.raises(ServiceError, match=message):
        _invite(world.secretariat, world, email=email, role=role, member=member)


def test_reinviting_supersedes_the_pending_invitation(world):
    first, raw1 = _invite(world.secretariat, world)
    _second, raw2 = _invite(world.secretariat, world)
    first.refresh_from_db()
    assert first.status == InvitationStatus.REVOKED
    assert services.check_invitation(raw1)[1] is not None
    assert services.check_invitation(raw2)[1] is None


def test_accept_creates_account_with_role(world):
    invitation, raw = _invite(world.coordinator_a, world)
    user = services.accept_invitation(raw, password=PASSWORD, full_name="Nina Novak")
    assert user.email == "new@fr.example"
    assert user.check_password(PASSWORD)
    assert user.emailaddress_set.get().verified
    ra = RoleAssignment.objects.get(user=user)
    assert (ra.role, ra.member, ra.created_by) == ("officer", world.member_a, world.coordinator_a)
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.ACCEPTED
    assert invitation.accepted_by == user
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"account.user.create", "network.role.assign", "account.invitation.accept"} <= actions


def test_accept_errors_change_nothing(world):
    invitation, raw = _invite(world.secretariat, world)
    counts = lambda: (User.objects.count(), RoleAssignment.objects.count())  # noqa: E731
    before = counts()
    with pytest.raises(ServiceError, match="too short"):
        services.accept_invitation(raw, password="short")
    with pytest.raises(ServiceError, match="password is required"):
        services.accept_invitation(raw)
    with pytest.raises(ServiceError, match="not valid"):
        services.accept_invitation("nonsense", password=PASSWORD)
    assert counts() == before
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING


def test_expired_revoked_and_used_invitations_are_refused(world):
    expired, raw_expired = _invite(world.secretariat, world, email="a@fr.example")
    Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    with pytest.raises(ServiceError, match="expired"):
        services.accept_invitation(raw_expired, password=PASSWORD)

    revoked, raw_revoked = _invite(world.secretariat, world, email="b@fr.example")
    with pytest.raises(PermissionDenied):
        services.revoke_invitation(world.coordinator_b, revoked)
    services.revoke_invitation(world.coordinator_a, revoked)
    assert AuditEvent.objects.filter(action="account.invitation.revoke").exists()
    with pytest.raises(ServiceError, match="withdrawn"):
        services.accept_invitation(raw_revoked, password=PASSWORD)
    with pytest.raises(ServiceError, match="can no longer be withdrawn"):
        services.revoke_invitation(world.secretariat, revoked)

    _used, raw_used = _invite(world.secretariat, world, email="c@fr.example")
    services.accept_invitation(raw_used, password=PASSWORD)
    with pytest.raises(ServiceError, match="already been used"):
        services.accept_invitation(raw_used, password=PASSWORD)
    assert not User.objects.filter(email__in=["a@fr.example", "b@fr.example"]).exists()


def test_invitation_lapses_when_the_inviter_loses_the_right(world):
    _invitation, raw = _invite(world.coordinator_a, world)
    RoleAssignment.objects.filter(user=world.coordinator_a).delete()
    with pytest.raises(ServiceError, match="no longer valid"):
        services.accept_invitation(raw, password=PASSWORD)


def test_existing_signed_in_user_accepts_and_gains_the_role(world):
    _invitation, raw = _invite(world.secretariat, world, email=world.officer_b.email)
    # Not by another person, and not anonymously for an existing address.
    with pytest.raises(ServiceError, match="another e-mail address"):
        services.accept_invitation(raw, user=world.officer_a)
    with pytest.raises(ServiceError, match="already exists"):
        services.accept_invitation(raw, password=PASSWORD)
    services.accept_invitation(raw, user=world.officer_b)
    assert world.officer_b.role_assignments.filter(member=world.member_a).exists()


# --- through the real views ----------------------------------------------------------------


def test_invitation_happy_path_through_the_views(client, world, django_capture_on_commit_callbacks):
    client.force_login(world.coordinator_a)
    people_url = reverse("accounts:people", args=["budapest"])
    page = client.get(people_url)
    assert page.status_code == 200
    # A coordinator may only invite duty officers of its own member.
    form = page.context["form"]
    assert [value for value, _label in form.fields["role"].choices] == ["officer"]
    assert list(form.fields["member"].queryset) == [world.member_a]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            people_url,
            {"email": "Nina@FR.example", "role": "officer", "member": world.member_a.public_id},
        )
    assert response.status_code == 302
    assert mail.outbox == []
    deliver_due("test-worker")
    (message,) = mail.outbox
    raw = LINK_RE.search(message.body).group(1)
    assert raw not in response["Location"]
    page = client.get(people_url)
    assert b"nina@fr.example" in page.content  # listed as pending
    client.logout()

    url = reverse("accounts:invitation", args=[raw])
    link = client.get(url)
    # The link only stores the token in the session and moves on to a URL without it.
    accept_url = reverse("accounts:invitation_accept")
    assert link.status_code == 302
    assert link["Location"] == accept_url
    assert link["Referrer-Policy"] == "no-referrer"
    assert Invitation.objects.get(email="nina@fr.example").status == InvitationStatus.PENDING
    page = client.get(accept_url)
    assert page.status_code == 200
    assert b"Budapest 24/7 Network" in page.content
    assert b"Duty officer" in page.content
    assert raw.encode() not in page.content

    bad = client.post(
        accept_url, {"full_name": "Nina", "password1": PASSWORD, "password2": "different"}
    )
    assert bad.status_code == 400
    assert b"The two passwords differ" in bad.content
    weak = client.post(
        accept_url, {"full_name": "Nina", "password1": "password", "password2": "password"}
    )
    assert weak.status_code == 400
    assert b"too common" in weak.content
    response = client.post(
        accept_url, {"full_name": "Nina Novak", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("account_login")
    user = User.objects.get(email="nina@fr.example")
    assert user.full_name == "Nina Novak"
    assert user.role_assignments.get().member == world.member_a
    assert "liaison_invitation_token" not in client.session

    # The link is single-use.
    again = client.get(url)
    assert again.status_code == 410
    assert b"already been used" in again.content
    assert again["Referrer-Policy"] == "no-referrer"
    # And the new account must now sign in, where a second factor is set up.
    login = client.post("/accounts/login/", {"login": "nina@fr.example", "password": PASSWORD})
    assert login.status_code == 302
    assert client.get("/")["Location"] == "/accounts/2fa/totp/activate/"


def test_expired_and_unknown_links_in_the_views(client, world):
    invitation, raw = _invite(world.secretariat, world)
    assert client.get(reverse("accounts:invitation", args=[raw])).status_code == 302
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - dt.timedelta(days=1)
    )
    # Expired between the link and the form: refused, nothing created.
    response = client.post(
        reverse("accounts:invitation_accept"),
        {"full_name": "X", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 400
    assert b"expired" in response.content
    assert not User.objects.filter(email="new@fr.example").exists()
    page = client.get(reverse("accounts:invitation", args=[raw]))
    assert page.status_code == 410
    assert b"expired" in page.content
    unknown = client.get(reverse("accounts:invitation", args=["x" * 43]))
    assert unknown.status_code == 404
    assert b"not valid" in unknown.content


def test_accept_page_without_a_link(client, world):
    response = client.get(reverse("accounts:invitation_accept"))
    assert response.status_code == 400
    assert b"Open the invitation link" in response.content
    response = client.post(
        reverse("accounts:invitation_accept"),
        {"full_name": "X", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 400
    assert User.objects.count() == 7


def test_the_invitation_path_is_never_logged(client, world, caplog):
    _invitation, raw = _invite(world.secretariat, world)
    Invitation.objects.update(status=InvitationStatus.REVOKED)
    with caplog.at_level("DEBUG"):
        assert client.get(reverse("accounts:invitation", args=[raw])).status_code == 410
        assert client.get(reverse("accounts:invitation", args=["y" * 43])).status_code == 404
    assert raw not in caplog.text
    assert "y" * 43 not in caplog.text


def test_signed_in_invitee_accepts_with_one_click(client, world):
    _invitation, raw = _invite(world.secretariat, world, email=world.officer_b.email)
    client.force_login(world.officer_a)
    client.get(reverse("accounts:invitation", args=[raw]))
    page = client.get(reverse("accounts:invitation_accept"))
    assert not page.context["signed_in_as_invitee"]
    assert b"Sign out" in page.content
    assert client.post(reverse("accounts:invitation_accept")).status_code == 400
    client.force_login(world.officer_b)
    client.get(reverse("accounts:invitation", args=[raw]))
    page = client.get(reverse("accounts:invitation_accept"))
    assert page.context["signed_in_as_invitee"]
    response = client.post(reverse("accounts:invitation_accept"))
    assert response.status_code == 302
    assert world.officer_b.role_assignments.filter(member=world.member_a).exists()


def test_withdraw_from_the_people_page(client, world):
    invitation, _raw = _invite(world.secretariat, world)
    url = reverse("accounts:invitation_revoke", args=["budapest", invitation.public_id])
    client.force_login(world.coordinator_b)  # not its member's invitation: not even visible
    assert client.post(url).status_code == 404
    client.force_login(world.coordinator_a)
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.REVOKED


# --- the e-mail through a real SMTP server -------------------------------------------------


def _smtp(smtp_server, **extra):
    return override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST=smtp_server.host,
        EMAIL_PORT=smtp_server.port,
        EMAIL_HOST_USER="",
        EMAIL_HOST_PASSWORD="",
        EMAIL_USE_TLS=False,
        EMAIL_USE_SSL=False,
        EMAIL_TIMEOUT=5,
        **extra,
    )


@pytest.mark.django_db(transaction=True)
def test_invitation_mail_arrives_over_smtp_through_the_worker(world, smtp_server):
    with _smtp(smtp_server, BASE_URL="https://liaison.example"):
        # transaction=True: the service's own transaction commits, the wake-up task is queued,
        # and the worker (as `liaison worker --until-idle` runs it) sends the outbox row.
        invitation, raw = _invite(world.coordinator_a, world, email="duty@fr.example")
        assert smtp_server.messages == []
        call_command("worker", "--until-idle", verbosity=0)
        (received,) = smtp_server.wait_for(1)
    assert received.rcpt_tos == ["duty@fr.example"]
    message = received.message
    assert message["Subject"] == "[Liaison] Invitation to Budapest 24/7 Network"
    delivery = Delivery.objects.get(related_id=invitation.public_id)
    assert message["Message-ID"] == delivery.message_id
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.body_text == ""
    body = message.get_content()
    assert f"https://liaison.example/invitations/{raw}/" in body
    assert "Budapest 24/7 Network" in body
    assert "Duty officer" in body
    # Nothing from the directory, nor who else is in the network.
    for restricted in (
        "France",
        "FR",
        "Police nationale",
        "+33123456789",
        "cyber@police.fr.example",
        world.coordinator_a.email,
        world.officer_a.email,
    ):
        assert restricted not in body, restricted
    # Once is enough: another run sends nothing more.
    with _smtp(smtp_server):
        call_command("worker", "--until-idle", verbosity=0)
    assert len(smtp_server.messages) == 1


def test_smtp_outage_keeps_the_invitation_and_shows_the_secretariat(
    client, world, smtp_server, caplog
):
    smtp_server.fail_with = 451
    with _smtp(smtp_server), caplog.at_level("DEBUG"):
        invitation, raw = _invite(world.coordinator_a, world)
        assert deliver_due("test-worker") == 1
    assert Invitation.objects.filter(pk=invitation.pk, status="pending").exists()
    delivery = Delivery.objects.get(related_id=invitation.public_id)
    assert delivery.status == DeliveryStatus.PENDING
    assert "451" in delivery.last_error
    assert raw not in caplog.text
    assert delivery.body_text not in caplog.text
    # Not silent: the Secretariat sees the failing invitation, never its link.
    client.force_login(world.secretariat)
    page = client.get(reverse("delivery:list", args=["budapest"]))
    html = page.content.decode()
    assert "new@fr.example" in html
    assert "Failed, will retry" in html
    assert "451" in html
    assert raw not in html
    assert "/invitations/" not in html
    # Once the server is back, the same row goes out, once.
    smtp_server.fail_with = None
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    with _smtp(smtp_server, BASE_URL="http://testserver"):
        assert deliver_due("test-worker") == 1
    (received,) = smtp_server.wait_for(1)
    assert LINK_RE.search(received.message.get_content()).group(1) == raw
