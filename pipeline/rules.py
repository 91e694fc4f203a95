"""The spec's rules as spreadsheet formulas (live checks) and computed-figure formulas.

Rules are data in the spec; this module turns each rule kind into an expression
tree (:mod:`pipeline.xlexpr`). Nothing here names a cell or a label: they all come
from the spec.
"""

from __future__ import annotations

from itertools import groupby

from .spec import Figure, RuleInstance, Spec
from .xlexpr import (
    Arith,
    Cells,
    Cmp,
    CountNegative,
    CountNotNumber,
    CountNot,
    Expr,
    Func,
    If,
    Num,
    Ref,
    Sum,
    Text,
    message,
)


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
    office = spec.raw["office"]
    return Ref(spec.sheet_name(office["sheet"]), spec.office_field(field_id)["cell"])


def _compare(spec: Spec, inst: RuleInstance) -> Expr:
    left = sum_of([spec.figure(f) for f in inst.left])
    right = sum_of([spec.figure(f) for f in inst.right]) if inst.right else Num(0)
    delta = Arith("-", (left, right))
    op = {"==": "=", ">=": ">=", "<=": "<="}[inst.rule.raw["op"]]
    diff = Func("ROUND", (Func("ABS", (delta,)), Num(4)))
    fail = message(inst.rule.message, {"label": inst.label or ""}, {"diff": diff})
    return If(Cmp(op, Func("ROUND", (delta, Num(6))), Num(0)), Text(spec.ok_text), fail)


def _domain(spec: Spec, inst: RuleInstance) -> Expr:
    inputs = [f for f in spec.inputs() if f.table_id == inst.key]
    sheet = inputs[0].sheet
    n: Expr = CountNotNumber(Cells(sheet, tuple(f.cell for f in inputs)))
    nonneg = [f.cell for f in inputs if spec.types[f.type].get("min") is not None]
    if nonneg:
        n = Arith("+", (n, CountNegative(Cells(sheet, tuple(nonneg)))))
    return If(Cmp("=", n, Num(0)), Text(spec.ok_text), message(inst.rule.message, {}, {"n": n}))


def _format_year(spec: Spec, inst: RuleInstance) -> Expr:
    year = office_ref(spec, inst.rule.raw["field"])
    start, end = spec.years
    conds: list[Expr] = [Cmp(">=", year, Num(start))]
    if end is not None:
        conds.append(Cmp("<=", year, Num(end)))
    wrong = message(inst.rule.message, {"years": spec.years_text()}, {"actual": year})
    return If(
        Func("NOT", (Func("ISNUMBER", (year,)),)),
        Text(inst.rule.messages["missing"]),
        If(Func("AND", tuple(conds)), Text(spec.ok_text), wrong),
    )


def _zero_when(spec: Spec, inst: RuleInstance) -> Expr:
    kind = office_ref(spec, inst.rule.raw["field"])
    total = sum_of([spec.figure(f) for f in inst.figures])
    applies = Func("OR", tuple(Cmp("=", kind, Text(k)) for k in inst.rule.raw["when"]))
    fail = message(inst.rule.message, {}, {"kind": kind, "actual": total})
    return If(Func("AND", (applies, Cmp("<>", total, Num(0)))), fail, Text(spec.ok_text))


_LIVE = {
    "compare": _compare,
    "domain": _domain,
    "format_year": _format_year,
    "zero_when": _zero_when,
}


def live_check(spec: Spec, inst: RuleInstance) -> Expr | None:
    """The formula of a rule instance's visible check cell, or None for rules not checked live.

    Sums (D1, D2, D4) are enforced by locked formulas; cross-year rules need last year's data.
    """
    build = _LIVE.get(inst.rule.kind)
    return build(spec, inst) if build and inst.placement else None


def live_instances(spec: Spec) -> list[RuleInstance]:
    """Every rule instance that has a check cell in the template, in spec order."""
    return [i for r in spec.rules for i in r.instances if i.placement and r.kind in _LIVE]


def summary_count(spec: Spec) -> Expr:
    """How many live checks do not show the pass text."""
    parts: list[Expr] = []
    placements = [i.placement for i in live_instances(spec)]
    for sheet, group in groupby(sorted(placements, key=lambda p: p.sheet), key=lambda p: p.sheet):
        parts.append(CountNot(Cells(sheet, tuple(p.cell for p in group)), spec.ok_text))
    return Arith("+", tuple(parts)) if len(parts) > 1 else parts[0]


def summary_check(spec: Spec) -> Expr:
    """The office sheet's one-line verdict over all live checks."""
    summary = spec.raw["office"]["summary"]
    n = summary_count(spec)
    return If(Cmp("=", n, Num(0)), Text(summary["ok"]), message(summary["fail"], {}, {"n": n}))
