"""Name matching against restricted-party lists: an index for candidates, explainable scoring.

Every list name and alias is analysed once (`names.analyse`: normalisation, legal forms removed,
Chinese script to pinyin and to translated words) into token variants. The index maps tokens,
token prefixes and the joined name to the variants that contain them. A screened name is analysed
the same way; its candidates are the variants sharing a distinctive token, a token prefix or the
joined form; each candidate is scored, and the best score per list entry is the hit.

The score of a query variant against a list variant is a weighted Dice coefficient over tokens:
each query token is paired with its best list token (exact 1.0; a close spelling counts its
similarity; pinyin written with or without spaces counts as exact), and tokens weigh by how rare
they are in the lists, with common company words and place names weighing little. A hit needs at
least one distinctive token to agree. Country disagreement lowers the score a little; agreement
is reported. Every number that goes into the score is listed in the hit's features.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from chipwatch.screen.model import Feature, Hit, ListEntry, ListVersion, NameForms, NameVariant
from chipwatch.screen.names import GENERIC_TOKENS, PLACE_TOKENS, analyse, normalise_latin

# The score at or above which a candidate is reported as a hit. Chosen on the labelled benchmark
# (benchmarks/screen.py) as the point with recall >= 0.98 at the best precision; see README.
THRESHOLD = 0.80
# Tokens weigh by inverse document frequency; common company words and places weigh this much of it.
GENERIC_WEIGHT = 0.25
PLACE_WEIGHT = 0.35
# Two spellings of a token count as the same word at or above this similarity (0-100).
TOKEN_SIMILARITY = 80
# Tokens shorter than this only match exactly (short codes and initials are too easy to confuse).
FUZZY_MIN_LEN = 5
# An address given with the name agrees with a listed address at this token-set similarity (0-1),
# which adds ADDRESS_BONUS to the score; an address-only entry is a hit at ADDRESS_HIT.
ADDRESS_AGREE = 0.85
ADDRESS_BONUS = 0.03
ADDRESS_HIT = 0.9
# Country disagreement (both known, different) multiplies the score by this.
COUNTRY_MISMATCH = 0.92
PREFIX_LEN = 4
# A list name with no distinctive word hits only when every word agrees and the score is this high
# (less PLACE_SLACK for each place name the query adds).
NEAR_EXACT = 0.9
PLACE_SLACK = 0.1
# Names whose distinctive words agree exactly score between these, by how well the rest agrees.
SAME_DISTINCTIVE_BASE = 0.82
SAME_DISTINCTIVE_TOP = 0.97
# Tokens this long are looked up within two edits, shorter ones within one.
LONG_TOKEN = 9
MAX_CANDIDATES = 400

# Hong Kong and Macau entries are listed under China on the Entity List: treat them as agreeing.
_COUNTRY_FAMILY = {"HK": "CN", "MO": "CN"}


@dataclass(frozen=True)
class _Record:
    entry: int  # index into entries
    label: str  # the list name or alias this variant came from
    variant: NameVariant
    joined: str
    distinctive: frozenset[str]
    forms: NameForms
    # filled once the index knows every token's weight (see ScreeningIndex._finish)
    weights: tuple[float, ...] = ()
    total: float = 0.0
    position: dict[str, int] | None = None
    is_distinct: tuple[bool, ...] = ()
    dist_joined: str = ""


@dataclass(frozen=True)
class _Query:
    """A query variant with what scoring needs precomputed."""

    variant: NameVariant
    forms: NameForms
    weights: tuple[float, ...]
    total: float
    is_distinct: tuple[bool, ...]
    joined: str
    dist_joined: str


class ScreeningIndex:
    """An in-memory index of list entries for screening names."""

    @cached_property
    def versions_label(self) -> str:
        """The list versions of the index as recorded with every audited answer, e.g. 'EL v3, MEU v3'."""
        return ", ".join(sorted(f"{lid} v{v.version_id}" for lid, v in self.versions.items())) or "none"

    def __init__(self, entries: Sequence[ListEntry], versions: dict[str, ListVersion] | None = None) -> None:
        self.entries = list(entries)
        self.versions = versions or {}
        self.records: list[_Record] = []
        self.by_token: dict[str, list[int]] = defaultdict(list)
        self.by_prefix: dict[str, list[int]] = defaultdict(list)
        self.by_joined: dict[str, list[int]] = defaultdict(list)
        for i, entry in enumerate(self.entries):
            for label in _labels(entry):
                forms = analyse(label)
                for v in forms.variants:
                    if not v.tokens:
                        continue
                    rid = len(self.records)
                    distinctive = frozenset(t for t in v.tokens if _is_distinctive(t, forms))
                    self.records.append(_Record(i, label, v, "".join(v.tokens), distinctive, forms))
                    for t in set(v.tokens):
                        self.by_token[t].append(rid)
                        if len(t) >= FUZZY_MIN_LEN:
                            self.by_prefix[t[:PREFIX_LEN]].append(rid)
                    self.by_joined["".join(sorted(distinctive)) or "".join(v.tokens)].append(rid)
                    self.by_joined["".join(v.tokens)].append(rid)
        n = max(len(self.records), 1)
        self.idf = {t: math.log(1 + n / len(set(rids))) for t, rids in self.by_token.items()}
        self._max_idf = math.log(1 + n)
        # Deletion neighbourhoods (as in SymSpell): two words within one edit share a deletion, so
        # a typo anywhere in a word, even its first letter, finds the listed word without a scan.
        self.by_deletion: dict[str, list[str]] = defaultdict(list)
        for t in self.by_token:
            if len(t) >= FUZZY_MIN_LEN:
                for d in _deletions(t):
                    self.by_deletion[d].append(t)
        self.records = [self._finish(r) for r in self.records]

    def _finish(self, r: _Record) -> _Record:
        toks = r.variant.tokens
        weights = tuple(self.weight(t, r.forms.places) for t in toks)
        distinct = tuple(_is_distinctive(t, r.forms) for t in toks)
        position: dict[str, int] = {}
        for j, t in enumerate(toks):
            position.setdefault(t, j)
        dist_joined = "".join(t for t, d in zip(toks, distinct, strict=True) if d)
        return _Record(r.entry, r.label, r.variant, r.joined, r.distinctive, r.forms, weights, sum(weights), position,
                       distinct, dist_joined)

    def _query(self, v: NameVariant, forms: NameForms) -> _Query:
        weights = tuple(self.weight(t, forms.places) for t in v.tokens)
        distinct = tuple(_is_distinctive(t, forms) for t in v.tokens)
        return _Query(v, forms, weights, sum(weights), distinct, "".join(v.tokens),
                      "".join(t for t, d in zip(v.tokens, distinct, strict=True) if d))

    # -- weights --------------------------------------------------------------------------------

    def weight(self, token: str, places: frozenset[str]) -> float:
        w = self.idf.get(token, self._max_idf)
        if token in GENERIC_TOKENS:
            return w * GENERIC_WEIGHT
        if token in places or token in PLACE_TOKENS:
            return w * PLACE_WEIGHT
        return w

    @lru_cache(maxsize=200_000)  # noqa: B019 - the index lives as long as its cache should
    def _near_tokens(self, token: str) -> tuple[tuple[str, float], ...]:
        """List tokens spelled closely like `token` (for typos and transliteration variants)."""
        if len(token) < FUZZY_MIN_LEN:
            return ()
        seen: set[str] = set()
        out = []
        for d in _deletions(token):
            for cand in self.by_deletion.get(d, ()):
                if cand != token and cand not in seen:
                    seen.add(cand)
                    sim = token_similarity(token, cand)
                    if sim >= TOKEN_SIMILARITY / 100:
                        out.append((cand, sim))
        return tuple(out)

    # -- candidates and scoring -----------------------------------------------------------------

    def _candidates(self, forms: NameForms) -> set[int]:
        cands: set[int] = set()
        for v in forms.variants:
            distinctive = [t for t in v.tokens if _is_distinctive(t, forms)]
            # A name of common words only ("National University of Defense Technology"): its two
            # rarest words find the candidates.
            lookup = distinctive or sorted(v.tokens, key=lambda t: -self.idf.get(t, self._max_idf))[:2]
            for t in lookup:
                cands.update(self.by_token.get(t, ()))
                for near, _ in self._near_tokens(t):
                    cands.update(self.by_token.get(near, ()))
            joined = "".join(v.tokens)
            cands.update(self.by_joined.get(joined, ()))
            cands.update(self.by_joined.get("".join(sorted(distinctive)), ()))
            if len(cands) > MAX_CANDIDATES * 4:
                break
        return cands

    def _pair(self, q: _Query, r: _Record) -> tuple[float, list[str], bool]:
        """Weighted Dice of query variant `q` against list record `r`; the matched-token notes;
        whether a distinctive token agreed."""
        # Pinyin and brand names are often written as one word or several ("Changjiang Cunchu").
        if q.joined == r.joined and len(q.joined) >= FUZZY_MIN_LEN:
            return 1.0, [f"'{q.joined}' (same letters, spaces aside)"], True
        rtokens = r.variant.tokens
        position = r.position or {}
        used = 0  # bit j set: list token j is taken
        matched_w = 0.0
        notes: list[str] = []
        distinctive_hit = False
        unmatched: list[str] = []
        for i, t in enumerate(q.variant.tokens):
            j = position.get(t, -1)
            sim = 1.0
            if j < 0 or used >> j & 1:
                j, sim = -1, 0.0
                for cand, s in self._near_tokens(t):
                    jj = position.get(cand, -1)
                    if jj >= 0 and not used >> jj & 1 and s > sim:
                        j, sim = jj, s
            if j < 0:
                unmatched.append(t)
                continue
            used |= 1 << j
            matched_w += (q.weights[i] + r.weights[j]) * sim
            notes.append(t if sim == 1.0 else f"{t}={rtokens[j]} (spelling {sim:.2f})")
            if q.is_distinct[i] and r.is_distinct[j]:
                distinctive_hit = True
        total = q.total + r.total
        dice = matched_w / total if total else 0.0
        if not r.distinctive and not distinctive_hit:
            # A listed name made only of common words and places must match nearly word for word;
            # the query may add only places ("Dongguan" before a listed trading company's name).
            only_places = all(t in q.forms.places or t in PLACE_TOKENS for t in unmatched)
            distinctive_hit = (used.bit_count() == len(rtokens) and only_places
                               and dice >= NEAR_EXACT - PLACE_SLACK * len(unmatched))
        if len(q.dist_joined) >= 6 and q.dist_joined == r.dist_joined and dice < SAME_DISTINCTIVE_TOP:
            # Same distinctive words, different common words ("Inspur Software" for "Inspur Group"):
            # a likely related party; the better the rest agrees, the higher it ranks.
            notes.append(f"distinctive part '{q.dist_joined}' written alike")
            return max(dice, SAME_DISTINCTIVE_BASE + (SAME_DISTINCTIVE_TOP - SAME_DISTINCTIVE_BASE) * dice), notes, True
        return dice, notes, distinctive_hit

    def screen(self, name: str, country: str | None = None, *, address: str | None = None, threshold: float = THRESHOLD,
               limit: int = 10) -> list[Hit]:
        """Hits for `name` (any script), best first: one per list entry, score >= threshold. With an
        `address`, hits report whether the entry's addresses agree, and the address is also checked
        against the entries that list only an address ("Address 1 ..." on the Entity List)."""
        qforms = analyse(name)
        address_hits = self._address_only_hits(name, address) if address else []
        if not qforms.variants:
            return address_hits[:limit]
        best: dict[int, tuple[float, _Record, NameVariant, list[str]]] = {}
        queries = [self._query(v, qforms) for v in qforms.variants]
        for rid in self._candidates(qforms):
            rec = self.records[rid]
            for qv in queries:
                score, notes, distinctive = self._pair(qv, rec)
                if not distinctive:
                    continue
                if score > best.get(rec.entry, (-1.0,))[0]:
                    best[rec.entry] = (score, rec, qv.variant, notes)
        hits = []
        for ei, (score, rec, matched_variant, notes) in best.items():
            entry = self.entries[ei]
            feats = [Feature(name="name", value=round(score, 4),
                             detail=f"tokens matched: {', '.join(notes)}; query as {matched_variant.how}, "
                                    f"list name as {rec.variant.how}")]
            final = score
            if country and entry.country:
                agree = _COUNTRY_FAMILY.get(country, country) == _COUNTRY_FAMILY.get(entry.country, entry.country)
                feats.append(Feature(name="country", value=1.0 if agree else COUNTRY_MISMATCH,
                                     detail=f"query {country}, entry {entry.country}: {'agree' if agree else 'differ'}"))
                if not agree:
                    final *= COUNTRY_MISMATCH
            if address and entry.addresses:
                agree_score, listed = _best_address(address, entry.addresses)
                agree = agree_score >= ADDRESS_AGREE
                feats.append(Feature(name="address", value=round(agree_score, 4),
                                     detail=f"address {'agrees' if agree else 'differs'} ({agree_score:.2f}) with '{listed}'"))
                if agree:
                    final = min(1.0, final + ADDRESS_BONUS)
            if final < threshold:
                continue
            steps = "; ".join(qforms.steps)
            explanation = (f"'{name}' matches {entry.list_id} entry '{entry.name}'"
                           + (f" (via '{rec.label}')" if rec.label != entry.name else "")
                           + f" with score {final:.2f}: {feats[0].detail}"
                           + "".join(f"; {f.detail}" for f in feats[1:])
                           + (f"; query analysis: {steps}" if steps else ""))
            version = self.versions.get(entry.list_id)
            hits.append(Hit(query=name, name=entry.name, matched_name=rec.label, list=entry.list_id, entry_id=entry.entry_id,
                            score=round(final, 4), cite=entry.cite, footnotes=entry.footnotes, country=entry.country,
                            license_requirement=entry.license_requirement, license_policy=entry.license_policy,
                            explanation=explanation, features=tuple(feats),
                            list_version=version.version_id if version else None))
        hits.extend(address_hits)
        hits.sort(key=lambda h: (-h.score, h.list, h.entry_id))
        return hits[:limit]

    def _address_only_hits(self, name: str, address: str) -> list[Hit]:
        out = []
        for entry in self.entries:
            if entry.entity_type != "address" or not entry.addresses:
                continue
            score, listed = _best_address(address, entry.addresses)
            if score < ADDRESS_HIT:
                continue
            version = self.versions.get(entry.list_id)
            detail = f"address agrees ({score:.2f}) with the listed address '{listed}'"
            out.append(Hit(query=name, name=entry.name, matched_name=listed, list=entry.list_id, entry_id=entry.entry_id,
                           score=round(score, 4), cite=entry.cite, footnotes=entry.footnotes, country=entry.country,
                           license_requirement=entry.license_requirement, license_policy=entry.license_policy,
                           explanation=f"the address of '{name}' matches {entry.list_id} address-only entry "
                                       f"'{entry.name}': {detail}",
                           features=(Feature(name="address", value=round(score, 4), detail=detail),),
                           list_version=version.version_id if version else None))
        return out

    def screen_many(self, names: Iterable[tuple[str, str | None]], *, threshold: float = THRESHOLD,
                    limit: int = 5) -> list[list[Hit]]:
        return [self.screen(n, c, threshold=threshold, limit=limit) for n, c in names]


_PAREN_RE = re.compile(r"\s*[(（]([^()（）]*)[)）]\s*")


def _labels(entry: ListEntry) -> list[str]:
    """The entry's names and aliases, plus each name without its bracketed part and the bracketed
    part itself when it is a name ("National University of Defense Technology (NUDT)" also gives
    "National University of Defense Technology" and "NUDT"; "(Beijing)" alone gives nothing)."""
    out: list[str] = []
    for name in entry.names():
        for label in (name, _PAREN_RE.sub(" ", name).strip()):
            if label and label not in out:
                out.append(label)
        for inner in _PAREN_RE.findall(name):
            forms = analyse(inner)
            if any(_is_distinctive(t, forms) and len(t) >= 3 for v in forms.variants for t in v.tokens) and inner not in out:
                out.append(inner.strip())
    return out


def _best_address(query: str, addresses: Sequence[str]) -> tuple[float, str]:
    """The best token-set similarity (0-1) of `query` to any of `addresses`, and that address."""
    q = normalise_latin(query)
    best, where = 0.0, ""
    for a in addresses:
        sim = fuzz.token_set_ratio(q, normalise_latin(a)) / 100
        if sim > best:
            best, where = sim, a
    return best, where


def _deletions(token: str) -> set[str]:
    """The token with one letter deleted (and two, for long tokens), plus the token itself."""
    out = {token}
    for i in range(len(token)):
        out.add(token[:i] + token[i + 1:])
    if len(token) >= LONG_TOKEN:
        for d in list(out):
            for i in range(len(d)):
                out.add(d[:i] + d[i + 1:])
    return out


@lru_cache(maxsize=500_000)
def token_similarity(a: str, b: str) -> float:
    """How alike two spellings are, 0-1: one minus the Damerau (OSA) edit distance over the longer
    length, where a swapped pair of letters is one slip. Words further apart than one slip (two
    for long words) count as different words, since short pinyin words two letters apart are
    usually different names (Xinglan, Xinlian)."""
    if a == b:
        return 1.0
    d = OSA.distance(a, b)
    if d > (2 if min(len(a), len(b)) >= LONG_TOKEN else 1):
        return 0.0
    return 1 - d / max(len(a), len(b))


def _is_distinctive(token: str, forms: NameForms) -> bool:
    return token not in GENERIC_TOKENS and token not in PLACE_TOKENS and token not in forms.places and len(token) > 1
