"""Our symbols as torch's, for packaging (DESIGN.md "Packaging").

One torch ShapeEnv and FakeTensorMode per program. Every symbolic input dimension gets a
torch symbol whose source names it (`L['flat_args'][0].size()[0]`, as torch.export's); the surviving symbols of our engine
are those, so node values, placeholder shapes and range constraints are our final
expressions over them. Unbacked symbols become torch unbacked symbols when first met.

Guards reach `ep.module()` as torch does it: placeholder shapes and range constraints give the
per-dimension checks; every other guard (a relation like `w.size()[0] == x.size()[0] + 2`, a
divisibility) is added to the torch ShapeEnv's guards, from which ExportedProgram derives its
guard code.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import sympy
import torch
from torch._dynamo.source import (ConstantSource, GetItemSource, LocalSource,
                                  TensorProperty, TensorPropertySource)
from torch._guards import ShapeGuard, SLoc
from torch._subclasses.fake_tensor import in_kernel_invocation_manager
from torch.fx.experimental.symbolic_shapes import CallMethodKey, DimDynamic
from torch.fx.experimental.symbolic_shapes import ShapeEnv as TorchShapeEnv
from torch.utils._pytree import SequenceKey
from torch.utils._sympy import functions as tfn
from torch.utils._sympy.numbers import int_oo
from torch.utils._sympy.value_ranges import ValueRanges

from ..ops.oracle.fakes import metadata_fake_mode
from ..proxy import TensorMeta, layout_strides
from .fake_wrap import FakeWrapper
from .shared_sym_nodes import share
from ..symbolic import SymBool, SymFloat, SymValue
from ..symbolic.constraints import range_constraints
from ..symbolic.dims import DERIVED
from ..symbolic.functions import RoundToInt, ToFloat, TruncToInt, strip_float
from ..symbolic.ranges import INF, decide


def input_source(leaf: int, dim: int | None):
    """torch's Source for a dimension of the `leaf`-th flattened input, named as
    torch.export's strict tracer names it (`L['flat_args'][i].size()[d]`): torch derives a
    symbol's name from its source, so the program prints the same symbols as torch.export's,
    and ep.module() maps these names back to the user's inputs in guard code. An int input
    (`dim` None) is the item itself: `L['flat_args'][i]`."""
    if dim is None:
        return GetItemSource(LocalSource("flat_args"), leaf)
    return TensorPropertySource(GetItemSource(LocalSource("flat_args"), leaf), TensorProperty.SIZE, dim)


class TorchSymbols:
    """Maps our expressions onto one torch ShapeEnv and makes the program's fake values."""

    def __init__(self, env=None, inputs=None, sym_nodes=None, keep_equal: bool = True) -> None:
        self.env = env
        self.inputs = inputs
        self.sym_nodes = sym_nodes
        self.shape_env = TorchShapeEnv()
        self.mode = metadata_fake_mode(shape_env=self.shape_env, allow_non_fake_inputs=True)
        self._wrapper = FakeWrapper(self.mode)
        self.map: dict[sympy.Symbol, sympy.Basic] = {}
        self.dim_symbols: dict[Any, sympy.Symbol] = {}   # InputDim -> torch symbol of its source
        self.unbacked: list[sympy.Symbol] = []           # ours, in order of first use
        self._sizes: dict[sympy.Basic, Any] = {}         # our size expression -> torch SymInt
        self._strides: dict[tuple, list] = {}            # (sizes made, hint strides) -> strides
        if inputs is not None and inputs.symbols is not None:
            self._input_symbols(inputs.symbols, keep_equal)

    # ------------------------------------------------------------------ symbols
    def _new_symbol(self, hint: int, source, lo, hi, size: bool = True) -> sympy.Symbol:
        """A torch symbol; `size=False` for an int input, which may be negative."""
        symbol = self.shape_env.create_symbol(hint, source, dynamic_dim=DimDynamic.DYNAMIC,
                                              do_not_specialize_zero_one=True,
                                              positive=True if size else None)
        self.shape_env.var_to_range[symbol] = _vr(lo, hi)
        return symbol

    def _input_symbols(self, symbols, keep_equal: bool) -> None:
        # In input order, as torch.export creates them: a name taken by an earlier symbol
        # (hash collision) moves the later one to the next free name.
        for where, value in sorted(symbols.values.items(), key=_input_order):
            if not isinstance(value, SymValue):
                continue
            source = input_source(where.leaf, where.dim)
            expr = value.expr
            size = where.dim is not None
            if expr.is_Symbol and expr not in self.map:
                lo, hi = self.env.range_of(expr)
                self.map[expr] = self.dim_symbols[where] = self._new_symbol(value.hint, source, lo,
                                                                            hi, size)
            else:
                lo, hi = self.env.bound(expr)
                self.dim_symbols[where] = self._new_symbol(value.hint, source,
                                                           max(lo, 0) if size else lo, hi, size)
        for name, root in symbols.phantoms.items():
            if root.expr not in self.map:
                lo, hi = self.env.range_of(root.expr)
                self.map[root.expr] = self._new_symbol(root.hint, ConstantSource(name), lo, hi)
        if keep_equal:
            self._keep_symbols_torch_keeps(symbols)

    def _keep_symbols_torch_keeps(self, symbols) -> None:
        """Input dims found equal while tracing share one of our symbols; print it as the torch
        symbol torch.export keeps. Its ShapeEnv, told two equal-hinted sizes are equal, replaces
        the lexicographically higher name (s6 by s27), so the lowest-named survives."""
        equal_dims: dict[sympy.Symbol, list[sympy.Symbol]] = {}
        for where, value in symbols.values.items():
            if isinstance(value, SymValue):
                resolved = self.env.resolve(value.expr)
                if resolved.is_Symbol and resolved in self.map:
                    equal_dims.setdefault(resolved, []).append(self.dim_symbols[where])
        for ours, candidates in equal_dims.items():
            kept = min(candidates, key=lambda symbol: symbol.name)
            if kept is not self.map[ours]:
                self.map[ours] = kept
                self.shape_env.var_to_range[kept] = _vr(*self.env.range_of(ours))

    def _symbol(self, s: sympy.Symbol) -> sympy.Basic:
        mapped = self.map.get(s)
        if mapped is not None:
            return mapped
        info = self.env.symbols[s]
        if not info.unbacked:
            raise KeyError(f"symbol {s} ({info.source}) has no torch counterpart")
        if s.is_integer:
            torch_value = self.shape_env.create_unbacked_symint()
        else:
            torch_value = self.shape_env.create_unbacked_symfloat()
        mapped = torch_value.node.expr
        self.shape_env.var_to_range[mapped] = _vr(info.lower, info.upper, bool(s.is_integer))
        self.map[s] = mapped
        self.unbacked.append(s)
        return mapped

    # ------------------------------------------------------------------ expressions
    def expr(self, e: sympy.Basic, resolve: bool = True) -> sympy.Basic:
        """Our expression (resolved by default) over torch's symbols and functions."""
        if resolve and self.env is not None:
            e = self.env.resolve(e)
        return self._conv(e)

    def _conv(self, e: sympy.Basic) -> sympy.Basic:
        if e.is_Number or e in (sympy.true, sympy.false):
            return e
        if e.is_Symbol:
            return self._symbol(e)
        func = e.func
        if e.is_Mul or (e.is_Pow and e.exp.is_negative):
            num, den = sympy.fraction(e)
            if den != 1:
                n, d = strip_float(num), strip_float(den)
                if n.is_integer and d.is_integer:
                    return tfn.IntTrueDiv(self._conv(n), self._conv(d))
                return tfn.FloatTrueDiv(self._conv(num), self._conv(den))
        if e.is_Pow and not e.exp.is_Integer:
            if e.exp == sympy.Rational(1, 2):
                return tfn.OpaqueUnaryFn_sqrt(self._conv(e.base))
            return tfn.FloatPow(self._conv(e.base), self._conv(e.exp))
        converted = _FUNCS.get(func)
        if converted is not None:
            return converted(*(self._conv(a) for a in e.args))
        if func is sympy.floor:
            # together(): sympy spreads floor((s - 1)/2) into floor(s/2 - 1/2)
            num, den = sympy.fraction(sympy.together(e.args[0]))
            if den != 1:
                return tfn.FloorDiv(self._conv(num), self._conv(den))
            return tfn.FloorToInt(self._conv(e.args[0]))
        if func is sympy.ceiling:
            num, den = sympy.fraction(sympy.together(e.args[0]))
            if den != 1:
                return tfn.CeilDiv(self._conv(num), self._conv(den))
            return tfn.CeilToInt(self._conv(e.args[0]))
        if func is sympy.Mod:
            a, b = e.args
            nonneg = self.env is not None and self.env.bound(a)[0] >= 0 and self.env.bound(b)[0] > 0
            return (tfn.Mod if nonneg else tfn.PythonMod)(self._conv(a), self._conv(b))
        if func is sympy.Max:
            return tfn.Max(*(self._conv(a) for a in e.args))
        if func is sympy.Min:
            return tfn.Min(*(self._conv(a) for a in e.args))
        return func(*(self._conv(a) for a in e.args))

    def value(self, v: Any) -> Any:
        """A torch SymInt/SymFloat/SymBool (or number) for one of our values."""
        if not isinstance(v, SymValue):
            return v
        e = self.env.resolve(v.expr)
        if e.is_number or e in (sympy.true, sympy.false):
            return bool(e) if isinstance(v, SymBool) else (int(e) if e.is_Integer else float(e))
        texpr = self._conv(e)
        hint = self.env.hint_value(e)
        if isinstance(v, SymBool):
            return self.shape_env.create_symboolnode(texpr)
        if isinstance(v, SymFloat):
            # sympy folds an integral float hint (4/2) to an Integer; torch wants a float.
            return self.shape_env.create_symfloatnode(
                texpr, hint=None if hint is None else float(hint))
        return self.shape_env.create_symintnode(texpr, hint=hint)

    # ------------------------------------------------------------------ fake values
    def values(self, items: list) -> list:
        """fake() of each TensorMeta, value() of anything else. Sizes, strides and values
        are made in order (torch meets unbacked symbols in that order and names them so);
        then the meta tensors of the strided layouts, all inside one of the mode's kernel
        invocations (entering one costs more than making a meta tensor)."""
        made = [self._layout(item) if isinstance(item, TensorMeta) else self.value(item)
                for item in items]
        with in_kernel_invocation_manager(self.mode):
            elems = [torch.empty_strided(*m, dtype=item.dtype, device=_META)
                     if isinstance(item, TensorMeta) and item.layout is torch.strided else None
                     for item, m in zip(items, made)]
        return [self._fake(item, *m, elem) if isinstance(item, TensorMeta) else m
                for item, m, elem in zip(items, made, elems)]

    def _layout(self, meta: TensorMeta) -> tuple[list, Any]:
        if meta.is_static:
            return list(meta.shape), meta.strides
        shape = [self._size(s) for s in meta.shape]
        if meta.sym_strides is not None:    # a view's strides, computed by its op
            return shape, layout_strides(meta, shape, self._size)
        key = (tuple(s if type(s) is int else ("sym", id(s)) for s in shape), meta.strides)
        strides = self._strides.get(key)
        if strides is None:     # torch SymInt arithmetic: once per layout of a shape
            strides = self._strides[key] = layout_strides(meta, shape, self._size)
        return shape, strides

    def _fake(self, meta: TensorMeta, shape: list, strides: Any,
              elem: torch.Tensor | None) -> torch.Tensor:
        """`elem` (a strided layout's meta tensor) as what `torch.empty_strided` makes under
        the mode (its constructor rule: the meta tensor wrapped for the device), without the
        dispatch, argument normalization and cache lookup of a call through the mode: ~5x
        cheaper, and a program has one per node. Other layouts go through the mode."""
        if elem is not None:
            t = self._wrapper.wrap(elem, meta.device)
        else:
            with self.mode:
                t = torch.empty_strided(shape, strides, dtype=meta.dtype, device=meta.device,
                                        layout=meta.layout)
        if meta.requires_grad:
            t.requires_grad_(True)
        return t

    def _size(self, s: Any) -> Any:
        """One torch SymInt per size expression: tensors of a shape share their sizes, which
        lets torch reuse what it computed about them (contiguity, numel)."""
        if type(s) is int:
            return s
        key = self.env.resolve(s.expr)
        made = self._sizes.get(key)
        if made is None:
            made = self._sizes[key] = share(self.value(s))
        return made

    # ------------------------------------------------------------------ program facts
    def range_constraints(self, unbacked_in_graph: list) -> dict:
        if self.env is None:
            return {}
        symbols = self.inputs.symbols if self.inputs is not None else None
        dims = [] if symbols is None else [
            (where, self.env.resolve(v.expr)) for where, v in symbols.values.items()
            if isinstance(v, SymValue)]
        ours = range_constraints(self.env, symbols, dims, unbacked_in_graph) if symbols is not None \
            else {s: self.env.range_of(s) for s in unbacked_in_graph}
        return {self.expr(e, resolve=False): _vr(lo, hi, bool(e.is_integer))
                for e, (lo, hi) in ours.items()}

    def add_guards(self) -> None:
        """Guards the program relies on that placeholder shapes and ranges do not express."""
        env = self.env
        if env is None:
            return
        symbols = self.inputs.symbols if self.inputs is not None else None
        order = {symbol: i for i, symbol in enumerate(self.dim_symbols.values())}
        phantoms = set() if symbols is None else \
            {self.map.get(root.expr) for root in symbols.phantoms.values()}
        for where, own in self.dim_symbols.items():
            resolved = env.resolve(symbols.values[where].expr)
            if where.dim is None and resolved.is_Symbol:
                self._int_bounds(own, resolved)
        # The guards in the order tracing relied on them (torch.export's order), then the
        # input sizes tracing found equal to other expressions.
        self._traced_guards()
        for where, own in self.dim_symbols.items():
            resolved = env.resolve(symbols.values[where].expr)
            if resolved.is_number or self.map.get(resolved) is own:
                continue
            kept = self.expr(resolved, resolve=False)
            declared = getattr(symbols.specs.get(where), "kind", None) == DERIVED
            self._guard(_input_equality(own, kept, order) if declared else sympy.Eq(own, kept),
                        None)
            divisible = _divisible(own, kept, phantoms)
            if divisible is not None:
                self._guard(divisible, None)

    def _traced_guards(self) -> None:
        env = self.env
        for guard in env.guards:
            fact = env.resolve(guard.expr)
            if fact in (sympy.true, sympy.false) or decide(fact, env.range_of) is True:
                continue
            if any(env.symbols[s].unbacked for s in fact.free_symbols if s in env.symbols):
                continue
            self._guard(self.expr(fact, resolve=False), guard.provenance)

    def _int_bounds(self, own: sympy.Symbol, ours: sympy.Symbol) -> None:
        """An int input's traced bounds as explicit guards: ep.module() takes a size-like lower
        bound of 0 or 1 as given, but an int can be negative."""
        lo, hi = self.env.range_of(ours)
        if lo != -INF:
            self._guard(sympy.Ge(own, int(lo)), None)
        if hi != INF:
            self._guard(sympy.Le(own, int(hi)), None)

    def _guard(self, texpr: sympy.Basic, provenance: Any) -> None:
        where = None if provenance is None else str(provenance)
        self.shape_env.guards.append(ShapeGuard(texpr, SLoc(None, where), False))

    def unbacked_bindings(self, symbol: sympy.Symbol) -> Optional[dict]:
        """`node.meta["unbacked_bindings"]` for the node that defines an unbacked symbol."""
        binding = self.sym_nodes.bindings.get(symbol) if self.sym_nodes is not None else None
        if binding is None or symbol not in self.map:
            return None
        if binding.dim is None:
            return {self.map[symbol]: ()}
        return {self.map[symbol]: (CallMethodKey("size"), SequenceKey(binding.dim))}


