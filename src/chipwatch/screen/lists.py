"""Parsers for restricted-party list files: each reads a whole file, validates it, and returns its entries.

    entries, meta = parse_file("consolidated.csv")          # format from extension + content
    entries, meta = parse_file("el.txt", fmt="ecfr-text")    # or named explicitly

Formats (`FORMATS`):

* ``csl-csv`` / ``csl-json``: the trade.gov Consolidated Screening List (29 columns; multi-values joined
  by "; " in the CSV, lists in the JSON). The ``source`` label gives the list id (EL, MEU, UVL, DPL, SDN,
  NS-CMIC, SSI, ISN, DTC, PLC, NS-MBS, CAP, FSE).
* ``ecfr-xml`` / ``ecfr-text``: Supplement No. 4 to Part 744 (the Entity List) from the eCFR, as the
  GPOTABLE XML (ROW/ENT cells) or as the plain-text export (a TAB opens a cell). Country / entity /
  licence requirement / licence review policy / FR citation.
* ``ftm``: FollowTheMoney entity files as OpenSanctions publishes them (JSON lines, one entity a line;
  Sanction entities are folded into the entities they name).
* ``nsfreg``: ``{list_id, source_file, extracted, count, entities: [...]}`` files.
* ``sample``: chipwatch's own YAML list (the bundled sample, or a list of your own in the same shape).

Every error is an `InvalidInput` naming the file and the place: "consolidated.csv line 17: column 'name' is
empty", "el.json entities[12] ('Foo Ltd.'): ...", "opensanctions.json line 3: ...". Nothing is returned
for a file with any bad record: a half-read list would silently screen against less than it claims.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.parsers import expat

import pycountry
import yaml

from chipwatch.errors import InvalidInput
from chipwatch.screen.model import ListEntry

# How much of a file to read when sniffing its format.
SNIFF_CHARS = 4096

__all__ = [
    "CSL_COLUMNS",
    "FORMATS",
    "ListMeta",
    "ParseResult",
    "country_iso",
    "csl_list_id",
    "detect_format",
    "extract_footnotes",
    "first_date",
    "list_ids",
    "nsfreg_list_id",
    "parse_bytes",
    "parse_file",
]

FORMATS: tuple[str, ...] = ("csl-csv", "csl-json", "ecfr-xml", "ecfr-text", "ftm", "nsfreg", "sample")

CSL_COLUMNS: tuple[str, ...] = (
    "_id", "source", "entity_number", "type", "programs", "name", "title", "addresses", "federal_register_notice",
    "start_date", "end_date", "standard_order", "license_requirement", "license_policy", "call_sign", "vessel_type",
    "gross_tonnage", "gross_registered_tonnage", "vessel_flag", "vessel_owner", "remarks", "source_list_url",
    "alt_names", "citizenships", "dates_of_birth", "nationalities", "places_of_birth", "source_information_url", "ids",
)


@dataclass(frozen=True)
class ListMeta:
    """What a file says about itself, beside its entries."""

    source_format: str
    snapshot: date | None = None  # the date the data describe, where the file says
    label: str | None = None
    notes: tuple[str, ...] = ()  # things the importer noticed (absent columns, unmapped countries, ...)


ParseResult = tuple[list[ListEntry], ListMeta]


# --- small shared helpers ----------------------------------------------------------------------------------------

def _bad(name: str, where: str, msg: str) -> InvalidInput:
    return InvalidInput(f"{name} {where}: {msg}" if where else f"{name}: {msg}")


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _bad(name, f"line {line}", f"not UTF-8 text (byte 0x{data[exc.start]:02x})") from None


_WS = re.compile(r"\s+")


def _clean(text: str | None) -> str:
    return _WS.sub(" ", text or "").strip()


def _opt(text: str | None) -> str | None:
    t = _clean(text)
    return t or None


def _unique(items: Iterable[str], skip: Iterable[str] = ()) -> tuple[str, ...]:
    seen = {s.casefold() for s in skip}
    out: list[str] = []
    for item in items:
        t = _clean(item)
        if t and t.casefold() not in seen:
            seen.add(t.casefold())
            out.append(t)
    return tuple(out)


# --- countries ---------------------------------------------------------------------------------------------------

# Names the lists use that pycountry does not know (or knows differently). Hong Kong and Macau keep their own
# codes here; whether HK counts as CN is the caller's business (the EAR has treated HK as China since 2020).
_COUNTRY_NAMES: dict[str, str] = {
    "china": "CN", "prc": "CN", "people's republic of china": "CN", "peoples republic of china": "CN",
    "china, people's republic of": "CN", "p.r. china": "CN", "mainland china": "CN",
    "china (hong kong)": "HK", "hong kong": "HK", "hong kong sar": "HK", "hong kong sar, china": "HK",
    "hong kong, china": "HK", "china (macau)": "MO", "china (macao)": "MO", "macau": "MO", "macao": "MO",
    "taiwan": "TW", "russia": "RU", "iran": "IR", "syria": "SY", "north korea": "KP", "north korea (dprk)": "KP",
    "korea, north": "KP", "dprk": "KP", "south korea": "KR", "korea, south": "KR", "korea": "KR", "burma": "MM",
    "laos": "LA", "vietnam": "VN", "turkey": "TR", "turkiye": "TR", "türkiye": "TR", "turkey (turkiye)": "TR",
    "uk": "GB", "u.k.": "GB", "great britain": "GB", "uae": "AE", "u.a.e.": "AE", "macedonia": "MK",
    "democratic republic of congo": "CD", "democratic republic of the congo": "CD", "congo, democratic republic of": "CD",
    "crimea region of ukraine": "UA", "crimea": "UA", "bolivia": "BO", "venezuela": "VE", "moldova": "MD",
    "czech republic": "CZ", "british virgin islands": "VG", "tanzania": "TZ", "palestinian territories": "PS",
    "west bank": "PS", "gaza": "PS", "kosovo": "XK", "united states": "US", "usa": "US", "u.s.": "US",
}


@lru_cache(maxsize=4096)
def country_iso(text: str | None) -> str | None:
    """ISO 3166 alpha-2 code for a country name or code as the lists write it; None when it is not one.

    "China" → CN, "China (Hong Kong)" / "Hong Kong" → HK, "Burma" → MM, "cn" → CN. Regions and artefacts
    such as "Fishing Vessels" or "Middle East Region" give None (the caller keeps the raw text)."""
    if not text:
        return None
    t = _clean(text.replace("’", "'").replace("‘", "'"))
    low = t.lower().rstrip(".")
    if low in _COUNTRY_NAMES:
        return _COUNTRY_NAMES[low]
    if len(t) == 2 and t.isalpha():
        up = t.upper()
        if up == "XK" or pycountry.countries.get(alpha_2=up) is not None:
            return up
        return None
    if len(t) == 3 and t.isalpha() and (c3 := pycountry.countries.get(alpha_3=t.upper())) is not None:
        return str(c3.alpha_2)
    try:
        c = pycountry.countries.lookup(t)
    except LookupError:
        return None
    return str(c.alpha_2)


# --- dates -------------------------------------------------------------------------------------------------------

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_MON = (r"Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|"
        r"Nov(?:ember)?|Dec(?:ember)?")
_DATE_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"(?<![\d/])(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4}|\d{2})(?![\d/])"),
    re.compile(r"\b(?P<mon>" + _MON + r")\.?\s+(?P<d>\d{1,2}),\s*(?P<y>\d{4})\b", re.I),
    re.compile(r"\b(?P<d>\d{1,2})\s+(?P<mon>" + _MON + r")\.?\s+(?P<y>\d{4})\b", re.I),
    re.compile(r"(?<!\d)(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})(?!\d)"),
)


def _year(y: str) -> int:
    n = int(y)
    if len(y) == 2:  # FR citations print 2-digit years; the Entity List starts in 1997
        return 2000 + n if n < 70 else 1900 + n
    return n


def _match_date(m: re.Match[str]) -> date | None:
    g = m.groupdict()
    month = _MONTHS[g["mon"][:3].lower()] if g.get("mon") else int(g["m"])
    try:
        return date(_year(g["y"]), month, int(g["d"]))
    except ValueError:
        return None


def first_date(text: str | None) -> date | None:
    """The first date written in `text`: "84 FR 22963, 5/21/19" → 2019-05-21; also "June 10, 2026",
    "03 Jun 2021" and ISO dates. None when there is none."""
    if not text:
        return None
    found: list[tuple[int, date]] = []
    for pat in _DATE_PATTERNS:
        for m in pat.finditer(text):
            d = _match_date(m)
            if d is not None:
                found.append((m.start(), d))
                break
    return min(found)[1] if found else None


def _strict_date(text: str) -> date | None:
    """A field that must be a date (or empty): ISO, m/d/yyyy (" 8/11/2015"), "June 21, 2022", "03 Jun 2021"."""
    t = text.strip()
    if not t:
        return None
    try:
        return date.fromisoformat(t[:10])
    except ValueError:
        pass
    for pat in _DATE_PATTERNS:
        m = pat.fullmatch(t)
        if m is not None:
            return _match_date(m)
    return None


# --- footnotes ---------------------------------------------------------------------------------------------------

_SUPERSCRIPTS = {"¹": "1", "²": "2", "³": "3", "⁴": "4", "⁵": "5"}
# The licence-requirement column carries footnote markers as bare digits after a section or after "EAR":
#   "see §§ 734.9(e) 1 and 744.11 of the EAR 2"   (Huawei: 1 and 2)
#   "(See §§ 734.9(e)(2) and 744.11 of the EAR) 4", "... of the EAR)4"   (§734.9(e)(2))
#   "(See §§ 734.4(a)(9), 734.9(e)(3), and 744.11 of the EAR) 5"         (§734.9(e)(3))
#   "(See §§ 734.9(g),3 746.8(a)(3), ...", "734.9(g)3, 746.8(a)(3)"      (Russia/Belarus)
# "EAR99" / "EAR 99" are not markers (9 is not a footnote number, and the digit must stand alone).
_FN_E1 = re.compile(r"(734\.9\(e\))\s*1(?=[\s,;.)]|$)")
_FN_G3 = re.compile(r"(734\.9\(g\))(,?)\s*3(?=([\s,;.)]|$))")
_FN_EAR = re.compile(r"\b(EAR\)?)\s?([1-5])(?![\d(])(?!\.\d)")


def _sub_g3(m: re.Match[str]) -> str:
    return m.group(1) + ("," if m.group(2) or (m.group(3) or "").isspace() else "")


def extract_footnotes(text: str | None) -> tuple[str | None, tuple[str, ...]]:
    """Footnote markers of a licence-requirement cell → (text without the markers, ("FN1", ...))."""
    if text is None:
        return None, ()
    found: set[str] = set()
    t = text
    for sup, digit in _SUPERSCRIPTS.items():
        if sup in t:
            found.add(f"FN{digit}")
            t = t.replace(sup, "")
    if _FN_E1.search(t):
        found.add("FN1")
        t = _FN_E1.sub(r"\1", t)
    if _FN_G3.search(t):
        found.add("FN3")
        t = _FN_G3.sub(_sub_g3, t)
    for m in _FN_EAR.finditer(t):
        found.add(f"FN{m.group(2)}")
    t = _FN_EAR.sub(r"\1", t)
    return _clean(t) or None, tuple(sorted(found))


# A trailing " 1".." 5" on an entity name is a footnote marker unless the digit is part of the name.
_NAME_MARKER = re.compile(r"^(?P<head>.*[A-Za-z).])\s(?P<d>[1-5])$")
_NAME_NUMBERED = re.compile(
    r"(?:No\.|Number|Unit|Plant|Factory|Institute|Base|Bureau|Academy|Team|Group|Type|Zavod|District|Address|"
    r"Department|Division|Branch|Center|Centre|Laboratory|Workshop|Office|Building|Line)$", re.I)


def _strip_name_marker(name: str) -> tuple[str, tuple[str, ...]]:
    found: list[str] = []
    for sup, digit in _SUPERSCRIPTS.items():
        if sup in name:
            found.append(f"FN{digit}")
            name = name.replace(sup, "")
    m = _NAME_MARKER.match(name)
    if m and not _NAME_NUMBERED.search(m.group("head")):
        found.append(f"FN{m.group('d')}")
        name = m.group("head")
    return _clean(name), tuple(found)


# --- list ids ----------------------------------------------------------------------------------------------------

_CSL_CODES: dict[str, str] = {
    "EL": "EL", "MEU": "MEU", "UVL": "UVL", "DPL": "DPL", "SDN": "SDN", "CMIC": "NS-CMIC", "NS-CMIC": "NS-CMIC",
    "SSI": "SSI", "ISN": "ISN", "DTC": "DTC", "PLC": "PLC", "NS-MBS": "NS-MBS", "NS-MBS LIST": "NS-MBS", "MBS": "NS-MBS",
    "CAP": "CAP", "CAPTA": "CAP", "FSE": "FSE", "NS-PLC": "PLC",
}
_CSL_WORDS: tuple[tuple[str, str], ...] = (
    ("entity list", "EL"), ("military end user", "MEU"), ("unverified", "UVL"), ("denied persons", "DPL"),
    ("chinese military-industrial", "NS-CMIC"), ("specially designated nationals", "SDN"), ("sectoral sanctions", "SSI"),
    ("nonproliferation", "ISN"), ("debarred", "DTC"), ("palestinian legislative", "PLC"), ("menu-based", "NS-MBS"),
    ("correspondent account", "CAP"), ("foreign sanctions evaders", "FSE"),
)
_CSL_CODE_RE = re.compile(r"\(([A-Za-z][A-Za-z -]{0,15})\)")


def csl_list_id(label: str) -> str | None:
    """Short list id for a CSL `source` label: "Entity List (EL) - Bureau of Industry and Security" → EL,
    "Non-SDN Chinese Military-Industrial Complex Companies List (CMIC) - Treasury Department" → NS-CMIC."""
    t = _clean(label)
    if not t:
        return None
    if t.upper() in _CSL_CODES:
        return _CSL_CODES[t.upper()]
    for m in reversed(_CSL_CODE_RE.findall(t)):
        code = m.strip().upper()
        if code in _CSL_CODES:
            return _CSL_CODES[code]
    low = t.lower()
    for words, code in _CSL_WORDS:
        if words in low:
            return code
    return None


_NSFREG_IDS: dict[str, str] = {
    "bis-entity-list": "EL", "bis-meu": "MEU", "bis-dpl": "DPL", "bis-uvl": "UVL", "ofac-nscmic": "NS-CMIC",
    "ofac-eo14032": "EO14032", "ofac-sdn": "SDN", "dow-1260h": "1260H", "dow-1286": "1286",
    "state-debarred-statutory": "DTC", "state-debarred-admin": "DTC-ADMIN", "state-nonproliferation": "ISN",
    "fcc-covered": "FCC", "dhs-uflpa": "UFLPA", "cbp-wro": "WRO",
}


def nsfreg_list_id(list_id: str) -> str:
    """Short id for an nsfreg `list_id` ("bis-entity-list" → EL, "dow-1260h" → 1260H); unknown ids upper-cased.
    Every nsfreg file gets its own id: the store keeps the newest version per id, so two files sharing one
    (e.g. the statutory and administrative debarment lists) would hide each other."""
    return _NSFREG_IDS.get(list_id, list_id.upper())


# --- format detection --------------------------------------------------------------------------------------------

_EXT_FORMATS = {".csv": "csl-csv", ".xml": "ecfr-xml", ".txt": "ecfr-text", ".yaml": "sample", ".yml": "sample",
                ".jsonl": "ftm", ".ndjson": "ftm", ".ftm": "ftm"}


def _sniff_json(head: str) -> str | None:
    s = head.lstrip()
    if not s or s[0] not in "[{":
        return None
    first_line = s.split("\n", 1)[0].strip()
    if first_line.startswith("{") and first_line.endswith("}"):
        try:
            obj = json.loads(first_line)
        except json.JSONDecodeError:
            obj = None
        if isinstance(obj, dict) and "schema" in obj and "properties" in obj:
            return "ftm"
    if re.search(r'"list_id"\s*:', s[:SNIFF_CHARS]) and '"entities"' in s:
        return "nsfreg"
    if s[0] == "[" or re.search(r'"results"\s*:', s[:SNIFF_CHARS]) or re.search(r'"(?:alt_names|entity_number|source_list_url)"\s*:', s):
        return "csl-json"
    return None


def _detect(name: str, head: bytes) -> str:
    text = head.decode("utf-8-sig", errors="replace")
    if name.lower().endswith(".ftm.json"):
        return "ftm"
    ext = Path(name).suffix.lower()
    if ext == ".json":
        fmt = _sniff_json(text)
        if fmt:
            return fmt
        raise InvalidInput(f"{name}: a JSON file, but neither a CSL, an nsfreg nor a FollowTheMoney list (give --format)")
    if ext in _EXT_FORMATS:
        fmt = _EXT_FORMATS[ext]
        if fmt == "ecfr-text" and not ("\t" in text or "Entity List" in text or "Part 744" in text):
            raise InvalidInput(f"{name}: a .txt file that does not look like the eCFR Entity List text (give --format)")
        return fmt
    # no telling extension: sniff
    stripped = text.lstrip()
    if stripped.startswith("<"):
        return "ecfr-xml"
    if (fmt := _sniff_json(text)) is not None:
        return fmt
    first = stripped.split("\n", 1)[0]
    if "_id" in first and "entity_number" in first and "," in first:
        return "csl-csv"
    if "Supplement No. 4 to Part 744" in text or "\n\t" in text:
        return "ecfr-text"
    if re.match(r"(?:label|entries|format)\s*:", stripped):
        return "sample"
    raise InvalidInput(f"{name}: cannot tell the list format (give one of: {', '.join(FORMATS)})")


def detect_format(path: str | Path) -> str:
    """The format of a list file, from its extension and first bytes (see `FORMATS`)."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            head = fh.read(65536)
    except OSError as exc:
        raise InvalidInput(f"{p}: cannot read ({exc.strerror or exc})") from None
    return _detect(p.name, head)


