"""Fixtures building a network with two members and one person per role.

`world` is the standard cast used by permission tests:
  secretariat, auditor, coordinator_a / officer_a (member A), coordinator_b / officer_b (member B),
  outsider (a role in another network only), and a contact point per member.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from liaison.directory.exporting import console_access
from liaison.directory.models import ContactPoint, Layer
from liaison.directory.services import publish_edition
from tests.factories import (
    ChannelFactory,
    ContactPointFactory,
    MemberFactory,
    NetworkFactory,
    RoleAssignmentFactory,
    UserFactory,
)


@dataclass
class World:
    network: object
    other_network: object
    member_a: object
    member_b: object
    cp_a: object
    cp_b: object
    secretariat: object
    auditor: object
    coordinator_a: object
    officer_a: object
    coordinator_b: object
    officer_b: object
    outsider: object

    def users(self) -> dict[str, object]:
        return {
            "secretariat": self.secretariat,
            "auditor": self.auditor,
            "coordinator_a": self.coordinator_a,
            "officer_a": self.officer_a,
            "coordinator_b": self.coordinator_b,
            "officer_b": self.officer_b,
            "outsider": self.outsider,
        }


def _person(email: str, network, role: str, member=None):
    user = UserFactory(email=email)
    RoleAssignmentFactory(user=user, network=network, role=role, member=member)
    return user


@pytest.fixture
def world(db) -> World:
    network = NetworkFactory(slug="budapest", name="Budapest 24/7 Network")
    other = NetworkFactory(slug="other", name="Other Network")
    member_a = MemberFactory(network=network, code="FR", name="France")
    member_b = MemberFactory(network=network, code="DE", name="Germany")
    other_member = MemberFactory(network=other, code="IT", name="Italy")
    cp_a = ContactPointFactory(member=member_a, institution="Police nationale")
    ChannelFactory(contact_point=cp_a, kind="phone", value="+33123456789", position=0)
    ChannelFactory(contact_point=cp_a, kind="email", value="cyber@police.fr.example", position=1)
    cp_b = ContactPointFactory(member=member_b, institution="Bundeskriminalamt", languages="de,en")
    ChannelFactory(contact_point=cp_b, kind="email", value="desk@bka.de.example")
    # The factories write drafts; edition 1 publishes them, and cp_a / cp_b are the published
    # contact points everyone reads (their drafts share the public id).
    publish_edition(None, console_access(network), "Edition 1 (test fixture)")
    cp_a = ContactPoint.objects.get(public_id=cp_a.public_id, layer=Layer.PUBLISHED)
    cp_b = ContactPoint.objects.get(public_id=cp_b.public_id, layer=Layer.PUBLISHED)
    return World(
        network=network,
        other_network=other,
        member_a=member_a,
        member_b=member_b,
        cp_a=cp_a,
        cp_b=cp_b,
        secretariat=_person("sec@coe.example", network, "secretariat"),
        auditor=_person("dpo@coe.example", network, "auditor"),
        coordinator_a=_person("coord@fr.example", network, "coordinator", member_a),
        officer_a=_person("officer@fr.example", network, "officer", member_a),
        coordinator_b=_person("coord@de.example", network, "coordinator", member_b),
        officer_b=_person("officer@de.example", network, "officer", member_b),
        outsider=_person("someone@it.example", other, "officer", other_member),
    )


def publish(network, note: str = ""):
    """Publish the network's drafts as the next edition (what the Secretariat does)."""
    return publish_edition(None, console_access(network), note)
