"""Symbolic output shapes from torch's own kernels: the fallback for ops without a rule.

An ATen op with no hand-written shape rule (or one whose rule cannot handle the call) runs its
meta/fake kernel once more, on fakes whose symbolic sizes and scalars are torch stand-ins for
ours (probe_symbols). The kernel computes its output sizes as torch expressions over the
stand-ins and records, in the oracle's throwaway torch ShapeEnv, every fact it needed: guards
on backed sizes and deferred runtime asserts on data-dependent ones. Both translate back into
our engine: the sizes become our expressions, each guard is decided by our engine at the hints
(so it is recorded with the user's line, and a guard that narrows a declared-dynamic dim is a
constraint violation like any other), each runtime assert becomes a `torch._check` fact.
These are the facts torch.export learns from the same kernel; nothing specializes for lack
of a rule.

Data-dependent output sizes (unbacked symbols in the kernel's outputs) become the oracle's own
unbacked sizes at the same positions, or fresh unbacked symbols of ours.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch
from torch._dispatch.python import enable_python_dispatcher
from torch._subclasses.fake_tensor import (DataDependentOutputException,
                                           DynamicOutputShapeException,
                                           disable_fake_tensor_cache)
from torch.fx.experimental.symbolic_shapes import GuardOnDataDependentSymNode

from strict_tracer.proxy import TensorMeta, TensorProxy
from strict_tracer.symbolic import DataDependentError, SymInt, SymValue

from .call_signature import SymArgs, Uncacheable, signature, walk_proxies
from .oracle.fakes import example_of, fake_mode
from .oracle.probe_symbols import ProbeSymbols


class KernelShapeError(Exception):
    """The kernel could not run symbolically, or gave something we cannot translate."""


def to_fake(value: Any, stand: SymArgs, syms: ProbeSymbols, fakes: dict) -> Any:
    t = type(value)
    if t is TensorProxy:
        fake = fakes.get(id(value))
        if fake is None:
            m = value.meta
            fake = example_of(m) if m.is_static else syms.fake(m, stand.of)
            fakes[id(value)] = fake
        return fake
    if isinstance(value, SymValue):
        return syms.stand_in(stand.of(value))
    if t in (list, tuple):
        return t(to_fake(v, stand, syms, fakes) for v in value)
    if t is dict:
        return {k: to_fake(v, stand, syms, fakes) for k, v in value.items()}
    return value


def _snapshot(torch_env) -> tuple[int, dict]:
    return len(torch_env.guards), {k: len(v) for k, v in torch_env.deferred_runtime_asserts.items()}


def _new_facts(torch_env, mark: tuple[int, dict]) -> tuple[list, list]:
    guards = [g.expr for g in torch_env.guards[mark[0]:]]
    asserts = [ra.expr for k, ras in torch_env.deferred_runtime_asserts.items()
               for ra in ras[mark[1].get(k, 0):]]
    return guards, asserts


@dataclass
class _Learned:
    """What one kernel run gave, as torch expressions over the stand-in symbols `params`."""

    params: list
    shapes: list            # per output: tuple of int | torch expression
    guards: list
    asserts: list
    strides: list           # per output: tuple of int | torch expression


_cache: dict[Any, _Learned] = {}


def clear_cache() -> None:
    _cache.clear()


def _key(op: Any, args: tuple, kwargs: dict, env) -> tuple[Any, SymArgs]:
    """A cache key for the call (None if it has none) and its distinct symbolic values.

    Besides hints and which sizes are equal (dispatch's signature), the key holds each value's
    range: a kernel decides statically what the stand-ins' ranges imply, and records no guard.
    """
    syms = SymArgs()
    try:
        sig = (op, signature(args, [], {}, syms), signature(kwargs, [], {}, syms))
    except (Uncacheable, TypeError):
        syms = SymArgs()
        walk_proxies(args, [], {}, syms)
        walk_proxies(kwargs, [], {}, syms)
        return None, syms
    if any(v.hint is None for v in syms.values):
        return None, syms
    key = (sig, tuple(env.bound(v.expr) for v in syms.values))
    try:
        hash(key)
    except TypeError:
        return None, syms
    return key, syms


def kernel_shapes(op: Any, args: tuple, kwargs: dict, outputs: list[TensorMeta], env) -> list[tuple]:
    """The symbolic shapes of `op`'s tensor outputs, from its kernel on stand-ins; the kernel's
    guards are recorded in `env` (our ShapeEnv)."""
    return [shape for shape, _ in kernel_layouts(op, args, kwargs, outputs, env, False)]


def kernel_layouts(op: Any, args: tuple, kwargs: dict, outputs: list[TensorMeta], env,
                   with_strides: bool = True) -> list[tuple[tuple, tuple | None]]:
    """The symbolic (shape, strides) of `op`'s tensor outputs, from its kernel on stand-ins;
    the kernel's guards are recorded in `env` (our ShapeEnv). Strides that depend on data
    (or all of them, without `with_strides`) are None."""
    key, stand = _key(op, args, kwargs, env)
    torch_env = fake_mode().shape_env
    syms = ProbeSymbols(torch_env, env, stand.values, stand.recipes)
    learned = _cache.get(key) if key is not None else None
    try:
        if learned is None:
            learned = _learn(op, args, kwargs, outputs, stand, syms)
            if key is not None and _closed(learned):
                _cache[key] = learned
        else:
            syms.params = list(learned.params)
        try:
            shapes = [tuple(s if type(s) is int else _value(s, syms, stand.values, env)
                            for s in shape) for shape in learned.shapes]
            params = set(syms.params)
            strides = [tuple(s if type(s) is int else _value(s, syms, stand.values, env)
                             for s in st)
                       if with_strides and all(type(s) is int or s.free_symbols <= params for s in st)
                       else None for st in learned.strides]
            facts = [(syms.expr_of(g, stand.values), False) for g in learned.guards] + \
                [(syms.expr_of(a, stand.values), True) for a in learned.asserts]
        except NotImplementedError as exc:
            raise KernelShapeError(str(exc)) from None
    finally:
        syms.give_back()
        syms.pool.settle()
    if len(shapes) != len(outputs):
        raise KernelShapeError(f"the kernel gave {len(shapes)} tensors, the oracle {len(outputs)}")
    for expr, is_assert in facts:
        _record(env, expr, is_assert)
    return list(zip(shapes, strides))


def _learn(op: Any, args: tuple, kwargs: dict, outputs: list[TensorMeta], stand: SymArgs,
           syms: ProbeSymbols) -> _Learned:
    """Run the kernel on stand-ins; its output sizes, guards and asserts as torch expressions."""
    mode = fake_mode()
    torch_env = mode.shape_env
    fakes: dict[int, torch.Tensor] = {}
    fake_args = to_fake(args, stand, syms, fakes)
    fake_kwargs = to_fake(kwargs, stand, syms, fakes)
    mark = _snapshot(torch_env)
    try:
        with mode, disable_fake_tensor_cache(mode), enable_python_dispatcher(), \
                torch.no_grad(), _no_autocast():
            out = op(*fake_args, **fake_kwargs)
    except GuardOnDataDependentSymNode as exc:
        raise DataDependentError(syms.expr_of(exc.cond, stand.values)) from None
    except (DataDependentOutputException, DynamicOutputShapeException) as exc:
        raise KernelShapeError(f"the kernel needs tensor data ({exc})") from None
    except Exception as exc:    # a kernel that ran at the hints but not symbolically
        raise KernelShapeError(f"{type(exc).__name__}: {exc}") from None
    guards, asserts = _new_facts(torch_env, mark)
    tensors = _tensors(out)
    _adopt_unbacked(tensors, outputs, syms)
    shapes = [tuple(s if type(s) is int else s.node.expr for s in t.shape) for t in tensors]
    strides = [tuple(s if type(s) is int else s.node.expr for s in t.stride()) for t in tensors]
    return _Learned(list(syms.params), shapes, guards, asserts, strides)


def _closed(learned: _Learned) -> bool:
    """Every symbol in what the kernel gave is a stand-in (no data-dependent size)."""
    params = set(learned.params)
    exprs = [e for shape in (*learned.shapes, *learned.strides) for e in shape if type(e) is not int]
    return all(e.free_symbols <= params for e in exprs + learned.guards + learned.asserts)


def _value(texpr: Any, syms: ProbeSymbols, values: list, env) -> Any:
    return syms.value_of(texpr, values, torch.SymInt, env)


def _record(env, expr, is_assert: bool) -> None:
    """A fact the kernel relied on, decided by our engine."""
    if is_assert or env.hint_value(expr) is None:
        env.check(expr)
        return
    if not env.evaluate(expr, None):
        raise KernelShapeError(f"the kernel's guard {expr} is false at the hints")


def _adopt_unbacked(tensors: list, outputs: list[TensorMeta], syms: ProbeSymbols) -> None:
    """A data-dependent output size the oracle already named keeps its name (it is bound to
    the op's node)."""
    for t, meta in zip(tensors, outputs):
        for got, have in zip(t.shape, meta.shape):
            if type(got) is int or not isinstance(have, SymInt) or have.hint is not None:
                continue
            e = got.node.expr
            if e.is_Symbol and e not in syms.params and e not in syms.unbacked:
                syms.unbacked[e] = have


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    return []


def _no_autocast() -> Any:
    if torch.is_autocast_enabled("cpu"):
        return torch.autocast("cpu", enabled=False)
    return contextlib.nullcontext()
