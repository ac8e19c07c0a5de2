"""Tests for services.contacts.formats: parsing uploaded contact files and exporting contacts.

The fixtures copy real exports: LinkedIn's preamble, Google's two column
sets, and Apple/Android vCards. They are written inline so each test shows
exactly which bytes it feeds in.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
import vobject
from hypothesis import given, settings
from hypothesis import strategies as st

from services.contacts.formats import (
    CSV,
    CSV_COLUMNS,
    VCARD,
    FormatError,
    ParsedRow,
    Problem,
    TooLarge,
    detect_format,
    parse,
)
from shared.spreadsheet import FORMULA_START

_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_SEPARATORS = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")


def export_csv(contacts: list[dict]) -> str:
    return CSV.export(contacts).decode("utf-8-sig")


def export_vcard(contacts: list[dict]) -> str:
    return VCARD.export(contacts).decode("utf-8")


def invalid(line: int, *problems: tuple[str, str]) -> ParsedRow:
    return ParsedRow(line, None, tuple(Problem(field, reason) for field, reason in problems))


def empty(line: int) -> ParsedRow:
    return ParsedRow(line, None, skipped="empty row")

# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------

LINKEDIN_TEXT = (
    "Notes:\r\n"
    '"When exporting your connection data, you may notice that some of the email addresses are '
    "missing. You will only see email addresses for connections who have allowed their connections "
    "to see or download their email address using this setting "
    "https://www.linkedin.com/psettings/privacy/email. You can learn more here "
    'https://www.linkedin.com/help/linkedin/answer/261"\r\n'
    "\r\n"
    "First Name,Last Name,URL,Email Address,Company,Position,Connected On\r\n"
    "Jane,Doe,https://www.linkedin.com/in/jane-doe,jane@example.com,Acme,Engineer,12 Mar 2024\r\n"
    'Raj,Patel,https://www.linkedin.com/in/rajpatel,,"Globex, Inc.",Senior Analyst,03 Jan 2024\r\n'
    ",,https://www.linkedin.com/in/ghost,,Initech,Recruiter,01 Feb 2024\r\n"
    '  ,Okafor ,https://www.linkedin.com/in/okafor,,"Bureau ""Conseil""",Partner,05 Feb 2024,extra\r\n'
    "\r\n"
    "Sam,Lee,https://www.linkedin.com/in/samlee,sam@,Hooli,Intern,06 Feb 2024\r\n"
)
LINKEDIN = b"\xef\xbb\xbf" + LINKEDIN_TEXT.encode("utf-8")  # real exports carry a BOM

GOOGLE_HEADER = [
    "First Name", "Middle Name", "Last Name", "Phonetic First Name", "Phonetic Middle Name", "Phonetic Last Name",
    "Name Prefix", "Name Suffix", "Nickname", "File As", "Organization Name", "Organization Title",
    "Organization Department", "Birthday", "Notes", "Photo", "Labels", "E-mail 1 - Label", "E-mail 1 - Value",
    "E-mail 2 - Label", "E-mail 2 - Value", "Phone 1 - Label", "Phone 1 - Value", "Phone 2 - Label",
    "Phone 2 - Value", "Address 1 - Label", "Address 1 - Formatted", "Address 1 - Street", "Address 1 - City",
    "Address 1 - PO Box", "Address 1 - Region", "Address 1 - Postal Code", "Address 1 - Country",
    "Address 1 - Extended Address", "Website 1 - Label", "Website 1 - Value", "Website 2 - Label",
    "Website 2 - Value",
]

