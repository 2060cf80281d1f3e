"""Publishing an edition of a 10,000-contact-point directory, its diff, and notifying 2,000 people.

Run: .venv/bin/python bench/publish_edition.py [ROWS] [RECIPIENTS]

Fresh SQLite database in a temporary data directory; a real SMTP server (aiosmtpd) on loopback.
Prints, each against a baseline measured in the same run:
- publish edition 1 (every contact point new) and edition 2 (~2 % of the desks edited by a
  re-import), each followed by the diff with the previous edition; the baseline is reading the
  drafts as a document (the least any publication must do) plus a bare INSERT … SELECT copy;
- sending the 2,000 publication notices through the outbox (lease, SMTP, record, audit) against
  the same number of messages sent with smtplib over one connection (no bookkeeping at all).
"""

from __future__ import annotations

import os
import smtplib
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from tests.smtp_server import SMTPTestServer  # noqa: E402

_DATA_DIR = tempfile.TemporaryDirectory(prefix="liaison-bench-")  # removed at exit
SMTP = SMTPTestServer().__enter__()
os.environ["LIAISON_DATA_DIR"] = _DATA_DIR.name
os.environ["LIAISON_EMAIL_URL"] = f"smtp://127.0.0.1:{SMTP.port}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liaison.settings")

import django  # noqa: E402

django.setup()

import io  # noqa: E402

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from import_directory import build_csv  # noqa: E402

from liaison.accounts.models import User  # noqa: E402
from liaison.delivery.models import Delivery, DeliveryStatus  # noqa: E402
from liaison.delivery.services import deliver_due  # noqa: E402
from liaison.directory import snapshots  # noqa: E402
from liaison.directory.diffing import diff_documents  # noqa: E402
from liaison.directory.exporting import console_access  # noqa: E402
from liaison.directory.importing import import_directory  # noqa: E402
from liaison.directory.models import ContactPoint  # noqa: E402
from liaison.directory.services import publish_edition  # noqa: E402
from liaison.networks.models import Member, Network, RoleAssignment  # noqa: E402


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def baseline_copy(network) -> float:
    """Read the drafts as a document and copy the contact-point rows once, then undo it."""
    start = time.perf_counter()
    snapshots.draft_document(network)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_copy AS SELECT * FROM directory_contactpoint "
            "WHERE network_id = %s AND layer = 'draft'",
            [network.pk],
        )
        cursor.execute("DROP TABLE bench_copy")
    return time.perf_counter() - start


def publish_and_diff(network, note):
    edition, t_publish = timed(lambda: publish_edition(None, console_access(network), note))
    previous = network.editions.filter(number=edition.number - 1).first()
    diff, t_diff = timed(
        lambda: diff_documents(previous.document() if previous else None, edition.document())
    )
    changed = sum(len(m.contact_points) for m in diff.members)
    return edition, t_publish, t_diff, changed


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    recipients = int(sys.argv[2]) if len(sys.argv) > 2 else 2_000
    call_command("migrate", verbosity=0)
    network = Network.objects.create(slug="bench", name="Bench network")
    data = build_csv(rows)
    import_directory(None, network, io.BytesIO(data), filename="bench.csv")
    print(f"{rows} contact points, SQLite, {os.cpu_count()} CPUs")

    base = min(baseline_copy(network) for _ in range(3))
    edition, t_pub, t_diff, changed = publish_and_diff(network, "first")
    print(
        f"edition {edition.number}: publish {t_pub:6.2f} s + diff {t_diff:6.3f} s "
        f"= {t_pub + t_diff:6.2f} s ({changed} contact points in the diff; "
        f"baseline read+copy {base:5.2f} s)"
    )
    print(f"edition {edition.number} stored: {len(edition.content) / 1e6:.2f} MB compressed")
    # ~2 % of the desks change their unit, through a re-import of the whole file.
    lines = data.decode().splitlines()
    edited = [
        line.replace(",Desk ", ",Night desk ", 1) if i % 50 == 1 else line
        for i, line in enumerate(lines)
    ]
    import_directory(
        None, network, io.BytesIO("\n".join(edited).encode()), filename="bench-edited.csv"
    )
    base = min(baseline_copy(network) for _ in range(3))
    edition, t_pub, t_diff, changed = publish_and_diff(network, "second")
    print(
        f"edition {edition.number}: publish {t_pub:6.2f} s + diff {t_diff:6.3f} s "
        f"= {t_pub + t_diff:6.2f} s ({len(edition.changed_members)} members changed, "
        f"{changed} contact points in the diff; baseline read+copy {base:5.2f} s)"
    )
    published = ContactPoint.objects.filter(network=network, layer="published").count()
    assert published == rows, (published, rows)

    # --- notices ------------------------------------------------------------------------
    Delivery.objects.all().delete()
    member = Member.objects.filter(network=network).first()
    users = User.objects.bulk_create(
        [
            User(email=f"officer{i}@bench.example", full_name=f"Officer {i}")
            for i in range(recipients)
        ]
    )
    RoleAssignment.objects.bulk_create(
        [RoleAssignment(user=u, network=network, role="officer", member=member) for u in users]
    )
    ContactPoint.objects.filter(network=network, layer="draft").update(unit="Changed")
    edition, t_pub, _t, _c = publish_and_diff(network, "notices")
    queued = Delivery.objects.filter(kind="directory.edition.published").count()
    print(f"edition {edition.number}: published with {queued} notices queued in {t_pub:.2f} s")
    start = time.perf_counter()
    while deliver_due(limit=100):
        pass
    elapsed = time.perf_counter() - start
    sent = Delivery.objects.filter(status=DeliveryStatus.SENT).count()
    SMTP.wait_for(sent, timeout=30)

    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", SMTP.port) as client:
        for i in range(recipients):
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = "a@bench.example", f"o{i}@b.example", "x"
            msg.set_content("Edition published.")
            client.send_message(msg)
    raw = time.perf_counter() - start
    print(
        f"notices: {sent}/{queued} sent through the outbox in {elapsed:.2f} s = "
        f"{sent / elapsed:.0f} e-mails/s (baseline smtplib, one connection, no bookkeeping: "
        f"{recipients / raw:.0f} e-mails/s; ratio {raw / elapsed:.2f})"
    )
    SMTP.__exit__(None, None, None)


if __name__ == "__main__":
    main()