# --- entry point -------------------------------------------------------------------------------------------------

def parse_file(path: str | Path, fmt: str | None = None) -> ParseResult:
    """Read and validate a whole list file; `fmt` overrides the detected format."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{p}: cannot read ({exc.strerror or exc})") from None
    return parse_bytes(data, p.name, fmt)


def parse_bytes(data: bytes, name: str, fmt: str | None = None) -> ParseResult:
    """Parse the bytes of a list file called `name` (the name is used for format detection and messages)."""
    if fmt is None:
        fmt = _detect(name, data[:65536])
    if fmt not in _PARSERS:
        raise InvalidInput(f"unknown list format {fmt!r} (use one of: {', '.join(FORMATS)})")
    if not data.strip():
        raise InvalidInput(f"{name}: the file is empty")
    entries, meta = _PARSERS[fmt](data, name)
    if not entries:
        raise InvalidInput(f"{name}: no list entries found (format {fmt})")
    seen: set[tuple[str, str]] = set()
    for e in entries:
        key = (e.list_id, e.entry_id)
        if key in seen:
            raise InvalidInput(f"{name}: entry id {e.entry_id!r} appears twice in list {e.list_id}")
        seen.add(key)
    return entries, meta


# --- trade.gov CSL (CSV and JSON) --------------------------------------------------------------------------------

_CSL_TYPES = {"entity": "entity", "individual": "individual", "vessel": "vessel", "aircraft": "aircraft"}
_BIS_LISTS = frozenset({"EL", "MEU", "UVL", "DPL"})
_QMARK_APOSTROPHE = re.compile(r"(?<=\w)\?(?=\w)")


def _csl_values(value: Any, field: str, name: str, where: str) -> list[str]:
    """A multi-valued CSL field: "a; b" in the CSV, a list (or a string) in the JSON."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in (s.strip() for s in value.split("; ")) if v]
    if isinstance(value, list):
        out: list[str] = []
        for v in value:
            if isinstance(v, str):
                out.append(v)
            elif isinstance(v, int | float):
                out.append(str(v))
            elif v is not None:
                raise _bad(name, where, f"field {field!r} holds a {type(v).__name__}, expected text")
        return out
    raise _bad(name, where, f"field {field!r} holds a {type(value).__name__}, expected text or a list")


