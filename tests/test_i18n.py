"""The French translation: the compiled catalogue matches its source, placeholders and markup
survive translation, and key pages render in French when the visitor chose French.

The catalogue is not required to be complete: other engineers add strings all the time, and an
untranslated string simply shows in English. Completeness is checked with
`msgfmt --statistics src/liaison/locale/fr/LC_MESSAGES/django.po` when translating.
"""

from __future__ import annotations

import ast
import gettext
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

LC_MESSAGES = Path(settings.LOCALE_PATHS[0]) / "fr" / "LC_MESSAGES"
PO = LC_MESSAGES / "django.po"
MO = LC_MESSAGES / "django.mo"


# --- A small .po reader ---------------------------------------------------------------------


@dataclass
class Entry:
    line: int
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)  # index 0 for a singular entry
    flags: set[str] = field(default_factory=set)
    refs: list[str] = field(default_factory=list)

    @property
    def translated(self) -> bool:
        return bool(self.msgstr) and all(self.msgstr.values()) and "fuzzy" not in self.flags

    @property
    def where(self) -> str:
        return f"django.po:{self.line} ({', '.join(self.refs[:2]) or 'no reference'})"


_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")$')


def read_po(path: Path) -> list[Entry]:
    """The entries of a .po file (header and obsolete entries left out)."""
    entries: list[Entry] = []
    current: Entry | None = None
    target: tuple[str, int] | None = None

    def finish() -> None:
        nonlocal current, target
        if current is not None and current.msgid:
            entries.append(current)
        current, target = None, None

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
            continue
        if current is None:
            current = Entry(line=number)
        if line.startswith("#~"):
            current.msgid = ""  # obsolete: dropped by finish()
            continue
        if line.startswith("#,"):
            current.flags |= {flag.strip() for flag in line[2:].split(",") if flag.strip()}
            continue
        if line.startswith("#:"):
            current.refs += line[2:].split()
            continue
        if line.startswith("#"):
            continue
        match = _KEYWORD.match(line)
        if match:
            keyword, index, value = match.group(1), match.group(2), ast.literal_eval(match.group(3))
            if keyword.startswith("msgstr"):
                target = ("msgstr", int(index or 0))
                current.msgstr[target[1]] = value
            else:
                target = (keyword, 0)
                setattr(current, keyword, value)
            continue
        if not line.startswith('"') or target is None:
            raise ValueError(f"django.po:{number}: cannot read {raw!r}")
        value = ast.literal_eval(line)
        if target[0] == "msgstr":
            current.msgstr[target[1]] += value
        else:
            setattr(current, target[0], getattr(current, target[0]) + value)
    finish()
    return entries


@pytest.fixture(scope="module")
def entries() -> list[Entry]:
    assert PO.exists(), f"{PO} is missing: run makemessages -l fr"
    return read_po(PO)


# --- The catalogue --------------------------------------------------------------------------


def test_the_po_file_reads_and_has_entries(entries):
    assert len(entries) > 100
    header = PO.read_text(encoding="utf-8").split("\n\n", 1)[0]
    assert "Plural-Forms: nplurals=2; plural=(n > 1);" in header
    assert "Language: fr" in header


def test_the_reader_sees_what_msgfmt_would(tmp_path):
    sample = tmp_path / "sample.po"
    sample.write_text(
        'msgid ""\nmsgstr ""\n"Plural-Forms: nplurals=2; plural=(n > 1);\\n"\n\n'
        '#: a.py:1\n#, python-format\nmsgid "Hello %(name)s"\nmsgstr "Bonjour %(name)s"\n\n'
        '#, fuzzy\nmsgid "Old"\nmsgstr "Vieux"\n\n'
        'msgid ""\n"one "\n"line"\nmsgid_plural "%(n)s lines"\n'
        'msgstr[0] "une ligne"\nmsgstr[1] ""\n\n'
        '#~ msgid "Gone"\n#~ msgstr "Parti"\n',
        encoding="utf-8",
    )
    hello, old, lines = read_po(sample)
    assert hello.translated
    assert hello.flags == {"python-format"}
    assert hello.refs == ["a.py:1"]
    assert not old.translated  # fuzzy
    assert lines.msgid == "one line"
    assert lines.msgid_plural == "%(n)s lines"
    assert not lines.translated  # msgstr[1] is empty


def test_the_compiled_catalogue_matches_the_po_file(entries):
    """django.mo ships (the deployment may lack gettext): it must hold exactly the translated
    entries of django.po. Compared by content, not by file dates, which a git checkout resets."""
    assert MO.exists(), f"{MO} is missing: run compilemessages"
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)._catalog
    expected: dict[object, str] = {}
    for entry in entries:
        if not entry.translated:
            continue
        msgid = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
        if entry.msgid_plural is None:
            expected[msgid] = entry.msgstr[0]
        else:
            for index, text in entry.msgstr.items():
                expected[(msgid, index)] = text
    actual = {key: value for key, value in compiled.items() if key != ""}  # "" is the header
    stale = sorted(
        str(key) for key in expected.keys() | actual.keys() if expected.get(key) != actual.get(key)
    )
    assert not stale, (
        "django.mo is out of date with django.po "
        "(run `liaison compilemessages` in src/liaison):\n  " + "\n  ".join(stale[:20])
    )


