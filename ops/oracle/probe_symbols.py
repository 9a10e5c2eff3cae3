"""Symbolic scalars in oracle calls: torch SymInts that stand for ours, and back.

When a torch call receives one of our SymInts (`x.view(n, -1)`, `torch.zeros(2 * n)`,
`x[:, :n]`), the oracle runs with a torch SymInt made for it in the oracle's throwaway torch
ShapeEnv, so torch's own argument parsing and normalization route it; the recorded ATen
arguments then hold torch expressions over those stand-ins, which map back to our
expressions. Torch's env only routes arguments: every guard it records there is discarded,
shapes and guards are decided by our engine (shape rules, specialization). Data-dependent
outputs (nonzero, masked indexing) come back with torch unbacked symbols; each becomes a fresh
unbacked symbol of ours.
"""
from __future__ import annotations

import itertools
import weakref
from typing import Any, Callable

import sympy
import torch
from torch._dynamo.source import ConstantSource
from torch._subclasses.fake_tensor import disable_fake_tensor_cache
from torch.fx.experimental.symbolic_shapes import DimDynamic
from torch.utils._sympy import functions as tfn
from torch.utils._sympy.numbers import int_oo
from torch.utils._sympy.value_ranges import ValueRanges

from strict_tracer.symbolic import SymBool, SymFloat, SymInt, SymValue
from strict_tracer.symbolic.functions import RoundToInt, ToFloat, TruncToInt, strip_float
from strict_tracer.symbolic.ranges import INF
from strict_tracer.symbolic.small_sizes import declared_bound
from strict_tracer.symbolic.values import wrap


_FROM_TORCH = {
    tfn.FloorDiv: lambda a, b: sympy.floor(a / b),
    tfn.CeilDiv: lambda a, b: sympy.ceiling(a / b),
    tfn.Mod: sympy.Mod,
    tfn.PythonMod: sympy.Mod,
    tfn.CleanDiv: lambda a, b: a / b,
    tfn.IntTrueDiv: lambda a, b: a / b,
    tfn.FloatTrueDiv: lambda a, b: a / b,
    tfn.Max: sympy.Max,
    tfn.Min: sympy.Min,
    tfn.FloorToInt: lambda a: sympy.floor(strip_float(a)),
    tfn.CeilToInt: lambda a: sympy.ceiling(strip_float(a)),
    tfn.TruncToInt: lambda a: TruncToInt(strip_float(a)),
    tfn.RoundToInt: lambda a: RoundToInt(strip_float(a)),
    tfn.PowByNatural: lambda a, b: a ** b,
    tfn.FloatPow: lambda a, b: a ** b,
    tfn.OpaqueUnaryFn_sqrt: sympy.sqrt,
    tfn.Identity: lambda a: a,
    tfn.ToFloat: ToFloat,
}
_SYMPY_FUNCS = frozenset({sympy.Add, sympy.Mul, sympy.Pow, sympy.Eq, sympy.Ne, sympy.Lt,
                          sympy.Le, sympy.Gt, sympy.Ge, sympy.And, sympy.Or, sympy.Not,
                          sympy.floor, sympy.ceiling, sympy.Abs})


