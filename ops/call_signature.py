"""A call's signature: the hashable key a template is cached under, and the walk that
collects its tensor proxies and symbolic values (ops.dispatch, ops.kernel_shapes)."""
from __future__ import annotations

from typing import Any

import sympy
import torch

from strict_tracer.proxy import TensorProxy
from strict_tracer.symbolic import SymInt, SymValue
from strict_tracer.symbolic.small_sizes import declared_bound

from .oracle.probe_symbols import ProbeSymbols, dense_stride_form


class Uncacheable(Exception):
    pass


class SymArgs:
    """The distinct symbolic values of one call (tensor sizes and scalar arguments), in order
    of first appearance; the oracle runs with one torch stand-in per entry.

    `recipes`: strides that are expressions of earlier values of the call (a dense layout's
    `32*s1`), by index: (expression, ((symbol, index of its value), ...)). The oracle gives
    torch such a stride as that expression over the values' stand-ins, not as a stand-in of
    its own, so torch knows the relation instead of guarding it (a guard makes the trace's
    stand-ins unshareable, probe_symbols.StandInPool); the signature holds the expression over
    the values' positions, so a template that relied on it serves only calls where it holds."""

    __slots__ = ("values", "index", "recipes")

    def __init__(self) -> None:
        self.values: list[SymValue] = []
        self.index: dict = {}
        self.recipes: dict[int, tuple] = {}

    def add(self, value: SymValue) -> int:
        key = (type(value), value.env.resolve(value.expr))
        i = self.index.get(key)
        if i is None:
            i = self.index[key] = len(self.values)
            self.values.append(value)
        return i

    def of(self, value: SymValue) -> int:
        return self.index[(type(value), value.env.resolve(value.expr))]

    def stride(self, value: SymValue) -> Any:
        """A symbolic stride's part of the signature: its recipe over the positions of earlier
        values when it has one (see the class docstring), else its index."""
        i = self.add(value)
        if _hint(value) is None:
            return i            # read from data: probe_symbols relates it its own way
        expr = value.env.resolve(value.expr)
        if expr.is_Symbol or expr.is_Number or not dense_stride_form(expr):
            return i
        parts = []
        for symbol in expr.free_symbols:
            j = self.index.get((SymInt, symbol))
            if j is None:
                return i
            parts.append((symbol, j))
        parts.sort(key=lambda p: p[1])
        self.recipes[i] = (expr, tuple(parts))
        return ("E", expr.xreplace({symbol: _position(j) for symbol, j in parts}))


def signature(value: Any, proxies: list[TensorProxy], seen: dict[int, int], syms: SymArgs) -> Any:
    """A hashable description of an argument; proxies are collected in `proxies`, symbolic
    values in `syms` (keyed by example value and by which of them are equal, not by
    expression: a template learned for s0 applies to s7 of the same size)."""
    t = type(value)
    if t is TensorProxy:
        index = seen.get(id(value))
        if index is None:
            index = seen[id(value)] = len(proxies)
            proxies.append(value)
        m = value.meta
        if m.is_static:     # the shape is its own hint, no symbols: no pattern
            return ("T", index, m.hint_shape, m.strides, m.storage_offset, m.dtype, m.device,
                    m.requires_grad, m.is_leaf, m.layout, None)
        pattern = tuple(None if type(s) is int else (syms.add(s), _hint(s) is None) for s in m.shape)
        if m.sym_strides is not None:
            pattern = (pattern, tuple(None if type(s) is int else syms.stride(s) for s in m.sym_strides))
        return ("T", index, m.hint_shape, m.strides, m.storage_offset, m.dtype, m.device,
                m.requires_grad, m.is_leaf, m.layout, pattern)
    if t in (int, float, bool, str, type(None), torch.dtype, torch.device, torch.layout,
             torch.memory_format, type(Ellipsis)):
        return (t, value)
    if t in (list, tuple):
        return (t, tuple(signature(v, proxies, seen, syms) for v in value))
    if t is slice:
        return (slice, signature(value.start, proxies, seen, syms),
                signature(value.stop, proxies, seen, syms), signature(value.step, proxies, seen, syms))
    if t is dict:
        return (dict, tuple((k, signature(v, proxies, seen, syms)) for k, v in value.items()))
    if isinstance(value, torch.Size):
        return (torch.Size, tuple(value))
    if isinstance(value, SymValue):
        # A value read from data has no hint: the oracle ran it as torch's unbacked symbol.
        return ("S", t, _hint(value), syms.add(value))
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return (t, tuple(signature(v, proxies, seen, syms) for v in value))
    raise Uncacheable()


