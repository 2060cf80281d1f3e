"""The demo networks: fictional entries shaped like the real Budapest and FTF 24/7 networks.

Real country names; invented institutions, `*.example` e-mail addresses and the example phone
numbers of `phonenumbers` (valid, but never assigned). The figures match what the Secretariats
report (DESIGN.md "Demo data"): the statistics page of the Budapest network shows 76 parties
with contact points, 12 with more than one, and 65/3/16/4/2 contact points by type.

The rows go through the real import (`directory.importing.import_directory`), so the demo also
proves that a Secretariat's spreadsheet of this shape loads.
"""

from __future__ import annotations

import csv
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path

import phonenumbers
import pycountry

# The directory file's columns: the demo is loaded through the real import.
from liaison.directory.tabular import COLUMNS

BUDAPEST_SLUG = "budapest-247"
FTF_SLUG = "ftf-247"
DEMO_SLUGS = (BUDAPEST_SLUG, FTF_SLUG)


# code: (national languages, IANA time zone of the capital). Every state of both networks.
COUNTRIES: dict[str, tuple[str, str]] = {
    "AD": ("ca", "Europe/Andorra"),
    "AL": ("sq", "Europe/Tirane"),
    "AM": ("hy", "Asia/Yerevan"),
    "AR": ("es", "America/Argentina/Buenos_Aires"),
    "AT": ("de", "Europe/Vienna"),
    "AU": ("en", "Australia/Sydney"),
    "AZ": ("az", "Asia/Baku"),
    "BA": ("bs", "Europe/Sarajevo"),
    "BE": ("nl,fr", "Europe/Brussels"),
    "BG": ("bg", "Europe/Sofia"),
    "BJ": ("fr", "Africa/Porto-Novo"),
    "BR": ("pt", "America/Sao_Paulo"),
    "CA": ("en,fr", "America/Toronto"),
    "CH": ("de,fr,it", "Europe/Zurich"),
    "CI": ("fr", "Africa/Abidjan"),
    "CL": ("es", "America/Santiago"),
    "CM": ("fr,en", "Africa/Douala"),
    "CO": ("es", "America/Bogota"),
    "CR": ("es", "America/Costa_Rica"),
    "CV": ("pt", "Atlantic/Cape_Verde"),
    "CY": ("el", "Asia/Nicosia"),
    "CZ": ("cs", "Europe/Prague"),
    "DE": ("de", "Europe/Berlin"),
    "DK": ("da", "Europe/Copenhagen"),
    "DO": ("es", "America/Santo_Domingo"),
    "EC": ("es", "America/Guayaquil"),
    "EE": ("et", "Europe/Tallinn"),
    "ES": ("es", "Europe/Madrid"),
    "FI": ("fi", "Europe/Helsinki"),
    "FJ": ("en", "Pacific/Fiji"),
    "FR": ("fr", "Europe/Paris"),
    "GB": ("en", "Europe/London"),
    "GD": ("en", "America/Grenada"),
    "GE": ("ka", "Asia/Tbilisi"),
    "GH": ("en", "Africa/Accra"),
    "GR": ("el", "Europe/Athens"),
    "HR": ("hr", "Europe/Zagreb"),
    "HU": ("hu", "Europe/Budapest"),
    "IE": ("en", "Europe/Dublin"),
    "IL": ("he", "Asia/Jerusalem"),
    "IS": ("is", "Atlantic/Reykjavik"),
    "IT": ("it", "Europe/Rome"),
    "JP": ("ja", "Asia/Tokyo"),
    "KI": ("en", "Pacific/Tarawa"),
    "LI": ("de", "Europe/Vaduz"),
    "LK": ("si", "Asia/Colombo"),
    "LT": ("lt", "Europe/Vilnius"),
    "LU": ("fr,de", "Europe/Luxembourg"),
    "LV": ("lv", "Europe/Riga"),
    "MA": ("ar,fr", "Africa/Casablanca"),
    "MC": ("fr", "Europe/Monaco"),
    "MD": ("ro", "Europe/Chisinau"),
    "ME": ("sr", "Europe/Podgorica"),
    "MK": ("mk", "Europe/Skopje"),
    "MT": ("mt", "Europe/Malta"),
    "MU": ("en,fr", "Indian/Mauritius"),
    "NG": ("en", "Africa/Lagos"),
    "NL": ("nl", "Europe/Amsterdam"),
    "NO": ("no", "Europe/Oslo"),
    "PA": ("es", "America/Panama"),
    "PE": ("es", "America/Lima"),
    "PH": ("tl", "Asia/Manila"),
    "PL": ("pl", "Europe/Warsaw"),
    "PT": ("pt", "Europe/Lisbon"),
    "PY": ("es", "America/Asuncion"),
    "RO": ("ro", "Europe/Bucharest"),
    "RS": ("sr", "Europe/Belgrade"),
    "SE": ("sv", "Europe/Stockholm"),
    "SI": ("sl", "Europe/Ljubljana"),
    "SK": ("sk", "Europe/Bratislava"),
    "SL": ("en", "Africa/Freetown"),
    "SM": ("it", "Europe/San_Marino"),
    "SN": ("fr", "Africa/Dakar"),
    "TN": ("ar,fr", "Africa/Tunis"),
    "TO": ("to", "Pacific/Tongatapu"),
    "TR": ("tr", "Europe/Istanbul"),
    "UA": ("uk", "Europe/Kyiv"),
    "US": ("en", "America/New_York"),
}