class StandInPool:
    """Torch stand-ins shared by the oracle calls of one trace.

    A fresh stand-in per call costs torch and sympy all their caches: every symbolic kernel,
    contiguity check and simplification starts over (most of a dynamic export's time). A
    stand-in is shared only while torch's env knows nothing of it beyond its creation (hint and
    range): as soon as a call leaves a guard, a replacement, a deferred assert or a narrowed
    range there, the pool forgets every stand-in, so each call sees stand-ins as unconstrained
    as fresh ones and its routing facts are still all recorded.
    """

    _names = itertools.count()

    def __init__(self, torch_env, env) -> None:
        self.torch_env = torch_env
        self._env = weakref.ref(env)
        self.stand_ins: dict = {}       # (kind, our resolved expression) -> (symbol, stand-in)
        self._ranges: dict = {}         # symbol -> its range object at creation
        self.fakes: dict = {}           # layout key over pooled stand-ins -> free fakes
        self._mark = self._state()

    def owned_by(self, torch_env, env) -> bool:
        return self.torch_env is torch_env and self._env() is env

    def _state(self) -> tuple:
        e = self.torch_env
        return len(e.guards), len(e.replacements), e.num_deferred_runtime_asserts, len(e.divisible)

    def add(self, key: tuple, symbol: sympy.Symbol, stand_in: Any) -> None:
        self.stand_ins[key] = (symbol, stand_in)
        self._ranges[symbol] = self.torch_env.var_to_range.get(symbol)

    def settle(self) -> None:
        """After an oracle call: forget every stand-in if the call taught torch's env anything."""
        state = self._state()
        ranges = self.torch_env.var_to_range
        if state != self._mark or any(ranges.get(s) is not r for s, r in self._ranges.items()):
            self.stand_ins.clear()
            self._ranges.clear()
            self.fakes.clear()
            self._mark = state

    def take_fake(self, key: tuple) -> Any:
        """A free fake made earlier for the same layout over the same stand-ins, or None.
        Taken out of the pool until given back, so one call never gets it twice."""
        free = self.fakes.get(key)
        return free.pop() if free else None

    def give_back(self, key: tuple, fake: Any, state: tuple) -> None:
        """A fake lent to a call returns to the pool unless the call changed it (an in-place
        op bumps its version; a metadata or autograd change shows in its state)."""
        now = fake_state(fake)
        if len(now) == len(state) and all(a is b or (type(a) is type(b) and type(a) in _PLAIN
                                                       and a == b) for a, b in zip(now, state)):
            self.fakes.setdefault(key, []).append(fake)

    @classmethod
    def source_name(cls) -> str:
        return f"__strict_tracer_arg{next(cls._names)}"


_pool: StandInPool | None = None


def pool_for(torch_env, env) -> StandInPool:
    """The stand-in pool of the trace that owns `env` (a new pool for a new trace or env)."""
    global _pool
    if _pool is None or not _pool.owned_by(torch_env, env):
        _pool = StandInPool(torch_env, env)
    return _pool


