"""Checking a shape rule against the meta-kernel oracle, at the hints and away from them.

A case is an op plus a `build(S, T)` function that makes the call's (args, kwargs) from
named sizes `S` (ints, or SymInts for the dynamic ones) and a tensor maker `T(shape, dtype)`.
`check_rule` builds the call twice: with TensorProxies over symbolic sizes, through
`apply_rule`, and with meta tensors at concrete sizes, through the op itself. The rule's
shapes must equal the oracle's at the hints and at other sizes that satisfy the guards the
rule recorded; an op that fails on such sizes means the rule missed a guard.

Each rule is also checked against the kernel fallback (torch's own kernel on symbolic
stand-ins, `ops/kernel_shapes`), the shapes an op without a rule would get: wherever the
kernel's guards hold, the rule's hold too (a rule never specializes more than torch's kernel)
and both give the same shapes.
"""
from __future__ import annotations

import random
from typing import Any, Callable

import sympy
import torch

from strict_tracer.ops.kernel_shapes import KernelShapeError, kernel_shapes
from strict_tracer.ops.shape_rules import apply_rule
from strict_tracer.proxy import TensorMeta, TensorProxy
from strict_tracer.symbolic import ShapeEnv, SymValue

Build = Callable[[dict, Callable], tuple[tuple, dict]]


def proxy_maker(shape, dtype=torch.float32) -> TensorProxy:
    return TensorProxy(None, TensorMeta(tuple(shape), dtype, torch.device("cpu")))


def meta_maker(shape, dtype=torch.float32) -> torch.Tensor:
    return torch.empty(tuple(shape), dtype=dtype, device="meta")


def _output_shapes(out: Any) -> list[tuple]:
    if isinstance(out, torch.Tensor):
        return [tuple(out.shape)]
    return [tuple(o.shape) for o in out if isinstance(o, torch.Tensor)]


def _value_at(size: Any, values: dict) -> int:
    if isinstance(size, SymValue):
        return int(size.expr.subs(values))
    return size


def _satisfied(env: ShapeEnv, values: dict) -> bool:
    for g in env.guards:
        if g.expr.subs(values) is not sympy.true:
            return False
    return True


def check_rule(op: Any, build: Build, hints: dict[str, int], dynamic: set[str] | None = None,
               tries: int = 40, want_points: int = 3, seed: int = 0) -> dict:
    """Check `op`'s rule; returns {"points": sizes checked away from the hints, "guards": n}."""
    dynamic = set(hints) if dynamic is None else dynamic
    env = ShapeEnv()
    sym = {n: env.create_size(h, n) if n in dynamic else h for n, h in hints.items()}
    symbols = {n: s.expr for n, s in sym.items() if isinstance(s, SymValue)}

    ref_args, ref_kwargs = build(dict(hints), meta_maker)
    oracle = _output_shapes(op(*ref_args, **ref_kwargs))
    args, kwargs = build(sym, proxy_maker)
    outputs = [TensorMeta(s, torch.float32, torch.device("cpu")) for s in oracle]
    apply_rule(op, args, kwargs, outputs, env)   # raises if the rule disagrees at the hints
    rule_shapes = [m.shape for m in outputs]
    kernel = _kernel_shapes(op, build, hints, dynamic, oracle)

    rng = random.Random(seed)
    points = 0
    seen = set()
    for _ in range(tries):
        point = {n: (rng.randint(2, 12) if n in symbols else h) for n, h in hints.items()}
        key = tuple(sorted(point.items()))
        if key in seen or point == hints:
            continue
        seen.add(key)
        values = {symbols[n]: v for n, v in point.items() if n in symbols}
        if kernel is not None:
            _compare_with_kernel(op, kernel, env, rule_shapes, values, point)
        if not _satisfied(env, values):
            continue
        c_args, c_kwargs = build(point, meta_maker)
        try:
            want = _output_shapes(op(*c_args, **c_kwargs))
        except Exception as exc:  # the rule let through sizes the op rejects
            raise AssertionError(f"{op} fails at {point} although the guards {env.guards} "
                                 f"hold: {exc}") from None
        got = [tuple(_value_at(s, values) for s in shape) for shape in rule_shapes]
        assert got == want, f"{op} at {point}: rule {rule_shapes} -> {got}, oracle {want}"
        points += 1
        if points >= want_points:
            break
    return {"points": points, "guards": len(env.guards), "shapes": rule_shapes, "env": env}


_KERNEL_CHECKS_PER_OP = 3
_kernel_checks: dict = {}


def _kernel_shapes(op: Any, build: Build, hints: dict, dynamic: set, oracle: list) -> Any:
    """(env, shapes) of the kernel fallback for the same call, in an env of its own whose
    symbols are the rule's (same names, same order). Symbolic kernels are slow: the first few
    calls of each op are compared."""
    if _kernel_checks.get(op, 0) >= _KERNEL_CHECKS_PER_OP:
        return None
    _kernel_checks[op] = _kernel_checks.get(op, 0) + 1
    env = ShapeEnv()
    sym = {n: env.create_size(h, n) if n in dynamic else h for n, h in hints.items()}
    args, kwargs = build(sym, proxy_maker)
    outputs = [TensorMeta(s, torch.float32, torch.device("cpu")) for s in oracle]
    try:
        shapes = kernel_shapes(op, args, kwargs, outputs, env)
    except KernelShapeError:
        return None
    at_hints = [tuple(s.hint if isinstance(s, SymValue) else s for s in shape) for shape in shapes]
    if at_hints != oracle:
        # The fake kernel follows the CPU kernel where the meta one differs
        # (native_batch_norm's saved statistics outside training are empty on CPU).
        return None
    return env, shapes


def _compare_with_kernel(op: Any, kernel: Any, env: ShapeEnv, rule_shapes: list, values: dict,
                         point: dict) -> None:
    k_env, k_shapes = kernel
    if not _satisfied(k_env, values):
        return
    assert _satisfied(env, values), (
        f"{op} at {point}: the rule's guards {[str(g.expr) for g in env.guards]} fail where "
        f"torch's kernel's {[str(g.expr) for g in k_env.guards]} hold")
    got = [tuple(_value_at(s, values) for s in shape) for shape in rule_shapes]
    want = [tuple(_value_at(s, values) for s in shape) for shape in k_shapes]
    assert got == want, f"{op} at {point}: rule {got}, kernel fallback {want}"


# ---------------------------------------------------------------- hypothesis helpers
def sizes(S: dict, spec) -> tuple:
    """A shape from a spec of size names and literal ints."""
    return tuple(S[d] if isinstance(d, str) else d for d in spec)


def draw_case(draw, st, names: str = "abcd", low: int = 2, high: int = 6):
    """Hints for the size names and a random subset of them made dynamic."""
    hints = {n: draw(st.integers(low, high)) for n in names}
    dynamic = {n for n in names if draw(st.booleans())} or {names[0]}
    return hints, dynamic


def fewer(k: int):
    """Hypothesis settings with 1/k of the active profile's examples (for slow oracles)."""
    from hypothesis import settings
    return settings(max_examples=max(5, settings().max_examples // k))
