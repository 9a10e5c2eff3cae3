"""Contiguity of symbolic layouts, decided as torch decides it (torch._prims_common).

On symbolic strides each comparison the hints decide is a guard: contiguous() of a slice that
is dense only at the example sizes (`x[:, :6]` of a width-6 x) pins the width to 6, as
torch.export does, so the alias it becomes holds for every size the program admits.
"""
from __future__ import annotations

from typing import Any, Sequence

from strict_tracer.symbolic import SymBool
from strict_tracer.symbolic.values import sym_max


def guard_or(cond: Any, default: bool) -> bool:
    """torch's guard_or_false/guard_or_true: decided statically, else at the hint (a guard),
    else (a size read from data) `default`."""
    if not isinstance(cond, SymBool):
        return bool(cond)
    known = cond.env.static_value(cond.expr)
    if known is not None:
        return known
    if cond.hint is None:
        return default
    return bool(cond)


def _numel(shape: Sequence) -> Any:
    total: Any = 1
    for s in shape:
        total = total * s
    return total


def static_answer(cond: Any) -> bool | None:
    """A comparison of sizes decided without a guard (the same at every size), else None."""
    if not isinstance(cond, SymBool):
        return bool(cond)
    return cond.env.static_value(cond.expr)


def is_contiguous(shape: Sequence, strides: Sequence) -> bool:
    """torch's is_contiguous(false_if_dde=True) on (symbolic) sizes and strides.

    Its answer, with only the guards that answer needs: a dim whose stride is the expected
    one for every size passes whether or not its size is 1 (torch would still guard
    `size != 1` there), and no element count is asked of a layout that is contiguous anyway.
    """
    expected: Any = 1
    expected_max: Any = 1
    for size, stride in zip(reversed(shape), reversed(strides)):
        matches = (stride == expected, stride == expected_max)
        # A stride right for every size needs no answer to "is this size 1?" (asking would be
        # a decision the sizes 0/1 check then has to look at).
        if not any(static_answer(m) is True for m in matches):
            if static_answer(size == 1) is True:
                continue
            # The answer depends on this dim: decided as torch decides it (guards).
            if guard_or(size == 1, False):
                continue
            if not any(guard_or(m, False) for m in matches):
                return guard_or(_numel(shape) < 2, False)
        expected_max = expected_max * sym_max(size, 1)
        expected = expected * size
    return True
