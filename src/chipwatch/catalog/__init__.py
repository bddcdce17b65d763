"""The bundled catalog of real AI accelerators, and the item types chipwatch classifies.

`accelerators.csv` beside this module holds one row per chip with its sources; `accelerators.md`
explains the columns and every change made to the dossier's copy. Rows are validated on load
(the row number is in every error). Look-up is case- and punctuation-insensitive over names and
aliases; an unknown name suggests the nearest ones.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from rapidfuzz import fuzz, process

from chipwatch.errors import CatalogError, InvalidInput, UnknownChip

CATALOG_CSV = Path(__file__).parent / "accelerators.csv"

# CSV column -> operand format key used by the law data's bit-length table.
RATE_COLUMNS: dict[str, str] = {
    "dense_tops_fp64": "fp64",
    "dense_tops_fp32": "fp32",
    "dense_tops_tf32": "tf32",
    "dense_tops_fp16_bf16": "fp16",
    "dense_tops_fp8": "fp8",
    "dense_tops_int8": "int8",
    "dense_tops_fp4": "fp4",
    "dense_tops_int4": "int4",
}
NUMERIC_COLUMNS = (
    *RATE_COLUMNS,
    "die_area_mm2",
    "transistors_billion",
    "memory_gb",
    "memory_bandwidth_gbs",
    "interconnect_bandwidth_gbs",
    "tdp_w",
)


def _finite_nonneg(name: str, v: float | None) -> float | None:
    if v is None:
        return None
    if v != v or v in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be finite")
    if v < 0:
        raise ValueError(f"{name} cannot be negative")
    return v


class Chip(BaseModel):
    """An integrated circuit (accelerator package) with the figures classification needs.

    `dense_tops` maps an operand format (fp8, fp16, int8, ...) to its dense rate in TOPS/TFLOPS
    for the whole package. `die_area_mm2` is the applicable die area: the logic dies built with
    non-planar transistors, HBM stacks excluded. `datacenter` is whether the IC is designed or
    marketed for use in datacenters (None = not known).
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["ic"] = "ic"
    name: str
    vendor: str = ""
    announced: str | None = None
    dense_tops: dict[str, float] = Field(default_factory=dict)
    die_area_mm2: float | None = None
    process_node: str | None = None
    transistors_billion: float | None = None
    memory_type: str | None = None
    memory_gb: float | None = None
    memory_bandwidth_gbs: float | None = None
    interconnect_bandwidth_gbs: float | None = None
    tdp_w: float | None = None
    datacenter: bool | None = None
    made_in: str | None = None
    sources: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    notes: str = ""
    in_catalog: bool = False

    @field_validator("dense_tops")
    @classmethod
    def _rates(cls, v: dict[str, float]) -> dict[str, float]:
        for fmt, rate in v.items():
            _finite_nonneg(f"dense TOPS for {fmt}", rate)
        return v

    @field_validator("die_area_mm2")
    @classmethod
    def _area(cls, v: float | None) -> float | None:
        _finite_nonneg("die area", v)
        if v == 0:
            raise ValueError("die area must be greater than zero")
        return v

    @field_validator("memory_bandwidth_gbs", "interconnect_bandwidth_gbs", "tdp_w", "memory_gb",
                     "transistors_billion")
    @classmethod
    def _nonneg(cls, v: float | None) -> float | None:
        return _finite_nonneg("value", v)


class MemoryStack(BaseModel):
    """A high-bandwidth memory stack or package (the item 3A090.c is about)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["hbm"] = "hbm"
    name: str
    bandwidth_gbs: float
    package_area_mm2: float
    co_packaged_with_logic: bool = False

    @field_validator("bandwidth_gbs")
    @classmethod
    def _bw(cls, v: float) -> float:
        _finite_nonneg("memory bandwidth", v)
        return v

    @field_validator("package_area_mm2")
    @classmethod
    def _pa(cls, v: float) -> float:
        _finite_nonneg("package area", v)
        if v == 0:
            raise ValueError("package area must be greater than zero")
        return v


class SystemPart(BaseModel):
    model_config = ConfigDict(frozen=True)
    chip: Chip
    count: int = Field(ge=1)


class System(BaseModel):
    """A computer, 'electronic assembly' or 'component' containing ICs (the item 4A090 is about)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["system"] = "system"
    name: str
    parts: tuple[SystemPart, ...] = Field(min_length=1)


Item = Chip | MemoryStack | System