# The names the Council of Europe uses where they differ from ISO 3166's common names.
NAMES = {
    "CZ": "Czech Republic",
    "MD": "Republic of Moldova",
    "US": "United States of America",
    "KR": "Republic of Korea",
    "TZ": "United Republic of Tanzania",
}

# Budapest Convention (ETS No. 185) parties with a 24/7 contact point: 76.
BUDAPEST_PARTIES = (  # noqa: SIM905 — a list of codes reads better as one string
    # Council of Europe member states
    "AD AL AM AT AZ BA BE BG CH CY CZ DE DK EE ES FI FR GB GE GR HR HU IS IT LI LT LU LV "
    "MC MD ME MK MT NL NO PL PT RO RS SE SI SK TR UA "
    # other states
    "AR AU BJ BR CA CI CL CM CO CR CV DO EC FJ GD GH IL JP KI LK MA MU NG PA PE PH PY SL SN TN "
    "TO US"
).split()

# States following the network as observers (signatories, states invited to accede): no
# contact point, and the network's policy keeps the directory from them.
BUDAPEST_OBSERVERS = [
    "BF",
    "GM",
    "GT",
    "IE",
    "KR",
    "KZ",
    "MW",
    "MX",
    "MZ",
    "NE",
    "NZ",
    "PG",
    "RW",
    "ST",
    "TG",
    "TT",
    "TZ",
    "UY",
    "VU",
    "ZA",
]

# The 12 parties with more than one contact point: the type of each, first one first.
BUDAPEST_MULTI = {
    "US": ("police", "prosecution", "police"),
    "ES": ("police", "prosecution", "ministry_of_justice"),
    "DE": ("police", "police"),
    "NL": ("police", "police"),
    "FR": ("police", "prosecution"),
    "IT": ("police", "prosecution"),
    "JP": ("police", "prosecution"),
    "PH": ("police", "prosecution"),
    "BR": ("police", "prosecution"),
    "CA": ("police", "prosecution"),
    "AU": ("police", "prosecution"),
    "PT": ("police", "prosecution"),
}
# Parties whose single contact point is not the police.
BUDAPEST_SINGLE_TYPES = {
    "AZ": "security_service",
    "GE": "security_service",
    "UA": "security_service",
    "RO": "prosecution",
    "SK": "prosecution",
    "CL": "prosecution",
    "CO": "prosecution",
    "PY": "prosecution",
    "LK": "prosecution",
    "MC": "ministry_of_justice",
    "AD": "ministry_of_justice",
    "TO": "ministry_of_justice",
    "GH": "cybersecurity",
    "MU": "cybersecurity",
}

