"""Query-count ceilings: a page costs the same number of queries whatever its size."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import ChannelFactory, MemberFactory, PublishedContactPointFactory

LIST = "/api/v1/networks/budapest/contact-points"
# Token lookup, network, roles, COUNT, page, channels, then the audit event (head lock, insert,
# head update). available_at adds the distinct time zones of the network. Transaction control
# (BEGIN/COMMIT, savepoints in tests) is not counted here; RAW_CEILING counts it.
CEILING = 9
RAW_CEILING = CEILING + 2


def statements(ctx) -> int:
    return sum(
        1
        for q in ctx.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "BEGIN", "COMMIT"))
    )


def add_contact_points(world, n: int, batch: str = "A") -> None:
    members = [
        MemberFactory(network=world.network, code=f"{batch}{i}", name=f"State {batch}{i}")
        for i in range(3)
    ]
    for i in range(n):
        cp = PublishedContactPointFactory(
            member=members[i % 3],
            timezone=("Europe/Paris", "Asia/Tokyo")[i % 2],
            availability="Mon-Fri 08:00-18:00",
            always_available=False,
        )
        ChannelFactory(contact_point=cp, kind="phone", value="+33123456789", position=0)
        ChannelFactory(contact_point=cp, position=1)


def count_queries(caller, **params) -> int:
    caller.get(LIST, **params)  # warm-up: the token's last_used_at is refreshed once a minute
    with CaptureQueriesContext(connection) as ctx:
        response = caller.get(LIST, **params)
    assert response.status_code == 200
    assert len(ctx.captured_queries) <= RAW_CEILING + ("available_at" in params)
    return statements(ctx)


@pytest.mark.parametrize(
    "params",
    [
        {"page_size": 200},
        {"page_size": 200, "q": "police", "language": "en", "type": "police"},
        {"page_size": 200, "available_at": "2025-06-04T10:00:00+02:00"},
    ],
)
def test_list_queries_do_not_grow_with_the_page(world, api_as, params):
    caller = api_as(world.officer_a)
    add_contact_points(world, 5)
    small = count_queries(caller, **params)
    add_contact_points(world, 55, batch="B")
    large = count_queries(caller, **params)
    body = caller.get(LIST, **params).json()
    assert len(body["results"]) >= 60 or "q" in params or "available_at" in params
    assert small == large
    assert large <= CEILING + ("available_at" in params)


def test_list_ceiling_including_first_token_use(world, api_as, django_assert_max_num_queries):
    add_contact_points(world, 60)
    caller = api_as(world.officer_a)
    # First use of a token also records last_used_at.
    with django_assert_max_num_queries(RAW_CEILING + 1):
        assert caller.get(LIST, page_size=200).status_code == 200
    with django_assert_max_num_queries(RAW_CEILING):
        assert caller.get(LIST, page_size=200).status_code == 200


def test_members_queries_do_not_grow(world, api_as):
    caller = api_as(world.officer_a)
    url = "/api/v1/networks/budapest/members"
    caller.get(url)
    with CaptureQueriesContext(connection) as small:
        caller.get(url, page_size=200)
    add_contact_points(world, 30)
    with CaptureQueriesContext(connection) as large:
        caller.get(url, page_size=200)
    assert statements(small) == statements(large) <= CEILING
