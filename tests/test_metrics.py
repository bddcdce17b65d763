"""Metrics against worked examples from public sources, and rejection of impossible input."""

from __future__ import annotations

import math

import pytest

from chipwatch.errors import InvalidInput
from chipwatch.law import load_law
from chipwatch.metrics import (
    aggregate_io_rate,
    memory_bandwidth_density,
    performance_density,
    total_processing_performance,
    tpp_from_mac_tops,
)

BITS = load_law().params["us_ear.3a090.operand_bits"].entries[-1].value


def tpp(**rates: float) -> float:
    return total_processing_performance([rates], BITS).value


def test_bis_technical_note_example_int8():
    # 88 FR 73458, Technical Note to 3A090: 600 tera integer ops at 8 bits meet 4800.
    assert tpp(int8=600) == 4800


def test_bis_technical_note_example_fp16():
    # Same note: 300 TFLOPS at 16 bits (2 x 150 MacTOPS) is also 4800.
    assert tpp(fp16=300) == 4800
    assert tpp_from_mac_tops(150, 16) == 4800
    assert tpp_from_mac_tops(300, 8) == 4800


def test_a100_tpp_4992():
    # NVIDIA A100 datasheet: 624 dense INT8 TOPS, 312 dense FP16 TFLOPS -> TPP 4992 (dossier T2).
    r = total_processing_performance([{"int8": 624, "fp16": 312, "tf32": 156, "fp64": 19.5}], BITS)
    assert r.value == 4992
    assert r.deciding_format in {"int8", "fp16"}


def test_h100_sxm_tpp_15832():
    # NVIDIA H100 SXM datasheet: 3,958 FP8 TFLOPS with sparsity = 1,979 dense -> 15,832 (dossier T4).
    assert tpp(fp8=1979, fp16=989.5, int8=1979, tf32=494.5) == 15832


def test_sparse_figure_must_be_halved():
    # Giving the sparse datasheet figure doubles TPP; the catalog stores dense rates only.
    assert tpp(fp8=3958) == 2 * tpp(fp8=1979)


def test_rtx_4090_tpp():
    # NVIDIA Ada whitepaper: 660.6 dense FP8 TFLOPS -> 5284.8, reported as TPP 5,285 (dossier T8).
    assert tpp(fp8=660.6, fp16=330.3) == pytest.approx(5284.8)


def test_rtx_4090d_tpp():
    # RTX 4090D: reported TPP 4,707 (dossier T9); 588.4 dense FP8 x 8 = 4707.2.
    assert tpp(fp8=588.4) == pytest.approx(4707.2)


def test_h20_tpp():
    # H20: 296 dense FP8 TFLOPS -> 2,368 (dossier T7).
    assert tpp(fp8=296, fp16=148) == 2368


def test_multi_die_package_sums_units():
    # TPP is aggregated over the processing units (dies) of one package.
    r = total_processing_performance([{"fp8": 1000}, {"fp8": 1000}], BITS)
    assert r.value == 16000


def test_performance_density_a100():
    # A100: TPP 4992 over the 826 mm2 GA100 die -> PD 6.04 (dossier T2).
    assert performance_density(4992, 826) == pytest.approx(6.0436, abs=1e-4)


def test_memory_bandwidth_density_hbm3():
    # HBM3: 6.4 Gb/s x 1024 bits = 819 GB/s per stack over an 11 x 11 mm footprint -> 6.77 (dossier T13).
    assert memory_bandwidth_density(819, 121) == pytest.approx(6.768595, abs=1e-6)


def test_io_rate_sums_links():
    # Oct-2022 test: aggregate bidirectional rate; NVLink3 on A100 = 12 links x 50 GB/s = 600.
    assert aggregate_io_rate([50] * 12) == 600


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, -math.inf])
def test_impossible_rates_rejected(bad):
    with pytest.raises(InvalidInput):
        tpp(fp8=bad)


@pytest.mark.parametrize("area", [0, -5, math.nan])
def test_impossible_area_rejected(area):
    with pytest.raises(InvalidInput):
        performance_density(4800, area)
    with pytest.raises(InvalidInput):
        memory_bandwidth_density(800, area)


def test_unknown_precision_rejected():
    with pytest.raises(InvalidInput, match="unknown operand format 'fp7'"):
        tpp(fp7=100)


def test_no_units_rejected():
    with pytest.raises(InvalidInput):
        total_processing_performance([], BITS)


def test_string_is_not_a_number():
    with pytest.raises(InvalidInput):
        performance_density("4800", 100)  # type: ignore[arg-type]
