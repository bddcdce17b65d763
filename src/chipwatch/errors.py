"""Errors every layer may raise. Each says what was wrong in one line a user can act on."""

from __future__ import annotations


class ChipwatchError(ValueError):
    """Base class: bad input or a question the law data cannot answer."""


class InvalidInput(ChipwatchError):
    """Physically impossible or malformed input (negative rates, NaN, zero area, unknown format)."""


class UnknownParameter(ChipwatchError):
    """A law parameter or paragraph name that the law data does not define."""


class NotInForce(ChipwatchError):
    """A parameter asked for on a date when it had no value (before its first version or after repeal)."""


class UnknownChip(ChipwatchError):
    """A chip name or alias that is not in the catalog."""


class LawDataError(ChipwatchError):
    """A law or regime file that does not follow the format."""


class CatalogError(ChipwatchError):
    """A catalog row that fails validation."""
