"""Display helpers of the directory pages: language names, phone numbers, channel links."""

from __future__ import annotations

import gettext
from functools import cache
from urllib.parse import quote

import pycountry
from django import template
from django.utils.html import format_html
from django.utils.translation import get_language

from liaison.directory.models import ChannelKind
from liaison.directory.validation import PHONE_KINDS, format_phone

register = template.Library()


@cache
def _translations(lang: str) -> gettext.NullTranslations:
    return gettext.translation("iso639-3", pycountry.LOCALES_DIR, languages=[lang], fallback=True)


@cache
def _english_name(code: str) -> str:
    language = pycountry.languages.get(alpha_2=code)
    return language.name if language is not None else code


def language_name(code: str, lang: str | None = None) -> str:
    """The name of an ISO 639-1 language in the interface language ("fr" → "French"/"français")."""
    lang = (lang or get_language() or "en").split("-")[0]
    return _translations(lang).gettext(_english_name(code))


@register.filter
def language_names(codes) -> str:
    """'en,fr' (or a list of codes) → 'English, French'."""
    items = codes.split(",") if isinstance(codes, str) else list(codes or ())
    return ", ".join(language_name(code) for code in items if code)


@register.filter
def channel_display(channel) -> str:
    """A phone number in its readable form; an e-mail address with a line-break opportunity
    before its '@' (a long one may wrap there on a phone, rather than anywhere)."""
    if channel.kind in PHONE_KINDS:
        return format_phone(channel.value)
    if channel.kind == ChannelKind.EMAIL and "@" in channel.value:
        local, domain = channel.value.rsplit("@", 1)
        return format_html("{}<wbr>@{}", local, domain)
    return channel.value


@register.filter
def channel_href(channel) -> str:
    """tel: for phones and mobiles, mailto: for e-mail, '' for what a browser cannot open."""
    if channel.kind in (ChannelKind.PHONE, ChannelKind.MOBILE):
        return "tel:" + quote(channel.value, safe="+")
    if channel.kind == ChannelKind.EMAIL:
        return "mailto:" + quote(channel.value, safe="@.+-_")
    return ""


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current query string with some parameters replaced (for pagination links)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    return "?" + params.urlencode()
