"""The base of the project's forms."""

from __future__ import annotations

from django import forms


class Form(forms.Form):
    """A form whose labels carry no ':' suffix: Django adds one by default, the sign-in page
    (allauth's templates) has none, and every page should read the same."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
