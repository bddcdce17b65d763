"""One shipment, each jurisdiction's answer: the US EAR and China's export controls (CN-ECL).

`determine_in` runs the determination of each jurisdiction that reaches the shipment and returns
one `Determination` per jurisdiction; `cn_restriction` reduces the CN-ECL answer for a material
to one word-level restriction (the simulator's supply-shock lever reads it).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from chipwatch.cn_ecl import determine_cn, load_cn_law
from chipwatch.determine import Determination, Transaction, determine, transaction
from chipwatch.errors import InvalidInput
from chipwatch.law import load_law

JURISDICTIONS = ("US-EAR", "CN-ECL")
CHOICES = (*JURISDICTIONS, "all")
# Origins under which an item shipped from China is still subject to the EAR (15 CFR 734.3, 734.4, 734.9).
_EAR_ORIGINS = ("us", "foreign_direct_product", "foreign_us_content")


def pick_jurisdictions(txn: Transaction, jurisdiction: str | None) -> tuple[str, ...]:
    """The jurisdictions to answer for: the one asked, both for "all", or (None) from the shipment.

    Picked: a shipment from China → CN-ECL, and US-EAR too when the item is a US item (a chip or
    ECCN of US origin, a foreign direct product or with US content); a material (or a shipment
    with PRC rare-earth facts) from elsewhere → CN-ECL (No. 61's reach abroad), plus US-EAR for a
    US item; anything else → US-EAR."""
    if jurisdiction is not None:
        j = jurisdiction.strip()
        match = {c.casefold(): c for c in CHOICES}.get(j.casefold())
        if match is None:
            raise InvalidInput(f"unknown jurisdiction {jurisdiction!r} (use {', '.join(CHOICES)})")
        return JURISDICTIONS if match == "all" else (match,)
    us_item = txn.material is None and txn.origin in _EAR_ORIGINS
    cn_facts = txn.material is not None or txn.prc_re_content_pct is not None or txn.prc_re_value is not None
    if txn.ships_from == "CN" or cn_facts:
        return ("US-EAR", "CN-ECL") if us_item else ("CN-ECL",)
    return ("US-EAR",)


def determine_in(txn: Transaction, jurisdiction: str | None = None, *, regime: str | Path = "historical",
                 include_announced: bool = True) -> list[Determination]:
    """One Determination per jurisdiction ("US-EAR", "CN-ECL", "all", or None = picked from the
    exporter's country, see `pick_jurisdictions`), in the order of JURISDICTIONS."""
    out = []
    for j in pick_jurisdictions(txn, jurisdiction):
        if j == "US-EAR":
            out.append(determine(txn, law=load_law(regime), include_announced=include_announced))
        else:
            out.append(determine_cn(txn, law=load_cn_law(regime), include_announced=include_announced))
    return out


def restriction_level(d: Determination) -> str:
    """The level a CN-ECL answer comes to: "none", "licence", "licence (strict review)",
    "licence (case-by-case)", "presumption of denial", "ban", or "undetermined". The level is the
    part of the review policy's wording (law data) before its colon."""
    if d.licence_required is False:
        return "none"
    if d.licence_required is None:
        return "undetermined"
    if d.review_policy is None:
        return "licence"
    return d.review_policy.policy.split(":", 1)[0].strip()


def cn_restriction(material: str, destination: str, on: date, *, regime: str | Path = "historical") -> str:
    """What China's export controls say for exporting `material` (gallium, germanium, antimony,
    graphite, rare_earths, an entry, HS code or name) from China to `destination` on `on`, for a
    civilian end user on no Chinese list: "none", "licence", "licence (strict review)",
    "presumption of denial", "ban" ... (see `restriction_level`)."""
    txn = transaction(material=material, destination=destination, ships_from="CN", date=on,
                      military_end_user=False, cn_listed=False, cn_uel=False)
    return restriction_level(determine_cn(txn, law=load_cn_law(regime)))
