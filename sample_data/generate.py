"""Make the sample CSV drops (deterministic): ``python sample_data/generate.py``.

Writes realistic lead lists to ``sample_data/drops/`` exercising what real drops do: different
header spellings, a UTF-8 BOM, a Windows-1252 file, CRLF endings, quoted commas and newlines,
non-ASCII names, rows missing required fields, duplicate e-mails inside a file and across files,
a field over 150 KB, and a drop that needs more than ten chunks. ``--large PATH --size-mb N``
writes a big file of the same shape for benchmarks (keep it out of git: ``benchmarks/.work/``).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
DROPS = HERE / "drops"
SEED = 20250101

FIRST = [
    "Ann",
    "Bob",
    "Carla",
    "Dev",
    "Emma",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kofi",
    "Lena",
    "Marco",
    "Nia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tariq",
    "Uma",
    "Victor",
    "Wen",
    "Yara",
    "Zoë",
    "José",
    "Łukasz",
    "Søren",
    "Chloé",
    "Björn",
    "Ærin",
    "François",
    "Nguyễn",
    "Jürgen",
    "Małgorzata",
    "Renée",
    "Siobhán",
    "Dmitrij",
    "Ayşe",
]
LAST = [
    "Lee",
    "Ray",
    "Kim",
    "Patel",
    "Smith",
    "Garcia",
    "Okafor",
    "Ivanova",
    "Müller",
    "Schäfer",
    "O'Neil",
    "Núñez",
    "Østergaard",
    "Dubois",
    "Nakamura",
    "Kowalski",
    "Haddad",
    "Rossi",
    "Brown",
    "Silva",
    "Andersson",
    "Fernández",
    "Weiß",
    "Çelik",
    "Novák",
    "Byrne",
    "Moreau",
]
COMPANIES = [
    ("Acme, Inc.", "acme.com"),
    ("Globex", "globex.io"),
    ("Initech LLC", "initech.com"),
    ("Umbrella Corp", "umbrella.co"),
    ("Stark Industries", "stark.com"),
    ("Wayne Enterprises", "wayne.com"),
    ("Hooli", "hooli.xyz"),
    ("Pied Piper, Ltd.", "piedpiper.com"),
    ('Soylent "Green" Co', "soylent.co"),
    ("Vandelay Industries", "vandelay.com"),
    ("Bäckerei Müller GmbH", "baeckerei.de"),
    ("Société Générale de Café", "sgcafe.fr"),
    ("Nordisk Fisk A/S", "nordiskfisk.dk"),
    ("Tyrell Corporation", "tyrell.com"),
    ("Cyberdyne Systems", "cyberdyne.ai"),
]
TITLES = [
    "VP, Sales",
    "Head of Growth",
    "CTO",
    "Marketing Manager",
    "Data Engineer",
    "Director, Partnerships",
    "Founder & CEO",
    "Account Executive",
    "Ops Lead",
    "Analyst",
]
PLACES = [
    ("Berlin", "BE", "Germany"),
    ("Austin", "TX", "United States"),
    ("São Paulo", "SP", "Brazil"),
    ("Kraków", "MA", "Poland"),
    ("Lyon", "ARA", "France"),
    ("Toronto", "ON", "Canada"),
    ("Osaka", "", "Japan"),
    ("Dublin", "", "Ireland"),
    ("Portland", "OR", "United States"),
    ("Malmö", "", "Sweden"),
]
NOTES = [
    "Met at booth 12.",
    "Asked for pricing, follow up in Q2.",
    'Said: "call me after the launch"',
    "Prefers e-mail, not phone.",
    "Two bullet points:\n- budget approved\n- needs SSO",
    "Referred by Ann, see thread.",
    "Wants a demo, 30 min; timezone CET",
    "",
]


def _ascii(s: str) -> str:
    """ASCII handle for e-mails and URLs: "Łukasz Østergaard" → "lukaszostergaard"."""
    s = s.replace("Ł", "L").replace("ł", "l").replace("Ø", "O").replace("ø", "o")
    s = s.replace("Æ", "AE").replace("ß", "ss").replace("\u0131", "i")
    plain = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in plain if ch.isalnum())


class People:
    """A deterministic stream of people; ``reuse`` returns someone already handed out."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.n = 0
        self.issued: list[dict[str, str]] = []

    def new(self) -> dict[str, str]:
        r = self.rng
        self.n += 1
        first, last = r.choice(FIRST), r.choice(LAST)
        company, domain = r.choice(COMPANIES)
        city, state, country = r.choice(PLACES)
        handle = f"{_ascii(first).lower()}-{_ascii(last).lower()}-{self.n:x}"
        p = {
            "first_name": first,
            "last_name": last,
            "full_name": f"{first} {last}",
            "email": f"{_ascii(first).lower()}.{_ascii(last).lower()}{self.n}@{domain}",
            "phone": f"+1 {r.randint(200, 999)}-{r.randint(200, 999)}-{r.randint(1000, 9999)}",
            "mobile_phone": f"+44 7{r.randint(100, 999)} {r.randint(100000, 999999)}",
            "linkedin_url": f"https://www.linkedin.com/in/{handle}/",
            "company_name": company,
            "company_domain": domain,
            "job_title": r.choice(TITLES),
            "city": city,
            "state": state,
            "country": country,
            "notes": r.choice(NOTES),
        }
        self.issued.append(p)
        return p

    def reuse(self) -> dict[str, str]:
        return dict(self.rng.choice(self.issued))