class ProbeSymbols:
    """Stand-ins for one oracle call: a torch symbol per distinct symbolic value of the call
    (tensor sizes and scalar arguments), and the way back to our values."""

    def __init__(self, torch_env, env, values: list[SymValue], recipes: dict | None = None) -> None:
        self.torch_env = torch_env      # the oracle's throwaway torch ShapeEnv
        self.env = env                  # our ShapeEnv, where unbacked sizes are created
        self.pool = pool_for(torch_env, env)
        self.values = values
        self.recipes = recipes or {}    # strides made of other values (call_signature.SymArgs)
        self.params: list = [None] * len(values)     # stand-in symbol per value
        self._stand_ins: list = [None] * len(values)
        self.unbacked: dict[sympy.Symbol, SymValue] = {}
        self.scalars: dict[sympy.Basic, SymValue] = {}     # numbers read from data, by torch expr
        self._pooled: set[int] = set()      # indices whose stand-in is the pool's
        self._lent: list = []               # (key, fake, state) of fakes taken from the pool

    # ------------------------------------------------------------------ ours -> torch
    def stand_in(self, i: int) -> Any:
        made = self._stand_ins[i]
        if made is None:
            made = self._stand_ins[i] = self._make(i, self.values[i])
        return made

    def _make(self, i: int, value: SymValue) -> Any:
        if isinstance(value, SymBool):
            if value.env.hint_value(value.expr) is not None:
                # Routing never depends on a symbolic bool; decide it (a guard), pass a bool.
                return bool(value)
            # A bool read from data (`torch.tensor([b.item()])`): torch's own unbacked bool,
            # whose 0/1 symbol stands for ours (_param_expr).
            stand_in = self.torch_env.create_unbacked_symbool()
            (self.params[i],) = stand_in.node.expr.free_symbols
            return stand_in
        if value.env.hint_value(value.expr) is None:
            # A value read from data: torch must treat it as unbacked too (it cannot pin it).
            stand_in = self.torch_env.create_unbacked_symint() if isinstance(value, SymInt) \
                else self.torch_env.create_unbacked_symfloat()
            symbol = stand_in.node.expr
            lo, hi = value.env.bound(value.expr)
            self.torch_env.var_to_range[symbol] = ValueRanges(
                -int_oo if lo == -INF else int(lo), int_oo if hi == INF else int(hi))
            self.params[i] = symbol
            return stand_in
        key = (type(value), value.env.resolve(value.expr))
        pooled = self.pool.stand_ins.get(key)
        if pooled is not None:
            self.params[i] = pooled[0]
            self._pooled.add(i)
            return pooled[1]
        hint = value.example
        if isinstance(value, SymFloat):
            hint = float(hint)
        source = ConstantSource(StandInPool.source_name())
        symbol = self.torch_env.create_symbol(hint, source, dynamic_dim=DimDynamic.DYNAMIC,
                                              positive=None, do_not_specialize_zero_one=True)
        # A size's declared range, 0 and 1 of a named Dim traced from 2 up included: a question
        # torch's code would settle with the 2-up range (`numel == 0` in batch_norm) becomes a
        # routing guard, which our engine decides and notes (symbolic/small_sizes.py).
        lo, hi = declared_bound(value.env, value.expr)
        if lo >= 0:     # a size: torch's kernels may rely on it being non-negative
            self.torch_env.var_to_range[symbol] = ValueRanges(
                int(lo), int_oo if hi == INF else int(hi))
        self.params[i] = symbol
        if isinstance(value, SymFloat):
            stand_in = self.torch_env.create_symfloatnode(symbol, hint=hint)
        else:
            stand_in = self.torch_env.create_symintnode(symbol, hint=hint)
        self.pool.add(key, symbol, stand_in)
        self._pooled.add(i)
        return stand_in

    def fake(self, meta, index_of: Callable[[SymValue], int]) -> torch.Tensor:
        """A fake tensor whose symbolic sizes (and strides) are stand-ins, so torch routes the
        call as it would for any size (x[:, :6] is a slice, not the alias it is at size 6).
        `index_of`: the call's index of each symbolic value (its SymArgs).

        Making one costs torch's symbolic storage and contiguity arithmetic (~1 ms); a fake
        over pooled stand-ins is shared with later calls of the trace that need the same
        layout, lent to one call at a time and given back (`give_back`) only unchanged."""
        key = self._fake_key(meta, index_of)
        if key is not None:
            made = self.pool.take_fake(key)
            if made is None:
                made = self._new_fake(meta, index_of)
            self._lent.append((key, made, fake_state(made)))
            return made
        return self._new_fake(meta, index_of)

    def give_back(self) -> None:
        """After the call: the fakes it borrowed return to the pool (before `pool.settle()`,
        which forgets them with the stand-ins if the call taught torch's env anything)."""
        for key, fake, state in self._lent:
            self.pool.give_back(key, fake, state)
        self._lent.clear()

    def _fake_key(self, meta, index_of: Callable[[SymValue], int]) -> tuple | None:
        """What a fake of `meta` depends on, with each symbolic size or stride as the identity
        of its pooled stand-in; None when one is not pooled (read from data) or the offset is
        symbolic."""
        if type(meta.storage_offset) is not int:
            return None

        def part(s: Any) -> Any:
            if type(s) is int:
                return s
            if s.env.hint_value(s.expr) is None:
                return None
            i = index_of(s)
            recipe = self.recipes.get(i)
            if recipe is not None:      # the stride is made of pooled stand-ins, or not pooled
                parts = tuple(part(self.values[j]) for _, j in recipe[1])
                return None if None in parts else (recipe[0], parts)
            made = self.stand_in(i)
            return id(made) if i in self._pooled else None
        sizes = tuple(part(s) for s in meta.shape)
        strides = meta.strides if meta.sym_strides is None else \
            tuple(part(s) for s in meta.sym_strides)
        if None in sizes or None in strides:
            return None
        return (sizes, strides, meta.sym_strides is None, meta.strides, meta.storage_offset,
                meta.dtype, meta.device, meta.layout, meta.requires_grad, meta.is_leaf)

    def _new_fake(self, meta, index_of: Callable[[SymValue], int]) -> torch.Tensor:
        from strict_tracer.proxy import layout_strides
        from .fakes import fake_mode, make_fake

        def stand_in(s: Any) -> Any:
            return s if type(s) is int else self.stand_in(index_of(s))

        def stride_in(s: Any) -> Any:
            if type(s) is int:
                return s
            recipe = self.recipes.get(index_of(s))
            if recipe is not None:
                return self._from_recipe(recipe, int(s.env.hint_value(s.expr)))
            structural = self._over_stand_ins(s, index_of)
            return stand_in(s) if structural is None else structural
        shape = [stand_in(s) for s in meta.shape]
        # Fake mode's cache never hits on fresh stand-ins (see probe()).
        with self.torch_env.suppress_guards(), disable_fake_tensor_cache(fake_mode()):
            return make_fake(meta, shape, layout_strides(meta, shape, stride_in))

    def _from_recipe(self, recipe: tuple, hint: int) -> Any:
        """A stride made of the call's values (`32*s1`) as the torch expression of their
        stand-ins, so torch knows how it follows the sizes."""
        expr, parts = recipe
        replacements = {}
        for symbol, j in parts:
            self.stand_in(j)
            replacements[symbol] = self.params[j]
        return self.torch_env.create_symintnode(_torch_expr(expr, replacements), hint=hint)

    def _over_stand_ins(self, value: SymValue, index_of: Callable[[SymValue], int]) -> Any:
        """A data-dependent stride (`Max(1, u0)` of a contiguous `(2, u0)`) as the torch
        expression of the call's stand-ins for its symbols, so the kernel sees how the layout
        follows the sizes; an opaque stand-in of its own would make a dense layout look
        arbitrary (view() then asserts `Eq(Max(1, u0), u0)`, false at u0 = 0, where eager
        runs). None for a stride with a hint, or over a symbol the call does not pass."""
        if not isinstance(value, SymInt) or value.env.hint_value(value.expr) is not None:
            return None
        expr = value.env.resolve(value.expr)
        if expr.is_Symbol or not dense_stride_form(expr):
            return None
        replacements = {}
        for symbol in expr.free_symbols:
            i = next((j for j, v in enumerate(self.values) if isinstance(v, SymInt)
                      and v.env.resolve(v.expr) == symbol), None)
            if i is None:
                return None
            self.stand_in(i)
            replacements[symbol] = self.params[i]
        return self.torch_env.create_symintnode(_torch_expr(expr, replacements), hint=None)

    def example_int(self, v: Any, args: list[SymValue], env) -> int:
        """The value a torch size takes at the hints (data-dependent parts at their examples)."""
        if type(v) is int:
            return v
        if v.node.hint is not None:
            return int(v.node.hint)
        texpr = self.torch_env.replace(v.node.expr)
        fresh = {s: _example(self.torch_env.var_to_range.get(s)) for s in texpr.free_symbols
                 if s not in self.params and s not in self.unbacked}
        if fresh:       # a data-dependent stride or offset: any consistent example will do
            texpr = texpr.xreplace(fresh)
        return int(env.example_value(self.expr_of(texpr, args)))

    # ------------------------------------------------------------------ torch -> ours
    def value_of(self, texpr: sympy.Basic, args: list[SymValue], torch_type: type, env) -> Any:
        """Our value for a torch expression the oracle recorded (`env`: the current trace's)."""
        kind = {torch.SymInt: SymInt, torch.SymFloat: SymFloat, torch.SymBool: SymBool}[torch_type]
        if texpr.is_Symbol and texpr in self.params:
            return args[self.params.index(texpr)]
        expr = self.expr_of(texpr, args)
        if expr.is_number or expr in (sympy.true, sympy.false):
            return wrap(expr, None, env, kind)
        return wrap(expr, env.hint_value(expr), env, kind)

    def expr_of(self, e: sympy.Basic, args: list[SymValue]) -> sympy.Basic:
        """Our expression for a torch expression over stand-ins and unbacked symbols."""
        if e.is_Number or e in (sympy.true, sympy.false):
            return e
        if e.is_Symbol:
            if e in self.params:
                return _param_expr(args[self.params.index(e)])
            return self._unbacked(e).expr
        conv = [self.expr_of(a, args) for a in e.args]
        func = e.func
        converter = _FROM_TORCH.get(func)
        if converter is not None:
            return converter(*conv)
        if func in _SYMPY_FUNCS:
            return func(*conv)
        raise NotImplementedError(f"torch expression {e} ({func.__name__})")

    def adopt_scalar(self, texpr: sympy.Basic, torch_type: type, env, source: str) -> SymValue:
        """Our value for a number an ATen call read from data (`aten.item`): a fresh unbacked
        symbol with the range torch gives it (any value: not a size); the same one each time
        it is asked for."""
        made = self.scalars.get(texpr)
        if made is not None:
            return made
        fresh = [s for s in texpr.free_symbols if s not in self.params and s not in self.unbacked]
        if len(fresh) != 1:
            raise NotImplementedError(f"torch expression {texpr} read from data")
        symbol = fresh[0]
        kind = {torch.SymInt: SymInt, torch.SymFloat: SymFloat, torch.SymBool: SymBool}[torch_type]
        vr = self.torch_env.var_to_range.get(symbol)
        lo, hi = (-INF, INF) if vr is None or kind is SymFloat else (_py(vr.lower), _py(vr.upper))
        ours = env.create_unbacked(f"{source} of a tensor passed as a number", kind, lower=lo,
                                   upper=hi)
        (our_symbol,) = ours.expr.free_symbols
        self.unbacked[symbol] = (SymFloat if kind is SymFloat else SymInt)(our_symbol, None, env)
        self.scalars[texpr] = ours
        return ours

    def _unbacked(self, symbol: sympy.Symbol) -> SymValue:
        """A data-dependent size the oracle produced: a fresh unbacked size of ours."""
        ours = self.unbacked.get(symbol)
        if ours is None:
            vr = self.torch_env.var_to_range.get(symbol)
            lo, hi = (0, INF) if vr is None else (max(0, _py(vr.lower)), _py(vr.upper))
            ours = self.env.create_unbacked("a data-dependent output size", SymInt, lower=lo,
                                            upper=hi, size_like=True)
            self.unbacked[symbol] = ours
        return ours


