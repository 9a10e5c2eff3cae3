"""Replaying a reference ExportedProgram's ATen nodes through our shape rules.

torch.export (the reference) records, for every node, symbolic output shapes in its own
symbols. We map its input symbols to symbols of our ShapeEnv, rebuild each node's arguments
as TensorProxies over our SymInts, run our rule, and compare our output shapes with torch's
at the hints and at other values of the symbols.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import sympy
import torch

from strict_tracer.ops.shape_rules import apply_rule
from strict_tracer.proxy import TensorMeta, TensorProxy
from strict_tracer.symbolic import ShapeEnv, SymInt, SymValue


@dataclass
class ReplayReport:
    nodes: int = 0
    symbolic_nodes: int = 0
    ops: set = field(default_factory=set)
    mismatches: list = field(default_factory=list)
    specialized: list = field(default_factory=list)


class _Mapper:
    def __init__(self, torch_env):
        self.env = ShapeEnv()
        self.torch_env = torch_env
        self.symbols: dict[sympy.Symbol, sympy.Symbol] = {}

    def expr(self, e: sympy.Expr) -> sympy.Expr:
        for s in e.free_symbols:
            if s not in self.symbols:
                hint = self.torch_env.var_to_val.get(s)
                if hint is None:
                    raise LookupError(f"unbacked {s}")
                self.symbols[s] = self.env.create_size(int(hint), str(s)).expr
        return e.xreplace(self.symbols)

    def size(self, s: Any) -> Any:
        if isinstance(s, torch.SymInt):
            e = s.node.expr
            if e.is_number:
                return int(e)
            hint = int(e.xreplace(self.torch_env.var_to_val))
            return SymInt(self.expr(e), hint, self.env)
        return s

    def value(self, v: Any) -> Any:
        if isinstance(v, torch.fx.Node):
            return self.value(v.meta["val"])
        if isinstance(v, torch.Tensor):
            return TensorProxy(None, TensorMeta(tuple(self.size(s) for s in v.shape), v.dtype,
                                                v.device))
        if isinstance(v, (torch.SymInt, torch.SymFloat, torch.SymBool)):
            if isinstance(v, torch.SymInt):
                return self.size(v)
            raise LookupError("symbolic float/bool argument")
        if isinstance(v, (list, tuple)):       # fx's immutable lists -> plain lists
            return (list if isinstance(v, list) else tuple)(self.value(x) for x in v)
        return v


def _hint_shape(t: torch.Tensor, torch_env) -> tuple:
    return tuple(int(s.node.expr.xreplace(torch_env.var_to_val)) if isinstance(s, torch.SymInt)
                 else s for s in t.shape)


def replay(ep: torch.export.ExportedProgram, points: int = 4, seed: int = 0) -> ReplayReport:
    torch_env = None
    for node in ep.graph.nodes:
        val = node.meta.get("val")
        if isinstance(val, torch.Tensor) and getattr(val, "fake_mode", None) is not None:
            torch_env = val.fake_mode.shape_env
            break
    report = ReplayReport()
    rng = random.Random(seed)
    for node in ep.graph.nodes:
        if node.op != "call_function" or not isinstance(node.target, torch._ops.OpOverload):
            continue
        out_val = node.meta.get("val")
        if isinstance(out_val, (int, float, bool, torch.SymInt, torch.SymFloat, torch.SymBool)):
            continue        # scalar results (sym_size, item) are the interpreter's business
        report.nodes += 1
        outs = [out_val] if isinstance(out_val, torch.Tensor) else (
            [o for o in out_val if isinstance(o, torch.Tensor)] if isinstance(out_val, (list, tuple))
            else [])
        mapper = _Mapper(torch_env)
        try:
            args = mapper.value(node.args)
            kwargs = mapper.value(dict(node.kwargs))
            want = [tuple(mapper.size(s) for s in o.shape) for o in outs]
        except LookupError:
            continue        # unbacked or symbolic-float inputs: not a rule question
        if not mapper.symbols:
            continue
        report.symbolic_nodes += 1
        report.ops.add(node.target)
        metas = [TensorMeta(_hint_shape(o, torch_env), o.dtype, o.device) for o in outs]
        apply_rule(node.target, args, kwargs, metas, mapper.env)
        for g in mapper.env.guards:
            if isinstance(g.expr, sympy.Eq) and any(a.is_Symbol for a in g.expr.args) and \
                    any(a.is_number for a in g.expr.args):
                report.specialized.append((node.target, g.expr))
        syms = list(mapper.env.symbols)
        for _ in range(points):
            values = {s: rng.randint(2, 40) for s in syms}
            if any(g.expr.subs(values) is not sympy.true for g in mapper.env.guards):
                continue
            for got, exp in zip((m.shape for m in metas), want):
                g = [int(sympy.sympify(x.expr if isinstance(x, SymValue) else x).subs(values))
                     for x in got]
                w = [int(sympy.sympify(x.expr if isinstance(x, SymValue) else x).subs(values))
                     for x in exp]
                if g != w:
                    report.mismatches.append((node.target, got, exp, values))
    return report
