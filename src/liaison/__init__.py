"""Liaison: directory, reachability tests and exchange for 24/7 networks of contact points."""

__version__ = "0.1.0"