# Council of Europe member states in the FTF network (45; San Marino has no contact point).
FTF_STATES = [
    "AD",
    "AL",
    "AM",
    "AT",
    "AZ",
    "BA",
    "BE",
    "BG",
    "CH",
    "CY",
    "CZ",
    "DE",
    "DK",
    "EE",
    "ES",
    "FI",
    "FR",
    "GB",
    "GE",
    "GR",
    "HR",
    "HU",
    "IE",
    "IS",
    "IT",
    "LI",
    "LT",
    "LU",
    "LV",
    "MC",
    "MD",
    "ME",
    "MK",
    "MT",
    "NL",
    "NO",
    "PL",
    "PT",
    "RO",
    "RS",
    "SE",
    "SI",
    "SK",
    "TR",
    "UA",
]
FTF_SECURITY_SERVICES = frozenset(
    ["AZ", "BE", "CH", "DK", "ES", "FR", "GB", "HU", "LT", "NL", "NO", "PT", "SE", "SI", "TR", "UA"]
)


@dataclass(frozen=True)
class Desk:
    """An invented institution for a contact point of a given type."""

    institution: str
    unit: str
    agency: str  # e-mail subdomain
    mailbox: str


BUDAPEST_DESKS = {
    "police": (
        Desk("National Cybercrime Unit", "24/7 Contact Point", "police", "cyber247"),
        Desk("Criminal Police Directorate", "High-Tech Crime Division", "police", "htc247"),
        Desk("Central Office for Combating Cybercrime", "Operations Room", "police", "occ247"),
        Desk("Cybercrime Investigation Centre", "Duty Desk", "police", "cic-duty"),
    ),
    "prosecution": (
        Desk("Office of the Prosecutor General", "Cybercrime Section", "prosecution", "cyber247"),
        Desk("Public Prosecution Service", "Electronic Evidence Desk", "prosecution", "evidence"),
    ),
    "ministry_of_justice": (
        Desk("Ministry of Justice", "International Cooperation Department", "justice", "intl"),
    ),
    "security_service": (
        Desk("State Security Service", "Cyber Investigations Directorate", "security", "cyber247"),
    ),
    "cybersecurity": (
        Desk("National Cyber Security Agency", "Incident Response Team", "cert", "cp247"),
    ),
}
FTF_DESKS = {
    "police": (
        Desk("Counter-Terrorism Police Directorate", "FTF Contact Point", "ct", "ftf247"),
        Desk("National Criminal Police", "Counter-Terrorism Unit", "police", "ct-duty"),
    ),
    "security_service": (
        Desk("State Security Service", "Counter-Terrorism Centre", "security", "ftf247"),
    ),
}

BUDAPEST_INSTRUCTIONS = (
    "Call first, then confirm in writing by e-mail.",
    "Preservation requests (Art. 29) by e-mail; urgent cases by phone at any time.",
    "Requests in English; state the legal basis and the data to be preserved.",
    "Quote the reference of the case in every message.",
)
FTF_INSTRUCTIONS = (
    "Warnings by e-mail using the network template; call to confirm urgent ones.",
    "Call the duty officer for any urgent warning on a person travelling.",
    "Send warnings in English; acknowledge within one hour.",
)
OFFICE_INSTRUCTIONS = (
    "Office hours only; outside them, e-mails are read the next working day.",
    "Requests by e-mail with the case reference; call during office hours for urgent ones.",
)
OFFICE_HOURS = (
    "Mon-Fri 08:00-18:00",
    "Mon-Fri 08:30-17:30",
    "Mon-Thu 08:00-17:00; Fri 08:00-14:00",
    "Mon-Fri 08:00-18:00; Sat 09:00-12:00",
)


def member_name(code: str) -> str:
    if code in NAMES:
        return NAMES[code]
    country = pycountry.countries.get(alpha_2=code)
    return getattr(country, "common_name", None) or country.name


def _phone(region: str, variant: int = 0, kind=phonenumbers.PhoneNumberType.FIXED_LINE) -> str:
    """A valid example number of `region`, varied by `variant` so that desks differ."""
    number = phonenumbers.example_number_for_type(region, kind) or phonenumbers.example_number(
        region
    )
    if number is None:
        return ""
    if variant:
        base = number.national_number
        for delta in range(variant, variant + 50):
            candidate = phonenumbers.PhoneNumber(
                country_code=number.country_code,
                national_number=base - base % 100 + (base % 100 + delta * 7) % 100,
                italian_leading_zero=number.italian_leading_zero,
            )
            if phonenumbers.is_valid_number_for_region(candidate, region):
                number = candidate
                break
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _languages(code: str, rng: random.Random) -> str:
    national = COUNTRIES[code][0].split(",")
    extra = ["en"]
    if "fr" not in national and rng.random() < 0.2:
        extra.append("fr")
    return ",".join(dict.fromkeys(national + extra))


