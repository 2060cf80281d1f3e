"""The actions of `liaison directory`, in the order `--help` lists them."""

from liaison.directory.management.actions import (
    diff,
    export,
    import_,
    publish,
    remind_stale,
    verify,
)

ACTIONS = (import_, publish, diff, export, verify, remind_stale)
