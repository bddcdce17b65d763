"""China's export controls (CN-ECL) as a second jurisdiction: the items of the MOFCOM/GAC
announcements (look-up by control-list entry, HS code, or English/Chinese name) and the
determination under China's Export Control Law, in the same answer type as the US side."""

from __future__ import annotations

from chipwatch.cn_ecl.determine import JURISDICTION, determine_cn, load_cn_law
from chipwatch.cn_ecl.items import CnItem, ItemMatch, find_item, load_items

__all__ = ["JURISDICTION", "CnItem", "ItemMatch", "determine_cn", "find_item", "load_cn_law", "load_items"]