def _csl_text(rec: dict[str, Any], field: str, name: str, where: str) -> str:
    v = rec.get(field)
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, int | float) and not isinstance(v, bool):
        return str(v)
    raise _bad(name, where, f"field {field!r} holds a {type(v).__name__}, expected text")


def _csl_addresses(value: Any, name: str, where: str) -> tuple[list[str], list[str]]:
    """(addresses as text, their country fields)."""
    if value is None or value == "":
        return [], []
    if isinstance(value, str):
        parts = [p.strip() for p in value.split("; ") if p.strip()]
        tails = [p.rsplit(",", 1)[-1].strip() for p in parts if "," in p]
        return parts, [c for c in tails if len(c) == 2 and c.isalpha()]
    if not isinstance(value, list):
        raise _bad(name, where, f"field 'addresses' holds a {type(value).__name__}, expected a list")
    texts: list[str] = []
    countries: list[str] = []
    for a in value:
        if isinstance(a, str):
            texts.append(a)
        elif isinstance(a, dict):
            fields = [a.get(k) for k in ("address", "city", "state", "postal_code", "country")]
            texts.append(", ".join(str(f).strip() for f in fields if f not in (None, "")))
            if a.get("country"):
                countries.append(str(a["country"]))
        elif a is not None:
            raise _bad(name, where, f"an address is a {type(a).__name__}, expected an object or text")
    return [t for t in texts if t], countries


