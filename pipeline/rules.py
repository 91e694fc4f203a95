"""The rules of a format, each kind written once.

A rule in the spec names its ``kind``; the kind is one class here that

- **evaluates** an instance on a workbook's figures (:meth:`Kind.check`), giving one outcome
  per location — ``pass``, ``fail``, ``missing`` (an input it needs is blank) or
  ``not_applicable`` — and a :class:`~pipeline.findings.Finding` for each failure, its code,
  severity, message template and tolerance taken from the spec;
- renders the instance's **live check** in the template (:meth:`Kind.live`): a formula tree
  whose cached value the template stores, so the workbook shows the verdict before anyone
  recalculates;
- tells the **filler** how to make consistent data (:meth:`Kind.fill`).

Adding a rule of an existing kind is one YAML entry; a new kind is one class. Nothing here
names a cell or a label: they all come from the spec.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any, Callable, ClassVar, Iterable

from .findings import Finding
from .spec import Figure, Rule, RuleInstance, Spec, input_parts
from .xlexpr import (
    Arith,
    Cells,
    Concat,
    Cmp,
    CountNegative,
    CountNot,
    CountNotNumber,
    Expr,
    Func,
    If,
    Num,
    Ref,
    Sum,
    Text,
    general,
    message,
)

LEVELS = ("county", "city", "province")


# -- what a rule is evaluated on ------------------------------------------------------------

@dataclass
class Previous:
    """Last year's report of the same office (or unit): its figures and its prose."""

    values: dict[str, float]
    prose: dict[str, str] = field(default_factory=dict)
    year: int | None = None


@dataclass
class Context:
    """A workbook as the rules see it."""

    spec: Spec
    values: dict[str, float]  # every figure; inputs that are not numbers count 0, as the workbook's SUMs do
    raw: dict[str, Any]  # figure id → the cell's stored value
    state: dict[str, str]  # input figure id → "number" / "blank" / "text-number" / "invalid"
    office: dict[str, Any] = field(default_factory=dict)
    year: int | None = None
    level: str = "county"
    prose: dict[str, str] = field(default_factory=dict)
    formulas: dict[str, str | None] = field(default_factory=dict)  # computed figure → its formula (None: constant)
    locations: dict[str, tuple[str, str]] = field(default_factory=dict)  # figure → (sheet, cell) in this workbook
    office_cells: dict[str, tuple[str, str]] = field(default_factory=dict)  # office field → (sheet, cell)
    prose_cells: dict[str, tuple[str, str]] = field(default_factory=dict)  # section → (sheet, cell)
    previous: Previous | None = None
    peers: Any = None  # a pipeline.similarity.PeerIndex of the other offices' texts
    peer_key: str | None = None  # this office in that index

    def where(self, fid: str | None) -> tuple[str | None, str | None]:
        return self.locations.get(fid, (None, None)) if fid else (None, None)

    def known(self, fids: Iterable[str]) -> bool:
        """Whether every input behind these figures holds a number (else the rule's outcome is ``missing``)."""
        return all(self.state.get(p, "number") == "number" for f in fids for p in input_parts(self.spec, f))


@dataclass(frozen=True)
class Outcome:
    """One evaluation of a rule at one location."""

    rule: str
    key: str | None
    status: str  # pass / fail / missing / not_applicable
    figure: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "key": self.key, "outcome": self.status, "figure": self.figure}


def n(x: Any) -> str:
    """A number as messages print it: 3, not 3.0; 26.55."""
    if isinstance(x, float) and not x.is_integer():
        return f"{round(x, 6):g}"
    return general(x if not isinstance(x, float) else int(x))


def _finding(inst: RuleInstance, ctx: Context, fid: str | None, text: str, expected: Any = None, actual: Any = None,
             *, where: tuple[str | None, str | None] | None = None, code: str | None = None,
             expected_label: str | None = None, actual_label: str | None = None) -> Finding:
    rule = inst.rule
    sheet, cell = where if where is not None else ctx.where(fid)
    return Finding(code or rule.code, rule.severity, text, sheet, cell, fid, rule.id, expected, actual,
                   expected_label, actual_label)


