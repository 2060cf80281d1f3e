"""Liaison: directory, reachability tests and secure exchange for 24/7 networks of contact points."""

__version__ = "0.1.0"