def _csl_entry(rec: dict[str, Any], seq: int, name: str, where: str, notes: set[str]) -> ListEntry:
    entry_name = _clean(_csl_text(rec, "name", name, where))
    if not entry_name:
        raise _bad(name, where, "column 'name' is empty")
    source = _csl_text(rec, "source", name, where)
    if not source.strip():
        raise _bad(name, where, "column 'source' is empty")
    list_id = csl_list_id(source)
    if list_id is None:
        raise _bad(name, where, f"unknown source list {source.strip()!r}")
    is_bis = list_id in _BIS_LISTS or "bis.doc.gov" in _csl_text(rec, "source_list_url", name, where)

    def fix(s: str) -> str:  # the CSL writes BIS apostrophes as '?': "Xi?an", "Children?s"
        return _QMARK_APOSTROPHE.sub("'", s) if is_bis else s

    entry_name = fix(entry_name)
    aliases = _unique((fix(a) for a in _csl_values(rec.get("alt_names"), "alt_names", name, where)), skip=[entry_name])
    addresses, addr_countries = _csl_addresses(rec.get("addresses"), name, where)
    country = None
    for c in (*addr_countries, *_csl_values(rec.get("nationalities"), "nationalities", name, where),
              *_csl_values(rec.get("citizenships"), "citizenships", name, where)):
        if (country := country_iso(c)) is not None:
            break
    start = _csl_text(rec, "start_date", name, where)
    listed_on = _strict_date(start)
    if start.strip() and listed_on is None:
        raise _bad(name, where, f"column 'start_date' is not a date: {start.strip()!r}")
    end = _csl_text(rec, "end_date", name, where).strip()
    remarks = [r for r in (_clean(_csl_text(rec, "remarks", name, where)), f"end date {end}" if end else "") if r]
    requirement, footnotes = extract_footnotes(_opt(_csl_text(rec, "license_requirement", name, where)))
    kind = _clean(_csl_text(rec, "type", name, where)).lower()
    entry_id = _clean(_csl_text(rec, "_id", name, where) or _csl_text(rec, "id", name, where)
                      or _csl_text(rec, "entity_number", name, where)) or f"{list_id}-{seq:05d}"
    if kind and kind not in _CSL_TYPES:
        notes.add(f"unknown entity type {kind!r} kept as is")
    return ListEntry(
        list_id=list_id, entry_id=entry_id, name=entry_name, aliases=aliases,
        entity_type=_CSL_TYPES.get(kind, kind or None), country=country,
        addresses=_unique(fix(a) for a in addresses), cite=_opt(_csl_text(rec, "federal_register_notice", name, where)),
        listed_on=listed_on, footnotes=footnotes, license_requirement=requirement,
        license_policy=_opt(_csl_text(rec, "license_policy", name, where)),
        programs=_unique(_csl_values(rec.get("programs"), "programs", name, where)),
        remarks="; ".join(remarks) or None,
    )


def _parse_csl_csv(data: bytes, name: str) -> ParseResult:
    text = _decode(data, name)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    entries: list[ListEntry] = []
    notes: set[str] = set()
    header: list[str] | None = None
    prev_end = 0
    try:
        for row in reader:
            line, prev_end = prev_end + 1, reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if header is None:
                header = [h.strip() for h in row]
                missing = [c for c in CSL_COLUMNS if c not in header]
                if missing:
                    raise _bad(name, f"line {line}", f"not a trade.gov CSL header: missing column(s) {', '.join(missing)}")
                extra = [h for h in header if h not in CSL_COLUMNS]
                if extra:
                    notes.add(f"extra column(s) ignored: {', '.join(extra)}")
                continue
            if len(row) != len(header):
                raise _bad(name, f"line {line}", f"expected {len(header)} columns, found {len(row)}")
            entries.append(_csl_entry(dict(zip(header, row, strict=True)), len(entries) + 1, name, f"line {line}", notes))
    except csv.Error as exc:
        raise _bad(name, f"line {reader.line_num}", f"bad CSV ({exc})") from None
    if header is None:
        raise _bad(name, "", "no header row")
    return entries, ListMeta("csl-csv", None, "trade.gov Consolidated Screening List (CSV)", tuple(sorted(notes)))


def _load_json(data: bytes, name: str) -> Any:
    text = _decode(data, name)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _bad(name, f"line {exc.lineno} column {exc.colno}", f"invalid JSON ({exc.msg})") from None


def _parse_csl_json(data: bytes, name: str) -> ParseResult:
    obj = _load_json(data, name)
    if isinstance(obj, dict):
        results = obj.get("results")
        key = "results"
    else:
        results, key = obj, ""
    if not isinstance(results, list):
        raise _bad(name, "", 'not a CSL JSON file: expected {"results": [...]} or a list of entries')
    notes: set[str] = set()
    entries: list[ListEntry] = []
    for i, rec in enumerate(results):
        where = f"{key}[{i}]" if key else f"entry [{i}]"
        if not isinstance(rec, dict):
            raise _bad(name, where, f"an entry is a {type(rec).__name__}, expected an object")
        entries.append(_csl_entry(rec, i + 1, name, where, notes))
    snapshot = None
    if isinstance(obj, dict) and isinstance(obj.get("sources_used"), list):
        dates = [d for s in obj["sources_used"] if isinstance(s, dict)
                 for d in (first_date(str(s.get("last_imported") or s.get("source_last_updated") or "")),) if d]
        snapshot = min(dates) if dates else None
    return entries, ListMeta("csl-json", snapshot, "trade.gov Consolidated Screening List (JSON)", tuple(sorted(notes)))


# --- Entity List cells (eCFR XML and text) -----------------------------------------------------------------------

_DASHES = ("—", "–")
_AKA = re.compile(r"^(?P<name>.+?),?\s+(?:a\.k\.a\.?|f\.k\.a\.?),?\s*(?P<rest>.*)$", re.I)
_ADDRESS_ENTRY = re.compile(r"^(?P<name>Address\s+\d{1,3})\b[\s:,.;-]*(?P<rest>.*)$")
# tokens after a comma that still belong to a company name ("Co., Ltd.", "Foo, Inc.", "Bar, S.A.")
_LEGAL_TAIL = re.compile(
    r"^(?:Ltd\b|Ltd\.|LTD\b|Limited\b|Ltda\b|Inc\b|Inc\.|INC\b|Incorporated\b|LLC\b|L\.L\.C\.|LLP\b|L\.P\.|LP\b|"
    r"Co\.|Co\b|Corp\b|Corp\.|Corporation\b|Company\b|S\.A\.|SA\b|S\.L\.|S\.R\.L\.|SRL\b|s\.r\.o\.|S\.p\.A\.|SpA\b|"
    r"GmbH\b|AG\b|A\.G\.|B\.V\.|BV\b|N\.V\.|NV\b|Pte\b|Pte\.|Pvt\b|Pvt\.|Sdn\b|Bhd\b|JSC\b|PJSC\b|OJSC\b|CJSC\b|"
    r"OOO\b|AO\b|PAO\b|ZAO\b|FZE\b|FZC\b|FZCO\b|FZ-LLC\b|PLC\b|plc\b|Jr\b|Jr\.|Sr\b|Sr\.|d\.o\.o\.|a\.s\.|"
    r"Lda\b|C\.A\.|K\.K\.|SAS\b|S\.A\.S\.|SARL\b|S\.A\.R\.L\.|MMC\b|M\.M\.C\.|Sociedad\b)")
