"""Django's `flush`, lifting the audit trail's append-only triggers while it empties the database.

Django's test runner flushes the database between transactional tests (TransactionTestCase,
pytest-django's transactional_db and live_server): without this, the triggers would refuse the
DELETE (SQLite) or TRUNCATE (PostgreSQL) of the audit tables. Emptying the whole database is not a
way to rewrite the trail unnoticed in production: the head goes with it, and an empty trail next
to a copy of an earlier signed checkpoint is plainly not the same log.
"""

from __future__ import annotations

from django.core.management.commands.flush import Command as FlushCommand

from liaison.audit import triggers


class Command(FlushCommand):
    def handle(self, **options):
        with triggers.lifted(options["database"]):
            return super().handle(**options)
