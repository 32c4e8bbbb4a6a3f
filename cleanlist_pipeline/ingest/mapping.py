"""Column mapping: ``{canonical_field: csv_header}``, explicit or inferred from published synonyms.

Resolution order (first that applies wins):

1. an explicit mapping (config, ``--mapping``),
2. a sidecar file next to the drop, ``<drop>.mapping.json``,
3. inference: each header is normalised (case, spaces and punctuation removed) and looked up in
   :data:`SYNONYMS`. Exact matches only; two headers claiming one field, or a header listed in
   :data:`AMBIGUOUS_HEADERS`, is an error rather than a guess.

The API never guesses either: it drops unmapped columns and answers 400 ``missing_column`` for a
mapped header that is not in the file, so both are checked here, before any call.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cleanlist_pipeline.ingest.errors import DropChangedError, HeaderError, MappingError
from cleanlist_pipeline.ingest.identity import open_regular

CANONICAL_FIELDS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "mobile_phone",
    "work_phone",
    "linkedin_url",
    "company_name",
    "company_domain",
    "job_title",
    "city",
    "state",
    "country",
)

#: The published synonym table: canonical field → header spellings (compared after normalising).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "first_name": (
        "first_name",
        "first name",
        "firstname",
        "first",
        "given name",
        "forename",
        "fname",
        "prenom",
    ),
    "last_name": ("last_name", "last name", "lastname", "last", "surname", "family name", "lname"),
    "full_name": (
        "full_name",
        "full name",
        "fullname",
        "name",
        "contact name",
        "person name",
        "lead name",
    ),
    "email": (
        "email",
        "e-mail",
        "email address",
        "e-mail address",
        "mail",
        "work email",
        "business email",
        "email_address",
    ),
    "phone": ("phone", "phone number", "telephone", "tel", "phone_number"),
    "mobile_phone": (
        "mobile_phone",
        "mobile",
        "mobile phone",
        "cell",
        "cell phone",
        "mobile number",
    ),
    "work_phone": ("work_phone", "work phone", "office phone", "direct phone", "business phone"),
    "linkedin_url": (
        "linkedin_url",
        "linkedin",
        "linkedin url",
        "linkedin profile",
        "linkedin profile url",
        "li url",
    ),
    "company_name": (
        "company_name",
        "company",
        "company name",
        "organization",
        "organisation",
        "account",
        "account name",
        "employer",
    ),
    "company_domain": (
        "company_domain",
        "company domain",
        "domain",
        "website",
        "company website",
        "web site",
        "url domain",
    ),
    "job_title": ("job_title", "job title", "title", "position", "role", "jobtitle"),
    "city": ("city", "town", "locality"),
    "state": ("state", "province", "state/province", "county"),
    "country": ("country", "country name", "nation"),
}

#: Headers that plausibly mean several fields: inference refuses them (map them explicitly).
AMBIGUOUS_HEADERS: dict[str, tuple[str, ...]] = {
    "url": ("linkedin_url", "company_domain"),
    "link": ("linkedin_url", "company_domain"),
    "profile": ("linkedin_url", "full_name"),
    "location": ("city", "state", "country"),
    "region": ("state", "country"),
    "address": ("email", "city"),
    "contact": ("full_name", "email", "phone"),
    "number": ("phone", "mobile_phone", "work_phone"),
}

_NON_ALNUM = re.compile(r"[\W_]+", re.UNICODE)


def normalise_header(header: str) -> str:
    """Case-fold and drop spaces/punctuation: ``"E-mail Address"`` → ``"emailaddress"``."""
    return _NON_ALNUM.sub("", header.strip().casefold())


def _build_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for field, spellings in SYNONYMS.items():
        for s in spellings:
            key = normalise_header(s)
            other = lookup.setdefault(key, field)
            if other != field:  # pragma: no cover - guards the published table itself
                raise AssertionError(f"synonym {s!r} listed for {other} and {field}")
    return lookup


_LOOKUP = _build_lookup()
_AMBIGUOUS = {normalise_header(k): v for k, v in AMBIGUOUS_HEADERS.items()}

# Header rows are quoted in error messages so users can fix their mapping, but a drop without a
# header row has a lead in line 1, and messages reach the event log, compute logs and the UI.
# Values shaped like data (e-mail, phone, URL, domain) are masked; when any is, the row is
# probably a lead, so every cell that is not a known column name is masked with it.
_EMAIL_LIKE = re.compile(r"[^@\s]+@[^@\s]+")
_URL_LIKE = re.compile(r"https?:|www\.|://|^[\w-]+(\.[\w-]+)+$", re.ASCII)
_PHONE_LIKE = re.compile(r"\+?\(?\d[\d\s().-]{5,}\d")
_NAME_LIKE = re.compile(r"[^\W\d_][\w .#()&/-]{0,47}")
#: Header cells quoted in one message at most (a 1,000,000-column header stays a short message).
_SHOWN_HEADERS = 20


def _known_header(h: str) -> bool:
    key = normalise_header(h)
    return key in _LOOKUP or key in _AMBIGUOUS


def _looks_like_data(h: str) -> bool:
    s = h.strip()
    if _EMAIL_LIKE.search(s) or _URL_LIKE.search(s):
        return True
    # a phone number has 7 digits or more; "Q1 2024" is a column name
    return any(sum(c.isdigit() for c in m.group()) >= 7 for m in _PHONE_LIKE.finditer(s))


def _masked(position: int, h: str) -> str:
    """``j***@***.com`` for an e-mail, else ``<value 3: 17 chars>``: shape, never content."""
    m = _EMAIL_LIKE.fullmatch(h.strip())
    if m is not None:
        local, _, domain = h.strip().partition("@")
        tld = domain.rsplit(".", 1)[1] if "." in domain else ""
        if tld.isascii() and tld.isalpha() and len(tld) <= 6:
            return f"{local[:1]}***@***.{tld}"
    return f"<value {position}: {len(h)} char{'s' if len(h) != 1 else ''}>"


def _data_row(headers: Sequence[str]) -> bool:
    return any(_looks_like_data(h) for h in headers)


def describe_headers(headers: Sequence[str]) -> str:
    """The header row for a message: column count, column names readable, personal data masked.

    >>> describe_headers(["jane@acme.com", "Jane", "Email"])
    "3 columns: [j***@***.com, <value 2: 4 chars>, 'Email'] (line 1 looks like data, not a header row)"
    """
    data_row = _data_row(headers)
    shown = [
        repr(h)
        if _known_header(h) or (not data_row and _NAME_LIKE.fullmatch(h.strip()))
        else _masked(i, h)
        for i, h in enumerate(headers[:_SHOWN_HEADERS], start=1)
    ]
    more = len(headers) - len(shown)
    listing = ", ".join(shown) + (f", … {more} more" if more > 0 else "")
    text = f"{len(headers)} column{'s' if len(headers) != 1 else ''}: [{listing}]"
    return text + (" (line 1 looks like data, not a header row)" if data_row else "")


@dataclass(frozen=True)
class ResolvedMapping:
    """The mapping used for a file, where it came from, and the columns left out."""

    column_mapping: dict[str, str]
    source: str  # "explicit" | "sidecar" | "inferred"
    unmapped_columns: list[str]
    column_index: dict[str, int]  # canonical field → 0-based column position


def sidecar_path(drop: str | Path) -> Path:
    """``<drop>.mapping.json`` next to the drop."""
    p = Path(drop)
    return p.with_name(p.name + ".mapping.json")


#: A sidecar maps a handful of fields to header names (a few hundred bytes); anything bigger
#: is not one, and is refused before it is read into memory.
SIDECAR_MAX_BYTES = 64 * 1024
#: Unknown sidecar keys are named in the error only when they look like a misspelt field
#: (``emial``): a key could be anything, a lead's e-mail included, and errors reach the UI.
_FIELD_LIKE = re.compile(r"[a-z][a-z0-9_]{0,39}")


def _sidecar_error(drop: str | Path, side: Path, problem: str, hint: str) -> MappingError:
    return MappingError(drop, f"the sidecar {side.name} {problem}", hint)


def load_sidecar(drop: str | Path) -> dict[str, str] | None:
    """The sidecar mapping next to ``drop``, or None when there is none.

    The sidecar must be a regular file beside the drop, like the drop itself: a symlink is
    refused (``lstat`` first, then ``O_NOFOLLOW``, so one swapped in between is refused too), as
    is a file over :data:`SIDECAR_MAX_BYTES`. Errors never quote its content: unknown keys are
    counted, and named only when they look like misspelt field names.
    """
    side = sidecar_path(drop)
    try:
        st = os.lstat(side)
    except FileNotFoundError:
        return None
    except OSError as exc:
        why = f"cannot be read ({exc.strerror})"
        raise _sidecar_error(drop, side, why, "fix its permissions") from None
    if stat.S_ISLNK(st.st_mode):
        raise _sidecar_error(
            drop,
            side,
            "is a symbolic link; it must be a regular file beside the drop",
            "replace the link with a copy of the mapping file",
        )
    if not stat.S_ISREG(st.st_mode):
        raise _sidecar_error(drop, side, "is not a regular file", "write it as a JSON file")
    too_big = _sidecar_error(
        drop,
        side,
        f"is larger than {SIDECAR_MAX_BYTES} bytes: that is no column mapping",
        'write it as {"email": "E-mail", ...}: one entry per field',
    )
    if st.st_size > SIDECAR_MAX_BYTES:
        raise too_big
    try:
        with open_regular(side) as f:
            raw = f.read(SIDECAR_MAX_BYTES + 1)
    except DropChangedError:
        raise _sidecar_error(
            drop,
            side,
            "was replaced by a symbolic link or another kind of file while it was being read",
            "write the mapping file in place as a regular file",
        ) from None
    except OSError as exc:
        why = f"cannot be read ({exc.strerror})"
        raise _sidecar_error(drop, side, why, "fix its permissions") from None
    if len(raw) > SIDECAR_MAX_BYTES:
        raise too_big
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        # the decoders' messages give a position, never the text
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise _sidecar_error(
            drop,
            side,
            f"is not readable JSON ({why})",
            'write it as {"email": "E-mail", ...} in UTF-8',
        ) from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise _sidecar_error(
            drop, side, "must be a JSON object of strings", 'write it as {"email": "E-mail", ...}'
        )
    unknown = [k for k in data if k not in CANONICAL_FIELDS]
    if unknown:
        named = sorted(k for k in unknown if _FIELD_LIKE.fullmatch(k))[:10]
        others = len(unknown) - len(named)
        listed = ", ".join(repr(k) for k in named)
        if others:
            listed += f"{' and ' if named else ''}{others} key(s) not shown"
        raise _sidecar_error(
            drop,
            side,
            f"names {len(unknown)} unknown field(s): {listed}",
            "use only these canonical fields as keys: " + ", ".join(CANONICAL_FIELDS),
        )
    return data


def _validate_explicit(path: str | Path, mapping: Mapping[str, str]) -> dict[str, str]:
    unknown = sorted(k for k in mapping if k not in CANONICAL_FIELDS)
    if unknown:
        raise MappingError(
            path,
            f"the column mapping names unknown field(s) {unknown}",
            "use only these canonical fields: " + ", ".join(CANONICAL_FIELDS),
        )
    if not mapping:
        raise MappingError(
            path, "the column mapping is empty", "map at least one field, e.g. {'email': 'Email'}"
        )
    return dict(mapping)


def infer_mapping(path: str | Path, headers: Sequence[str]) -> dict[str, str]:
    """Map headers through :data:`SYNONYMS`; ambiguity raises :class:`HeaderError`."""
    claims: dict[str, list[str]] = {}
    for h in headers:
        key = normalise_header(h)
        if key in _AMBIGUOUS:
            raise HeaderError(
                path,
                f"header {h!r} is ambiguous (it could mean any of {', '.join(_AMBIGUOUS[key])})",
                "pass an explicit column_mapping (or a .mapping.json sidecar) "
                "that says what it is, or rename the column",
            )
        field = _LOOKUP.get(key)
        if field is not None:
            claims.setdefault(field, []).append(h)
    clashes = {f: hs for f, hs in claims.items() if len(hs) > 1}
    if clashes:
        detail = "; ".join(f"{f} ← {hs}" for f, hs in sorted(clashes.items()))
        raise HeaderError(
            path,
            f"several headers match the same field ({detail})",
            "pass an explicit column_mapping choosing one header per field",
        )
    if not claims:
        raise HeaderError(
            path,
            f"no header matches a known field (header row: {describe_headers(headers)})",
            "pass an explicit column_mapping, e.g. {'email': '<your header>'}"
            + (", and add a header row above the data" if _data_row(headers) else ""),
        )
    return {f: hs[0] for f, hs in claims.items()}


def resolve_mapping(
    path: str | Path, headers: Sequence[str], explicit: Mapping[str, str] | None
) -> ResolvedMapping:
    """Pick and check the mapping for a file whose header row is ``headers``.

    Header matching follows the API: exact after trimming surrounding spaces.
    """
    if explicit is not None:
        mapping, source = _validate_explicit(path, explicit), "explicit"
    else:
        side = load_sidecar(path)
        if side is not None:
            mapping, source = _validate_explicit(path, side), "sidecar"
        else:
            mapping, source = infer_mapping(path, headers), "inferred"
    stripped = [h.strip() for h in headers]
    positions: dict[str, list[int]] = {}
    for i, h in enumerate(stripped):
        positions.setdefault(h, []).append(i)
    missing = [h for h in mapping.values() if h.strip() not in positions]
    if missing:
        raise HeaderError(
            path,
            f"mapped header(s) {missing} not in the file's header row "
            f"({describe_headers(stripped)})",
            "fix the column mapping or the file's header (matching "
            "is exact, after trimming spaces)"
            + ("; the file seems to lack a header row: add one" if _data_row(headers) else ""),
        )
    doubled = sorted({h for h in mapping.values() if len(positions[h.strip()]) > 1})
    if doubled:
        raise HeaderError(
            path,
            f"mapped header(s) {doubled} appear more than once in the header row",
            "rename the duplicate columns so each is unique",
        )
    index = {f: positions[h.strip()][0] for f, h in mapping.items()}
    used = set(index.values())
    unmapped = [h for i, h in enumerate(headers) if i not in used]
    return ResolvedMapping(mapping, source, unmapped, index)