GOOGLE_LEGACY_HEADER = [
    "Name", "Given Name", "Additional Name", "Family Name", "Yomi Name", "Given Name Yomi", "Additional Name Yomi",
    "Family Name Yomi", "Name Prefix", "Name Suffix", "Initials", "Nickname", "Short Name", "Maiden Name", "Birthday",
    "Gender", "Location", "Billing Information", "Directory Server", "Mileage", "Occupation", "Hobby", "Sensitivity",
    "Priority", "Subject", "Notes", "Language", "Photo", "Group Membership", "E-mail 1 - Type", "E-mail 1 - Value",
    "E-mail 2 - Type", "E-mail 2 - Value", "Phone 1 - Type", "Phone 1 - Value", "Address 1 - Type",
    "Address 1 - Formatted", "Address 1 - Street", "Address 1 - City", "Address 1 - PO Box", "Address 1 - Region",
    "Address 1 - Postal Code", "Address 1 - Country", "Address 1 - Extended Address", "Organization 1 - Type",
    "Organization 1 - Name", "Organization 1 - Yomi Name", "Organization 1 - Title", "Organization 1 - Department",
    "Organization 1 - Symbol", "Organization 1 - Location", "Organization 1 - Job Description", "Website 1 - Type",
    "Website 1 - Value",
]


