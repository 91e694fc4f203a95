"""Spreadsheet formulas as small expression trees.

Each node renders itself as Excel formula text *and* evaluates itself in Python with
the spreadsheet's semantics (SUM ignores text, blank is 0 in arithmetic, numbers
concatenate in General format). The template writer stores the Python result as
the formula's cached value, so a workbook shows correct results before any
recalculation, and the two cannot drift apart: they come from one tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Mapping

from .spec import split_cell

Value = Any  # None, int, float, str or bool, as a cell holds it
Lookup = Callable[[str, str], Value]  # (sheet, cell) -> value


def general(value: Value) -> str:
    """Text of a value as a spreadsheet's General format shows it in concatenation."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        if float(value).is_integer():
            return str(int(value))
        return f"{value:.15g}"
    return str(value)


def is_number(value: Value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _quote_sheet(sheet: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", sheet):
        return sheet
    return "'" + sheet.replace("'", "''") + "'"


def col_index(col: str) -> int:
    """"D" → 4."""
    n = 0
    for ch in col:
        n = n * 26 + ord(ch) - 64
    return n


def col_letters(index: int) -> str:
    """4 → "D"."""
    letters = ""
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def collapse_ranges(cells: list[str]) -> list[tuple[str, list[str]]]:
    """Cover cells with the fewest rectangles: D5..I27 becomes "D5:I27".

    Runs down each column are found first; equal runs in neighbouring columns are
    then joined. Returns (range text, member cells) pairs.
    """
    by_col: dict[int, set[int]] = {}
    for cell in cells:
        col, row = split_cell(cell)
        by_col.setdefault(col_index(col), set()).add(row)
    runs: list[tuple[int, int, int]] = []  # (column, first row, last row)
    for col in sorted(by_col):
        rows = sorted(by_col[col])
        start = prev = rows[0]
        for row in rows[1:]:
            if row != prev + 1:
                runs.append((col, start, prev))
                start = row
            prev = row
        runs.append((col, start, prev))
    rects: list[list[int]] = []  # [first col, last col, first row, last row]
    for col, r1, r2 in sorted(runs, key=lambda r: (r[1], r[2], r[0])):
        if rects and rects[-1][2:] == [r1, r2] and rects[-1][1] == col - 1:
            rects[-1][1] = col
        else:
            rects.append([col, col, r1, r2])
    out = []
    for c1, c2, r1, r2 in rects:
        first, last = f"{col_letters(c1)}{r1}", f"{col_letters(c2)}{r2}"
        members = [f"{col_letters(c)}{r}" for c in range(c1, c2 + 1) for r in range(r1, r2 + 1)]
        out.append((first if first == last else f"{first}:{last}", members))
    return out


@lru_cache(maxsize=8192)
def _collapse_cached(cells: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    # Rollups reuse the same column ranges in hundreds of formulas.
    return collapse_ranges(list(cells))


class Expr:
    """A formula node."""

    def excel(self, home: str) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def eval(self, get: Lookup) -> Value:  # pragma: no cover - abstract
        raise NotImplementedError

    def formula(self, home: str) -> str:
        """The formula text for a cell on sheet ``home``, with the leading '='."""
        return "=" + self.excel(home)


@dataclass(frozen=True)
class Num(Expr):
    value: float

    def excel(self, home: str) -> str:
        return general(self.value)

    def eval(self, get: Lookup) -> Value:
        return self.value


@dataclass(frozen=True)
class Text(Expr):
    value: str

    def excel(self, home: str) -> str:
        return '"' + self.value.replace('"', '""') + '"'

    def eval(self, get: Lookup) -> Value:
        return self.value


@dataclass(frozen=True)
class Ref(Expr):
    sheet: str
    cell: str

    def excel(self, home: str) -> str:
        return self.cell if self.sheet == home else f"{_quote_sheet(self.sheet)}!{self.cell}"

    def eval(self, get: Lookup) -> Value:
        return get(self.sheet, self.cell)


@dataclass(frozen=True)
class Cells:
    """Several cells of one sheet, rendered as the fewest ranges."""

    sheet: str
    cells: tuple[str, ...]

    def ranges(self) -> list[tuple[str, list[str]]]:
        return _collapse_cached(self.cells)

    def refs(self, home: str) -> list[str]:
        prefix = "" if self.sheet == home else _quote_sheet(self.sheet) + "!"
        return [prefix + text for text, _ in self.ranges()]

    def values(self, get: Lookup) -> list[Value]:
        return [get(self.sheet, c) for c in self.cells]


@dataclass(frozen=True)
class Column:
    """Rows ``first``..``last`` of one column: a range of any length without a tuple of its cells (a
    province rollup's SUMIFS span 10,000 rows in each of 200 columns)."""

    sheet: str
    col: str
    first: int
    last: int

    def refs(self, home: str) -> list[str]:
        prefix = "" if self.sheet == home else _quote_sheet(self.sheet) + "!"
        span = f"{self.col}{self.first}" + (f":{self.col}{self.last}" if self.last != self.first else "")
        return [prefix + span]

    def values(self, get: Lookup) -> list[Value]:
        return [get(self.sheet, f"{self.col}{r}") for r in range(self.first, self.last + 1)]


def _numbers(values: list[Value]) -> list[float]:
    return [v for v in values if is_number(v)]


@dataclass(frozen=True)
class Sum(Expr):
    """SUM over cells: text and blanks are ignored, as in Excel and LibreOffice."""

    cells: Cells

    def excel(self, home: str) -> str:
        return "SUM(" + ",".join(self.cells.refs(home)) + ")"

    def eval(self, get: Lookup) -> Value:
        return sum(_numbers(self.cells.values(get)))


@dataclass(frozen=True)
class SumIfs(Expr):
    """SUMIFS over one column range, counting rows whose criteria columns hold the given texts."""

    target: "Cells | Column"
    criteria: "tuple[tuple[Cells | Column, str], ...]"

    def excel(self, home: str) -> str:
        parts = [self.target.refs(home)[0]]
        for cells, text in self.criteria:
            parts += [cells.refs(home)[0], Text(text).excel(home)]
        return "SUMIFS(" + ",".join(parts) + ")"

    def eval(self, get: Lookup) -> Value:
        columns = [cells.values(get) for cells, _ in self.criteria]
        wanted = [text.casefold() for _, text in self.criteria]
        total = 0
        for i, v in enumerate(self.target.values(get)):
            if is_number(v) and all(isinstance(c[i], str) and c[i].casefold() == w for c, w in zip(columns, wanted)):
                total += v
        return total


@dataclass(frozen=True)
class CountNotNumber(Expr):
    """How many cells are blank or hold text (COUNTBLANK + COUNTA − COUNT)."""

    cells: Cells

    def excel(self, home: str) -> str:
        refs = self.cells.refs(home)
        joined = ",".join(refs)
        blank = "+".join(f"COUNTBLANK({r})" for r in refs)
        return f"({blank}+COUNTA({joined})-COUNT({joined}))"

    def eval(self, get: Lookup) -> Value:
        return sum(1 for v in self.cells.values(get) if not is_number(v))


@dataclass(frozen=True)
class CountNegative(Expr):
    """How many cells hold a negative number."""

    cells: Cells

    def excel(self, home: str) -> str:
        return "(" + "+".join(f'COUNTIF({r},"<0")' for r in self.cells.refs(home)) + ")"

    def eval(self, get: Lookup) -> Value:
        return sum(1 for v in self.cells.values(get) if is_number(v) and v < 0)


@dataclass(frozen=True)
class CountNot(Expr):
    """How many cells do not hold ``text`` (blank cells count), as COUNTIF(range,"<>text")."""

    cells: Cells
    text: str

    def excel(self, home: str) -> str:
        crit = Text("<>" + self.text).excel(home)
        return "+".join(f"COUNTIF({r},{crit})" for r in self.cells.refs(home))

    def eval(self, get: Lookup) -> Value:
        return sum(1 for v in self.cells.values(get) if v != self.text)


@dataclass(frozen=True)
class Arith(Expr):
    op: str  # "+", "-" or "*"
    items: tuple[Expr, ...]

    def excel(self, home: str) -> str:
        return "(" + self.op.join(i.excel(home) for i in self.items) + ")"

    def eval(self, get: Lookup) -> Value:
        vals = []
        for item in self.items:
            v = item.eval(get)
            if v is None:
                v = 0
            if not is_number(v):
                raise ValueError(f"arithmetic on non-number {v!r}")
            vals.append(v)
        total = vals[0]
        for v in vals[1:]:
            total = total + v if self.op == "+" else total - v if self.op == "-" else total * v
        return total


def _round(x: float, n: float) -> float:
    # Excel rounds half away from zero; Python's round() rounds half to even. A blank cell is 0.
    x = 0 if x is None else x
    n = int(n)
    r = int(abs(x) * 10**n + 0.5 + 1e-9) / 10**n
    r = r if x >= 0 else -r
    return int(r) if float(r).is_integer() else r


def _text_of(v: Value) -> str:
    """A value as text functions see it: blank is "", numbers as General shows them."""
    return general(v)


def _find(needle: Value, haystack: Value) -> Value:
    # FIND gives the 1-based position, or the #VALUE! error (None here, which ISNUMBER rejects).
    pos = _text_of(haystack).find(_text_of(needle))
    return pos + 1 if pos >= 0 else None


_FUNCTIONS: dict[str, Callable[..., Value]] = {
    "ABS": lambda v: abs(0 if v is None else v),
    "ROUND": _round,
    "AND": lambda *v: all(v),
    "OR": lambda *v: any(v),
    "NOT": lambda v: not v,
    "ISNUMBER": is_number,
    "LEN": lambda v: len(_text_of(v)),
    "SUBSTITUTE": lambda v, old, new: _text_of(v).replace(_text_of(old), _text_of(new)),
    "CHAR": lambda n: chr(int(n)),
    "FIND": _find,
}


@dataclass(frozen=True)
class Func(Expr):
    """A spreadsheet function call: ROUND, ABS, AND, OR, NOT, ISNUMBER, LEN, SUBSTITUTE, CHAR, FIND."""

    name: str
    args: tuple[Expr, ...]

    def excel(self, home: str) -> str:
        return f"{self.name}(" + ",".join(a.excel(home) for a in self.args) + ")"

    def eval(self, get: Lookup) -> Value:
        return _FUNCTIONS[self.name](*(a.eval(get) for a in self.args))


def _compare(op: str, a: Value, b: Value) -> bool:
    # Spreadsheet ordering: blank acts as 0 or "", numbers sort before text, text ignores case.
    if a is None:
        a = "" if isinstance(b, str) else 0
    if b is None:
        b = "" if isinstance(a, str) else 0
    if isinstance(a, str) and isinstance(b, str):
        a, b = a.casefold(), b.casefold()
    elif isinstance(a, str) != isinstance(b, str):
        rank_a, rank_b = isinstance(a, str), isinstance(b, str)
        a, b = rank_a, rank_b
    return {"=": a == b, "<>": a != b, ">=": a >= b, "<=": a <= b, ">": a > b, "<": a < b}[op]


@dataclass(frozen=True)
class Cmp(Expr):
    op: str
    a: Expr
    b: Expr

    def excel(self, home: str) -> str:
        return f"{self.a.excel(home)}{self.op}{self.b.excel(home)}"

    def eval(self, get: Lookup) -> Value:
        return _compare(self.op, self.a.eval(get), self.b.eval(get))


@dataclass(frozen=True)
class If(Expr):
    cond: Expr
    then: Expr
    other: Expr

    def excel(self, home: str) -> str:
        return f"IF({self.cond.excel(home)},{self.then.excel(home)},{self.other.excel(home)})"

    def eval(self, get: Lookup) -> Value:
        return self.then.eval(get) if self.cond.eval(get) else self.other.eval(get)


@dataclass(frozen=True)
class Concat(Expr):
    parts: tuple[Expr, ...]

    def excel(self, home: str) -> str:
        return "&".join(p.excel(home) for p in self.parts)

    def eval(self, get: Lookup) -> Value:
        return "".join(general(p.eval(get)) for p in self.parts)


_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def message(template: str, static: Mapping[str, Any], dynamic: Mapping[str, Expr]) -> Expr:
    """A message template as a formula: static placeholders filled now, dynamic ones as cell expressions."""
    parts: list[Expr] = []
    pos = 0
    text = ""
    for m in _PLACEHOLDER.finditer(template):
        text += template[pos : m.start()]
        name = m.group(1)
        if name in dynamic:
            if text:
                parts.append(Text(text))
            text = ""
            parts.append(dynamic[name])
        elif name in static:
            text += general(static[name])
        else:
            raise KeyError(f"message placeholder {{{name}}} has no value")
        pos = m.end()
    text += template[pos:]
    if text:
        parts.append(Text(text))
    if len(parts) == 1 and isinstance(parts[0], Text):
        return parts[0]
    return Concat(tuple(parts))
