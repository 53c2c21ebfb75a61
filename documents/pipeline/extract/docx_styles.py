"""DOCX styles (basedOn chains, outline levels, hidden text) and list numbering labels."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# ============================================================================================
# DOCX

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W = f"{{{W_NS}}}"


def w(tag: str) -> str:
    return W + tag


_FALSE_VALUES = {"0", "false", "off", "none"}


def on(el: Any) -> bool | None:
    """The value of a toggle property element (``<w:b/>``, ``<w:vanish w:val="0"/>``)."""
    if el is None:
        return None
    val = el.get(w("val"))
    return val is None or val.lower() not in _FALSE_VALUES


@dataclass
class Style:
    style_id: str
    name: str
    based_on: str | None
    outline: int | None  # 0-based outline level from pPr
    num_id: str | None
    ilvl: int | None
    vanish: bool | None
    bold: bool | None
    size: float | None


class Styles:
    def __init__(self, styles_el: Any) -> None:
        self.by_id: dict[str, Style] = {}
        self.default_paragraph: str | None = None
        if styles_el is None:
            return
        for st in styles_el.iterchildren(w("style")):
            sid = st.get(w("styleId")) or ""
            name_el = st.find(w("name"))
            name = (name_el.get(w("val")) if name_el is not None else "") or sid
            based = st.find(w("basedOn"))
            ppr = st.find(w("pPr"))
            rpr = st.find(w("rPr"))
            num_id, ilvl, outline = numbering_props(ppr)
            vanish = bold = None
            size = None
            if rpr is not None:
                vanish = on(rpr.find(w("vanish")))
                bold = on(rpr.find(w("b")))
                sz = rpr.find(w("sz"))
                if sz is not None and to_int(sz.get(w("val"))) is not None:
                    size = (to_int(sz.get(w("val"))) or 0) / 2
            self.by_id[sid] = Style(
                sid,
                name,
                based.get(w("val")) if based is not None else None,
                outline,
                num_id,
                ilvl,
                vanish,
                bold,
                size,
            )
            if st.get(w("type")) == "paragraph" and st.get(w("default")) in ("1", "true", "on"):
                self.default_paragraph = sid
        self._chain_cache: dict[str | None, list[Style]] = {}

    def chain(self, style_id: str | None) -> list[Style]:
        """The style and its basedOn ancestors, nearest first (cycle-safe)."""
        if style_id in self._chain_cache:
            return self._chain_cache[style_id]
        out: list[Style] = []
        seen: set[str] = set()
        sid = style_id if style_id is not None else self.default_paragraph
        while sid is not None and sid not in seen and sid in self.by_id and len(out) < 30:
            seen.add(sid)
            st = self.by_id[sid]
            out.append(st)
            sid = st.based_on
        self._chain_cache[style_id] = out
        return out

    def first(self, style_id: str | None, attr: str) -> Any:
        for st in self.chain(style_id):
            value = getattr(st, attr)
            if value is not None:
                return value
        return None


def numbering_props(ppr: Any) -> tuple[str | None, int | None, int | None]:
    """(numId, ilvl, outlineLvl) that a paragraph's or a style's ``w:pPr`` sets itself."""
    num_id = ilvl = outline = None
    if ppr is not None:
        num_pr = ppr.find(w("numPr"))
        if num_pr is not None:
            nid = num_pr.find(w("numId"))
            lvl = num_pr.find(w("ilvl"))
            num_id = nid.get(w("val")) if nid is not None else None
            ilvl = to_int(lvl.get(w("val"))) if lvl is not None else None
        ol = ppr.find(w("outlineLvl"))
        if ol is not None:
            outline = to_int(ol.get(w("val")))
    return num_id, ilvl, outline


def to_int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


_HEADING_NAME = re.compile(r"^heading\s*(\d)$", re.I)


def is_toc_style(chain: list[Style]) -> bool:
    return (
        bool(chain) and re.match(r"^toc\b|^toc\s*\d|^toc heading", chain[0].name, re.I) is not None
    )


def style_heading_level(chain: list[Style]) -> int | None:
    for st in chain:
        m = _HEADING_NAME.match(st.name.strip())
        if m:
            return max(1, int(m.group(1)))
        if st.name.strip().lower() == "title":
            return 1
        if st.outline is not None:
            return st.outline + 1 if 0 <= st.outline < 9 else None
    return None


# --- numbering ----------------------------------------------------------------------------


@dataclass
class _Level:
    start: int = 1
    fmt: str = "decimal"
    text: str = "%1."
    style: str | None = None
    legal: bool = False


class Numbering:
    """Computes list and heading labels as Word shows them, from numbering.xml."""

    def __init__(self, numbering_el: Any, styles: Styles) -> None:
        self.abstract: dict[str, dict[int, _Level]] = {}
        self.abstract_style_link: dict[str, str] = {}
        self.nums: dict[str, tuple[str, dict[int, int]]] = {}
        self.counters: dict[str, list[int | None]] = {}
        self.started: set[str] = set()
        self.styles = styles
        if numbering_el is None:
            return
        for an in numbering_el.iterchildren(w("abstractNum")):
            aid = an.get(w("abstractNumId")) or ""
            levels: dict[int, _Level] = {}
            for lvl in an.iterchildren(w("lvl")):
                ilvl = to_int(lvl.get(w("ilvl"))) or 0
                lv = _Level()
                el = lvl.find(w("start"))
                if el is not None:
                    lv.start = to_int(el.get(w("val"))) or 0
                el = lvl.find(w("numFmt"))
                if el is not None:
                    lv.fmt = el.get(w("val")) or "decimal"
                el = lvl.find(w("lvlText"))
                if el is not None:
                    lv.text = el.get(w("val")) or ""
                el = lvl.find(w("pStyle"))
                if el is not None:
                    lv.style = el.get(w("val"))
                lv.legal = on(lvl.find(w("isLgl"))) or False
                levels[ilvl] = lv
            self.abstract[aid] = levels
            link = an.find(w("numStyleLink"))
            if link is not None and link.get(w("val")):
                self.abstract_style_link[aid] = link.get(w("val")) or ""
        for num in numbering_el.iterchildren(w("num")):
            nid = num.get(w("numId")) or ""
            aid_el = num.find(w("abstractNumId"))
            aid = aid_el.get(w("val")) if aid_el is not None else ""
            overrides: dict[int, int] = {}
            for ov in num.iterchildren(w("lvlOverride")):
                so = ov.find(w("startOverride"))
                if so is not None:
                    overrides[to_int(ov.get(w("ilvl"))) or 0] = to_int(so.get(w("val"))) or 1
            self.nums[nid] = (aid or "", overrides)

    def _abstract_for(self, num_id: str, depth: int = 0) -> str | None:
        entry = self.nums.get(num_id)
        if entry is None:
            return None
        aid = entry[0]
        link = self.abstract_style_link.get(aid)
        if link and depth < 5:
            # numStyleLink: the numbering style's own numId names the real definition.
            st = self.styles.by_id.get(link)
            if st is not None and st.num_id and st.num_id != num_id:
                return self._abstract_for(st.num_id, depth + 1) or aid
        return aid

    def label(self, num_id: str, ilvl: int | None, style_id: str | None) -> tuple[str, str] | None:
        """Advance the counter of (num_id, ilvl) and return (label, numFmt)."""
        if num_id in ("", "0") or num_id not in self.nums:
            return None
        aid = self._abstract_for(num_id)
        if aid is None or aid not in self.abstract:
            return None
        levels = self.abstract[aid]
        if ilvl is None:
            ilvl = next((k for k, lv in levels.items() if style_id and lv.style == style_id), 0)
        ilvl = max(0, min(8, ilvl))
        level = levels.get(ilvl)
        if level is None:
            return None
        counters = self.counters.setdefault(aid, [None] * 9)
        overrides = self.nums[num_id][1]
        if num_id not in self.started:
            self.started.add(num_id)
            for k, start in overrides.items():
                if 0 <= k < 9:
                    counters[k] = start - 1
        current = counters[ilvl]
        counters[ilvl] = (current + 1) if current is not None else level.start
        for k in range(ilvl + 1, 9):
            counters[k] = None
        if level.fmt == "none":
            return "", "none"
        if level.fmt == "bullet":
            return _bullet(level.text), "bullet"

        def repl(m: re.Match[str]) -> str:
            k = int(m.group(1)) - 1
            lv = levels.get(k, _Level())
            value = counters[k] if 0 <= k < 9 and counters[k] is not None else lv.start
            fmt = "decimal" if level.legal else lv.fmt
            return _format_number(value or 0, fmt)

        return re.sub(r"%([1-9])", repl, level.text).strip(), level.fmt


def _bullet(text: str) -> str:
    if not text or any(0xF000 <= ord(ch) <= 0xF0FF for ch in text) or text in {"o", "§", "Ø"}:
        return "•"
    return text.strip() or "•"


def _roman(n: int) -> str:
    if n <= 0 or n >= 4000:
        return str(n)
    out = []
    for value, sym in (
        (1000, "m"),
        (900, "cm"),
        (500, "d"),
        (400, "cd"),
        (100, "c"),
        (90, "xc"),
        (50, "l"),
        (40, "xl"),
        (10, "x"),
        (9, "ix"),
        (5, "v"),
        (4, "iv"),
        (1, "i"),
    ):
        while n >= value:
            out.append(sym)
            n -= value
    return "".join(out)


def _letters(n: int) -> str:
    if n <= 0:
        return str(n)
    # Word repeats the letter past z: aa, bb, ...
    return chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1)


def _format_number(n: int, fmt: str) -> str:
    if fmt == "lowerLetter":
        return _letters(n)
    if fmt == "upperLetter":
        return _letters(n).upper()
    if fmt == "lowerRoman":
        return _roman(n)
    if fmt == "upperRoman":
        return _roman(n).upper()
    if fmt == "decimalZero":
        return f"{n:02d}"
    return str(n)