def _fill(template: str, **values: Any) -> str:
    """A message template filled in (numbers printed as :func:`n` prints them)."""
    return template.format(**{k: n(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else (v or "")
                              for k, v in values.items()})


def sum_of(figures: list[Figure]) -> Expr:
    """SUM over the figures' cells, one SUM per sheet."""
    parts: list[Expr] = []
    for sheet, group in groupby(figures, key=lambda f: f.sheet):
        parts.append(Sum(Cells(sheet, tuple(f.cell for f in group))))
    return parts[0] if len(parts) == 1 else Arith("+", tuple(parts))


def computed_formula(spec: Spec, figure: Figure) -> Expr:
    """The formula of a computed figure (a total): the sum of its parts."""
    return sum_of([spec.figure(fid) for fid in figure.sum])


def office_ref(spec: Spec, field_id: str) -> Ref:
    return Ref(spec.office.sheet, spec.office_field(field_id).cell)


def _ok(spec: Spec) -> Text:
    return Text(spec.ok_text)


def _warn(rule: Rule, text: Expr) -> Expr:
    """A live check's failure text; a warning reads as a 提醒, an error as it is."""
    prefix = rule.messages.get("live_prefix", "提醒：" if rule.severity != "error" else "")
    return message(prefix + "{t}", {}, {"t": text}) if prefix else text


# -- the kinds ------------------------------------------------------------------------------

class Kind:
    """How one kind of rule is evaluated, shown live in the template and satisfied by fillings."""

    name: ClassVar[str]
    live_capable: ClassVar[bool] = False

    def parse(self, spec: Spec, params: dict[str, Any]) -> Any:
        return params

    def figures(self, params: Any) -> Iterable[str]:
        return ()

    def check(self, inst: RuleInstance, ctx: Context) -> list[tuple[Outcome, Finding | None]]:
        raise NotImplementedError  # pragma: no cover

    def check_all(self, rule: Rule, ctx: Context) -> list[tuple[Outcome, Finding | None]]:
        return [r for inst in rule.instances for r in self.check(inst, ctx)]

    def live(self, spec: Spec, inst: RuleInstance, level: str) -> Expr | None:
        return None

    def fill(self, spec: Spec, inst: RuleInstance, values: dict[str, Any], office_kind: str | None, level: str) -> None:
        """Change ``values`` (inputs) so that this instance holds."""

    def _out(self, inst: RuleInstance, status: str, fid: str | None = None) -> Outcome:
        return Outcome(inst.rule.id, inst.key, status, fid)


@dataclass(frozen=True)
class Term:
    figure: str
    sign: int = 1


def _terms(items: list[str]) -> tuple[Term, ...]:
    out = []
    for item in items or ():
        item = str(item).strip()
        sign = -1 if item.startswith("-") else 1
        out.append(Term(item.lstrip("+-").strip(), sign))
    return tuple(out)


def _value(terms: tuple[Term, ...], values: dict[str, float]) -> float:
    return sum(t.sign * values[t.figure] for t in terms)


def _terms_text(terms: tuple[Term, ...], names: tuple[str, ...], values: dict[str, float]) -> str:
    """"第一项 3 + 第二项 0": each term's name and value."""
    parts = []
    for i, t in enumerate(terms):
        name = names[i] if i < len(names) else ""
        text = f"{name} {n(values[t.figure])}".strip()
        parts.append(("- " if t.sign < 0 else ("+ " if i else "")) + text)
    return " ".join(parts) if parts else "0"


def _terms_expr(spec: Spec, terms: tuple[Term, ...]) -> Expr:
    plus = [spec.figure(t.figure) for t in terms if t.sign > 0]
    minus = [spec.figure(t.figure) for t in terms if t.sign < 0]
    expr: Expr = sum_of(plus) if plus else Num(0)
    return Arith("-", (expr, sum_of(minus))) if minus else expr


def _first_input(spec: Spec, terms: Iterable[Term]) -> str | None:
    """The cell a finding links to: the first term that is an input, else the first input behind a term
    (never a locked total)."""
    terms = list(terms)
    for t in terms:
        if spec.figure(t.figure).kind == "input":
            return t.figure
    for t in terms:
        parts = input_parts(spec, t.figure)
        if parts:
            return parts[0]
    return None


_OPS = {"==": ("=", lambda a, b, tol: abs(a - b) <= tol), ">=": (">=", lambda a, b, tol: a >= b - tol),
        "<=": ("<=", lambda a, b, tol: a <= b + tol)}


@dataclass(frozen=True)
class CompareParams:
    left: tuple[Term, ...]
    right: tuple[Term, ...]
    op: str
    left_names: tuple[str, ...]
    right_names: tuple[str, ...]
    adjust_left: str | None  # the input the filler changes when the left side is short
    adjust_right: str | None


class _Equation(Kind):
    """Kinds over sums of terms: an instance over totals only (F1's 总计 column) fails exactly when another
    instance does, so its finding is left out then: one message, not the same one twice at a locked total."""

    def derived(self, spec: Spec, inst: RuleInstance) -> bool:
        return all(spec.figure(t.figure).kind == "computed" for t in inst.params.left + inst.params.right)

    def check_all(self, rule, ctx):
        results = super().check_all(rule, ctx)
        derived = {i.key for i in rule.instances if self.derived(ctx.spec, i)}
        if any(o.status == "fail" and o.key not in derived for o, _ in results):
            results = [(o, None if o.key in derived else f) for o, f in results]
        return results


class Compare(_Equation):
    """left op right, over sums of figures (F1, D9, D10, FEE3): the equation and each term in the message."""

    name = "compare"
    live_capable = True

    def parse(self, spec, p):
        if p["op"] not in _OPS:
            raise ValueError(f"op 只能是 {'、'.join(_OPS)}")
        adjust = p.get("adjust") or {}
        return CompareParams(_terms(p.get("left")), _terms(p.get("right")), p["op"], tuple(p.get("left_names") or ()),
                             tuple(p.get("right_names") or ()), adjust.get("left"), adjust.get("right"))

    def figures(self, p):
        return [t.figure for t in p.left + p.right] + [f for f in (p.adjust_left, p.adjust_right) if f]

    def check(self, inst, ctx):
        p, rule = inst.params, inst.rule
        where = _first_input(ctx.spec, p.left + p.right)
        if not ctx.known(t.figure for t in p.left + p.right):
            return [(self._out(inst, "missing", where), None)]
        left, right = _value(p.left, ctx.values), _value(p.right, ctx.values)
        if _OPS[p.op][1](left, right, rule.tolerance):
            return [(self._out(inst, "pass", where), None)]
        text = _fill(rule.message, label=inst.label, diff=round(abs(left - right), 6), left=left, right=right,
                     left_terms=_terms_text(p.left, p.left_names, ctx.values),
                     right_terms=_terms_text(p.right, p.right_names, ctx.values))
        finding = _finding(inst, ctx, where, text, right, left, expected_label="+".join(p.right_names) or None,
                           actual_label="+".join(p.left_names) or None)
        return [(self._out(inst, "fail", where), finding)]

    def live(self, spec, inst, level):
        p, rule = inst.params, inst.rule
        delta = Arith("-", (_terms_expr(spec, p.left), _terms_expr(spec, p.right) if p.right else Num(0)))
        diff = Func("ROUND", (Func("ABS", (delta,)), Num(4)))
        fail = message(rule.messages.get("live", rule.message), {"label": inst.label or ""}, {"diff": diff})
        return If(Cmp(_OPS[p.op][0], Func("ROUND", (delta, Num(6))), Num(0)), _ok(spec), _warn(rule, fail))

    def fill(self, spec, inst, values, office_kind, level):
        p = inst.params
        totals = _recompute(spec, values)
        diff = _value(p.left, totals) - _value(p.right, totals)
        short = None
        if diff < -inst.rule.tolerance and p.op in ("==", ">="):
            short, target = p.left, p.adjust_left
        elif diff > inst.rule.tolerance and p.op in ("==", "<="):
            short, target = p.right, p.adjust_right
        if short is None:
            return
        positive = [t for t in short if t.sign > 0]
        if target is None:
            parts = [x for t in positive for x in input_parts(spec, t.figure)]
            if not parts:
                return
            target = parts[-1] if short is p.right else parts[0]
        amount = abs(diff)
        if spec.types[spec.figure(target).type].number == "decimal":
            values[target] = round((values.get(target) or 0) + amount, 2)
        else:
            values[target] = (values.get(target) or 0) + int(round(amount + 0.4999999))


class Total(Kind):
    """A total (D1, D2, D4): a locked formula in the template; a typed-over constant must equal its parts."""

    name = "sum"

    def check(self, inst, ctx):
        spec, rule = ctx.spec, inst.rule
        out = []
        for f in spec.computed():
            if f.rule != rule.id or f.id not in ctx.locations:
                continue
            if ctx.formulas.get(f.id):
                out.append((Outcome(rule.id, f.id, "pass", f.id), None))
                continue
            kind, actual = parse_number(ctx.raw.get(f.id))
            expected = ctx.values[f.id]
            if actual is None or abs(actual - expected) <= rule.tolerance:
                out.append((Outcome(rule.id, f.id, "pass" if actual is not None else "missing", f.id), None))
                continue
            parts = " + ".join(f"{_part_name(spec.figure(p))} {n(ctx.values[p])}" for p in f.sum)
            text = _fill(rule.message, row=f.row, column=f.column, block=f.block, expected=expected, actual=actual,
                         diff=abs(actual - expected), parts=parts)
            finding = _finding(inst, ctx, f.id, text, expected, actual, expected_label="各项之和", actual_label="填写的总计")
            out.append((Outcome(rule.id, f.id, "fail", f.id), finding))
        return out


def _part_name(f: Figure) -> str:
    """A part of a total named by what distinguishes it (the column of a row total, the row of a column total)."""
    return f.column or f.row or f.block or f.id


# -- values (D5) -----------------------------------------------------------------------------

_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_GROUPED_RE = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


def parse_number(raw: Any) -> tuple[str, float | None]:
    """Classify a cell value: ("number"|"text-number"|"blank"|"not-number", number or None).

    Clerks type " 5", "５", "1,234" or paste numbers stored as text: those are recognised (so
    the message can say which number it looks like), but only a real number counts.
    "/", "—", "无" and blank are not 0.
    """
    import math

    from .xlexpr import is_number

    if raw is None:
        return "blank", None
    if isinstance(raw, bool):
        return "not-number", None
    if is_number(raw):
        return ("number", raw) if math.isfinite(raw) else ("not-number", None)
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    if not text:
        return "blank", None
    if _GROUPED_RE.match(text):
        text = text.replace(",", "")
    if _NUMBER_RE.match(text):
        value = float(text)
        if math.isfinite(value):
            return "text-number", int(value) if value.is_integer() else value
    return "not-number", None


@dataclass(frozen=True)
class DomainParams:
    table: str


class Domain(Kind):
    """Every input of a table holds a number of its type (D5): never blank, "/", text, negative or a fraction
    where a count is due. A number stored as text is an error: the workbook's own formulas count it as 0."""

    name = "domain"
    live_capable = True

    def parse(self, spec, p):
        return DomainParams(p.get("table") or "")

    def check_all(self, rule, ctx):
        # One instance per table: the instance key names the table.
        out = []
        for inst in rule.instances:
            for f in ctx.spec.inputs():
                if f.table_id == inst.key and f.id in ctx.locations:
                    out.append(self.one(inst, ctx, f))
        return out

    def one(self, inst: RuleInstance, ctx: Context, f: Figure) -> tuple[Outcome, Finding | None]:
        rule, spec = inst.rule, ctx.spec
        raw = ctx.raw.get(f.id)
        kind, value = parse_number(raw)
        t = spec.types[f.type]
        problem = None
        if kind == "blank":
            problem = "blank"
        elif kind == "not-number":
            problem = "not_number"
        elif kind == "text-number":
            problem = "text_number"
        elif t.max is not None and abs(value) > t.max:
            problem = "too_large"
        elif t.min is not None and value < t.min:
            problem = "negative"
        elif t.number == "integer" and not float(value).is_integer():
            problem = "not_integer"
        if problem is None:
            return Outcome(rule.id, f.id, "pass", f.id), None
        text = _fill(rule.messages[problem], label=f.label, actual=raw if kind != "number" else value,
                     expected=value if kind == "text-number" else t.max)
        finding = _finding(inst, ctx, f.id, text, value if kind == "text-number" else None, raw,
                           code="value-" + problem.replace("_", "-"))
        return Outcome(rule.id, f.id, "missing" if problem == "blank" else "fail", f.id), finding

    def live(self, spec, inst, level):
        inputs = [f for f in spec.inputs() if f.table_id == inst.key]
        sheet = inputs[0].sheet
        count: Expr = CountNotNumber(Cells(sheet, tuple(f.cell for f in inputs)))
        nonneg = [f.cell for f in inputs if spec.types[f.type].min is not None]
        if nonneg:
            count = Arith("+", (count, CountNegative(Cells(sheet, tuple(nonneg)))))
        return If(Cmp("=", count, Num(0)), _ok(spec), _warn(inst.rule, message(inst.rule.messages.get("live", inst.rule.message),
                                                                               {}, {"n": count})))


# -- office fields -----------------------------------------------------------------------------

@dataclass(frozen=True)
class FormatYearParams:
    field: str


class FormatYear(Kind):
    """The report year fits the format (D7)."""

    name = "format_year"
    live_capable = True

    def parse(self, spec, p):
        return FormatYearParams(p["field"])

    def check(self, inst, ctx):
        spec, rule = ctx.spec, inst.rule
        year = ctx.year
        where = ctx.office_cells.get(inst.params.field, (None, None))
        if year is None:
            return [(self._out(inst, "missing"), None)]
        if spec.applies_to_year(year):
            return [(self._out(inst, "pass"), None)]
        text = _fill(rule.message, actual=year, years=spec.years_text())
        return [(self._out(inst, "fail"), _finding(inst, ctx, None, text, spec.years_text(), year, where=where))]

    def live(self, spec, inst, level):
        year = office_ref(spec, inst.params.field)
        start, end = spec.years
        conds: list[Expr] = [Cmp(">=", year, Num(start))]
        if end is not None:
            conds.append(Cmp("<=", year, Num(end)))
        wrong = message(inst.rule.messages.get("live", inst.rule.message), {"years": spec.years_text()}, {"actual": year})
        return If(Func("NOT", (Func("ISNUMBER", (year,)),)), Text(inst.rule.messages["missing"]),
                  If(Func("AND", tuple(conds)), _ok(spec), _warn(inst.rule, wrong)))


@dataclass(frozen=True)
class ZeroParams:
    figures: tuple[str, ...]
    field: str
    when: tuple[str, ...]  # office kinds for which the figures must be 0
    levels: tuple[str, ...]  # levels at which they must be 0 for every office …
    except_kinds: tuple[str, ...]  # … but these kinds


class ZeroWhen(Kind):
    """Figures an office of this kind, or at this level, cannot have (D8: 规章 below the 设区的市)."""

    name = "zero_when"
    live_capable = True

    def parse(self, spec, p):
        levels = tuple(p.get("levels") or ())
        for lv in levels:
            if lv not in LEVELS:
                raise ValueError(f"层级只能是 {'、'.join(LEVELS)}")
        return ZeroParams(tuple(p["figures"]), p.get("field", "kind"), tuple(p.get("when") or ()), levels,
                          tuple(p.get("except_kinds") or ()))

    def figures(self, p):
        return p.figures

    def applies(self, p: ZeroParams, kind: Any, level: str) -> bool:
        return kind in p.when or (level in p.levels and kind not in p.except_kinds)

    def check(self, inst, ctx):
        p, rule = inst.params, inst.rule
        kind = ctx.office.get(p.field)
        where = input_parts(ctx.spec, p.figures[0])[0]
        if not self.applies(p, kind, ctx.level):
            return [(self._out(inst, "not_applicable", where), None)]
        if not ctx.known(p.figures):
            return [(self._out(inst, "missing", where), None)]
        total = sum(ctx.values[f] for f in p.figures)
        if total == 0:
            return [(self._out(inst, "pass", where), None)]
        first = next(f for f in p.figures if ctx.values[f] != 0)
        text = _fill(rule.message, kind=kind or "本单位", actual=total, level=_LEVEL_NAMES.get(ctx.level, ""))
        return [(self._out(inst, "fail", first), _finding(inst, ctx, first, text, 0, total))]

    def live(self, spec, inst, level):
        p = inst.params
        kind = office_ref(spec, p.field)
        conds: list[Expr] = [Cmp("=", kind, Text(k)) for k in p.when]
        if level in p.levels:
            conds.append(Func("AND", tuple(Cmp("<>", kind, Text(k)) for k in p.except_kinds)) if p.except_kinds
                         else Cmp("=", Num(1), Num(1)))
        if not conds:
            return None
        total = sum_of([spec.figure(f) for f in p.figures])
        fail = message(inst.rule.messages.get("live", inst.rule.message),
                       {"level": _LEVEL_NAMES.get(level, "")}, {"kind": kind, "actual": total})
        applies = conds[0] if len(conds) == 1 else Func("OR", tuple(conds))
        return If(Func("AND", (applies, Cmp("<>", total, Num(0)))), _warn(inst.rule, fail), _ok(spec))

    def fill(self, spec, inst, values, office_kind, level):
        if self.applies(inst.params, office_kind, level):
            for f in inst.params.figures:
                for part in input_parts(spec, f):
                    values[part] = 0


_LEVEL_NAMES = {"county": "县级", "city": "设区的市级", "province": "省级"}


@dataclass(frozen=True)
class ImpliesParams:
    if_nonzero: tuple[str, ...]
    then_nonzero: tuple[str, ...]


class Implies(Kind):
    """If these figures are not 0, those must not be either (FEE1: unpaid fees imply fee notices)."""

    name = "implies"
    live_capable = True

    def parse(self, spec, p):
        return ImpliesParams(tuple(p["if_nonzero"]), tuple(p["then_nonzero"]))

    def figures(self, p):
        return p.if_nonzero + p.then_nonzero

    def check(self, inst, ctx):
        p, rule = inst.params, inst.rule
        where = input_parts(ctx.spec, p.then_nonzero[0])[0]
        if not ctx.known(p.if_nonzero + p.then_nonzero):
            return [(self._out(inst, "missing", where), None)]
        cause = sum(ctx.values[f] for f in p.if_nonzero)
        effect = sum(ctx.values[f] for f in p.then_nonzero)
        if cause == 0:
            return [(self._out(inst, "not_applicable", where), None)]
        if effect != 0:
            return [(self._out(inst, "pass", where), None)]
        return [(self._out(inst, "fail", where), _finding(inst, ctx, where, _fill(rule.message, actual=cause), None, cause))]

    def live(self, spec, inst, level):
        p = inst.params
        cause = sum_of([spec.figure(f) for f in p.if_nonzero])
        effect = sum_of([spec.figure(f) for f in p.then_nonzero])
        fail = message(inst.rule.messages.get("live", inst.rule.message), {}, {"actual": cause})
        return If(Func("AND", (Cmp("<>", cause, Num(0)), Cmp("=", effect, Num(0)))), _warn(inst.rule, fail), _ok(spec))

    def fill(self, spec, inst, values, office_kind, level):
        totals = _recompute(spec, values)
        p = inst.params
        if sum(totals[f] for f in p.if_nonzero) and not sum(totals[f] for f in p.then_nonzero):
            values[input_parts(spec, p.then_nonzero[0])[0]] = 1


@dataclass(frozen=True)
class UnitParams:
    a: str
    b: str
    factor: float


class UnitConfusion(Kind):
    """Two figures of different units that are equal, or exactly a factor apart (FEE2: 万元 against 元)."""

    name = "unit_confusion"
    live_capable = True

    def parse(self, spec, p):
        a, b = p["figures"]
        return UnitParams(a, b, float(p["factor"]))

    def figures(self, p):
        return (p.a, p.b)

    def _hit(self, p: UnitParams, a: float, b: float) -> bool:
        return a > 0 and b > 0 and (abs(a - b) < 0.005 or abs(a * p.factor - b) < 0.5)

    def check(self, inst, ctx):
        p, rule = inst.params, inst.rule
        if not ctx.known((p.a, p.b)):
            return [(self._out(inst, "missing", p.a), None)]
        a, b = ctx.values[p.a], ctx.values[p.b]
        if not self._hit(p, a, b):
            return [(self._out(inst, "pass", p.a), None)]
        return [(self._out(inst, "fail", p.a), _finding(inst, ctx, p.a, _fill(rule.message, a=a, b=b), None, a))]

    def live(self, spec, inst, level):
        p = inst.params
        a, b = Ref(spec.figure(p.a).sheet, spec.figure(p.a).cell), Ref(spec.figure(p.b).sheet, spec.figure(p.b).cell)
        near = lambda x, y, tol: Cmp("<", Func("ABS", (Arith("-", (x, y)),)), Num(tol))  # noqa: E731
        hit = Func("AND", (Cmp(">", a, Num(0)), Cmp(">", b, Num(0)),
                           Func("OR", (near(a, b, 0.005), near(Arith("*", (a, Num(p.factor))), b, 0.5)))))
        fail = message(inst.rule.messages.get("live", inst.rule.message), {}, {"a": a, "b": b})
        numbers = Func("AND", (Func("ISNUMBER", (a,)), Func("ISNUMBER", (b,))))
        return If(numbers, If(hit, _warn(inst.rule, fail), _ok(spec)), _ok(spec))

    def fill(self, spec, inst, values, office_kind, level):
        p = inst.params
        totals = _recompute(spec, values)
        if self._hit(p, totals[p.a], totals[p.b]):
            values[p.b] = (values.get(p.b) or 0) + 1


@dataclass(frozen=True)
class MagnitudeParams:
    figure: str
    field: str
    limits: dict[str, float]  # office kind → the largest plausible value ("*" for any other kind)
    max_decimals: int | None


class Magnitude(Kind):
    """A figure implausibly large for the office kind, or with more decimals than its unit has (P1: 元 typed as 万元)."""

    name = "magnitude"
    live_capable = True

    def parse(self, spec, p):
        return MagnitudeParams(p["figure"], p.get("field", "kind"), {str(k): float(v) for k, v in p["limits"].items()},
                               p.get("max_decimals"))

    def figures(self, p):
        return (p.figure,)

    def limit(self, p: MagnitudeParams, kind: Any) -> float:
        return p.limits.get(str(kind), p.limits["*"])

    def check(self, inst, ctx):
        p, rule = inst.params, inst.rule
        if not ctx.known((p.figure,)):
            return [(self._out(inst, "missing", p.figure), None)]
        value = ctx.values[p.figure]
        limit = self.limit(p, ctx.office.get(p.field))
        decimals = p.max_decimals is not None and round(value, p.max_decimals) != value
        if value <= limit and not decimals:
            return [(self._out(inst, "pass", p.figure), None)]
        text = _fill(rule.message, actual=value, limit=limit, kind=ctx.office.get(p.field) or "本单位")
        return [(self._out(inst, "fail", p.figure), _finding(inst, ctx, p.figure, text, limit, value))]

    def live(self, spec, inst, level):
        p = inst.params
        f = spec.figure(p.figure)
        x = Ref(f.sheet, f.cell)
        kind = office_ref(spec, p.field)
        limit: Expr = Num(p.limits["*"])
        for k, v in p.limits.items():
            if k != "*":
                limit = If(Cmp("=", kind, Text(k)), Num(v), limit)
        conds: list[Expr] = [Cmp(">", x, limit)]
        if p.max_decimals is not None:
            conds.append(Cmp("<>", Func("ROUND", (x, Num(p.max_decimals))), x))
        fail = message(inst.rule.messages.get("live", inst.rule.message), {}, {"actual": x})
        # Nested, not AND(ISNUMBER(x), …): spreadsheets evaluate every argument of AND, and ROUND("/") is an error.
        return If(Func("ISNUMBER", (x,)), If(Func("OR", tuple(conds)), _warn(inst.rule, fail), _ok(spec)), _ok(spec))

    def fill(self, spec, inst, values, office_kind, level):
        p = inst.params
        v = values.get(p.figure)
        if isinstance(v, (int, float)):
            v = min(v, self.limit(p, office_kind))
            values[p.figure] = round(v, p.max_decimals) if p.max_decimals is not None else v


@dataclass(frozen=True)
class ShareParams:
    part: tuple[str, ...]
    whole: tuple[str, ...]
    max_share: float
    min_part: float


class Share(Kind):
    """A part too large a share of its whole (P2: 结转下年度 against 本年新收 + 上年结转)."""

    name = "share"
    live_capable = True

    def parse(self, spec, p):
        return ShareParams(tuple(p["part"]), tuple(p["whole"]), float(p["max_share"]), float(p.get("min_part", 1)))

    def figures(self, p):
        return p.part + p.whole

    def check(self, inst, ctx):
        p, rule = inst.params, inst.rule
        where = input_parts(ctx.spec, p.part[0])[0]
        if not ctx.known(p.part + p.whole):
            return [(self._out(inst, "missing", where), None)]
        part = sum(ctx.values[f] for f in p.part)
        whole = sum(ctx.values[f] for f in p.whole)
        if part < p.min_part or part <= p.max_share * whole + 1e-9:
            return [(self._out(inst, "pass", where), None)]
        share = f"{part / whole * 100:.1f}%" if whole else "—"
        text = _fill(rule.message, part=part, whole=whole, share=share, max=f"{p.max_share * 100:g}%")
        return [(self._out(inst, "fail", where), _finding(inst, ctx, where, text, p.max_share, part / whole if whole else None))]

    def live(self, spec, inst, level):
        p = inst.params
        part = sum_of([spec.figure(f) for f in p.part])
        whole = sum_of([spec.figure(f) for f in p.whole])
        bad = Func("AND", (Cmp(">=", part, Num(p.min_part)),
                           Cmp(">", part, Func("ROUND", (Arith("*", (whole, Num(p.max_share))), Num(9))))))
        fail = message(inst.rule.messages["live"], {"max": f"{p.max_share * 100:g}%"}, {"part": part, "whole": whole})
        return If(bad, _warn(inst.rule, fail), _ok(spec))

    def fill(self, spec, inst, values, office_kind, level):
        p = inst.params
        totals = _recompute(spec, values)
        allowed = int(p.max_share * sum(totals[f] for f in p.whole))
        for f in p.part:
            for part in reversed(input_parts(spec, f)):
                total = sum(_recompute(spec, values)[x] for x in p.part)
                if total <= max(allowed, p.min_part - 1):
                    return
                values[part] = max(0, (values.get(part) or 0) - (total - max(allowed, p.min_part - 1)))


# -- across years ------------------------------------------------------------------------------

@dataclass(frozen=True)
class PreviousParams:
    left: tuple[Term, ...]  # this year's figures
    right: tuple[Term, ...]  # last year's figures
    op: str
    left_names: tuple[str, ...]
    right_names: tuple[str, ...]


class PreviousYear(_Equation):
    """This year's figures against last year's report (D3: 上年结转 = last year's 结转下年度; X1: 现行有效 carried on)."""

    name = "previous"

    def parse(self, spec, p):
        return PreviousParams(_terms(p.get("left")), _terms(p.get("right")), p.get("op", "=="),
                              tuple(p.get("left_names") or ()), tuple(p.get("right_names") or ()))

    def figures(self, p):
        return [t.figure for t in p.left + p.right]

    def check(self, inst, ctx):
        p, rule = inst.params, inst.rule
        where = _first_input(ctx.spec, p.left)
        prev = ctx.previous
        if prev is None or not all(t.figure in prev.values for t in p.right):
            return [(self._out(inst, "not_applicable", where), None)]
        if not ctx.known(t.figure for t in p.left):
            return [(self._out(inst, "missing", where), None)]
        this, last = _value(p.left, ctx.values), _value(p.right, prev.values)
        if _OPS[p.op][1](this, last, rule.tolerance):
            return [(self._out(inst, "pass", where), None)]
        text = _fill(rule.message, label=inst.label, left=this, right=last, diff=abs(this - last),
                     left_terms=_terms_text(p.left, p.left_names, ctx.values),
                     right_terms=_terms_text(p.right, p.right_names, prev.values),
                     previous_year=prev.year or "上")
        finding = _finding(inst, ctx, where, text, last, this, expected_label="上年度：" + ("+".join(p.right_names) or ""),
                           actual_label="本年度：" + ("+".join(p.left_names) or ""))
        return [(self._out(inst, "fail", where), finding)]


@dataclass(frozen=True)
class UnchangedParams:
    tables: tuple[str, ...]


class Unchanged(Kind):
    """Every table figure equal to last year's, and not all zero (X2: last year's data carried over)."""

    name = "unchanged"

    def parse(self, spec, p):
        return UnchangedParams(tuple(p["tables"]))

    def check(self, inst, ctx):
        rule = inst.rule
        prev = ctx.previous
        figs = [f.id for f in ctx.spec.inputs() if f.table_id in inst.params.tables]
        if prev is None or not all(f in prev.values for f in figs):
            return [(self._out(inst, "not_applicable"), None)]
        same = all(abs(ctx.values[f] - prev.values[f]) <= rule.tolerance for f in figs)
        if not same or not any(ctx.values[f] for f in figs):
            return [(self._out(inst, "pass"), None)]
        text = _fill(rule.message, previous_year=prev.year or "上")
        return [(self._out(inst, "fail"), _finding(inst, ctx, None, text))]


# -- prose -------------------------------------------------------------------------------------

_SENTENCE = re.compile(r"[^。．；;！!？?\n]+")


@dataclass(frozen=True)
class ProsePattern:
    regex: re.Pattern
    kind: str  # count / percent / none
    groups: tuple[tuple[tuple[str, ...], ...], ...]  # per capture group: the sums of figures it may equal
    requires: str | None
    excludes: str | None
    denominator: tuple[str, ...]


@dataclass(frozen=True)
class ProseParams:
    section: str
    patterns: tuple[ProsePattern, ...]


def _alternatives(value: Any) -> tuple[tuple[str, ...], ...]:
    """[[a], [a, b]] (alternative sums) or [a, b] (one sum) as a tuple of sums."""
    if value and isinstance(value[0], list):
        return tuple(tuple(alt) for alt in value)
    return (tuple(value),) if value else ()


class ProseAgainstTables(Kind):
    """Numbers and statements in the office's text against its tables (D6 and its family)."""

    name = "prose"

    def parse(self, spec, p):
        patterns = []
        for pat in p["patterns"]:
            kind = pat.get("kind", "count")
            if "groups" in pat:
                groups = tuple(_alternatives(g) for g in pat["groups"])
            else:
                groups = (_alternatives(pat.get("figures", [])),)
            patterns.append(ProsePattern(re.compile(pat["regex"]), kind, groups, pat.get("requires"),
                                         pat.get("excludes"), tuple(pat.get("denominator") or ())))
        return ProseParams(p["section"], tuple(patterns))

    def figures(self, p):
        return [f for pat in p.patterns for g in pat.groups for alt in g for f in alt] + [
            f for pat in p.patterns for f in pat.denominator]

    def findings_in(self, rule: Rule, inst: RuleInstance, text: str, values: dict[str, float], ctx: Context | None,
                    spec: Spec) -> list[Finding]:
        """What in ``text`` disagrees with ``values`` (also run on a generated report's sentences)."""
        out = []
        sentences = [(s, unicodedata.normalize("NFKC", s)) for s in _SENTENCE.findall(text or "")]
        for pattern in inst.params.patterns:
            for sentence, plain in sentences:
                if pattern.requires and pattern.requires not in plain:
                    continue
                if pattern.excludes and pattern.excludes in plain:
                    continue
                for m in pattern.regex.finditer(plain):
                    out += self._match(rule, inst, pattern, m, sentence.strip(), values, ctx, spec)
        return out

    def _match(self, rule, inst, pattern, m, sentence, values, ctx, spec) -> list[Finding]:
        # The sentence is quoted in the message; the finding sits on the cell that holds it (the office may fix
        # the text or the table): one of the section's topics, or the section's own cell.
        cell = (None, None)
        if ctx is not None:
            section = inst.params.section
            keys = [f.id for f in spec.prose.fields if f.section == section and f.id != section] + [section]
            key = next((k for k in keys if sentence in (ctx.prose.get(k) or "")), section)
            cell = ctx.prose_cells.get(key, ctx.prose_cells.get(section, (None, None)))

        def where(fid):
            return cell

        def label(fids):
            return "+".join(spec.figure(f).label for f in fids)

        if pattern.kind == "none":
            (alts,) = pattern.groups
            total = sum(values[f] for f in alts[0])
            if total == 0:
                return []
            text = _fill(rule.messages["none"], sentence=sentence, actual=total, label=label(alts[0]))
            return [Finding(rule.code, rule.severity, text, *where(alts[0][0]), alts[0][0], rule.id, 0, total)]
        if pattern.kind == "percent":
            count, percent = int(m.group(1)), float(m.group(2))
            denominator = sum(values[f] for f in pattern.denominator)
            if not denominator:
                return []
            decimals = len(m.group(2).partition(".")[2])
            expected = round(count / denominator * 100, decimals)
            if abs(expected - percent) <= 0.5 * 10 ** -decimals + 1e-9:
                return []
            text = _fill(rule.messages["percent"], sentence=sentence, actual=f"{m.group(2)}%",
                         expected=f"{expected:.{decimals}f}%", count=count, total=denominator)
            fid = pattern.denominator[0]
            return [Finding(rule.code, rule.severity, text, *where(fid), fid, rule.id, f"{expected:.{decimals}f}%",
                            f"{m.group(2)}%")]
        out = []
        for i, alts in enumerate(pattern.groups, start=1):
            number = m.group(i)
            if number is None:
                continue
            value = float(number)
            value = int(value) if value.is_integer() else value
            options = [sum(values[f] for f in alt) for alt in alts]
            if any(abs(value - o) < 1e-6 for o in options):
                continue
            fid = alts[0][0]
            text = _fill(rule.message, sentence=sentence, actual=value, expected=options[0], label=label(alts[0]))
            out.append(Finding(rule.code, rule.severity, text, *where(fid), fid, rule.id, options[0], value,
                               "表格", "文字"))
        return out

    def check(self, inst, ctx):
        text = ctx.prose.get(inst.params.section) or ""
        where = ctx.prose_cells.get(inst.params.section, (None, None))
        if not text.strip():
            return [(self._out(inst, "not_applicable"), None)]
        found = self.findings_in(inst.rule, inst, text, ctx.values, ctx, ctx.spec)
        if not found:
            return [(self._out(inst, "pass"), None)]
        return [(self._out(inst, "fail", f.figure), f) for f in found]


def _visible(text: str | None) -> str:
    """Text without spaces, full-width spaces and line breaks (what LEN counts after the live check's SUBSTITUTEs)."""
    return re.sub(r"[ \u3000\r\n]", "", text or "")


@dataclass(frozen=True)
class ProseLengthParams:
    section: str
    min_chars: int
    empty_words: tuple[str, ...]
    must_mention: tuple[str, ...]
    when_nonzero: tuple[str, ...]


class ProseLength(Kind):
    """A section blank, too short, only "无", or without what it must mention (S2–S4, P4)."""

    name = "prose_length"
    live_capable = True

    def parse(self, spec, p):
        return ProseLengthParams(p["section"], int(p.get("min_chars", 1)), tuple(p.get("empty_words") or ()),
                                 tuple(p.get("must_mention") or ()), tuple(p.get("when_nonzero") or ()))

    def figures(self, p):
        return p.when_nonzero

    def problem(self, p: ProseLengthParams, text: str | None, values: dict[str, float]) -> str | None:
        if p.when_nonzero and not sum(values[f] for f in p.when_nonzero):
            return None
        visible = _visible(text)
        if not visible or visible in p.empty_words:
            return "blank" if not visible else "empty_word"
        if len(visible) < p.min_chars:
            return "short"
        if p.must_mention and not any(word in visible for word in p.must_mention):
            return "unmentioned"
        return None

    def check(self, inst, ctx):
        p, rule = inst.params, inst.rule
        where = ctx.prose_cells.get(p.section, (None, None))
        if p.section not in ctx.prose or (p.when_nonzero and not sum(ctx.values[f] for f in p.when_nonzero)):
            # No text was found at all (tables copied into another workbook), or nothing calls for it.
            return [(self._out(inst, "not_applicable"), None)]
        # A section's text is measured as its cells hold it: its topics' headings are not the office's words.
        written = self._cells_text(ctx.spec, p.section, ctx.prose)
        problem = self.problem(p, written, ctx.values)
        if problem is None:
            return [(self._out(inst, "pass"), None)]
        text = _fill(rule.messages.get(problem, rule.message), section=ctx.spec.text_heading(p.section),
                     actual=len(_visible(written)), min=p.min_chars,
                     words="、".join(p.must_mention),
                     count=sum(ctx.values[f] for f in p.when_nonzero) if p.when_nonzero else None)
        return [(self._out(inst, "missing" if problem == "blank" else "fail"), _finding(inst, ctx, None, text, where=where))]

    @staticmethod
    def _fields(spec, key: str):
        """The cells of a text: a topic's own, or a section's with all its topics."""
        own = [f for f in spec.prose.fields if f.id == key]
        if own and own[0].label is None:
            return [f for f in spec.prose.fields if f.section == own[0].section]
        return own

    def _cells_text(self, spec, key: str, prose: dict[str, str]) -> str | None:
        fields = self._fields(spec, key)
        if not any(f.id in prose for f in fields):
            return prose.get(key)
        return "".join(prose.get(f.id) or "" for f in fields)

    def live(self, spec, inst, level):
        p = inst.params
        refs = [Ref(spec.prose.sheet, f.cell) for f in self._fields(spec, p.section)]
        cell: Expr = refs[0] if len(refs) == 1 else Concat(tuple(refs))
        for old in (Text(" "), Text("\u3000"), Func("CHAR", (Num(10),)), Func("CHAR", (Num(13),))):
            cell = Func("SUBSTITUTE", (cell, old, Text("")))
        length = Func("LEN", (cell,))
        msgs = inst.rule.messages
        static = {"section": spec.text_heading(p.section), "min": p.min_chars, "words": "、".join(p.must_mention)}
        if p.when_nonzero:
            static["count"] = ""
        dynamic = {"actual": length}
        if p.when_nonzero:
            dynamic["count"] = sum_of([spec.figure(f) for f in p.when_nonzero])
            del static["count"]
        text = lambda key: message(msgs.get(key, inst.rule.message), static, dynamic)  # noqa: E731
        verdict: Expr = _ok(spec)
        if p.must_mention:
            mentioned = Func("OR", tuple(Func("ISNUMBER", (Func("FIND", (Text(w), cell)),)) for w in p.must_mention))
            verdict = If(mentioned, verdict, _warn(inst.rule, text("unmentioned")))
        verdict = If(Cmp("<", length, Num(p.min_chars)), _warn(inst.rule, text("short")), verdict)
        if p.empty_words:
            verdict = If(Func("OR", tuple(Cmp("=", cell, Text(w)) for w in p.empty_words)),
                         _warn(inst.rule, text("empty_word")), verdict)
        verdict = If(Cmp("=", length, Num(0)), _warn(inst.rule, text("blank")), verdict)
        if p.when_nonzero:
            verdict = If(Cmp("=", sum_of([spec.figure(f) for f in p.when_nonzero]), Num(0)), _ok(spec), verdict)
        return verdict


def peer_texts(spec: Spec, prose: dict[str, str]) -> dict[str, str]:
    """The texts (joined by section) that the rules against other offices compare: what an index of the other
    offices' texts holds. A text shorter than the rule's min_chars is never checked, so it is not indexed either."""
    def build() -> list[tuple[str, int]]:
        return [(s, r.instances[0].params.min_chars) for r in spec.rules
                if r.kind == "similarity" and r.instances[0].params.against == "peers"
                for s in r.instances[0].params.sections]

    return {s: prose[s] for s, least in spec.derived("peer_sections", build)
            if prose.get(s) and len(_visible(prose[s])) >= least}


@dataclass(frozen=True)
class SimilarityParams:
    sections: tuple[str, ...]
    against: str  # "previous" (the office's last report) or "peers" (the other offices)
    threshold: float
    min_chars: int


class Similarity(Kind):
    """A section that copies last year's report or another office's (X3, X4: 内容雷同)."""

    name = "similarity"

    def parse(self, spec, p):
        if p["against"] not in ("previous", "peers"):
            raise ValueError("against 只能是 previous 或 peers")
        return SimilarityParams(tuple(p["sections"]), p["against"], float(p["threshold"]), int(p.get("min_chars", 30)))

    def check(self, inst, ctx):
        from .similarity import similarity

        p, rule = inst.params, inst.rule
        out = []
        for section in p.sections:
            text = ctx.prose.get(section) or ""
            where = ctx.prose_cells.get(section, (None, None))
            key = Outcome(rule.id, section, "not_applicable")
            if len(_visible(text)) < p.min_chars:
                out.append((key, None))
                continue
            if p.against == "previous":
                if ctx.previous is None or len(_visible(ctx.previous.prose.get(section))) < p.min_chars:
                    out.append((key, None))
                    continue
                score, other = similarity(text, ctx.previous.prose[section]), f"{ctx.previous.year or '上'}年度报告"
            else:
                if ctx.peers is None:
                    out.append((key, None))
                    continue
                match = ctx.peers.most_similar(section, text, exclude=ctx.peer_key)
                if match is None:
                    out.append((Outcome(rule.id, section, "pass"), None))
                    continue
                other, score = match
            if score < p.threshold:
                out.append((Outcome(rule.id, section, "pass"), None))
                continue
            out.append((Outcome(rule.id, section, "fail"), self.finding(inst, ctx.spec, section, other, score, where)))
        return out

    def finding(self, inst: RuleInstance, spec: Spec, section: str, other: str, score: float,
                where: tuple[str | None, str | None]) -> Finding:
        """The finding for a section that repeats ``other``'s text to this degree."""
        p, rule = inst.params, inst.rule
        text = _fill(rule.message, section=spec.text_heading(section), other=other,
                     similarity=f"{score * 100:.0f}%", threshold=f"{p.threshold * 100:.0f}%")
        return Finding(rule.code, rule.severity, text, where[0], where[1], None, rule.id,
                       f"低于{p.threshold * 100:.0f}%", f"{score * 100:.0f}%", "相似度上限", f"与{other}的相似度")


# -- registry and the three uses -----------------------------------------------------------------

KINDS: dict[str, Kind] = {k.name: k for k in (
    Compare(), Total(), Domain(), FormatYear(), ZeroWhen(), Implies(), UnitConfusion(), Magnitude(), Share(),
    PreviousYear(), Unchanged(), ProseAgainstTables(), ProseLength(), Similarity())}


def kind_of(name: str) -> Kind:
    return KINDS[name]


def _recompute(spec: Spec, values: dict[str, Any]) -> dict[str, float]:
    from .spec import recompute

    return recompute(spec, values)


def evaluate(ctx: Context) -> tuple[list[Outcome], list[Finding]]:
    """Every rule of the spec on one workbook: an outcome per rule and location, a finding per failure."""
    outcomes: list[Outcome] = []
    findings: list[Finding] = []
    for rule in ctx.spec.rules:
        for outcome, found in rule.impl.check_all(rule, ctx):
            outcomes.append(outcome)
            if found is not None:
                findings.append(found)
    return outcomes, findings


def live_check(spec: Spec, inst: RuleInstance, level: str = "county") -> Expr | None:
    """The formula of a rule instance's visible check cell, or None for rules not checked live
    (sums are locked formulas; cross-year and similarity rules need other reports)."""
    if not inst.placement or not inst.rule.impl.live_capable:
        return None
    return inst.rule.impl.live(spec, inst, level)


def live_checks(spec: Spec, level: str = "county") -> list[tuple[RuleInstance, Expr]]:
    """Every rule instance that has a check cell in the template, in spec order, with its formula (built once)."""
    return spec.derived(("live_checks", level), lambda: [
        (i, expr) for r in spec.rules for i in r.instances if (expr := live_check(spec, i, level)) is not None])


def live_instances(spec: Spec, level: str = "county") -> list[RuleInstance]:
    """Every rule instance that has a check cell in the template, in spec order."""
    return [i for i, _ in live_checks(spec, level)]


def _count_failing(spec: Spec, instances: list[RuleInstance]) -> Expr:
    parts: list[Expr] = []
    placements = sorted((i.placement for i in instances), key=lambda p: p.sheet)
    for sheet, group in groupby(placements, key=lambda p: p.sheet):
        parts.append(CountNot(Cells(sheet, tuple(p.cell for p in group)), spec.ok_text))
    if not parts:
        return Num(0)
    return Arith("+", tuple(parts)) if len(parts) > 1 else parts[0]


def summary_check(spec: Spec, level: str = "county") -> Expr:
    """The office sheet's one-line verdict: errors to fix first, then warnings to look at (built once)."""
    return spec.derived(("summary_check", level), lambda: _summary_check(spec, level))


def _summary_check(spec: Spec, level: str) -> Expr:
    summary = spec.office.summary
    live = live_instances(spec, level)
    errors = _count_failing(spec, [i for i in live if i.rule.severity == "error"])
    warnings = _count_failing(spec, [i for i in live if i.rule.severity != "error"])
    return If(Cmp("=", errors, Num(0)),
              If(Cmp("=", warnings, Num(0)), Text(summary.ok), message(summary.ok_with_warnings, {}, {"m": warnings})),
              If(Cmp("=", warnings, Num(0)), message(summary.fail, {}, {"n": errors}),
                 message(summary.fail_with_warnings, {}, {"n": errors, "m": warnings})))


def prose_findings(spec: Spec, text: str, values: dict[str, float]) -> list[Finding]:
    """What a text says that the tables contradict: every prose rule of the spec, on any text (the report's too)."""
    out = []
    for rule in spec.rules:
        if rule.kind == "prose":
            for inst in rule.instances:
                out += rule.impl.findings_in(rule, inst, text, values, None, spec)
    return out


def fill(spec: Spec, values: dict[str, Any], office_kind: str | None, level: str = "county",
         skip: Callable[[RuleInstance], bool] | None = None) -> dict[str, Any]:
    """Make ``values`` satisfy every rule (but those ``skip`` names): each kind's own way, until nothing changes."""
    for _ in range(6):
        before = dict(values)
        for rule in spec.rules:
            for inst in rule.instances:
                if skip is None or not skip(inst):
                    rule.impl.fill(spec, inst, values, office_kind, level)
        if values == before:
            break
    return values