def _row(**fields: str) -> dict[str, str]:
    row = dict.fromkeys(COLUMNS, "")
    unknown = set(fields) - set(COLUMNS)
    if unknown:
        raise KeyError(f"not a directory column: {sorted(unknown)}")
    row.update(fields)
    return row


def budapest_rows() -> list[dict[str, str]]:
    """One row per contact point of the Budapest-style network: 76 parties, 90 contact points."""
    rng = random.Random(185)  # noqa: S311 — reproducible demo data, not secrets (ETS No. 185)
    rows = []
    for code in sorted(BUDAPEST_PARTIES, key=member_name):
        types = BUDAPEST_MULTI.get(code) or (BUDAPEST_SINGLE_TYPES.get(code, "police"),)
        used_desks: set[Desk] = set()
        for index, cp_type in enumerate(types):
            desks = [d for d in BUDAPEST_DESKS[cp_type] if d not in used_desks]
            desk = rng.choice(desks)
            used_desks.add(desk)
            office = cp_type in {"prosecution", "ministry_of_justice"} or rng.random() < 0.06
            domain = f"{desk.agency}.{code.lower()}.example"
            rows.append(
                _row(
                    member_code=code,
                    member_name=member_name(code),
                    member_kind="state",
                    member_status="party",
                    type=cp_type,
                    institution=desk.institution,
                    unit=desk.unit,
                    phone=_phone(code, index),
                    email=f"{desk.mailbox}@{domain}",
                    availability=rng.choice(OFFICE_HOURS) if office else "24/7",
                    timezone=COUNTRIES[code][1],
                    languages=_languages(code, rng),
                    instructions=rng.choice(
                        OFFICE_INSTRUCTIONS if office else BUDAPEST_INSTRUCTIONS
                    ),
                    phone_2=(
                        _phone(code, index, phonenumbers.PhoneNumberType.MOBILE)
                        if not office and rng.random() < 0.5
                        else ""
                    ),
                    email_2=f"duty@{domain}" if rng.random() < 0.25 else "",
                    fax=_phone(code, index + 3) if cp_type == "ministry_of_justice" else "",
                    secure_channel="",
                )
            )
    return rows


def ftf_rows() -> list[dict[str, str]]:
    """One row per contact point of the FTF-style network: 48, including two organisations."""
    rng = random.Random(217)  # noqa: S311 — reproducible demo data (CETS No. 217)
    rows = []
    for code in sorted(FTF_STATES, key=member_name):
        cp_type = "security_service" if code in FTF_SECURITY_SERVICES else "police"
        desk = rng.choice(FTF_DESKS[cp_type])
        domain = f"{desk.agency}.{code.lower()}.example"
        rows.append(
            _row(
                member_code=code,
                member_name=member_name(code),
                member_kind="state",
                member_status="party",
                type=cp_type,
                institution=desk.institution,
                unit=desk.unit,
                phone=_phone(code, 1),
                email=f"{desk.mailbox}@{domain}",
                availability="24/7",
                timezone=COUNTRIES[code][1],
                languages=_languages(code, rng),
                instructions=rng.choice(FTF_INSTRUCTIONS),
                phone_2=_phone(code, 1, phonenumbers.PhoneNumberType.MOBILE),
                email_2="",
                fax="",
                secure_channel="Secure messaging platform (demo)" if rng.random() < 0.3 else "",
            )
        )
    rows.append(
        _row(
            member_code="US",
            member_name=member_name("US"),
            member_kind="state",
            member_status="non_party",
            type="police",
            institution="Federal Counter-Terrorism Operations Center",
            unit="International Liaison Desk",
            phone=_phone("US", 2),
            email="ftf247@ct.us.example",
            availability="24/7",
            timezone=COUNTRIES["US"][1],
            languages="en",
            instructions="Call the watch officer for urgent warnings; e-mail for follow-up.",
        )
    )
    rows.append(
        _row(
            member_code="EU",
            member_name="European Union",
            member_kind="organisation",
            member_status="observer",
            type="police",
            institution="EU Counter-Terrorism Coordination Office",
            unit="Operational Contact Desk",
            phone=_phone("BE", 4),
            email="ftf247@ct.eu.example",
            availability="Mon-Fri 08:00-20:00; Sat 09:00-13:00",
            timezone="Europe/Brussels",
            languages="en,fr,de",
            instructions="Warnings concerning EU agencies' systems; outside hours use e-mail.",
        )
    )
    rows.append(
        _row(
            member_code="INTERPOL",
            member_name="INTERPOL",
            member_kind="organisation",
            member_status="observer",
            type="police",
            institution="INTERPOL Counter-Terrorism Liaison Desk",
            unit="Command Centre",
            phone=_phone("FR", 5),
            email="ftf247@desk.interpol.example",
            availability="24/7",
            timezone="Europe/Paris",
            languages="en,fr,es,ar",
            instructions="Include notice references where they exist.",
        )
    )
    return rows


