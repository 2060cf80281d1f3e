"""Editions 2 and 3 on top of the `world` fixture's edition 1, through the real services."""

from __future__ import annotations

from liaison.directory.exporting import console_access
from liaison.directory.services import (
    create_contact_point,
    delete_contact_point,
    publish_edition,
    update_contact_point,
)


def publish_two_more(world) -> dict:
    """Edition 2: FR's desk gets a unit, DE gains a contact point. Edition 3: DE's first
    contact point is removed. Returns the public ids involved."""
    access = console_access(world.network)
    update_contact_point(None, access, world.cp_a, {"unit": "Night desk"})
    added = create_contact_point(
        None,
        access,
        world.member_b,
        {
            "type": "police",
            "institution": "Landeskriminalamt",
            "timezone": "Europe/Berlin",
            "languages": "de",
            "channels": [{"kind": "email", "value": "lka@lka.de.example", "notes": ""}],
        },
    )
    publish_edition(None, access, "Second edition")
    delete_contact_point(None, access, world.cp_b)
    publish_edition(None, access, "Third edition")
    return {"fr": world.cp_a.public_id, "de": world.cp_b.public_id, "added": added.public_id}
