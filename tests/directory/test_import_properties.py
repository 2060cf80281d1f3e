"""Property-based tests of import row validation (no database: validate_rows(rows, None)).

Rows are built from valid building blocks (example phone numbers of random countries, schedules
formatted by the availability module, ISO 639-1 codes…) and must always validate; one field
mutated to a known-invalid value must give exactly one problem, naming that column; and arbitrary
text in any cell must only ever be reported, never raise.
"""

from __future__ import annotations

from zoneinfo import available_timezones

import phonenumbers
import pycountry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liaison.directory import availability as av
from liaison.directory.importing import COLUMNS, ImportProblem, validate_rows
from liaison.directory.models import ContactPointType

PNF = phonenumbers.PhoneNumberFormat
REGIONS = sorted(
    r
    for r in phonenumbers.SUPPORTED_REGIONS
    if pycountry.countries.get(alpha_2=r) is not None and phonenumbers.example_number(r)
)
LANGUAGES = sorted(lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2"))
TIMEZONES = sorted(available_timezones())
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40
).filter(lambda s: s.strip())


@st.composite
def phones(draw, region: str, *, national: bool) -> tuple[str, str]:
    """(as typed, E.164) for an example number of `region`."""
    kind = draw(
        st.sampled_from(
            [phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE]
        )
    )
    number = phonenumbers.example_number_for_type(region, kind) or phonenumbers.example_number(
        region
    )
    formats = [PNF.E164, PNF.INTERNATIONAL] + ([PNF.NATIONAL] if national else [])
    typed = phonenumbers.format_number(number, draw(st.sampled_from(formats)))
    return typed, phonenumbers.format_number(number, PNF.E164)


windows = st.builds(
    lambda day, start, length: av.Window(day, start, min(start + length, 1440)),
    st.integers(0, 6),
    st.integers(0, 1439),
    st.integers(1, 1440),
)
schedules = st.one_of(
    st.sampled_from(["24/7", "24x7"]),
    st.lists(windows, min_size=1, max_size=6).map(
        lambda ws: av.Schedule(always=False, windows=tuple(ws)).to_text()
    ),
)
languages = st.builds(
    lambda codes, sep: sep.join(codes),
    st.lists(st.sampled_from(LANGUAGES), min_size=1, max_size=4),
    st.sampled_from([",", ", ", ";", " ", " / "]),
)
emails = st.from_regex(r"[a-z0-9]{1,12}(\.[a-z0-9]{1,8})?@[a-z0-9]{1,12}\.example", fullmatch=True)
organisation_codes = st.from_regex(r"[A-Z][A-Z0-9_]{1,15}", fullmatch=True).filter(
    lambda code: len(code) != 2  # two letters would read as a country code in a state's row
)


@st.composite
def rows(draw, *, national: bool = True) -> tuple[dict[str, str], list[str]]:
    """A valid row (all columns) and the E.164 numbers its phone columns must give."""
    region = draw(st.sampled_from(REGIONS))
    kind = draw(st.sampled_from(["state", "organisation"]))
    code = region if kind == "state" else draw(organisation_codes)
    # National numbers can only be read in the member's own country.
    phone, phone_e164 = draw(phones(region, national=national and kind == "state"))
    row = {
        "member_code": draw(st.sampled_from([code, code.lower(), f" {code} "])),
        "member_name": draw(text),
        "member_kind": draw(st.sampled_from([kind, kind.upper(), kind.title()])),
        "member_status": draw(st.sampled_from(["party", "observer", "non_party", "Party"])),
        "type": draw(st.sampled_from(ContactPointType.values)),
        "institution": draw(text),
        "unit": draw(st.one_of(st.just(""), text)),
        "phone": phone,
        "phone_2": "",
        "email": draw(emails),
        "email_2": draw(st.one_of(st.just(""), emails)),
        "fax": "",
        "secure_channel": draw(st.one_of(st.just(""), text)),
        "availability": draw(schedules),
        "timezone": draw(st.sampled_from(TIMEZONES)),
        "languages": draw(languages),
        "instructions": draw(st.one_of(st.just(""), text)),
    }
    numbers = [phone_e164]
    if draw(st.booleans()):
        row["phone_2"], e164 = draw(phones(region, national=national and kind == "state"))
        numbers.append(e164)
    return row, numbers


def validate(row: dict[str, str]) -> tuple[list, list[ImportProblem]]:
    plan, problems = validate_rows([(2, row)], None)
    return [cp for member in plan.members.values() for cp in member.contact_points], problems


@PROPERTY_SETTINGS
@given(rows())
def test_rows_built_from_valid_parts_are_valid(generated):
    row, numbers = generated
    contact_points, problems = validate(row)
    assert problems == []
    [cp] = contact_points
    assert [ch.value for ch in cp.channels if ch.kind == "phone"] == numbers
    assert cp.availability == av.parse_availability(row["availability"]).to_text()
    assert cp.languages == ",".join(sorted(set(cp.languages.split(","))))


MUTATIONS = {
    "member_code": ["", "1", "A B", "-"],
    "member_name": ["", "   ", "n" * 201],
    "member_kind": ["", "country", "stat"],
    "member_status": ["", "member", "partie"],
    "type": ["", "army", "spy"],
    "institution": ["", "   ", "i" * 301],
    "unit": ["u" * 301],
    "phone": ["12", "abc", "+1"],
    "phone_2": ["12", "call me"],
    "email": ["not an address", "a@", "@b.example"],
    "email_2": ["x@@y.example"],
    "fax": ["12"],
    "secure_channel": ["s" * 301],
    "availability": ["Mon-Fri 25:00-26:00", "sometimes", "Mon 08:00", "Funday 08:00-09:00"],
    "timezone": ["", "Mars/Olympus", "Europe", "Paris"],
    "languages": ["", "xx", "english", "zz, en"],
    "instructions": ["x" * 5001],
}


@PROPERTY_SETTINGS
@given(rows(national=False), st.sampled_from(sorted(MUTATIONS)), st.data())
def test_one_invalid_field_gives_one_problem_naming_its_column(generated, column, data):
    row, _numbers = generated
    row[column] = data.draw(st.sampled_from(MUTATIONS[column]))
    contact_points, problems = validate(row)
    assert contact_points == []
    assert [(p.row, p.column) for p in problems] == [(2, column)], problems


cells = st.text(max_size=60) | st.sampled_from(["", " ", "'=1+2", "24/7", "+", "\x00", "Europe"])


@PROPERTY_SETTINGS
@given(rows(), st.sampled_from(COLUMNS), cells)
def test_arbitrary_text_in_a_cell_is_only_ever_reported(generated, column, value):
    row, _numbers = generated
    row[column] = value
    _contact_points, problems = validate(row)
    for problem in problems:
        assert problem.row == 2
        assert problem.column in COLUMNS
        assert "\n" not in str(problem)


@PROPERTY_SETTINGS
@given(st.fixed_dictionaries({column: cells for column in COLUMNS}))
def test_arbitrary_rows_are_only_ever_reported(row):
    _contact_points, problems = validate(row)
    for problem in problems:
        assert problem.column in COLUMNS
        assert len(str(problem)) <= 340