_NAMED = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[sdifrxXeEgGc]")
_POSITIONAL = re.compile(r"%(?!\()[-#0 +]*\d*(?:\.\d+)?[sdifrxXeEgGc]")
_BRACES = re.compile(r"(?<!\{)\{(\w*)\}(?!\})")
_TAG = re.compile(r"</?([a-zA-Z][a-zA-Z0-9]*)\b([^>]*)>")
_ATTRIBUTE = re.compile(r"""(\w+)=("[^"]*"|'[^']*')""")


def _placeholders(text: str, entry: Entry) -> dict[str, list[str]]:
    text = text.replace("%%", "")
    found = {
        "named": sorted(set(_NAMED.findall(text))),
        "positional": _POSITIONAL.findall(text),
        "tags": sorted(
            (name.lower(), sorted(_ATTRIBUTE.findall(attributes)))
            for name, attributes in _TAG.findall(text)
        ),
    }
    if "python-brace-format" in entry.flags or _BRACES.search(entry.msgid):
        found["braces"] = sorted(set(_BRACES.findall(text)))
    return found


def test_translations_keep_placeholders_and_markup(entries):
    problems = []
    for entry in entries:
        if not entry.translated:
            continue
        for index, text in entry.msgstr.items():
            source = entry.msgid if index == 0 or entry.msgid_plural is None else entry.msgid_plural
            want, got = _placeholders(source, entry), _placeholders(text, entry)
            if entry.msgid_plural is not None and index == 0:
                # The singular may name what the plural names (French msgstr[0] also serves 0).
                want["named"] = sorted(set(want["named"]) | set(_NAMED.findall(entry.msgid_plural)))
            if want != got:
                problems.append(f"{entry.where} msgstr[{index}]: {want} != {got}")
    assert not problems, "\n".join(problems)


def test_the_placeholder_check_can_fail():
    entry = Entry(line=1, msgid="Delete %(name)s <strong>now</strong>", msgstr={0: "x"})
    good = "Supprimer %(name)s <strong>maintenant</strong>"
    assert _placeholders(good, entry) == _placeholders(entry.msgid, entry)
    for bad in (
        "Supprimer %(nom)s <strong>maintenant</strong>",
        "Supprimer %(name) <strong>maintenant</strong>",
        "Supprimer %(name)s maintenant",
        "Supprimer %(name)s <em>maintenant</em>",
    ):
        assert _placeholders(bad, entry) != _placeholders(entry.msgid, entry), bad
    link = Entry(line=1, msgid='<a href="%(url)s">Sign in</a>')
    assert _placeholders('<a href="%(url)s">Connexion</a>', link) == _placeholders(link.msgid, link)
    assert _placeholders('<a href="/login">Connexion</a>', link) != _placeholders(link.msgid, link)


def test_plural_entries_have_both_forms(entries):
    incomplete = [
        entry.where
        for entry in entries
        if entry.msgid_plural is not None
        and any(entry.msgstr.values())
        and sorted(entry.msgstr) != [0, 1]
    ]
    assert not incomplete


# --- Pages in French ------------------------------------------------------------------------


def _in_french(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    return client


def _html_lang(html: str) -> str | None:
    match = re.search(r"<html[^>]*\blang=\"([^\"]+)\"", html)
    return match.group(1) if match else None


@pytest.mark.django_db
def test_directory_list_renders_in_french(client, world):
    client.force_login(world.officer_a)
    response = _in_french(client).get(reverse("directory:list", args=["budapest"]))
    assert response.status_code == 200
    html = response.content.decode()
    assert _html_lang(html) == "fr"
    for french in (
        "Annuaire",
        "Membres",
        "Rechercher",
        "Réinitialiser",
        "Point de contact",
        "Toutes les langues",
        "Se déconnecter",
        "Diffusion restreinte",
    ):
        assert french in html, french
    for english in (">Directory<", ">Sign out<", "Restricted — not for public distribution"):
        assert english not in html, english


@pytest.mark.django_db
def test_directory_list_stays_in_english_by_default(client, world):
    client.force_login(world.officer_a)
    html = client.get(reverse("directory:list", args=["budapest"])).content.decode()
    assert _html_lang(html) == "en"
    assert ">Directory<" in html
    assert "Annuaire" not in html


@pytest.mark.django_db
def test_contact_point_page_renders_in_french(client, world):
    client.force_login(world.officer_a)
    url = reverse("directory:detail", args=["budapest", world.cp_a.public_id])
    html = _in_french(client).get(url).content.decode()
    assert _html_lang(html) == "fr"
    for french in ("En ce moment", "Heure locale", "Canaux", "Fuseau horaire", "Langues"):
        assert french in html, french


@pytest.mark.django_db
def test_login_page_renders_in_french(client):
    response = _in_french(client).get(reverse("account_login"))
    assert response.status_code == 200
    html = response.content.decode()
    assert _html_lang(html) == "fr"
    for french in ("Se connecter", "Adresse électronique", "Mot de passe", "Mot de passe oublié"):
        assert french in html, french
    assert ">Sign in<" not in html


@pytest.mark.django_db
def test_the_language_switch_chooses_french(client):
    response = client.post(
        reverse("set_language"), {"language": "fr", "next": reverse("account_login")}
    )
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "fr"
    html = client.get(reverse("account_login")).content.decode()
    assert _html_lang(html) == "fr"
    assert "Se connecter" in html
