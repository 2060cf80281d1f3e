"""`{% edition_acknowledgements access edition as ack %}`: an edition page's acknowledgement block.

Included by directory/_edition_actions.html, so that the edition page's view needs nothing for
it: a member's people get their member's status (and the button), the Secretariat the table of
every member. Two queries for each part shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django import template

from liaison.core.permissions import Perm
from liaison.directory import queries

register = template.Library()


@dataclass
class EditionAcknowledgements:
    own: list[queries.AcknowledgementStatus] = field(default_factory=list)
    table: list[queries.AcknowledgementStatus] | None = None  # the Secretariat's

    @property
    def acknowledged(self) -> int:
        return sum(1 for row in self.table or () if row.acknowledgement is not None)

    @property
    def total(self) -> int:
        return len(self.table or ())


@register.simple_tag
def edition_acknowledgements(access, edition) -> EditionAcknowledgements:
    if access is None or edition is None:
        return EditionAcknowledgements()
    table = (
        queries.acknowledgement_status(access, edition)
        if access.has(Perm.DIRECTORY_PUBLISH)
        else None
    )
    return EditionAcknowledgements(own=queries.own_acknowledgements(access, edition), table=table)
