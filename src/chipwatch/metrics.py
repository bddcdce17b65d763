"""The performance metrics the advanced-computing ECCNs turn on, as small pure functions.

Units are in the names: `*_tops` tera-operations per second (dense, i.e. without structured
sparsity), `*_mm2` square millimetres, `*_gbs` gigabytes per second. Operand bit lengths per
format are law data (`us_ear.3a090.operand_bits`) and are passed in, so these functions carry no
regulatory constant of their own.

Each scalar function has a polars twin (`*_expr`) used by the vectorised classification path;
the property tests check that the two agree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from chipwatch.errors import InvalidInput

# Metrics are rounded before any comparison so that binary floating-point artefacts (e.g.
# 1600 / 270.27027 giving 5.9199999) cannot flip a regulatory boundary.
DECIMALS = 6


def _checked(name: str, value: float, *, allow_zero: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{name} must be a number, got {value!r}")
    if math.isnan(value) or math.isinf(value):
        raise InvalidInput(f"{name} must be a finite number, got {value}")
    if value < 0:
        raise InvalidInput(f"{name} cannot be negative, got {value}")
    if not allow_zero and value == 0:
        raise InvalidInput(f"{name} must be greater than zero")
    return float(value)


@dataclass(frozen=True)
class RateProduct:
    """Rate x bit length for one operand format: the candidates TPP takes the largest of."""

    fmt: str
    dense_tops: float
    bits: int
    product: float


@dataclass(frozen=True)
class TppResult:
    """'Total processing performance' with the format that decides it and every candidate."""

    value: float
    deciding_format: str
    candidates: tuple[RateProduct, ...]


def rate_products(dense_tops: Mapping[str, float], bits: Mapping[str, int]) -> tuple[RateProduct, ...]:
    """Dense rate x operand bit length for each format a processing unit supports."""
    out = []
    for fmt, rate in dense_tops.items():
        if fmt not in bits:
            known = ", ".join(sorted(bits))
            raise InvalidInput(f"unknown operand format {fmt!r} (known formats: {known})")
        r = _checked(f"dense TOPS for {fmt}", rate)
        out.append(RateProduct(fmt, r, int(bits[fmt]), round(r * bits[fmt], DECIMALS)))
    return tuple(out)


def total_processing_performance(
    units: Sequence[Mapping[str, float]], bits: Mapping[str, int]
) -> TppResult:
    """TPP of one package: for each processing unit (die), the largest rate x bit length over the
    formats it supports; summed over the units. A rate is dense TOPS (= 2 x MacTOPS).

    >>> total_processing_performance([{"int8": 600}], {"int8": 8}).value  # BIS's own example
    4800.0
    """
    if not units:
        raise InvalidInput("at least one processing unit with a compute rate is needed")
    total = 0.0
    all_candidates: list[RateProduct] = []
    deciding = ""
    for i, unit in enumerate(units):
        cands = rate_products(unit, bits)
        if not cands:
            raise InvalidInput(f"processing unit {i + 1} has no compute rate")
        best = max(cands, key=lambda c: c.product)
        total += best.product
        deciding = best.fmt if not deciding or deciding == best.fmt else f"{deciding}+{best.fmt}"
        all_candidates.extend(cands)
    return TppResult(round(total, DECIMALS), deciding, tuple(all_candidates))


def tpp_from_mac_tops(mac_tops: float, bit_length: int) -> float:
    """TPP as the Technical Note writes it: 2 x MacTOPS x bit length."""
    _checked("MacTOPS", mac_tops)
    _checked("bit length", bit_length, allow_zero=False)
    return round(2 * mac_tops * bit_length, DECIMALS)


def performance_density(tpp: float, applicable_die_area_mm2: float) -> float:
    """'Performance density' = TPP / applicable die area (non-planar logic dies, mm2)."""
    _checked("TPP", tpp)
    area = _checked("applicable die area (mm2)", applicable_die_area_mm2, allow_zero=False)
    return round(tpp / area, DECIMALS)


def aggregate_io_rate(links_gbs: Sequence[float]) -> float:
    """Oct-2022 interconnect test: aggregate bidirectional transfer rate over all inputs and
    outputs to or from ICs other than volatile memory, GB/s (sum of the links' bidirectional rates)."""
    return round(sum(_checked("interconnect rate (GB/s)", x) for x in links_gbs), DECIMALS)


def memory_bandwidth_density(bandwidth_gbs: float, package_area_mm2: float) -> float:
    """'Memory bandwidth density' of a memory stack or package = bandwidth (GB/s) / area (mm2)."""
    bw = _checked("memory bandwidth (GB/s)", bandwidth_gbs)
    area = _checked("package area (mm2)", package_area_mm2, allow_zero=False)
    return round(bw / area, DECIMALS)


# --- polars twins for the vectorised path -------------------------------------------------------


def tpp_expr(rate_columns: Mapping[str, str], bits: Mapping[str, int]) -> pl.Expr:
    """Polars expression for TPP of single-unit packages: the row-wise largest rate x bit length.

    `rate_columns` maps an operand format to the column holding its dense TOPS (null = unsupported).
    Null when no format has a rate, like the scalar path's "no compute figures".
    """
    products = [
        (pl.col(col).cast(pl.Float64) * bits[fmt]).round(DECIMALS)
        for fmt, col in rate_columns.items()
        if fmt in bits
    ]
    if not products:
        return pl.lit(None, dtype=pl.Float64)
    return pl.max_horizontal(products)


def density_expr(numerator: pl.Expr, area_column: str) -> pl.Expr:
    """Polars twin of `performance_density` / `memory_bandwidth_density` (null where area missing)."""
    area = pl.col(area_column).cast(pl.Float64)
    return pl.when(area > 0).then((numerator / area).round(DECIMALS)).otherwise(None)
