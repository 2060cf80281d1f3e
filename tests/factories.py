"""One factory per model (factory-boy). Tests build data here, never through raw SQL."""

from __future__ import annotations

import datetime

import factory
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP

from liaison.accounts.models import User
from liaison.directory.models import Channel, ChannelKind, ContactPoint, ContactPointType, Layer
from liaison.networks.models import Member, MemberKind, MemberStatus, Network, RoleAssignment

# A fixed base32 secret so that tests (and the browser tests) can compute TOTP codes.
TEST_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
TEST_PASSWORD = "correct horse battery staple 42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@agency.example")
    full_name = factory.Sequence(lambda n: f"Person {n}")
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def mfa(self, create, extracted, **kwargs):
        """Enrol TOTP unless mfa=False: every real account has a second factor."""
        self.save()
        if create:
            EmailAddress.objects.get_or_create(
                user=self, email=self.email, defaults={"verified": True, "primary": True}
            )
        if create and extracted is not False:
            TOTP.activate(self, TEST_TOTP_SECRET)


class NetworkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Network
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"net{n}")
    name = factory.Sequence(lambda n: f"Network {n}")
    legal_basis = "ETS No. 185, Art. 35"


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    network = factory.SubFactory(NetworkFactory)
    code = factory.Iterator(["FR", "DE", "IT", "ES", "PT", "NL", "BE", "AT", "PL", "RO"])
    name = factory.LazyAttribute(lambda o: {"FR": "France", "DE": "Germany"}.get(o.code, o.code))
    kind = MemberKind.STATE
    status = MemberStatus.PARTY


class RoleAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoleAssignment

    user = factory.SubFactory(UserFactory)
    network = factory.SubFactory(NetworkFactory)
    role = "officer"
    member = None


class ContactPointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactPoint

    member = factory.SubFactory(MemberFactory)
    network = factory.LazyAttribute(lambda o: o.member.network)
    type = ContactPointType.POLICE
    institution = factory.Sequence(lambda n: f"National Police Unit {n}")
    unit = "Cybercrime desk"
    availability = "24/7"
    always_available = True
    timezone = "Europe/Paris"
    languages = "en,fr"
    # A year ahead of the day the test runs, like a new entry: never stale nor due by accident.
    review_date = factory.LazyFunction(
        lambda: datetime.datetime.now(tz=datetime.UTC).date() + datetime.timedelta(days=365)
    )


class PublishedContactPointFactory(ContactPointFactory):
    """A contact point of the published layer (what readers and the statistics see), without
    going through an edition."""

    layer = Layer.PUBLISHED


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel

    contact_point = factory.SubFactory(ContactPointFactory)
    kind = ChannelKind.EMAIL
    value = factory.Sequence(lambda n: f"desk{n}@police.example")
    position = 0
