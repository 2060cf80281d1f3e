"""The actions of `liaison directory`, in the order `--help` lists them."""

from liaison.directory.management.actions import export, import_

ACTIONS = (import_, export)
