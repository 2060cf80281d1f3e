from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_triggers(sender, using="default", **kwargs):
    """Put the append-only triggers back after every migrate.

    SQLite rebuilds a table to alter it (create, copy, drop, rename), which drops its triggers: a
    later migration touching the audit tables must not leave them unprotected.
    """
    from django.db import connections

    from liaison.audit import triggers

    # install() guards the tables that exist: the audit trail's, and the directory's editions.
    if "audit_auditevent" in set(connections[using].introspection.table_names()):
        triggers.install(using)


class AuditConfig(AppConfig):
    name = "liaison.audit"
    label = "audit"

    def ready(self) -> None:
        post_migrate.connect(_ensure_triggers, sender=self, dispatch_uid="liaison.audit.triggers")