# --- accounts ------------------------------------------------------------------------------

DEMO_PASSWORD = "Liaison demo 24/7"  # noqa: S105 — printed by `liaison demo`, for demo data only


@dataclass(frozen=True)
class DemoAccount:
    email: str
    totp_secret: str  # base32, fixed so that the README and the guides can rely on it
    roles: tuple[tuple[str, str, str | None], ...]  # (network slug, role, member code)

    def describe(self) -> str:
        return ", ".join(
            f"{role}{f' ({member})' if member else ''} in {slug}"
            for slug, role, member in self.roles
        )


DEMO_ACCOUNTS = (
    DemoAccount(
        "secretariat@coe.example",
        "B2B3WCB7H7AHXMTNBEHYAYSFUHJNXDPI",
        ((BUDAPEST_SLUG, "secretariat", None), (FTF_SLUG, "secretariat", None)),
    ),
    DemoAccount(
        "auditor@coe.example",
        "GSMBY6PSZYRMMJTUQOVPXHJCKL22YX3K",
        ((BUDAPEST_SLUG, "auditor", None), (FTF_SLUG, "auditor", None)),
    ),
    DemoAccount(
        "coordinator@fr.example",
        "XYYVSQLKP4ATJ54MLZQEBVMFI3ZDTASU",
        ((BUDAPEST_SLUG, "coordinator", "FR"),),
    ),
    DemoAccount(
        "officer@fr.example",
        "4PEZP32HPJB5RSNDZPWOMHNUPJ6FEP6S",
        ((BUDAPEST_SLUG, "officer", "FR"), (FTF_SLUG, "officer", "FR")),
    ),
    DemoAccount(
        "officer@de.example",
        "CZ7NUZUN6GRT2NFA6RCCYYNHKSL4ME4Q",
        ((BUDAPEST_SLUG, "officer", "DE"),),
    ),
)


def demo_account(email: str) -> DemoAccount | None:
    email = (email or "").strip().lower()
    return next((a for a in DEMO_ACCOUNTS if a.email == email), None)


