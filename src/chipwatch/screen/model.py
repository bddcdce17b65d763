"""Types shared by the screening parts: list entries and versions, name forms, hits.

The list store (`store.py`), importers (`lists.py`), name analysis (`names.py`) and matcher
(`match.py`) all speak these types, so each can be tested and replaced on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class ListEntry(BaseModel):
    """One entry of a restricted-party list, as imported."""

    model_config = ConfigDict(frozen=True)

    list_id: str = Field(description="short list code: EL, MEU, UVL, DPL, SDN, NS-CMIC, 1260H, ... (SAMPLE-EL for the bundled sample)")
    entry_id: str = Field(description="stable id within its list, e.g. 'EL-00123' or the source's own id")
    name: str
    aliases: tuple[str, ...] = ()
    entity_type: str | None = Field(default=None, description="entity | individual | vessel | address | None if unknown")
    country: str | None = Field(default=None, description="ISO 3166 alpha-2 code of the entry's country (Hong Kong kept as HK)")
    addresses: tuple[str, ...] = ()
    cite: str | None = Field(default=None, description="Federal Register citation(s) of the listing, as printed")
    listed_on: date | None = None
    footnotes: tuple[str, ...] = Field(default=(), description="Entity List footnotes: FN1 .. FN5")
    license_requirement: str | None = None
    license_policy: str | None = None
    programs: tuple[str, ...] = ()
    remarks: str | None = None

    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


class ListVersion(BaseModel):
    """One import: a file read whole, with what it held and where it came from."""

    model_config = ConfigDict(frozen=True)

    version_id: int
    imported_at: datetime
    source_path: str
    source_format: str = Field(description="csl-csv | csl-json | ecfr-xml | ecfr-text | ftm | nsfreg | sample")
    sha256: str
    list_ids: tuple[str, ...]
    entries: int
    snapshot: date | None = Field(default=None, description="the date the source data describe, where the file says")
    label: str | None = Field(default=None, description="e.g. 'SAMPLE: not the full list'")


@dataclass(frozen=True)
class NameVariant:
    """One way of writing a name for comparison: lowercase ASCII tokens and how they were made."""

    tokens: tuple[str, ...]
    how: str  # e.g. "latin", "pinyin", "pinyin+translated", "alias"


@dataclass(frozen=True)
class NameForms:
    """A name analysed for matching (see `names.analyse`)."""

    original: str
    script: str  # latin | han | mixed | other
    variants: tuple[NameVariant, ...]
    steps: tuple[str, ...] = ()  # transformations applied, in words, for the explanation
    removed: tuple[str, ...] = ()  # legal forms / organisation words removed
    places: frozenset[str] = field(default_factory=frozenset)  # place-name tokens (weigh less)


class Feature(BaseModel):
    """One reason a hit scored as it did."""

    model_config = ConfigDict(frozen=True)

    name: str
    value: float
    detail: str


class Hit(BaseModel):
    """A list entry a screened name matched, with the score and the explanation."""

    model_config = ConfigDict(frozen=True)

    query: str
    name: str = Field(description="the entry's primary name")
    matched_name: str = Field(description="the entry name or alias that matched best")
    list: str
    entry_id: str
    score: float
    cite: str | None
    footnotes: tuple[str, ...] = ()
    country: str | None = None
    license_requirement: str | None = None
    license_policy: str | None = None
    explanation: str
    features: tuple[Feature, ...] = ()
    list_version: int | None = None