def _divisible(own: sympy.Symbol, kept: sympy.Basic, phantoms: set) -> sympy.Basic | None:
    """`own == a*r + b` over a root `r` that sizes no input itself (`w: 2*dimx`): ep.module()
    cannot check that equality (r has no source), so the program checks `(own - b) % a == 0`,
    as torch.export does; without it a size the spec excludes (9) would run the program traced
    for even sizes."""
    if len(kept.free_symbols) != 1:
        return None
    (root,) = kept.free_symbols
    a = kept.diff(root)
    b = sympy.expand(kept - a * root)
    if root not in phantoms or not (a.is_Integer and b.is_Integer) or a <= 1:
        return None
    return sympy.Eq(tfn.Mod(own - b, a), 0)


def _input_equality(own: sympy.Symbol, kept: sympy.Basic, order: dict) -> sympy.Basic:
    """The guard that an input dim declared derived (torch symbol `own`) equals `kept`, an
    expression of the symbol kept for both, written as torch.export writes it (an equality
    tracing found reads `own == kept`): a dim offset from another input's
    (`dimx + 1`) is the root each side gives, the earlier input's on the left
    (`x.size()[0] == -1 + y.size()[0]` for x: dimx, y: dimx + 1)."""
    if len(kept.free_symbols) == 1:
        (root,) = kept.free_symbols
        offset = sympy.expand(kept - root)
        if offset.is_Integer and root in order and own in order:
            if order[root] < order[own]:
                return sympy.Eq(root, own - offset)
            return sympy.Eq(own - offset, root)
    return sympy.Eq(own, kept)


