"""Consistent random fillings of a spec, for samples, property tests and benchmarks.

Values are drawn at random, then the spec's rules are satisfied by adjusting one
input on the short side of each comparison: nothing here names a figure.
"""

from __future__ import annotations

import math
import random
from typing import Any

from .spec import Figure, Spec, recompute


def _input_parts(spec: Spec, fid: str) -> list[str]:
    """The input figures a figure is made of (itself if it is an input)."""
    fig = spec.figure(fid)
    if fig.kind == "input":
        return [fid]
    return [p for part in fig.sum for p in _input_parts(spec, part)]


def _draw(spec: Spec, fig: Figure, rng: random.Random, scale: int) -> float | int:
    t = spec.types[fig.type]
    # Most applicants are 自然人: grouped applicant columns (法人或其他组织) are mostly empty.
    if rng.random() < (0.9 if fig.column_group else 0.55):
        return 0
    if t["number"] == "decimal":
        return round(rng.uniform(0, scale * 3), 2)
    if t.get("min") is None:
        return rng.randint(-scale, scale)
    return rng.randint(1, scale)


def totals(spec: Spec, values: dict[str, Any]) -> dict[str, float]:
    """Every figure's value, computed ones recomputed from the inputs (see :func:`pipeline.spec.recompute`)."""
    return recompute(spec, values)


def consistent_values(spec: Spec, rng: random.Random, *, office_kind: str | None = None, scale: int = 6) -> dict[str, Any]:
    """A random filling of every input that passes every rule of the spec."""
    values: dict[str, Any] = {f.id: _draw(spec, f, rng, scale) for f in spec.inputs()}
    for rule in spec.rules:
        if rule.kind == "zero_when" and office_kind in rule.raw["when"]:
            for inst in rule.instances:
                for fid in inst.figures:
                    for part in _input_parts(spec, fid):
                        values[part] = 0
    for rule in spec.rules:
        # "If A is non-zero, B must be too" (fee notices when applications lapsed for unpaid fees).
        if rule.kind == "implies":
            t = totals(spec, values)
            if sum(t[f] for f in rule.raw["if_nonzero"]) and not sum(t[f] for f in rule.raw["then_nonzero"]):
                target = _input_parts(spec, rule.raw["then_nonzero"][0])[0]
                values[target] = rng.randint(1, scale)
    compare = [i for r in spec.rules if r.kind == "compare" for i in r.instances]
    for inst in compare:
        t = totals(spec, values)
        diff = sum(t[f] for f in inst.left) - sum(t[f] for f in inst.right)
        op = inst.rule.raw["op"]
        short = None
        if diff < 0 and op in ("==", ">="):
            short = inst.left
        elif diff > 0 and op in ("==", "<="):
            short = inst.right
        if short is None:
            continue
        parts = [p for fid in short for p in _input_parts(spec, fid)]
        if parts:
            # Adjust the last input part: for F1 that is 结转下年度 or 上年结转, not 本年新收.
            target = parts[-1] if short is inst.right else parts[0]
            if spec.types[spec.figure(target).type]["number"] == "decimal":
                values[target] = round(values[target] + abs(diff), 2)
            else:
                values[target] = values[target] + math.ceil(round(abs(diff), 6))
    return values