def google_csv(header: list[str], rows: list[dict[str, str]]) -> bytes:
    """Build a Google export the way Google writes it (minimal quoting, CRLF) from sparse rows."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, restval="")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


GOOGLE = google_csv(
    GOOGLE_HEADER,
    [
        {   # line 2, spans two lines because of the note
            "First Name": "María", "Middle Name": "José", "Last Name": "García",
            "Organization Name": "Deloitte", "Organization Title": "Consultant",
            "Notes": "Met at the careers fair.\nFollow up in May", "Labels": "* myContacts ::: Careers",
            "E-mail 1 - Label": "* Work", "E-mail 1 - Value": "maria.garcia@deloitte.com ::: m.garcia@gmail.com",
            "E-mail 2 - Label": "Home", "E-mail 2 - Value": "MARIA.GARCIA@deloitte.com",
            "Phone 1 - Label": "Mobile", "Phone 1 - Value": "+44 7700 900123 ::: +44 20 7946 0000",
            "Phone 2 - Label": "Work", "Phone 2 - Value": "+44 20 7000 0000",
            "Address 1 - City": "London", "Address 1 - Country": "United Kingdom",
            "Website 1 - Label": "Blog", "Website 1 - Value": "https://mariagarcia.example.com",
            "Website 2 - Label": "Profile", "Website 2 - Value": "https://uk.linkedin.com/in/mariagarcia",
        },
        {   # line 4: organisation and email but no name
            "Organization Name": "Nameless Ltd", "E-mail 1 - Value": "info@nameless.example.com",
        },
        {   # line 5: only "File As"
            "File As": "Dr Kim", "Phone 1 - Value": "+82 2 555 0199",
        },
        {},  # line 6: blank row, skipped
    ],
)

GOOGLE_LEGACY = google_csv(
    GOOGLE_LEGACY_HEADER,
    [
        {   # line 2
            "Name": "Tom O'Brien", "Given Name": "Tom", "Family Name": "O'Brien",
            "Group Membership": "* My Contacts", "E-mail 1 - Type": "* Work",
            "E-mail 1 - Value": "tom@obrien.example.ie", "Phone 1 - Type": "Work",
            "Phone 1 - Value": "+353 1 555 0100", "Organization 1 - Name": "Trinity College Dublin",
            "Organization 1 - Title": "Lecturer", "Website 1 - Type": "Profile",
            "Website 1 - Value": "linkedin.com/in/tobrien", "Notes": "Intro via Prof. Walsh",
        },
        {   # line 3: no "Name", so the parts are joined
            "Given Name": "Aoife", "Additional Name": "M.", "Family Name": "Byrne",
            "Location": "Cork", "E-mail 1 - Value": "aoife@byrne.example.ie",
        },
        {   # line 4
            "Name": "Bad Mail", "E-mail 1 - Value": "not-an-email",
        },
    ],
)

VCARD_30 = (
    "BEGIN:VCARD\r\n"
    "VERSION:3.0\r\n"
    "PRODID:-//Apple Inc.//iPhone OS 17.2//EN\r\n"
    "N:Nakamura;Kenji;;;\r\n"
    "FN:Kenji Nakamura\r\n"
    "ORG:Sony Interactive;Platform Engineering;\r\n"
    "TITLE:Staff Engineer\r\n"
    "EMAIL;type=INTERNET;type=HOME:kenji.n@gmail.example.com\r\n"
    "item1.EMAIL;type=INTERNET;type=pref:kenji@sony.example.com\r\n"
    "item1.X-ABLabel:_$!<Work>!$_\r\n"
    "TEL;type=CELL;type=VOICE;type=pref:+81 90-1234-5678\r\n"
    "item2.URL;type=pref:https://www.linkedin.com/in/kenji-nakamura\r\n"
    "item2.X-ABLabel:_$!<HomePage>!$_\r\n"
    "NOTE:Alumni mentor\\, class of 2012.\\nAsk about the\\; platform team. This no\r\n"
    " te was folded by the phone\r\n"
    "\tand again with a tab.\r\n"
    "TZ:+09:00\r\n"
    "ADR;type=WORK:;;1-7-1 Konan;Minato-ku;Tokyo;108-0075;Japan\r\n"
    "PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8U\r\n"
    " HRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/2wBDAQkJCQwLDBgNDRgy\r\n"
    "END:VCARD\r\n"
)

VCARD_40 = (
    "BEGIN:VCARD\n"                                                         # line 1
    "VERSION:4.0\n"
    "FN:Amara Okafor\n"
    "N:Okafor;Amara;;;\n"
    "EMAIL;TYPE=home:amara.okafor@gmail.example.com\n"
    "EMAIL;TYPE=work;PREF=1:amara@unicef.example.org\n"
    "EMAIL;TYPE=work:Amara@UNICEF.example.org\n"
    'TEL;VALUE=uri;TYPE="voice,cell":tel:+1-212-555-0123\n'
    "URL:https://www.unicef.example.org\n"
    "URL;TYPE=work:https://www.linkedin.com/in/amara-okafor\n"
    "TZ:America/New_York\n"
    "NOTE:Prefers email. Shared drive: C:\\\\Users\\\\amara\n"
    "END:VCARD\n"
    "\n"
    "BEGIN:VCARD\n"                                                         # line 15: truncated
    "VERSION:4.0\n"
    "FN:Truncated Person\n"
    "EMAIL:lost@example.com\n"
    "BEGIN:VCARD\n"                                                         # line 19
    "VERSION:4.0\n"
    "N:Fischer;Lukas;Maria;Dr.;\n"
    "EMAIL:lukas.fischer@tu-berlin.example.de\n"
    "END:VCARD\n"
    "BEGIN:VCARD\n"                                                         # line 24
    "VERSION:4.0\n"
    "ORG:No Name GmbH\n"
    "END:VCARD\n"
    "BEGIN:VCARD\n"                                                         # line 28
    "VERSION:4.0\n"
    "FN:Bad Email\n"
    "EMAIL:x@\n"
    "END:VCARD\n"
)

VCARD_21 = (
    "BEGIN:VCARD\r\n"
    "VERSION:2.1\r\n"
    "N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=BCrgen;;;\r\n"
    "FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:J=C3=BCrgen M=C3=BCller\r\n"
    "NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=ISO-8859-1:Caf=E9 meeting=0D=0A=\r\n"
    "second line\r\n"
    "EMAIL;INTERNET;PREF:juergen@example.de\r\n"
    "TEL;CELL:+49 170 1234567\r\n"
    "END:VCARD\r\n"
)


# --------------------------------------------------------------------------
# detect_format
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "content_type", "expected"),
    [
        pytest.param(LINKEDIN, "Connections.csv", "text/csv", "linkedin_csv", id="linkedin"),
        pytest.param(GOOGLE, "contacts.csv", "text/csv", "google_csv", id="google"),
        pytest.param(GOOGLE_LEGACY, None, None, "google_csv", id="google-legacy"),
        pytest.param(VCARD_30.encode(), "kenji.vcf", "text/vcard", "vcard", id="vcard-3.0"),
        pytest.param(VCARD_40.encode(), "contacts.vcf", "text/x-vcard", "vcard", id="vcard-4.0"),
        pytest.param(VCARD_21.encode(), None, None, "vcard", id="vcard-2.1"),
        pytest.param(b"\r\n\r\n" + VCARD_40.encode(), None, None, "vcard", id="vcard-after-blank-lines"),
        pytest.param(LINKEDIN, "contacts.vcf", "text/vcard", "linkedin_csv", id="content-beats-hints"),
    ],
)
def test_detect_format_recognises_each_export_by_its_content(data, filename, content_type, expected):
    assert detect_format(data, filename=filename, content_type=content_type) == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"", "empty", id="empty"),
        pytest.param(b"\xef\xbb\xbf \r\n\r\n", "empty", id="bom-and-whitespace-only"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", "binary", id="png"),
        pytest.param(b"PK\x03\x04\x14\x00\x06\x00\x08\x00", "binary", id="xlsx-zip"),
        pytest.param(b"caf\x81\x8d\x90\x9d", "neither UTF-8 nor Windows-1252", id="undecodable"),
        pytest.param(b"id,amount,currency\r\n1,10.00,EUR\r\n", "not a recognised", id="unrelated-csv"),
    ],
)
def test_detect_format_rejects_files_that_are_not_contact_exports(data, message):
    with pytest.raises(FormatError, match=message):
        detect_format(data)


def test_detect_format_error_suggests_exporting_spreadsheets_as_csv():
    with pytest.raises(FormatError, match="exported as CSV"):
        detect_format(b"PK\x03\x04\x14\x00", filename="Connections.xlsx")


# --------------------------------------------------------------------------
# LinkedIn Connections.csv
# --------------------------------------------------------------------------


def test_linkedin_preamble_lines_are_skipped_and_rows_keep_their_physical_line_numbers():
    rows = parse(LINKEDIN, "linkedin_csv")

    assert rows == [
        ParsedRow(5, {
            "name": "Jane Doe", "emails": ["jane@example.com"],
            "linkedin_url": "https://www.linkedin.com/in/jane-doe", "organisation": "Acme",
            "title": "Engineer", "source": "linkedin",
        }),
        ParsedRow(6, {
            "name": "Raj Patel", "linkedin_url": "https://www.linkedin.com/in/rajpatel",
            "organisation": "Globex, Inc.", "title": "Senior Analyst", "source": "linkedin",
        }),
        invalid(7, ("name", "missing name")),
        ParsedRow(8, {
            "name": "Okafor", "linkedin_url": "https://www.linkedin.com/in/okafor",
            "organisation": 'Bureau "Conseil"', "title": "Partner", "source": "linkedin",
        }),
        empty(9),
        invalid(10, ("emails", "bad email 'sam@'")),
    ]


def test_linkedin_row_without_email_has_no_emails_key():
    raj = parse(LINKEDIN, "linkedin_csv")[1].contact
    assert raj is not None and "emails" not in raj


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(LINKEDIN_TEXT.encode("utf-8"), id="utf-8-without-bom"),
        pytest.param(LINKEDIN_TEXT.encode("utf-16"), id="utf-16-with-bom"),
        pytest.param(LINKEDIN_TEXT.replace("\r\n", "\n").encode("utf-8"), id="lf-line-ends"),
    ],
)
def test_linkedin_parses_the_same_whatever_the_encoding_and_line_ends(data):
    assert parse(data, "linkedin_csv") == parse(LINKEDIN, "linkedin_csv")


def test_linkedin_windows_1252_file_from_excel_is_decoded():
    data = (
        "First Name,Last Name,URL,Email Address,Company,Position,Connected On\r\n"
        "Chloé,Müller,https://www.linkedin.com/in/chloe,chloe@example.fr,Café Crème – Paris,CEO,1 Jan 2024\r\n"
    ).encode("cp1252")

    [row] = parse(data, "linkedin_csv")

    assert row.contact is not None
    assert row.contact["name"] == "Chloé Müller"
    assert row.contact["organisation"] == "Café Crème – Paris"


def test_linkedin_semicolon_delimited_file_resaved_by_excel_is_read():
    data = (
        "Notes:\r\n"
        '"When exporting your connection data, you may notice..."\r\n'
        "\r\n"
        "First Name;Last Name;URL;Email Address;Company;Position;Connected On\r\n"
        "Jane;Doe;https://www.linkedin.com/in/jane-doe;jane@example.com;Acme, Inc.;Engineer;12 Mar 2024\r\n"
    ).encode("cp1252")

    assert detect_format(data) == "linkedin_csv"
    [row] = parse(data, "linkedin_csv")
    assert row.line == 5
    assert row.contact is not None and row.contact["organisation"] == "Acme, Inc."


def test_linkedin_header_only_file_has_no_rows():
    assert parse(b"First Name,Last Name,URL,Email Address,Company,Position,Connected On\r\n", "linkedin_csv") == []


def test_linkedin_row_reports_missing_name_and_bad_email_together():
    data = b"First Name,Last Name,Email Address\r\n,,a@b@c.com\r\n"
    assert parse(data, "linkedin_csv") == [invalid(2, ("name", "missing name"), ("emails", "bad email 'a@b@c.com'"))]


# --------------------------------------------------------------------------
# Google Contacts CSV
# --------------------------------------------------------------------------


def test_google_current_format_collects_emails_first_phone_and_linkedin_website():
    rows = parse(GOOGLE, "google_csv")

    assert rows == [
        ParsedRow(2, {
            "name": "María José García",
            "emails": ["maria.garcia@deloitte.com", "m.garcia@gmail.com"],
            "phone": "+44 7700 900123",
            "linkedin_url": "https://uk.linkedin.com/in/mariagarcia",
            "organisation": "Deloitte",
            "title": "Consultant",
            "location": "London, United Kingdom",
            "source": "google",
            "note": "Met at the careers fair.\nFollow up in May",
            "tags": ["Careers"],  # "* myContacts" is Google's own label
        }),
        invalid(4, ("name", "missing name")),
        ParsedRow(5, {"name": "Dr Kim", "phone": "+82 2 555 0199", "source": "google"}),
        empty(6),
    ]


def test_google_legacy_format_uses_numbered_organisation_columns():
    rows = parse(GOOGLE_LEGACY, "google_csv")

    assert rows == [
        ParsedRow(2, {
            "name": "Tom O'Brien",
            "emails": ["tom@obrien.example.ie"],
            "phone": "+353 1 555 0100",
            "linkedin_url": "linkedin.com/in/tobrien",
            "organisation": "Trinity College Dublin",
            "title": "Lecturer",
            "source": "google",
            "note": "Intro via Prof. Walsh",
        }),
        ParsedRow(3, {
            "name": "Aoife M. Byrne", "emails": ["aoife@byrne.example.ie"],
            "location": "Cork", "source": "google",
        }),
        invalid(4, ("emails", "bad email 'not-an-email'")),
    ]


def test_google_parse_refuses_a_linkedin_file():
    with pytest.raises(FormatError, match="no Google Contacts header"):
        parse(LINKEDIN, "google_csv")


# --------------------------------------------------------------------------
# vCard
# --------------------------------------------------------------------------


def test_vcard_30_unfolds_lines_strips_groups_and_unescapes_text():
    [row] = parse(VCARD_30.encode(), "vcard")

    assert row == ParsedRow(1, {
        "name": "Kenji Nakamura",
        "emails": ["kenji@sony.example.com", "kenji.n@gmail.example.com"],  # type=pref first
        "phone": "+81 90-1234-5678",
        "linkedin_url": "https://www.linkedin.com/in/kenji-nakamura",
        "organisation": "Sony Interactive",
        "title": "Staff Engineer",
        "location": "Minato-ku, Tokyo, Japan",
        "time_zone": "+09:00",
        "source": "vcard",
        "note": "Alumni mentor, class of 2012.\nAsk about the; platform team. "
                "This note was folded by the phoneand again with a tab.",
    })


def test_vcard_40_file_with_an_unterminated_card_still_parses_the_others():
    rows = parse(VCARD_40.encode(), "vcard")

    assert rows == [
        ParsedRow(1, {
            "name": "Amara Okafor",
            "emails": ["amara@unicef.example.org", "amara.okafor@gmail.example.com"],
            "phone": "+1-212-555-0123",
            "linkedin_url": "https://www.linkedin.com/in/amara-okafor",
            "time_zone": "America/New_York",
            "source": "vcard",
            "note": "Prefers email. Shared drive: C:\\Users\\amara",
        }),
        invalid(15, ("record", "unterminated vCard")),
        ParsedRow(19, {
            "name": "Dr. Lukas Maria Fischer",
            "emails": ["lukas.fischer@tu-berlin.example.de"],
            "source": "vcard",
        }),
        invalid(24, ("name", "missing name")),
        invalid(28, ("emails", "bad email 'x@'")),
    ]


def test_vcard_missing_end_at_end_of_file_is_unterminated():
    data = VCARD_30.encode() + b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Cut Off\r\n"
    rows = parse(data, "vcard")
    assert [r.error for r in rows] == [None, "unterminated vCard"]
    assert rows[1].line == 22


def test_vcard_21_quoted_printable_values_are_decoded_with_their_charset():
    [row] = parse(VCARD_21.encode(), "vcard")

    assert row.contact == {
        "name": "Jürgen Müller",
        "emails": ["juergen@example.de"],
        "phone": "+49 170 1234567",
        "source": "vcard",
        "note": "Café meeting\nsecond line",
    }


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param(["FN:Ada", "EMAIL:ADA@Example.com", "EMAIL:ada@example.COM"],
                     {"emails": ["ADA@Example.com"]}, id="case-insensitive-dedupe"),
        pytest.param(["FN:Ada", "EMAIL:mailto:ada@example.com"], {"emails": ["ada@example.com"]}, id="mailto"),
        pytest.param(["FN:Ada", "ORG:Acme\\; Sons;R&D"], {"organisation": "Acme; Sons"}, id="escaped-org"),
        pytest.param(["FN:Ada", 'X-SOCIALPROFILE;type=linkedin:http\\://www.linkedin.com/in/ada'],
                     {"linkedin_url": "http://www.linkedin.com/in/ada"}, id="apple-social-profile"),
        pytest.param(["FN:Ada", "URL:https://notlinkedin.com.example/in/ada"], {}, id="lookalike-url-ignored"),
        pytest.param(["FN:Ada", "URL:https://www.linkedin.com/company/acme", "URL:www.linkedin.com/in/ada"],
                     {"linkedin_url": "www.linkedin.com/in/ada"}, id="company-page-skipped-for-profile"),
        pytest.param(["FN:  ", "N:Lovelace;Ada;;;"], {"name": "Ada Lovelace"}, id="blank-fn-uses-n"),
        pytest.param(["fn:Ada", "Email;Type=Work:ada@example.com"], {"emails": ["ada@example.com"]},
                     id="lower-case-names"),
    ],
)
def test_vcard_property_variants_map_to_contact_fields(lines, expected):
    card = "\r\n".join(["BEGIN:VCARD", "VERSION:3.0", *lines, "END:VCARD", ""])
    [row] = parse(card.encode(), "vcard")
    assert row.error is None
    assert {"name": "Ada", "source": "vcard"} | expected == row.contact


def test_vcard_parse_refuses_text_without_cards():
    with pytest.raises(FormatError, match="no BEGIN:VCARD"):
        parse(b"FN:Just a line\r\n", "vcard")


# --------------------------------------------------------------------------
# vCard export
# --------------------------------------------------------------------------

ROUND_TRIP_CONTACTS = [
    {
        "name": "Zoë Ångström-Łukasiewicz",
        "emails": ["zoe@example.com", "z.a@uni.example.ac.uk"],
        "phone": "+44 20 7946 0958",
        "linkedin_url": "https://www.linkedin.com/in/zoë-a",
        "organisation": "Doe, Smith & Partners; LLP",
        "title": "Partner \\ Counsel",
        "time_zone": "Europe/London",
        "source": "vcard",
        "note": "Line one, with comma; semicolon \\n not a newline\nLine two: 日本語のテキスト 🎓 " * 3 + "end",
    },
    {"name": "Plain Person", "source": "vcard"},
    {"name": "Jane Doe, PhD", "emails": ["jane@example.com"], "source": "vcard"},
]


def test_export_vcard_then_parse_gives_back_the_same_contacts():
    exported = export_vcard(ROUND_TRIP_CONTACTS)
    rows = parse(exported.encode("utf-8"), "vcard")
    assert [row.contact for row in rows] == ROUND_TRIP_CONTACTS


def test_export_vcard_folds_at_75_octets_without_splitting_characters_and_uses_crlf():
    exported = export_vcard(ROUND_TRIP_CONTACTS).encode("utf-8")

    assert exported.endswith(b"\r\n")
    assert b"\n" not in exported.replace(b"\r\n", b"")
    lines = exported.split(b"\r\n")[:-1]
    assert max(len(line) for line in lines) == 75  # something really was folded
    for line in lines:
        assert len(line) <= 75
        line.decode("utf-8")  # raises if a multibyte character was cut in half


def test_export_vcard_writes_uid_categories_and_split_name():
    exported = export_vcard([{
        "id": "1B4E28BA-2FA1-11D2-883F-0016D3CCA427",
        "name": "Mary Ann van Dyke, MBA",
        "tags": ["mentor", "finance, banking"],
        "emails": [],
    }])

    assert exported.split("\r\n") == [
        "BEGIN:VCARD",
        "VERSION:4.0",
        "UID:urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427",
        "FN:Mary Ann van Dyke\\, MBA",
        "N:Dyke;Mary;Ann,van;;MBA",
        "CATEGORIES:mentor,finance\\, banking",
        "END:VCARD",
        "",
    ]


def test_export_vcard_writes_a_non_uuid_id_as_text_uid():
    assert "UID;VALUE=text:65f1c0ffee\r\n" in export_vcard([{"id": "65f1c0ffee", "name": "A"}])


@settings(max_examples=150, deadline=None)
@given(
    note=st.text(st.characters(exclude_categories=("Cs", "Cc"), include_characters="\n\t"), min_size=1).filter(
        str.strip
    ),
    organisation=st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1).filter(str.strip),
)
def test_export_vcard_round_trips_arbitrary_text(note, organisation):
    exported = export_vcard([{"name": "Any Body", "note": note, "organisation": organisation}])
    [row] = parse(exported.encode("utf-8"), "vcard")
    assert row.contact is not None
    assert row.contact["note"] == note.strip()
    assert row.contact["organisation"] == organisation.strip()


# --------------------------------------------------------------------------
# CSV export
# --------------------------------------------------------------------------


def test_export_csv_quotes_commas_quotes_and_newlines():
    contacts = [
        {
            "id": "ignored",
            "name": 'Jane "JD" Doe',
            "emails": ["jane@example.com", "jd@work.example.com"],
            "phone": "+1 555 0100",
            "organisation": "Doe, Smith & Partners",
            "note": "first line\nsecond line",
            "tags": ["mentor", "finance"],
            "source": "linkedin",
        },
        {"name": "Bare Name"},
    ]

    exported = export_csv(contacts)

    assert exported.startswith(",".join(CSV_COLUMNS) + "\r\n")
    assert '"Jane ""JD"" Doe"' in exported
    assert '"Doe, Smith & Partners"' in exported
    assert '"first line\nsecond line"' in exported
    assert list(csv.DictReader(io.StringIO(exported, newline=""))) == [
        {
            "name": 'Jane "JD" Doe', "emails": "jane@example.com;jd@work.example.com",
            "phone": "'+1 555 0100", "linkedin_url": "", "organisation": "Doe, Smith & Partners",
            "title": "", "industry": "", "location": "", "time_zone": "",
            "tags": "mentor;finance", "note": "first line\nsecond line",
        },
        dict.fromkeys(CSV_COLUMNS, "") | {"name": "Bare Name"},
    ]


def test_export_csv_of_no_contacts_is_just_the_header():
    assert export_csv([]) == ",".join(CSV_COLUMNS) + "\r\n"


# --------------------------------------------------------------------------
# File-level errors from parse
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "fmt", "message"),
    [
        pytest.param(b"", "vcard", "empty", id="empty"),
        pytest.param(b"\x00\x01\x02\x03BEGIN:VCARD", "vcard", "binary", id="binary"),
        pytest.param(b"\xff\xd8\xff\xe0\x81\x8d", "linkedin_csv", "neither UTF-8", id="undecodable"),
        pytest.param(b"Name,Email\r\nJane,jane@example.com\r\n", "linkedin_csv", "no LinkedIn", id="no-header"),
        pytest.param(LINKEDIN, "outlook_csv", "unknown format", id="unknown-format"),
    ],
)
def test_parse_raises_format_error_for_file_level_problems(data, fmt, message):
    with pytest.raises(FormatError, match=message):
        parse(data, fmt)


# --------------------------------------------------------------------------
# Every record accounted for; tags from labels and categories
# --------------------------------------------------------------------------


def test_vcard_text_outside_cards_is_reported_as_skipped_once_per_run():
    data = (b"PRODID:junk before\r\nmore junk\r\n\r\nBEGIN:VCARD\r\nFN:Ada\r\nEND:VCARD\r\n"
            b"END:VCARD\r\n\r\nBEGIN:VCARD\r\nFN:Grace\r\nEND:VCARD\r\n")
    rows = parse(data, "vcard")
    assert [(row.line, row.skipped, (row.contact or {}).get("name")) for row in rows] == [
        (1, "text outside BEGIN:VCARD … END:VCARD", None), (4, None, "Ada"),
        (7, "text outside BEGIN:VCARD … END:VCARD", None), (9, None, "Grace")]
    assert detect_format(data) == "vcard"


def test_vcard_categories_become_tags_and_survive_the_round_trip():
    contact = {"name": "Ada", "source": "vcard", "tags": ["alumni", "finance, banking", "a;b"]}
    [row] = parse(VCARD.export([contact]), "vcard")
    assert row.contact == contact


def test_google_legacy_group_membership_becomes_tags_without_system_groups():
    data = google_csv(
        GOOGLE_LEGACY_HEADER, [{"Name": "Tom", "Group Membership": "* My Contacts ::: Mentors ::: * Starred"}]
    )
    [row] = parse(data, "google_csv")
    assert row.contact == {"name": "Tom", "source": "google", "tags": ["Mentors"]}


def test_a_csv_import_looks_for_its_header_only_near_the_top():
    data = ("junk\r\n" * 60 + "First Name,Last Name,URL,Email Address,Company,Position,Connected On\r\n").encode()
    with pytest.raises(FormatError, match="not a recognised"):
        detect_format(data)


def test_parse_stops_at_the_record_limit():
    rows = "".join(f"P,{n},,p{n}@example.org,,,\r\n" for n in range(5))
    data = f"First Name,Last Name,URL,Email Address,Company,Position,Connected On\r\n{rows}".encode()
    assert len(parse(data, "linkedin_csv", max_records=5)) == 5
    with pytest.raises(TooLarge, match="IMPORT_MAX_ROWS"):
        parse(data, "linkedin_csv", max_records=4)


# --------------------------------------------------------------------------
# Hostile text in exports, checked by vobject (an independent vCard reader)
# --------------------------------------------------------------------------

_VCARD_TEXT = st.text(st.characters(exclude_categories=("Cs",)), min_size=1).filter(str.strip)


@settings(max_examples=200, deadline=None)
@given(name=_VCARD_TEXT, note=_VCARD_TEXT, organisation=_VCARD_TEXT, tag=_VCARD_TEXT)
def test_no_text_can_add_a_property_or_card_to_the_vcard_export(name, note, organisation, tag):
    exported = VCARD.export([{"name": name, "note": note, "organisation": organisation, "tags": [tag]}])
    [card] = list(vobject.readComponents(exported.decode("utf-8")))
    assert sorted(card.contents) == ["categories", "fn", "n", "note", "org", "version"]
    written = lambda text: _LINE_SEPARATORS.sub("\n", _CONTROLS.sub("", text.strip()))  # noqa: E731
    assert card.fn.value == written(name)
    assert card.note.value == written(note)
    assert card.org.value == [written(organisation)]


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.text(st.characters(exclude_categories=("Cs",))), min_size=11, max_size=11))
def test_no_csv_cell_starts_like_a_formula_and_the_csv_reads_back(values):
    contact = dict(zip(CSV_COLUMNS, values, strict=True))
    [row] = list(csv.DictReader(io.StringIO(export_csv([contact]), newline="")))
    for column, value in zip(CSV_COLUMNS, values, strict=True):
        text = ";".join(part for part in [value.strip()] if part) if column in ("emails", "tags") else value.strip()
        assert row[column] == ("'" + text if text.startswith(FORMULA_START) else text)
        assert not row[column].startswith(FORMULA_START)