def _vary(p: dict[str, str], rng: random.Random) -> dict[str, str]:
    """Realistic damage: missing identifiers, odd casing, spaces."""
    x = rng.random()
    p = dict(p)
    if x < 0.04:  # nothing the API can key on: predicted missing_required
        p["email"] = p["linkedin_url"] = ""
        p["company_name"] = p["company_domain"] = ""
    elif x < 0.12:
        p["email"] = ""
    elif x < 0.16:
        p["linkedin_url"] = ""
    elif x < 0.19:
        p["email"] = " " + p["email"].upper() + " "
    return p


def _rows(
    people: People,
    rng: random.Random,
    n: int,
    dup_rate: float,
) -> Iterator[dict[str, str]]:
    for _ in range(n):
        if people.issued and rng.random() < dup_rate:
            yield _vary(people.reuse(), rng)
        else:
            yield _vary(people.new(), rng)


def write_drop(
    path: Path,
    columns: list[tuple[str, str]],
    rows: Iterator[dict[str, str]],
    *,
    encoding: str = "utf-8",
    newline: str = "\n",
    bom: bool = False,
    blank_every: int = 0,
    transform: Callable[[str], str] | None = None,
) -> int:
    """Write ``rows`` under ``columns`` = [(header text, canonical key)]; returns bytes written."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=newline)
    w.writerow([h for h, _ in columns])
    for i, row in enumerate(rows, 1):
        w.writerow([row.get(k, "") for _, k in columns])
        if blank_every and i % blank_every == 0:
            buf.write(newline)
    text = buf.getvalue()
    if transform is not None:
        text = transform(text)
    data = text.encode(encoding, errors="replace")
    if bom:
        data = b"\xef\xbb\xbf" + data
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return len(data)


def make_drops(out: Path = DROPS, seed: int = SEED) -> dict[str, int]:
    """Write every sample drop; returns {file name: bytes}."""
    rng = random.Random(seed)
    people = People(rng)
    sizes: dict[str, int] = {}

    def put(name: str, *args: object, **kw: object) -> None:
        sizes[name] = write_drop(out / name, *args, **kw)  # type: ignore[arg-type]

    put(
        "2025-01-acme-webinar.csv",
        [
            ("First Name", "first_name"),
            ("Last Name", "last_name"),
            ("E-mail", "email"),
            ("Company", "company_name"),
            ("Company Domain", "company_domain"),
            ("Job Title", "job_title"),
            ("LinkedIn", "linkedin_url"),
            ("Country", "country"),
        ],
        _rows(people, rng, 320, 0.03),
        blank_every=97,
    )
    put(
        "2025-02-trade-show-badges.csv",
        [
            ("first", "first_name"),
            ("last", "last_name"),
            ("Email Address", "email"),
            ("Organization", "company_name"),
            ("Website", "company_domain"),
            ("Title", "job_title"),
            ("City", "city"),
            ("State", "state"),
            ("Country", "country"),
            ("Phone", "phone"),
        ],
        _rows(people, rng, 450, 0.05),
        newline="\r\n",
        bom=True,
    )
    # Windows-1252, as Excel on Windows saves "CSV": accented names transcode; € is 0x80.
    put(
        "2025-03-partner-referrals.csv",
        [
            ("Full Name", "full_name"),
            ("Company Name", "company_name"),
            ("Email", "email"),
            ("Mobile", "mobile_phone"),
            ("LinkedIn URL", "linkedin_url"),
            ("Deal size", "deal"),
        ],
        ({**r, "deal": f"€{rng.randint(5, 90)}k"} for r in _rows(people, rng, 260, 0.04)),
        encoding="cp1252",
        newline="\r\n",
        transform=lambda t: (
            t.replace("ễ", "e")
            .replace("Ł", "L")
            .replace("ł", "l")
            .replace("ş", "s")
            .replace("ğ", "g")
            .replace("\u0131", "i")
            .replace("Ç", "C")
        ),
    )
    notes_cols = [
        ("first_name", "first_name"),
        ("last_name", "last_name"),
        ("email", "email"),
        ("phone", "phone"),
        ("linkedin_url", "linkedin_url"),
        ("company_name", "company_name"),
        ("company_domain", "company_domain"),
        ("job_title", "job_title"),
        ("city", "city"),
        ("state", "state"),
        ("country", "country"),
        ("notes", "notes"),
    ]
    put("2025-04-crm-export.csv", notes_cols, _rows(people, rng, 7000, 0.02), blank_every=1500)

    def research() -> Iterator[dict[str, str]]:
        for i, r in enumerate(_rows(people, rng, 40, 0.0)):
            if i == 17:  # one pasted transcript: over the API's 150 KB on its own
                r = dict(
                    r,
                    notes="Call transcript. "
                    + " ".join(
                        f"[{m:04d}] discussed roadmap, pricing and rollout;" for m in range(3200)
                    ),
                )
            yield r

    put(
        "2025-05-research-notes.csv",
        [
            ("Name", "full_name"),
            ("Company", "company_name"),
            ("Work Email", "email"),
            ("LinkedIn Profile", "linkedin_url"),
            ("Notes", "notes"),
        ],
        research(),
    )
    put(
        "2025-06-linkedin-scrape.csv",
        [
            ("Full Name", "full_name"),
            ("Employer", "company_name"),
            ("Profile URL", "linkedin_url"),
            ("Position", "job_title"),
            ("Location", "city"),
        ],
        _rows(people, rng, 220, 0.06),
    )
    # "Location" and "Profile URL" are not in the synonym table's unambiguous spellings: this drop
    # ships an explicit mapping next to it, as a user would.
    (out / "2025-06-linkedin-scrape.csv.mapping.json").write_text(
        json.dumps(
            {
                "full_name": "Full Name",
                "company_name": "Employer",
                "linkedin_url": "Profile URL",
                "job_title": "Position",
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return sizes


def make_large(path: Path, size_mb: float, seed: int = SEED) -> int:
    """A big UTF-8 drop of the same shape (quotes, multi-line notes, 2% duplicates)."""
    rng = random.Random(seed + 1)
    people = People(rng)
    cols = [
        "first_name",
        "last_name",
        "email",
        "phone",
        "linkedin_url",
        "company_name",
        "company_domain",
        "job_title",
        "city",
        "state",
        "country",
        "notes",
    ]
    target = int(size_mb * 1024 * 1024)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(cols)
        while written < target:
            buf = io.StringIO()
            bw = csv.writer(buf, lineterminator="\n")
            for r in _rows(people, rng, 5000, 0.02):
                bw.writerow([r[c] for c in cols])
            if len(people.issued) > 200_000:  # keep the generator's own memory flat
                people.issued = people.issued[-50_000:]
            text = buf.getvalue()
            f.write(text)
            written += len(text.encode("utf-8"))
    return path.stat().st_size


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DROPS, help="folder for the sample drops")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--large", type=Path, help="also write one big drop here (not committed)")
    ap.add_argument("--size-mb", type=float, default=200.0)
    args = ap.parse_args(argv)
    if args.large:
        print(f"{args.large}: {make_large(args.large, args.size_mb, args.seed)} bytes")
        return
    for name, size in make_drops(args.out, args.seed).items():
        print(f"{args.out / name}: {size} bytes")


if __name__ == "__main__":
    main()
