"""chipwatch: US export controls on AI chips as code, with the law as dated data.

    >>> from chipwatch import classify
    >>> classify("A800 SXM4 80GB", date(2024, 1, 1)).eccn   # doctest: +SKIP
    '3A090.a'
"""

from __future__ import annotations

from chipwatch.catalog import Chip, MemoryStack, System, SystemPart, custom_chip, default_catalog
from chipwatch.classify import Classification, classify, classify_frame
from chipwatch.law import load_law

__all__ = [
    "Chip",
    "Classification",
    "MemoryStack",
    "System",
    "SystemPart",
    "classify",
    "classify_frame",
    "custom_chip",
    "default_catalog",
    "load_law",
]
__version__ = "0.1.0"
