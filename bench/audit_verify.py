"""Audit trail figures: append rate, checkpoint cost, time to verify N events.

    .venv/bin/python bench/audit_verify.py [--events 100000]

Runs in a fresh temporary data directory (SQLite) unless DATABASE_URL is set, in which case the
database must be a throw-away one (scripts/with-postgres .venv/bin/python bench/audit_verify.py).
Beyond the first events appended through record_event, the rows are generated directly with the
same hashing (appending 10^5 events one transaction at a time would measure the disk, not the
trail), and a checkpoint is signed every AUDIT_CHECKPOINT_EVERY events as in production.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--appends", type=int, default=2_000, help="through record_event")
    args = parser.parse_args()
    os.environ.setdefault("LIAISON_DATA_DIR", tempfile.mkdtemp(prefix="liaison-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liaison.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from liaison.audit import hashing, services, triggers
    from liaison.audit.models import AuditEvent, AuditHead
    from liaison.audit.verification import verify_trail

    call_command("migrate", verbosity=0)
    if AuditEvent.objects.exists():
        sys.exit("bench/audit_verify.py needs an empty database")
    every = services.checkpoint_every()
    print(f"database: {connection.vendor}, checkpoint every {every} events")

    started = time.perf_counter()
    for i in range(args.appends):
        with transaction.atomic():
            services.record_event(None, "bench.append", network="bench", details={"i": i})
    elapsed = time.perf_counter() - started
    print(
        f"append: {args.appends} events in {elapsed:.2f} s ({args.appends / elapsed:.0f}/s, "
        "one transaction each, checkpoints included)"
    )

    # Bulk generation with the same hashing as record_event.
    head = AuditHead.objects.get(pk=1)
    frontier = hashing.Frontier.from_hex(head.size, head.frontier)
    chain = bytes.fromhex(head.chain_hash)
    now = dt.datetime.now(dt.UTC)
    batch = []
    pending = []
    columns = (
        "seq, occurred_at, actor_label, action, object_type, object_id, network_slug, via,"
        " ip, justification, details, leaf_hash, chain_hash"
    )
    insert = f"INSERT INTO audit_auditevent ({columns}) VALUES ({', '.join(['%s'] * 13)})"  # noqa: S608
    started = time.perf_counter()
    with transaction.atomic():
        for seq in range(head.size, args.events):
            occurred = now + dt.timedelta(microseconds=seq)
            details = {"i": seq, "member": "FR"}
            fields = services.leaf_fields(
                seq=seq,
                occurred_at=occurred,
                actor_id=None,
                actor_label="system",
                action="bench.view",
                object_type="directory.contactpoint",
                object_id=f"cp{seq % 997}",
                network_slug="bench",
                via="web",
                ip="192.0.2.1",
                justification="",
                details=details,
            )
            leaf = services.compute_leaf(fields)
            chain = hashing.chain_hash(chain, leaf)
            frontier.append(leaf)
            batch.append(
                (
                    seq,
                    occurred,
                    "system",
                    "bench.view",
                    "directory.contactpoint",
                    f"cp{seq % 997}",
                    "bench",
                    "web",
                    "192.0.2.1",
                    "",
                    json.dumps(details),
                    leaf.hex(),
                    chain.hex(),
                )
            )
            if frontier.size % every == 0:
                pending.append((frontier.size, frontier.root().hex()))
            if len(batch) == 5000:
                with connection.cursor() as cursor:
                    cursor.executemany(insert, batch)
                batch.clear()
        if batch:
            with connection.cursor() as cursor:
                cursor.executemany(insert, batch)
        triggers.remove()
        AuditHead.objects.filter(pk=1).update(
            size=frontier.size, chain_hash=chain.hex(), frontier=frontier.to_hex()
        )
        triggers.install()
    print(f"generate: {args.events - head.size} events in {time.perf_counter() - started:.1f} s")

    for size, root in pending:  # signed after commit, as record_event's on_commit does
        services._sign_checkpoint(size, root)

    started = time.perf_counter()
    checkpoint = services.create_checkpoint()
    ms = 1000 * (time.perf_counter() - started)
    print(f"checkpoint at size {checkpoint.tree_size}: {ms:.1f} ms (O(log n), from the frontier)")

    started, cpu = time.perf_counter(), time.process_time()
    result = verify_trail()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(result.summary())
    print(
        f"verify: {result.events} events and {result.checkpoints} checkpoints in {elapsed:.2f} s "
        f"({result.events / elapsed:,.0f} events/s); CPU {cpu:.2f} s ({result.events / cpu:,.0f} "
        "events per CPU second: the figure to compare on a busy machine)"
    )
    if not result.ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
