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
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cleanlist_pipeline.ingest.errors import HeaderError, MappingError

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


def load_sidecar(drop: str | Path) -> dict[str, str] | None:
    """The sidecar mapping next to ``drop``, or None when there is none."""
    side = sidecar_path(drop)
    if not side.exists():
        return None
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MappingError(
            drop,
            f"the sidecar {side.name} is not readable JSON ({exc})",
            'write it as {"email": "E-mail", ...} in UTF-8',
        ) from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise MappingError(
            drop,
            f"the sidecar {side.name} must be a JSON object of strings",
            'write it as {"email": "E-mail", ...}',
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
            f"no header matches a known field (headers: {list(headers)})",
            "pass an explicit column_mapping, e.g. {'email': '<your header>'}",
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
            f"mapped header(s) {missing} not in the file's header row {stripped}",
            "fix the column mapping or the file's header (matching "
            "is exact, after trimming spaces)",
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