def normalise_name(name: str) -> str:
    """Look-up key: Unicode-normalised, case-folded, letters and digits only."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return re.sub(r"[\W_]+", "", folded)


def _float_or_none(raw: str, column: str, rowno: int) -> float | None:
    raw = raw.strip()
    if raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        raise CatalogError(f"{CATALOG_CSV.name} row {rowno}: column {column} is not a number: {raw!r}") from None


def _parse_row(row: dict[str, str], rowno: int) -> Chip:
    nums = {c: _float_or_none(row.get(c, "") or "", c, rowno) for c in NUMERIC_COLUMNS}
    rates = {fmt: v for col, fmt in RATE_COLUMNS.items() if (v := nums[col]) is not None}
    dc = (row.get("datacenter") or "").strip().lower()
    if dc not in ("yes", "no", ""):
        raise CatalogError(f"{CATALOG_CSV.name} row {rowno}: datacenter must be yes/no, got {dc!r}")
    name = (row.get("name") or "").strip()
    if not name:
        raise CatalogError(f"{CATALOG_CSV.name} row {rowno}: empty name")
    try:
        return Chip(
            name=name,
            vendor=(row.get("vendor") or "").strip(),
            announced=(row.get("announced") or "").strip() or None,
            dense_tops=rates,
            die_area_mm2=nums["die_area_mm2"],
            process_node=(row.get("process_node") or "").strip() or None,
            transistors_billion=nums["transistors_billion"],
            memory_type=(row.get("memory_type") or "").strip() or None,
            memory_gb=nums["memory_gb"],
            memory_bandwidth_gbs=nums["memory_bandwidth_gbs"],
            interconnect_bandwidth_gbs=nums["interconnect_bandwidth_gbs"],
            tdp_w=nums["tdp_w"],
            datacenter={"yes": True, "no": False}.get(dc),
            made_in=(row.get("made_in") or "").strip() or None,
            sources=tuple(s.strip() for s in (row.get("source_urls") or "").split(";") if s.strip()),
            aliases=tuple(a.strip() for a in (row.get("aliases") or "").split(";") if a.strip()),
            notes=(row.get("notes") or "").strip(),
            in_catalog=True,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise CatalogError(
            f"{CATALOG_CSV.name} row {rowno} ({name}): {'.'.join(map(str, first['loc']))}: {first['msg']}"
        ) from None


@dataclass(frozen=True)
class Catalog:
    chips: tuple[Chip, ...]
    keys: dict[str, int]  # normalised name/alias -> index into chips
    source: Path

    def __iter__(self) -> Iterator[Chip]:
        return iter(self.chips)

    def __len__(self) -> int:
        return len(self.chips)

    def get(self, name: str) -> Chip:
        """The chip whose name or alias matches `name`, ignoring case, spaces and punctuation."""
        key = normalise_name(name)
        if not key:
            raise UnknownChip("empty chip name")
        if key in self.keys:
            return self.chips[self.keys[key]]
        raise UnknownChip(f"no chip {name!r} in the catalog; nearest: {', '.join(self.suggest(name))}")

    def suggest(self, name: str, n: int = 3) -> list[str]:
        """The `n` catalog names nearest to `name` (by name or alias)."""
        keys = list(self.keys)
        hits = process.extract(normalise_name(name), keys, scorer=fuzz.WRatio, limit=n * 4)
        out: list[str] = []
        for key, _score, _ in hits:
            chip_name = self.chips[self.keys[key]].name
            if chip_name not in out:
                out.append(chip_name)
            if len(out) == n:
                break
        return out

    def to_frame(self) -> pl.DataFrame:
        """One row per chip with the columns the vectorised classifier reads."""
        fmts = sorted({f for c in self.chips for f in c.dense_tops})
        return pl.DataFrame(
            {
                "item": [c.name for c in self.chips],
                **{f"tops_{f}": [c.dense_tops.get(f) for c in self.chips] for f in fmts},
                "die_area_mm2": [c.die_area_mm2 for c in self.chips],
                "io_rate_gbs": [c.interconnect_bandwidth_gbs for c in self.chips],
                "datacenter": [c.datacenter for c in self.chips],
            },
            schema_overrides={
                **{f"tops_{f}": pl.Float64 for f in fmts},
                "die_area_mm2": pl.Float64,
                "io_rate_gbs": pl.Float64,
                "datacenter": pl.Boolean,
            },
        )


def _strip_parenthetical(name: str) -> str:
    return re.sub(r"\s*\([^)]*\)", "", name).strip()


def read_catalog(path: Path = CATALOG_CSV) -> Catalog:
    """Read and validate a catalog CSV; any bad row fails the load with its row number."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"name", "vendor", "datacenter", *NUMERIC_COLUMNS} - set(reader.fieldnames or [])
        if missing:
            raise CatalogError(f"{path.name}: missing columns {sorted(missing)}")
        chips = tuple(_parse_row(row, i) for i, row in enumerate(reader, start=2))
    keys: dict[str, int] = {}
    for i, chip in enumerate(chips):
        for label in (chip.name, *chip.aliases):
            k = normalise_name(label)
            if k in keys and keys[k] != i:
                raise CatalogError(
                    f"{path.name}: {label!r} (row {i + 2}) is also a name or alias of {chips[keys[k]].name!r}"
                )
            keys[k] = i
    # Convenience keys without a parenthetical ("H20 (HGX)" -> "H20"), only where unambiguous.
    auto: dict[str, set[int]] = {}
    for i, chip in enumerate(chips):
        k = normalise_name(_strip_parenthetical(chip.name))
        if k and k not in keys:
            auto.setdefault(k, set()).add(i)
    for k, idx in auto.items():
        if len(idx) == 1:
            keys[k] = next(iter(idx))
    return Catalog(chips, keys, path)


@lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    return read_catalog(CATALOG_CSV)


def custom_chip(
    name: str = "custom chip",
    *,
    dense_tops: dict[str, float],
    die_area_mm2: float | None = None,
    interconnect_bandwidth_gbs: float | None = None,
    memory_bandwidth_gbs: float | None = None,
    datacenter: bool | None = None,
) -> Chip:
    """A chip that is not in the catalog, from its figures; invalid figures are an InvalidInput."""
    try:
        return Chip(
            name=name,
            dense_tops=dense_tops,
            die_area_mm2=die_area_mm2,
            interconnect_bandwidth_gbs=interconnect_bandwidth_gbs,
            memory_bandwidth_gbs=memory_bandwidth_gbs,
            datacenter=datacenter,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidInput(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