def current_totp_code(secret: str) -> tuple[str, int]:
    """The code an authenticator app shows now for `secret`, and the seconds it stays valid."""
    import time

    from allauth.mfa import app_settings
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    now = int(time.time())
    period = app_settings.TOTP_PERIOD
    return format_hotp_value(hotp_value(secret, now // period)), period - now % period


# --- loading -------------------------------------------------------------------------------


def demo_loaded() -> bool:
    from liaison.networks.models import Network

    return Network.objects.filter(slug__in=DEMO_SLUGS).exists()


def write_csv(rows: list[dict[str, str]], path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _import(network, rows: list[dict[str, str]], filename: str) -> None:
    from liaison.directory.exporting import console_access
    from liaison.directory.importing import import_directory
    from liaison.directory.services import publish_edition

    with tempfile.TemporaryDirectory(prefix="liaison-demo-") as tmp:
        import_directory(None, network, write_csv(rows, Path(tmp) / filename), filename=filename)
    # The import writes drafts; the first edition makes them the directory everyone reads.
    publish_edition(None, console_access(network), "First edition (demo data)")


def load_demo() -> bool:
    """Create the demo networks, their directories and the demo accounts, once.

    Returns False (and changes nothing) when the demo networks already exist. Everything is
    written in one transaction: a failure leaves no half-loaded demo behind.
    """
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from django.db import transaction

    from liaison.accounts.services import assign_role, create_user
    from liaison.networks.models import Member
    from liaison.networks.services import add_member, create_network

    with transaction.atomic():
        if demo_loaded():
            return False
        budapest = create_network(
            None,
            BUDAPEST_SLUG,
            "Budapest Convention 24/7 Network (demo)",
            legal_basis="Convention on Cybercrime (ETS No. 185), Article 35",
            description=(
                "Fictional demo data shaped like the 24/7 Network of the Convention on "
                "Cybercrime: real country names, invented institutions and addresses."
            ),
            secretariat_name="Council of Europe, Cybercrime Division",
            observers_see_directory=False,
            is_demo=True,
        )
        _import(budapest, budapest_rows(), "budapest-247-demo.csv")
        for code in BUDAPEST_OBSERVERS:
            add_member(
                None, budapest, code=code, name=member_name(code), kind="state", status="observer"
            )
        ftf = create_network(
            None,
            FTF_SLUG,
            "24/7 Network of Contact Points on Foreign Terrorist Fighters (demo)",
            legal_basis=(
                "Additional Protocol to the Council of Europe Convention on the Prevention of "
                "Terrorism (CETS No. 217), Article 7"
            ),
            description=(
                "Fictional demo data shaped like the Council of Europe 24/7 Network on Foreign "
                "Terrorist Fighters: real country names, invented institutions and addresses."
            ),
            secretariat_name="Council of Europe, Counter-Terrorism Division",
            is_demo=True,
        )
        _import(ftf, ftf_rows(), "ftf-247-demo.csv")

        networks = {BUDAPEST_SLUG: budapest, FTF_SLUG: ftf}
        for account in DEMO_ACCOUNTS:
            user = None
            for slug, role, code in account.roles:
                network = networks[slug]
                member = Member.objects.get(network=network, code=code) if code else None
                if user is None:
                    user = create_user(
                        None,
                        account.email,
                        network=network,
                        role=role,
                        member=member,
                        password=DEMO_PASSWORD,
                        totp_secret=account.totp_secret,
                    )
                else:
                    assign_role(None, user, network=network, role=role, member=member)
            RecoveryCodes.activate(user)
        _edition_history(budapest)
    return True


def _edition_history(network) -> None:
    """Edition 2 with two members' updates (like the Secretariat's "updated versions shared with
    the Network (Albania, Benin, …)"), and one pending draft for the Secretariat to review."""
    from liaison.directory.exporting import console_access
    from liaison.directory.models import ContactPoint, Layer
    from liaison.directory.services import publish_edition, update_contact_point

    access = console_access(network)

    def first(code: str):
        return (
            ContactPoint.objects.filter(network=network, layer=Layer.DRAFT, member__code=code)
            .order_by("position")
            .first()
        )

    update_contact_point(None, access, first("AL"), {"unit": "Cybercrime Unit (night desk)"})
    update_contact_point(
        None,
        access,
        first("BJ"),
        {"instructions": "Appeler d'abord, puis confirmer par courriel. Call first, then e-mail."},
    )
    publish_edition(None, access, "Updates from Albania and Benin (demo)")
    update_contact_point(
        None, access, first("FR"), {"unit": "Office anti-cybercriminalité (OFAC) — 24/7 desk"}
    )


def recovery_codes(email: str, count: int = 3) -> list[str]:
    """A few unused recovery codes of a demo account (allauth derives them from a stored seed)."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    authenticator = Authenticator.objects.filter(
        user__email=email, type=Authenticator.Type.RECOVERY_CODES
    ).first()
    if authenticator is None:
        return []
    return RecoveryCodes(authenticator).get_unused_codes()[:count]