_ALIAS_END_ABBREV = re.compile(r"(?:\b(?:Ltd|Co|Inc|Corp|Jr|Sr|Bhd|Pte|Pvt)|\b[A-Z]|[A-Z]\.[A-Z])\.$")


def _split_name_address(first: str) -> tuple[str, str]:
    """Split the first line of an entity cell at the first comma that is not inside parentheses and is not
    followed by a legal form ("Co., Ltd., Building 13, ..." → name "... Co., Ltd.")."""
    depth = 0
    for i, ch in enumerate(first):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            after = first[i + 1:].lstrip()
            if not _LEGAL_TAIL.match(after):
                return first[:i].strip(), after.strip()
    return first.strip(), ""


def _clean_alias(line: str) -> str:
    a = line.lstrip("".join(_DASHES) + "- ").strip()
    a = re.sub(r"(?:[;,]\s*|\s+)and$", "", a).strip().rstrip(";,").strip()
    if a.endswith(".") and not _ALIAS_END_ABBREV.search(a):
        a = a[:-1].rstrip()
    return a


def _split_addresses(text: str) -> tuple[str, ...]:
    if not text:
        return ()
    parts = re.split(r";\s*and\s+|;\s+(?=\S)", text)
    return _unique(p.strip().rstrip(";").strip() for p in parts)


@dataclass
class _Row:
    """One Entity List row as read: cells by column, the line it starts on, footnotes seen in <SU>."""

    line: int
    country_raw: str | None
    entity: list[str]
    requirement: str | None = None
    policy: list[str] | None = None
    cite: str | None = None
    su_footnotes: tuple[str, ...] = ()


def _entity_entry(row: _Row, seq: int, name: str, where: str, notes: set[str]) -> ListEntry:
    lines = [ln for ln in (_clean(x) for x in row.entity) if ln]
    if not lines:
        raise _bad(name, where, "column 'entity' is empty")
    first, rest = lines[0], lines[1:]
    aliases: list[str] = []
    address_parts: list[str] = []
    kind: str | None = None
    if (m := _ADDRESS_ENTRY.match(first)) is not None and len(m.group("name")) < 14:
        entry_name, tail, kind = m.group("name"), m.group("rest"), "address"
    elif (m := _AKA.match(first)) is not None:
        entry_name, tail = m.group("name").strip().rstrip(",;"), ""
        inline = m.group("rest").strip()
        if inline and not inline.lower().startswith("the following"):
            aliases.append(_clean_alias(inline))
    else:
        entry_name, tail = _split_name_address(first)
    if tail:
        address_parts.append(tail)
    for ln in rest:
        if ln.startswith(_DASHES):
            alias = _clean_alias(ln)
            if alias and alias.lower() not in ("and", "the following"):
                aliases.append(alias)
        else:
            address_parts.append(ln)
    entry_name, name_fns = _strip_name_marker(entry_name.rstrip(",;"))
    if not entry_name:
        raise _bad(name, where, "the entity cell has no name")
    requirement, req_fns = extract_footnotes(row.requirement)
    country = country_iso(row.country_raw)
    remarks = None
    if row.country_raw and country is None:
        notes.add(f"country heading {row.country_raw!r} is not a country: kept in remarks")
        remarks = f"listed under {row.country_raw}"
    policy = _clean(" ".join(row.policy or ())) or None
    return ListEntry(
        list_id="EL", entry_id=f"EL-{seq:05d}", name=entry_name, aliases=_unique(aliases, skip=[entry_name]),
        entity_type=kind, country=country, addresses=_split_addresses(" ".join(address_parts)),
        cite=row.cite.strip() if row.cite else None, listed_on=first_date(row.cite),
        footnotes=tuple(sorted({*name_fns, *req_fns, *row.su_footnotes})), license_requirement=requirement,
        license_policy=policy, remarks=remarks,
    )


# --- eCFR XML ----------------------------------------------------------------------------------------------------

_LINE_ATTR = "__line"
_BREAK_TAGS = frozenset({"LI", "P", "FP", "BR", "PARA", "HD", "PSPACE"})


def _xml_tree(data: bytes, name: str) -> ET.Element:
    """Parse XML keeping the line of every element (ElementTree does not); no DTD entity declarations."""
    if b"<!ENTITY" in data:
        raise _bad(name, "", "XML with entity declarations is refused")
    parser = expat.ParserCreate()
    parser.buffer_text = True
    stack: list[ET.Element] = []
    roots: list[ET.Element] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        el = ET.Element(tag, attrs)
        el.set(_LINE_ATTR, str(parser.CurrentLineNumber))
        (stack[-1].append(el) if stack else roots.append(el))
        stack.append(el)

    def end(tag: str) -> None:
        stack.pop()

    def chars(text: str) -> None:
        if not stack:
            return
        top = stack[-1]
        if len(top):
            top[-1].tail = (top[-1].tail or "") + text
        else:
            top.text = (top.text or "") + text

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise _bad(name, f"line {exc.lineno}", f"invalid XML ({expat.ErrorString(exc.code)})") from None
    return roots[0]


def _line(el: ET.Element) -> int:
    return int(el.get(_LINE_ATTR, "0"))


def _cell(el: ET.Element) -> tuple[list[str], tuple[str, ...]]:
    """The lines of a table cell (LI/P/BR and newlines break lines) and the footnote numbers of its <SU>s."""
    parts: list[str] = []
    fns: list[str] = []

    def walk(e: ET.Element) -> None:
        brk = e.tag in _BREAK_TAGS
        if brk:
            parts.append("\n")
        parts.append(e.text or "")
        for child in e:
            if child.tag == "SU":
                digits = (child.text or "").strip()
                for d in re.split(r"[,\s]+", digits):
                    if d in {"1", "2", "3", "4", "5"}:
                        fns.append(f"FN{d}")
            elif child.tag != "FTREF":
                walk(child)
            parts.append(child.tail or "")
        if brk:
            parts.append("\n")

    walk(el)
    return [ln for ln in (_clean(x) for x in "".join(parts).split("\n")) if ln], tuple(fns)


_COLUMN_KEYS = (("country", "country"), ("entity", "entity"), ("requirement", "license requirement"),
                ("policy", "review policy"), ("cite", "federal register"))


