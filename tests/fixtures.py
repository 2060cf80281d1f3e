"""Fixtures building networks, members, people with roles (see tests/factories.py)."""