_POSITIONS: list = []


def _position(j: int) -> sympy.Symbol:
    """The placeholder for the call's j-th symbolic value in a stride's recipe."""
    while len(_POSITIONS) <= j:
        _POSITIONS.append(sympy.Symbol(f"_arg{len(_POSITIONS)}", integer=True))
    return _POSITIONS[j]


def _hint(value: SymValue) -> Any:
    """The value at the example inputs; None for a value read from data."""
    return value.hint if value.hint is not None else value.env.hint_value(value.expr)


def to_fake(value: Any, probe_syms: ProbeSymbols, fakes: dict, syms: SymArgs) -> Any:
    t = type(value)
    if t is TensorProxy:
        return fakes[id(value)]
    if t in (list, tuple):
        return t(to_fake(v, probe_syms, fakes, syms) for v in value)
    if t is slice:
        return slice(to_fake(value.start, probe_syms, fakes, syms),
                     to_fake(value.stop, probe_syms, fakes, syms),
                     to_fake(value.step, probe_syms, fakes, syms))
    if t is dict:
        return {k: to_fake(v, probe_syms, fakes, syms) for k, v in value.items()}
    if isinstance(value, SymValue):
        return probe_syms.stand_in(syms.of(value))
    return value


def walk_proxies(value: Any, proxies: list, seen: dict, syms: SymArgs) -> None:
    t = type(value)
    if t is TensorProxy:
        if id(value) not in seen:
            seen[id(value)] = len(proxies)
            proxies.append(value)
            for s in (*value.meta.shape, *(value.meta.sym_strides or ())):
                if type(s) is not int:
                    syms.add(s)
    elif isinstance(value, SymValue):
        syms.add(value)
    elif t in (list, tuple) or (isinstance(value, tuple)):
        for v in value:
            walk_proxies(v, proxies, seen, syms)
    elif t is dict:
        for v in value.values():
            walk_proxies(v, proxies, seen, syms)
    elif t is slice:
        for v in (value.start, value.stop, value.step):
            walk_proxies(v, proxies, seen, syms)


def lookup(cache: dict, head: tuple, args: tuple, kwargs: dict, shape_env: Any) -> tuple:
    """The call's cache key and its cached template (None, None when uncacheable), with the
    proxies and symbolic values found in its arguments. `head`: what else selects the template
    (the callable, grad mode, autocast)."""
    proxies: list[TensorProxy] = []
    seen: dict[int, int] = {}
    syms = SymArgs()
    try:
        key = (*head, signature(args, proxies, seen, syms), signature(kwargs, proxies, seen, syms))
        # The stand-ins carry each value's range, and torch routes on what a range decides
        # without a guard (x[:, :6] skips its slice when the width is known <= 6): a template
        # serves only values of the same ranges. The declared ones: a named Dim's 0 and 1
        # included, where torch's routing must leave a guard for us to note (small_sizes.py).
        key = (key, tuple(declared_bound(shape_env, v.expr) for v in syms.values))
        return key, cache.get(key), proxies, syms
    except (Uncacheable, TypeError):   # TypeError: an unhashable constant in the signature
        proxies, seen, syms = [], {}, SymArgs()
        walk_proxies(args, proxies, seen, syms)
        walk_proxies(kwargs, proxies, seen, syms)
        return None, None, proxies, syms