def _columns(table: ET.Element) -> dict[str, int] | None:
    heads = [" ".join(_cell(c)[0]).lower().replace("licence", "license") for c in table.iter("CHED")]
    cols: dict[str, int] = {}
    for key, words in _COLUMN_KEYS:
        for i, h in enumerate(heads):
            if words in h and i not in cols.values():
                cols[key] = i
                break
    return cols if len(cols) == len(_COLUMN_KEYS) else None


def _parse_ecfr_xml(data: bytes, name: str) -> ParseResult:
    root = _xml_tree(data, name)
    tables = [(t, cols) for t in root.iter("GPOTABLE") if (cols := _columns(t)) is not None]
    if not tables:
        raise _bad(name, "", "no Entity List table (a GPOTABLE headed Country / Entity / License requirement / "
                             "License review policy / Federal Register citation)")
    rows: list[_Row] = []
    for table, cols in tables:
        width = len(list(table.iter("CHED")))
        country: str | None = None
        for row_el in table.iter("ROW"):
            where = f"line {_line(row_el)}"
            ents = row_el.findall("ENT")
            if len(ents) != width:
                raise _bad(name, where, f"row has {len(ents)} cells, expected {width}")
            cells = [_cell(e) for e in ents]
            if all(not lines for lines, _ in cells):
                continue
            heading = " ".join(cells[cols["country"]][0])
            if heading:
                country = heading
            entity_lines, entity_fns = cells[cols["entity"]]
            req_lines, req_fns = cells[cols["requirement"]]
            cite_lines = cells[cols["cite"]][0]
            if not entity_lines and not req_lines and not cite_lines:
                continue  # a country heading on a row of its own
            if not entity_lines:
                raise _bad(name, where, "column 'entity' is empty")
            if not req_lines and not cite_lines and rows and rows[-1].country_raw == country:
                rows[-1].entity.extend(entity_lines)  # a continuation row (more addresses, subordinate units)
                continue
            if country is None:
                raise _bad(name, where, "an entity before any country heading")
            if not req_lines:
                raise _bad(name, where, f"{entity_lines[0][:60]!r}: column 'license requirement' is empty")
            if not cite_lines:
                raise _bad(name, where, f"{entity_lines[0][:60]!r}: column 'Federal Register citation' is empty")
            rows.append(_Row(line=_line(row_el), country_raw=country, entity=list(entity_lines),
                             requirement=" ".join(req_lines), policy=cells[cols["policy"]][0],
                             cite="\n".join(cite_lines), su_footnotes=tuple(sorted({*entity_fns, *req_fns}))))
    notes: set[str] = set()
    entries = [_entity_entry(r, i, name, f"line {r.line}", notes) for i, r in enumerate(rows, start=1)]
    snapshot = None
    for tag in ("AMDDATE", "DATE"):
        el = root.find(f".//{tag}")
        if el is not None and (snapshot := first_date(" ".join(_cell(el)[0]))) is not None:
            break
    return entries, ListMeta("ecfr-xml", snapshot, "eCFR Supplement No. 4 to Part 744 (Entity List), XML", tuple(sorted(notes)))


# --- eCFR plain text ---------------------------------------------------------------------------------------------

_FR_CELL = re.compile(r"^\d{1,3}\s+FR\s+\d{2,}")
_FOOTNOTE_CELL = re.compile(r"^\d{1,2}\s+(?:For this entity|For the purposes|Cybersecurity|For this)")
_HEADING = re.compile(r"^[A-Z][A-Z ,.'’()\-]{2,60}$")
_CONTINUATION = ("Subordinate institu", "Affiliated entities", "The following addresses apply", "Addresses for")
_TEXT_SNAPSHOT = (re.compile(r"up to date as of\s+(\d{1,2}/\d{1,2}/\d{4})", re.I),
                  re.compile(r"(?:current|up to date) as of\s+([A-Z][a-z]+\.? \d{1,2}, \d{4})", re.I))


def _looks_like_requirement(text: str) -> bool:
    t = text.lower()
    return "subject to the ear" in t or t.startswith(("for ", "all items", "see §"))


def _text_cells(text: str) -> tuple[list[tuple[int, list[str]]], str]:
    """Group lines into cells: a line starting with TAB opens a cell, other non-blank lines continue it.
    Returns the cells (first line number, lines) and the preamble before the first cell."""
    cells: list[tuple[int, list[str]]] = []
    preamble: list[str] = []
    for no, raw in enumerate(text.splitlines(), start=1):
        if raw.startswith("Supplement No. 5 to Part 744"):
            break
        if raw.startswith("\t"):
            body = raw.strip()
            cells.append((no, [body] if body else []))
        elif raw.strip():
            if cells:
                cells[-1][1].append(raw.strip())
            else:
                preamble.append(raw.strip())
    return cells, "\n".join(preamble)


def _parse_ecfr_text(data: bytes, name: str) -> ParseResult:
    text = _decode(data, name)
    cells, preamble = _text_cells(text)
    cells = [(no, lines) for no, lines in cells if lines]
    rows: list[_Row] = []
    country: str | None = None
    row: _Row | None = None

    def finish() -> None:
        nonlocal row
        if row is not None:
            where = f"line {row.line}"
            head = row.entity[0][:60] if row.entity else "?"
            if row.requirement is None:
                raise _bad(name, where, f"{head!r}: no licence requirement cell")
            if row.cite is None:
                raise _bad(name, where, f"{head!r}: no Federal Register citation cell")
            rows.append(row)
        row = None

    for k, (no, lines) in enumerate(cells):
        body = "\n".join(lines)
        if _FOOTNOTE_CELL.match(body) or body.startswith("["):
            finish()
            break  # the footnotes and the amendment history end the table
        single = len(lines) == 1 and _HEADING.match(lines[0]) is not None and not any(ch.isdigit() for ch in lines[0])
        if single:
            nxt = cells[k + 1][1] if k + 1 < len(cells) else []
            if not (nxt and _looks_like_requirement(" ".join(nxt))) or country_iso(lines[0].title()) is not None:
                finish()
                country = lines[0]
                continue
        if country is None:
            continue  # column headings before the first country
        if row is None:
            row = _Row(line=no, country_raw=country, entity=list(lines), policy=[])
        elif row.cite is not None:
            if lines[0].startswith((*_DASHES, *_CONTINUATION)):
                row.entity.extend(lines)
            else:
                finish()
                row = _Row(line=no, country_raw=country, entity=list(lines), policy=[])
        elif row.requirement is None:
            if _looks_like_requirement(body):
                row.requirement = " ".join(lines)
            elif _FR_CELL.match(body):
                row.cite = body  # a row without its requirement cell: `finish` names it
                finish()
            else:
                row.entity.extend(lines)  # an address that ran over into a cell of its own
        elif _FR_CELL.match(body):
            row.cite = body
        elif _looks_like_requirement(" ".join(cells[k + 1][1]) if k + 1 < len(cells) else ""):
            finish()  # this cell opens the next entry (a requirement cell follows it): the row had no citation
        else:
            assert row.policy is not None
            row.policy.extend(lines)
    finish()
    if not rows:
        raise _bad(name, "", "no Entity List rows found (expected TAB-separated cells under country headings)")
    notes: set[str] = set()
    entries = [_entity_entry(r, i, name, f"line {r.line}", notes) for i, r in enumerate(rows, start=1)]
    snapshot = None
    for pat in _TEXT_SNAPSHOT:
        if (m := pat.search(preamble or text[:SNIFF_CHARS])) is not None and (snapshot := first_date(m.group(1))) is not None:
            break
    return entries, ListMeta("ecfr-text", snapshot, "eCFR Supplement No. 4 to Part 744 (Entity List), text", tuple(sorted(notes)))


