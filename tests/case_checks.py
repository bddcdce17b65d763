"""Checks the two case-file runners (US-EAR and CN-ECL) share: one expected key, one comparison."""

from __future__ import annotations

from typing import Any

from chipwatch.determine import Determination


class Mismatches(list[str]):
    """The differences between a case's expectations and the engine's answer, one line each."""

    def __call__(self, what: str, ok: bool, got: Any, want: Any) -> None:
        if not ok:
            self.append(f"{what}: expected {want!r}, engine says {got!r}")


def codes(entries: list[Any], key: str) -> set[str]:
    return {e if isinstance(e, str) else e[key] for e in entries}


def check_common(d: Determination, expect: dict[str, Any], check: Mismatches, *, missing_exact: bool) -> None:
    """licence_required, reason_code, reasons, warnings and missing_facts (with branch substrings).
    `missing_exact`: the facts listed are all the answer may name; else they must be among them."""
    if "licence_required" in expect:
        check("licence_required", d.licence_required is expect["licence_required"], d.licence_required, expect["licence_required"])
    if "reason_code" in expect:
        check("reason_code", d.reason_code == expect["reason_code"], d.reason_code, expect["reason_code"])
    if "reasons" in expect:
        got = sorted(r.code for r in d.reasons)
        check("reasons", got == sorted(expect["reasons"]), got, sorted(expect["reasons"]))
    if "warnings" in expect:
        got_w = sorted(w.code for w in d.warnings)
        check("warnings", got_w == sorted(expect["warnings"]), got_w, sorted(expect["warnings"]))
    if "missing_facts" in expect:
        got_m = {m.fact: m for m in d.missing_facts}
        want_facts = codes(expect["missing_facts"], "fact")
        if missing_exact:
            check("missing_facts", set(got_m) == want_facts, sorted(got_m), expect["missing_facts"])
        else:
            check("missing_facts (expected among them)", want_facts <= set(got_m), sorted(got_m), sorted(want_facts))
        for want in (w for w in expect["missing_facts"] if isinstance(w, dict)):
            m = got_m.get(want["fact"])
            if m is None:
                continue
            outcomes = [f"{label}: {out}" for label, out in m.branches.items()]
            for sub in want.get("branches", []):
                check(f"missing fact {want['fact']}: a branch containing", any(sub in o for o in outcomes), outcomes, sub)
