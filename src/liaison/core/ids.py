"""Opaque public identifiers: what URLs and the API show instead of sequential primary keys."""

from __future__ import annotations

import secrets

from django.db import models

# Crockford's base32 alphabet: no I, L, O, U, so ids read aloud over the phone are unambiguous.
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def new_public_id(prefix: str, length: int = 20) -> str:
    """`prefix` + `_` + 100 random bits: not guessable, not enumerable."""
    # One call to the CSPRNG, then 5 bits per character: bulk imports create tens of thousands.
    bits = secrets.randbits(5 * length)
    chars = []
    for _ in range(length):
        chars.append(_ALPHABET[bits & 31])
        bits >>= 5
    return f"{prefix}_" + "".join(chars)


class PublicIdField(models.CharField):
    """A unique, random, immutable public id with a per-model prefix (e.g. `cp_…`)."""

    def __init__(self, *args, prefix: str = "", **kwargs):
        self.prefix = prefix
        kwargs.setdefault("max_length", 32)
        kwargs.setdefault("unique", True)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("db_index", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["prefix"] = self.prefix
        for key in ("max_length", "unique", "editable", "db_index"):
            kwargs.pop(key, None)
        if not self._unique:  # the rare id shared by twins (a draft and its published copy)
            kwargs["unique"] = False
        return name, path, args, kwargs

    def pre_save(self, model_instance, add):
        value = getattr(model_instance, self.attname)
        if not value:
            value = new_public_id(self.prefix)
            setattr(model_instance, self.attname, value)
        return value