# --- FollowTheMoney / OpenSanctions ------------------------------------------------------------------------------

_FTM_PARTIES = {"Person": "individual", "Company": "entity", "Organization": "entity", "LegalEntity": "entity",
                "PublicBody": "entity", "Vessel": "vessel", "Airplane": "aircraft"}
_FTM_DATASETS = {"us_ofac_sdn": "SDN", "us_ofac_cons": "OFAC-CONS", "us_bis_denied": "DPL", "us_trade_csl": "CSL",
                 "us_cuba_sanctions": "CUBA", "us_sam_exclusions": "SAM"}


def _ftm_strings(props: dict[str, Any], key: str) -> list[str]:
    out: list[str] = []
    for v in props.get(key) or []:
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict):  # nested entity (targets.nested.json): use its caption or full text
            p = v.get("properties") or {}
            texts = p.get("full") or p.get("name") or ([v["caption"]] if v.get("caption") else [])
            out.extend(t for t in texts if isinstance(t, str))
    return out


def _parse_ftm(data: bytes, name: str) -> ParseResult:
    text = _decode(data, name)
    parties: list[tuple[int, dict[str, Any]]] = []
    sanctions: dict[str, list[dict[str, Any]]] = {}
    skipped: dict[str, int] = {}
    last_seen: list[str] = []
    for no, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"line {no}"
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise _bad(name, where, f"invalid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("schema"), str) or not isinstance(obj.get("properties"), dict):
            raise _bad(name, where, "not a FollowTheMoney entity (needs 'schema' and 'properties')")
        if not isinstance(obj.get("id"), str) or not obj["id"].strip():
            raise _bad(name, where, "entity has no 'id'")
        for k, v in obj["properties"].items():
            if not isinstance(v, list):
                raise _bad(name, where, f"property {k!r} is not a list")
        schema = obj["schema"]
        if isinstance(obj.get("last_seen"), str):
            last_seen.append(obj["last_seen"])
        if schema == "Sanction":
            for target in _ftm_strings(obj["properties"], "entity"):
                sanctions.setdefault(target, []).append(obj["properties"])
        elif schema in _FTM_PARTIES:
            if not any(_clean(n) for n in _ftm_strings(obj["properties"], "name")):
                raise _bad(name, where, f"entity {obj['id']!r} ({schema}) has no name")
            parties.append((no, obj))
            for nested in obj["properties"].get("sanctions") or []:
                if isinstance(nested, dict) and isinstance(nested.get("properties"), dict):
                    sanctions.setdefault(obj["id"], []).append(nested["properties"])
        else:
            skipped[schema] = skipped.get(schema, 0) + 1
    entries: list[ListEntry] = []
    for _no, obj in parties:
        props = obj["properties"]
        names = _unique(_ftm_strings(props, "name"))
        sancs = sanctions.get(obj["id"], [])

        def sanc(key: str, sancs: list[dict[str, Any]] = sancs) -> list[str]:
            return [v for s in sancs for v in (s.get(key) or []) if isinstance(v, str) and v.strip()]

        list_id = next((lid for a in sanc("authority") if (lid := csl_list_id(a)) is not None), None)
        if list_id is None:
            datasets = [d for d in obj.get("datasets") or [] if isinstance(d, str)]
            list_id = _FTM_DATASETS.get(datasets[0], datasets[0].upper()) if datasets else "FTM"
        countries = [c for key in ("country", "jurisdiction", "nationality", "citizenship") for c in _ftm_strings(props, key)]
        country = next((cc for c in countries if (cc := country_iso(c)) is not None), None)
        requirement, footnotes = extract_footnotes("; ".join(_unique(sanc("reason"))) or None)
        listed = [d for d in (first_date(x) for x in (*sanc("listingDate"), *sanc("startDate"), *_ftm_strings(props, "createdAt"))) if d]
        entries.append(ListEntry(
            list_id=list_id, entry_id=obj["id"], name=_clean(names[0]),
            aliases=_unique((*names[1:], *_ftm_strings(props, "alias"), *_ftm_strings(props, "previousName"),
                             *_ftm_strings(props, "weakAlias")), skip=[names[0]]),
            entity_type=_FTM_PARTIES[obj["schema"]], country=country, addresses=_unique(_ftm_strings(props, "address")),
            cite="; ".join(_unique(sanc("authorityId"))) or None, listed_on=min(listed) if listed else None,
            footnotes=footnotes, license_requirement=requirement,
            license_policy="; ".join(_unique(sanc("provisions"))) or None,
            programs=_unique((*sanc("program"), *_ftm_strings(props, "programId"))),
            remarks="; ".join(_unique(_ftm_strings(props, "notes"))) or None,
        ))
    notes = tuple(f"{n} {schema} entities skipped (not parties)" for schema, n in sorted(skipped.items()))
    snapshot = max((d for d in (first_date(s) for s in last_seen) if d), default=None)
    return entries, ListMeta("ftm", snapshot, "FollowTheMoney entities", notes)


# --- nsfreg ------------------------------------------------------------------------------------------------------

_ADDRESS_NAME = re.compile(r"^Address\s+\d{1,3}$")
_NSFREG_FIELDS = ("name", "aliases", "country", "address", "status", "effective_date", "federal_register", "notes")


def _parse_nsfreg(data: bytes, name: str) -> ParseResult:
    obj = _load_json(data, name)
    if not isinstance(obj, dict):
        raise _bad(name, "", "not an nsfreg list: expected an object with list_id, count and entities")
    for key, typ in (("list_id", str), ("count", int), ("entities", list)):
        if not isinstance(obj.get(key), typ) or isinstance(obj.get(key), bool):
            raise _bad(name, "", f"field {key!r} is missing or not a {typ.__name__}")
    ents: list[Any] = obj["entities"]
    if obj["count"] != len(ents):
        raise _bad(name, "", f"'count' says {obj['count']} but 'entities' holds {len(ents)}: the file is truncated or edited")
    list_id = nsfreg_list_id(obj["list_id"])
    is_el = obj["list_id"] == "bis-entity-list"
    notes: set[str] = set()
    entries: list[ListEntry] = []
    for i, e in enumerate(ents):
        where = f"entities[{i}]"
        if not isinstance(e, dict):
            raise _bad(name, where, f"an entity is a {type(e).__name__}, expected an object")
        raw_name = e.get("name")
        if not isinstance(raw_name, str) or not _clean(raw_name):
            raise _bad(name, where, "field 'name' is empty")
        where = f"entities[{i}] ({_clean(raw_name)[:60]!r})"
        for key in _NSFREG_FIELDS[2:]:
            if e.get(key) is not None and not isinstance(e.get(key), str):
                raise _bad(name, where, f"field {key!r} is a {type(e[key]).__name__}, expected text or null")
        aliases = e.get("aliases") or []
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise _bad(name, where, "field 'aliases' is not a list of names")
        entry_name, name_fns = _strip_name_marker(_clean(raw_name)) if not _ADDRESS_NAME.match(_clean(raw_name)) else (_clean(raw_name), ())
        effective = e.get("effective_date") or ""
        listed_on = _strict_date(effective)
        if effective.strip() and listed_on is None:
            raise _bad(name, where, f"field 'effective_date' is not a date: {effective!r}")
        fr = e.get("federal_register")
        listed_on = listed_on or first_date(fr)
        raw_country = e.get("country")
        country = country_iso(raw_country)
        remarks: list[str] = []
        if raw_country and country is None:
            notes.add(f"country {raw_country!r} is not a country: kept in remarks")
            remarks.append(f"listed under {raw_country}")
        if e.get("status"):
            remarks.append(f"status: {_clean(e['status'])}")
        requirement: str | None = None
        footnotes: tuple[str, ...] = ()
        if is_el or obj["list_id"] == "bis-meu":
            requirement, footnotes = extract_footnotes(_opt(e.get("notes")))
        elif e.get("notes"):
            remarks.append(_clean(e["notes"]))
        entries.append(ListEntry(
            list_id=list_id, entry_id=f"{list_id}-{i + 1:05d}", name=entry_name, aliases=_unique(aliases, skip=[entry_name]),
            entity_type="address" if _ADDRESS_NAME.match(entry_name) else None, country=country,
            addresses=_split_addresses(_clean(e.get("address"))), cite=fr.strip() if isinstance(fr, str) and fr.strip() else None,
            listed_on=listed_on, footnotes=tuple(sorted({*footnotes, *name_fns})), license_requirement=requirement,
            remarks="; ".join(remarks) or None,
        ))
    if is_el:
        notes.add("this source has no licence review policy column (license_policy is empty)")
    extracted = obj.get("extracted")
    snapshot = _strict_date(extracted) if isinstance(extracted, str) else None
    label = f"nsfreg {obj['list_id']}" + (f" ({obj['source_file']})" if isinstance(obj.get("source_file"), str) else "")
    return entries, ListMeta("nsfreg", snapshot, label, tuple(sorted(notes)))


# --- chipwatch YAML lists (the bundled sample) -------------------------------------------------------------------

_YAML_FIELDS = {"list", "id", "name", "aliases", "chinese_name", "chinese_source", "type", "country", "addresses",
                "cite", "listed_on", "footnotes", "license_requirement", "license_policy", "programs", "remarks"}
_FOOTNOTE_RE = re.compile(r"^FN[1-5]$")


def _yaml_lines(text: str) -> dict[int, int]:
    """Line (1-based) of each item of the top-level `entries` sequence, by index."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    if not isinstance(node, yaml.MappingNode):
        return {}
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "entries" and isinstance(value, yaml.SequenceNode):
            return {i: item.start_mark.line + 1 for i, item in enumerate(value.value)}
    return {}


def _yaml_texts(v: Any, field: str, name: str, where: str) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return list(v)
    raise _bad(name, where, f"field {field!r} must be text or a list of texts")


def _parse_sample(data: bytes, name: str) -> ParseResult:
    text = _decode(data, name)
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise _bad(name, where, f"invalid YAML ({getattr(exc, 'problem', None) or exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("entries"), list):
        raise _bad(name, "", "a chipwatch list needs a top-level 'entries' list")
    lines = _yaml_lines(text)
    entries: list[ListEntry] = []
    for i, e in enumerate(doc["entries"]):
        where = f"line {lines[i]}" if i in lines else f"entries[{i}]"
        if not isinstance(e, dict):
            raise _bad(name, where, "an entry must be a mapping")
        unknown = sorted(set(map(str, e)) - _YAML_FIELDS)
        if unknown:
            raise _bad(name, where, f"unknown field(s) {', '.join(unknown)}")
        for key in ("list", "id", "name"):
            if not isinstance(e.get(key), str) or not e[key].strip():
                raise _bad(name, where, f"field {key!r} is empty")
        footnotes = _yaml_texts(e.get("footnotes"), "footnotes", name, where)
        if bad := [f for f in footnotes if not _FOOTNOTE_RE.match(f)]:
            raise _bad(name, where, f"footnotes must be FN1..FN5, not {', '.join(bad)}")
        country = e.get("country")
        if country is not None and (not isinstance(country, str) or country_iso(country) is None):
            raise _bad(name, where, f"country {country!r} is not an ISO 3166 code or country name")
        listed_on = e.get("listed_on")
        if isinstance(listed_on, str):
            listed_on = _strict_date(listed_on) or listed_on
        if listed_on is not None and not isinstance(listed_on, date):
            raise _bad(name, where, f"listed_on {listed_on!r} is not a date")
        cite = e.get("cite")
        if cite is not None and not isinstance(cite, str):
            raise _bad(name, where, "cite must be text")
        texts = {k: e.get(k) for k in ("license_requirement", "license_policy", "remarks", "type", "chinese_source")}
        for k, v in texts.items():
            if v is not None and not isinstance(v, str):
                raise _bad(name, where, f"field {k!r} must be text")
        aliases = [*_yaml_texts(e.get("aliases"), "aliases", name, where),
                   *_yaml_texts(e.get("chinese_name"), "chinese_name", name, where)]
        remarks = [r for r in (_opt(texts["remarks"]),
                               f"Chinese name from: {_clean(texts['chinese_source'])}" if texts["chinese_source"] else None) if r]
        entries.append(ListEntry(
            list_id=e["list"].strip(), entry_id=e["id"].strip(), name=_clean(e["name"]),
            aliases=_unique(aliases, skip=[e["name"]]), entity_type=_opt(texts["type"]),
            country=country_iso(country) if country else None,
            addresses=_unique(_yaml_texts(e.get("addresses"), "addresses", name, where)),
            cite=_opt(cite), listed_on=listed_on if isinstance(listed_on, date) else first_date(cite),
            footnotes=tuple(sorted(set(footnotes))), license_requirement=_opt(texts["license_requirement"]),
            license_policy=_opt(texts["license_policy"]),
            programs=_unique(_yaml_texts(e.get("programs"), "programs", name, where)), remarks="; ".join(remarks) or None,
        ))
    snapshot = doc.get("snapshot")
    if isinstance(snapshot, str):
        snapshot = _strict_date(snapshot)
    if snapshot is not None and not isinstance(snapshot, date):
        raise _bad(name, "", "'snapshot' is not a date")
    label = doc.get("label")
    return entries, ListMeta("sample", snapshot, str(label) if label else None, ())


_PARSERS: dict[str, Callable[[bytes, str], ParseResult]] = {
    "csl-csv": _parse_csl_csv,
    "csl-json": _parse_csl_json,
    "ecfr-xml": _parse_ecfr_xml,
    "ecfr-text": _parse_ecfr_text,
    "ftm": _parse_ftm,
    "nsfreg": _parse_nsfreg,
    "sample": _parse_sample,
}


def list_ids(entries: Sequence[ListEntry]) -> tuple[str, ...]:
    """The list ids of `entries`, in order of first appearance."""
    return tuple(dict.fromkeys(e.list_id for e in entries))
