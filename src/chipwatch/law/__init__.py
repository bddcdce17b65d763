"""The law as dated data.

Every threshold, list and date lives in the YAML files beside this module, each value under the
date it took effect with the Federal Register action (`source`) and CFR paragraph (`cite`) it comes
from. Code asks `law.value(name, on=date)`; nothing else in chipwatch writes a threshold down.

Each jurisdiction has its own directory and its own `Law`: `load_law(regime)` is the US EAR
(`us_ear/`), `load_law(regime, jurisdiction="CN-ECL")` China's export controls (`cn_ecl/`).

A *regime* is the built-in law plus dated overrides (OpenFisca's "reform"): the history as enacted
is the regime ``historical`` with no overrides, and a what-if is a small YAML file of the same form.
"""

from __future__ import annotations

from chipwatch.law.loader import BUILTIN_REGIMES, JURISDICTION_DIRS, JURISDICTIONS, LAW_DIR, load_law
from chipwatch.law.model import (
    Entry,
    Law,
    ParagraphDef,
    ParamValue,
    RuleVersion,
    Timeline,
)

__all__ = [
    "BUILTIN_REGIMES",
    "JURISDICTIONS",
    "JURISDICTION_DIRS",
    "LAW_DIR",
    "Entry",
    "Law",
    "ParagraphDef",
    "ParamValue",
    "RuleVersion",
    "Timeline",
    "load_law",
]
