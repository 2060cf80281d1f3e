"""A raw-SQL baseline for bench/directory.py, mounted only when LIAISON_BENCH=1.

It answers the same question as GET /api/v1/networks/{slug}/contact-points (one page of contact
points with their member and channels, as JSON) with two hand-written SQL statements and no
authentication, authorisation, audit or ORM: the ceiling against which the real endpoint is
measured in the same server and the same run. Never enabled in a deployment.
"""

from __future__ import annotations

import json

from django.db import connection
from django.http import Http404, HttpResponse

from liaison.core.views import public

_PAGE = """
SELECT cp.id, cp.public_id, m.code, m.name, m.status, cp.type, cp.institution, cp.unit,
       cp.availability, cp.availability_exceptions, cp.timezone, cp.languages, cp.instructions,
       cp.review_date, cp.last_confirmed_at, cp.updated_at
FROM directory_contactpoint cp
JOIN networks_member m ON m.id = cp.member_id
JOIN networks_network n ON n.id = cp.network_id
WHERE n.slug = %s
ORDER BY m.name, cp.position, cp.id
LIMIT %s OFFSET %s
"""
_COUNT = """SELECT count(*) FROM directory_contactpoint cp
JOIN networks_network n ON n.id = cp.network_id WHERE n.slug = %s"""


@public
def raw_contact_points(request, slug: str):
    try:
        page = max(1, int(request.GET.get("page", "1")))
        size = min(200, max(1, int(request.GET.get("page_size", "50"))))
    except ValueError:
        raise Http404 from None
    with connection.cursor() as cur:
        cur.execute(_COUNT, [slug])
        (count,) = cur.fetchone()
        cur.execute(_PAGE, [slug, size, (page - 1) * size])
        rows = cur.fetchall()
        ids = [r[0] for r in rows]
        channels: dict[int, list] = {i: [] for i in ids}
        if ids:
            marks = ",".join(["%s"] * len(ids))
            cur.execute(
                "SELECT contact_point_id, kind, value, notes FROM directory_channel "  # noqa: S608
                f"WHERE contact_point_id IN ({marks}) ORDER BY position, id",
                ids,
            )
            for cp_id, kind, value, notes in cur.fetchall():
                channels[cp_id].append({"kind": kind, "value": value, "notes": notes})
    results = [
        {
            "id": r[1],
            "member": {"code": r[2], "name": r[3], "status": r[4]},
            "type": r[5],
            "institution": r[6],
            "unit": r[7],
            "channels": channels[r[0]],
            "availability": r[8],
            "availability_exceptions": r[9],
            "timezone": r[10],
            "languages": [c for c in r[11].split(",") if c],
            "instructions": r[12],
            "review_date": str(r[13]) if r[13] else None,
            "last_confirmed_at": str(r[14]) if r[14] else None,
            "updated_at": str(r[15]),
        }
        for r in rows
    ]
    body = {"count": count, "page": page, "page_size": size, "results": results}
    return HttpResponse(json.dumps(body), content_type="application/json")