_PLAIN = (int, bool, torch.device, torch.dtype)


def fake_state(t: torch.Tensor) -> tuple:
    """What a call may change of a fake it was given: its version (every in-place op bumps
    it), sizes, strides and offset (as their nodes), dtype and autograd state."""
    def node(s: Any) -> Any:
        return s.node if type(s) is torch.SymInt else s
    return (t._version, t.dim(), *(node(s) for s in (*t.shape, *t.stride(), t.storage_offset())),
            t.dtype, t.device, t.requires_grad, t.is_leaf, t.grad_fn)


def _torch_expr(expr: sympy.Basic, replacements: dict) -> sympy.Basic:
    """Our dense-stride expression over torch's symbols, with torch's Max/Min."""
    texpr = expr.xreplace(replacements)
    if texpr.has(sympy.Max, sympy.Min):
        texpr = texpr.replace(sympy.Max, tfn.Max).replace(sympy.Min, tfn.Min)
    return texpr


def dense_stride_form(expr: sympy.Basic) -> bool:
    """Products, sums and max/min of integers and symbols: a dense layout's strides."""
    return all(isinstance(node, (sympy.Symbol, sympy.Integer, sympy.Add, sympy.Mul, sympy.Max,
                                 sympy.Min)) for node in sympy.preorder_traversal(expr))


def _param_expr(value: SymValue) -> sympy.Basic:
    """What a stand-in symbol stands for: the value's expression; for a bool, its 0/1 value
    (torch's unbacked bools are `Eq(u, 1)` of a symbol u in [0, 1])."""
    if not isinstance(value, SymBool):
        return value.expr
    e = value.env.resolve(value.expr)
    if e.func is sympy.Eq and e.rhs == 1 and e.lhs.is_Symbol and \
            value.env.range_of(e.lhs) == (0, 1):
        return e.lhs
    return sympy.Piecewise((1, e), (0, True))


def _py(bound: Any):
    """A torch value-range bound as a Python int or +-inf."""
    if bound in (int_oo, sympy.oo):
        return INF
    if bound in (-int_oo, -sympy.oo):
        return -INF
    return int(bound)


def _example(vr) -> sympy.Integer:
    lo, hi = (-INF, INF) if vr is None else (_py(vr.lower), _py(vr.upper))
    return sympy.Integer(int(min(max(8, lo), hi)))
