"""Errors raised by services for bad input; views, the API and the CLI show them as they are."""

from __future__ import annotations


class ServiceError(ValueError):
    """Invalid input or a refused state change. `field` names the offending field, if any."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def check_format(fmt: str, formats: tuple[str, ...]) -> str:
    """`fmt` normalised, or a ServiceError naming the formats on offer (exports, reports)."""
    from django.utils.translation import gettext as _

    fmt = (fmt or "").strip().lower()
    if fmt not in formats:
        raise ServiceError(
            _("unknown format '%(format)s' (expected one of: %(formats)s)")
            % {"format": fmt[:20], "formats": ", ".join(formats)},
            "format",
        )
    return fmt