def _input_order(item: tuple) -> tuple:
    where = item[0]
    return where.leaf, -1 if where.dim is None else where.dim



_META = torch.device("meta")
_FUNCS = {ToFloat: tfn.ToFloat, TruncToInt: tfn.TruncToInt, RoundToInt: tfn.RoundToInt}


def _vr(lo, hi, integer: bool = True) -> ValueRanges:
    if not integer:
        return ValueRanges(-sympy.oo if lo == -INF else lo, sympy.oo if hi == INF else hi)
    lo = -int_oo if lo == -INF else int(lo)
    hi = int_oo if hi == INF else int(hi)
    return ValueRanges(lo, hi)


def program_names(env, symbols) -> Callable[[sympy.Basic], str]:
    """How the packaged program prints an expression of our input symbols (`s27 > 2`), so
    that explain() and the logs name sizes as the program does. A relation the program's
    names make trivial (two dims found equal print as one symbol) is printed with each
    dim's own name instead: `Eq(s27, s6)`."""
    if symbols is None:
        return str
    kept = TorchSymbols(env, _InputsView(symbols)).map
    own = TorchSymbols(env, _InputsView(symbols), keep_equal=False).map

    def show(expr: sympy.Basic) -> str:
        shown = expr.xreplace(kept)
        if shown in (sympy.true, sympy.false) and expr not in (sympy.true, sympy.false):
            shown = expr.xreplace(own)
        return str(shown)
    return show


class _InputsView:
    """The part of TracedInputs TorchSymbols reads."""

    def __init__(self, symbols) -> None:
        self.symbols = symbols
