"""A hypothesis strategy that writes random nn.Module programs (source code).

Programs mix tensor ops from the supported families with Python control flow on shapes and
constants, containers, closures, helper methods, submodules, buffers and in-place ops. Every
program is valid by construction for inputs of shape (batch, WIDTH): the batch dimension may
vary (it is what dynamic-shape fuzzing makes dynamic), WIDTH is fixed.
"""
from __future__ import annotations

import collections
import functools
import inspect
import itertools
import linecache
import math
import types
from dataclasses import dataclass, field

import torch
from hypothesis import strategies as st

from .program_soundness import SOUNDNESS_STATEMENTS
from .program_statements import BLOCK_CLASS, STATEMENTS

WIDTH = 6
_counter = itertools.count()


@dataclass
class Program:
    """Source of a generated module plus how to build it and its example inputs."""

    source: str
    n_inputs: int
    mutates_inputs: bool
    filename: str = field(default="")

    def build(self) -> torch.nn.Module:
        """Compile the source (registered with linecache so errors show lines) and instantiate."""
        if not self.filename:
            self.filename = f"<strict_tracer-generated-{next(_counter)}>"
            lines = self.source.splitlines(keepends=True)
            linecache.cache[self.filename] = (len(self.source), None, lines, self.filename)
        namespace: dict = {"torch": torch, "F": torch.nn.functional, "math": math,
                           "functools": functools, "collections": collections,
                           "types": types, "inspect": inspect}
        exec(compile(self.source, self.filename, "exec"), namespace)
        torch.manual_seed(0)
        return namespace["Generated"]()

    def inputs(self, batch: int, seed: int, width: int = WIDTH) -> tuple[torch.Tensor, ...]:
        """Random example inputs of shape (batch, width), reproducible from `seed`."""
        gen = torch.Generator().manual_seed(seed)
        return tuple(torch.randn(batch, width, generator=gen) for _ in range(self.n_inputs))


class _Writer:
    """Accumulates statements for forward(); tracks which tensor variables are in scope."""

    def __init__(self, draw, n_inputs: int):
        self.draw = draw
        self.lines: list[str] = []
        self.tensors = [f"x{i}" for i in range(n_inputs)]
        self.fresh = itertools.count()
        self.helpers: list[str] = []
        self.init: list[str] = []
        self.mutates_inputs = False
        self.n_linear = 0
        self.n_buffers = 0
        self.classes: set[str] = set()

    def var(self) -> str:
        return self.draw(st.sampled_from(self.tensors))

    def new(self, prefix: str = "v") -> str:
        return f"{prefix}{next(self.fresh)}"

    def emit(self, line: str, indent: int = 2) -> None:
        self.lines.append("    " * indent + line)

    def assign(self, expr: str, indent: int = 2) -> str:
        name = self.new()
        self.emit(f"{name} = {expr}", indent)
        self.tensors.append(name)
        return name


def _unary(w: _Writer) -> str:
    v = w.var()
    return w.draw(st.sampled_from([
        f"torch.relu({v})", f"{v}.sin()", f"-{v}", f"{v}.abs()", f"torch.tanh({v})",
        f"F.gelu({v})", f"{v}.sigmoid()", f"{v} * 0.5", f"{v}.exp().clamp(max=5.0)",
        f"F.softmax({v}, dim=-1)", f"{v}.cumsum(1)", f"{v}.flip(0)",
        f"{v}.masked_fill({v} < 0, 0.0)", f"F.layer_norm({v}, ({WIDTH},))",
        f"{v}.round().long().float()", f"({v} > 0).float() * {v}", f"{v}[:, ::2].repeat(1, 2)[:, :{WIDTH}]",
        f"{v}.triu()[:, :{WIDTH}] if {v}.shape[0] <= {WIDTH} else {v}", f"{v}.roll(1, 1)",
        f"torch.nan_to_num({v}.log())", f"{v}.pow(2).sqrt()", f"F.dropout({v}, 0.5, training=False)",
    ]))


def _binary(w: _Writer) -> str:
    a, b = w.var(), w.var()
    c = w.draw(st.sampled_from(["1.5", "2", "-0.25", "3"]))
    return w.draw(st.sampled_from([
        f"{a} + {b}", f"{a} * {b}", f"{a} - {b} * {c}", f"torch.maximum({a}, {b})",
        f"torch.where({a} > {b}, {a}, {b})", f"{a} / ({b}.abs() + 1)", f"{c} - {a}",
        f"({a} + {b}).mean(-1, keepdim=True) + {a}", f"{a} @ {b}.t() @ {a} * 0.01",
        f"torch.einsum('bi,bj->bij', {a}, {b}).sum(-1)", f"{a}.max(dim=1, keepdim=True).values + {b}",
        f"torch.lerp({a}, {b}, 0.3)", f"{a}.clamp(min=-1.0) * {b}.sign()",
        f"{a} + {b}.sum()", f"{a}.type_as({b}) + {b}.std()",
    ]))


def _shape_op(w: _Writer) -> str:
    v = w.var()
    k = w.draw(st.integers(1, WIDTH - 1))
    return w.draw(st.sampled_from([
        f"{v}.transpose(0, 1).transpose(0, 1)", f"{v}.reshape({v}.shape[0], {WIDTH})",
        f"{v}.view(-1).view({v}.shape[0], -1)", f"{v}.unsqueeze(1).squeeze(1)",
        f"torch.cat([{v}[:, :{k}], {v}[:, {k}:]], dim=1)",
        f"torch.stack([{v}, {v}], 0).sum(0)", f"{v}.expand(2, -1, -1).mean(0)",
        f"{v}[:, [{k}] * {WIDTH}] + {v}", f"{v}.contiguous()",
        f"sum({v}.split({k}, dim=1)[0].sum(1, keepdim=True) for _ in range(2)) + {v}",
    ]))


def _module_op(w: _Writer) -> str:
    v = w.var()
    if w.draw(st.booleans()):
        name = f"lin{w.n_linear}"
        w.n_linear += 1
        w.init.append(f"self.{name} = torch.nn.Linear({WIDTH}, {WIDTH})")
        return f"self.{name}({v})"
    name = f"buf{w.n_buffers}"
    w.n_buffers += 1
    w.init.append(f"self.register_buffer('{name}', torch.randn({WIDTH}))")
    return f"{v} * self.{name}"


def _expr(w: _Writer) -> str:
    kind = w.draw(st.sampled_from([_unary, _unary, _binary, _binary, _shape_op, _module_op]))
    return kind(w)


def _if_shape_statement(w: _Writer) -> None:
    v = w.var()
    threshold = w.draw(st.integers(0, 5))
    target = w.new()
    w.emit(f"if {v}.shape[0] > {threshold} and {v}.dim() == 2:")
    w.emit(f"{target} = {_expr(w)}", 3)
    w.emit("else:")
    w.emit(f"{target} = {_expr(w)}", 3)
    w.tensors.append(target)


def _for_range_statement(w: _Writer) -> None:
    v = w.var()
    n = w.draw(st.integers(1, 3))
    target = w.new()
    w.emit(f"{target} = {v}")
    w.emit(f"for i in range({n}):")
    w.emit(f"{target} = {target} * 0.5 + i", 3)
    w.tensors.append(target)


def _container_statement(w: _Writer) -> None:
    a, b = w.var(), w.var()
    target = w.new()
    style = w.draw(st.sampled_from(["list", "dict", "tuple"]))
    if style == "list":
        w.emit(f"items = [{a}, {b}]")
        w.emit(f"items.append(items[0] + items[-1])")
        w.emit(f"{target} = items[2] - items[1]")
    elif style == "dict":
        w.emit(f"table = {{'a': {a}, 'b': {b}}}")
        w.emit(f"{target} = sum(table[key] for key in sorted(table))")
    else:
        w.emit(f"first, *rest = ({a}, {b}, {a} * 2)")
        w.emit(f"{target} = first + rest[-1]")
    w.tensors.append(target)


def _closure_statement(w: _Writer) -> None:
    captured = w.var()
    scale = w.draw(st.sampled_from(["0.5", "2.0", "-1.0"]))
    fn = w.new("fn")
    w.emit(f"def {fn}(a, scale={scale}):")
    w.emit(f"return a * scale + {captured}", 3)
    w.assign(f"{fn}({w.var()})")


def _helper_statement(w: _Writer) -> None:
    name = f"helper{len(w.helpers)}"
    body = w.draw(st.sampled_from(["a * b + a", "torch.relu(a) - b", "(a, b)[0] * 2 + b"]))
    w.helpers.append(f"    def {name}(self, a, b):\n        return {body}\n")
    w.assign(f"self.{name}({w.var()}, {w.var()})")


def _inplace_statement(w: _Writer) -> None:
    v = w.var()
    op = w.draw(st.sampled_from(["add_(1.0)", "mul_(0.5)", "clamp_(-1.0, 1.0)", "relu_()"]))
    if v.startswith("x") and w.draw(st.booleans()):
        w.mutates_inputs = True
        w.emit(f"{v}.{op}")
    else:
        target = w.new()
        w.emit(f"{target} = {v}.clone()")
        w.emit(f"{target}.{op}")
        view = w.draw(st.booleans())
        if view:
            w.emit(f"{target}[:, 0].{op}")
        w.tensors.append(target)


def _while_statement(w: _Writer) -> None:
    v = w.var()
    target = w.new()
    w.emit(f"{target}, k = {v}, 0")
    w.emit(f"while k < {w.draw(st.integers(1, 3))}:")
    w.emit(f"{target} = {target} - {v} * 0.1", 3)
    w.emit("k += 1", 3)
    w.tensors.append(target)


def _comprehension_statement(w: _Writer) -> None:
    v = w.var()
    w.assign(f"torch.stack([{v}[:, j] for j in range({WIDTH})], dim=1)")


def _try_statement(w: _Writer) -> None:
    v = w.var()
    target = w.new()
    w.emit("try:")
    w.emit(f"{target} = {{'k': {v}}}['missing']", 3)
    w.emit("except KeyError:")
    w.emit(f"{target} = {v} + 1", 3)
    w.tensors.append(target)


def _python_statement(w: _Writer) -> None:
    v = w.var()
    target = w.new()
    style = w.draw(st.sampled_from(["zip", "isinstance", "fstring", "lambda_sort", "training",
                                    "nonlocal"]))
    if style == "zip":
        w.emit(f"{target} = sum(a * i for i, (a, b) in enumerate(zip({v}.unbind(1), {w.var()}.unbind(1))))")
        w.emit(f"{target} = {target}.unsqueeze(1) + {v}")
    elif style == "isinstance":
        w.emit(f"{target} = {v} * 2 if isinstance({v}, torch.Tensor) and type({v}) is torch.Tensor else None")
    elif style == "fstring":
        w.emit(f"tag = f'{{tuple({v}.shape)}}-{{{v}.dtype}}'")
        w.emit(f"{target} = {v} + len(tag)")
    elif style == "lambda_sort":
        w.emit(f"parts = sorted([{v}, {v} * 2, {v} - 1], key=lambda t: t.shape[1])")
        w.emit(f"{target} = parts[0] + max([1, 3, 2], key=lambda n: -n)")
    elif style == "training":
        w.emit(f"{target} = {v} * (0.5 if self.training else 2.0)")
    else:
        w.emit("count = 0")
        w.emit("def bump():")
        w.emit("nonlocal count", 3)
        w.emit("count += 1", 3)
        w.emit("return count", 3)
        w.emit(f"{target} = {v} * bump() + bump()")
    w.tensors.append(target)


def _buffer_update_statement(w: _Writer) -> None:
    name = f"buf{w.n_buffers}"
    w.n_buffers += 1
    w.init.append(f"self.register_buffer('{name}', torch.zeros({WIDTH}))")
    v = w.var()
    w.emit(f"self.{name}.mul_(0.9).add_({v}.mean(0) * 0.1)")
    if w.draw(st.booleans()):
        # The buffer also reached through a plain object (a cache holder): operators on
        # it must read the updated value (they were once folded on the stale real one).
        w.init.append(f"self.{name}_holder = types.SimpleNamespace(t=self.{name})")
        w.assign(f"{v} + self.{name}_holder.t[None, :] * 2 - self.{name}_holder.t")
    else:
        w.assign(f"{v} + self.{name}")


def _data_dependent_statement(w: _Writer) -> None:
    v = w.var()
    target = w.new()
    w.emit(f"if {v}.sum() > 0:")
    w.emit(f"{target} = {v} + 1", 3)
    w.emit("else:")
    w.emit(f"{target} = {v} - 1", 3)
    w.tensors.append(target)


def _setitem_statement(w: _Writer) -> None:
    v = w.var()
    target = w.new()
    w.emit(f"{target} = {v}.clone()")
    index = w.draw(st.sampled_from(["0", ":, 1", "1:3", f"{target} > 0", "..., -1"]))
    w.emit(f"{target}[{index}] = {w.draw(st.sampled_from(['0.0', '-1.5']))}")
    w.tensors.append(target)


# Statement kinds of this module, in the order the strategy samples them.
_CORE_STATEMENTS = {
    "if_shape": _if_shape_statement,
    "for_range": _for_range_statement,
    "container": _container_statement,
    "closure": _closure_statement,
    "helper": _helper_statement,
    "inplace": _inplace_statement,
    "while": _while_statement,
    "comprehension": _comprehension_statement,
    "try": _try_statement,
    "python": _python_statement,
    "buffer_update": _buffer_update_statement,
    "data_dependent": _data_dependent_statement,
    "setitem": _setitem_statement,
}


def _statement(w: _Writer, depth: int) -> None:
    kind = w.draw(st.sampled_from(
        ["assign"] * 4 + list(_CORE_STATEMENTS) + list(STATEMENTS) * 2
        + list(SOUNDNESS_STATEMENTS) * 2))
    if kind == "assign" or depth > 1:
        w.assign(_expr(w))
    elif kind in STATEMENTS:
        STATEMENTS[kind](w)
    elif kind in SOUNDNESS_STATEMENTS:
        SOUNDNESS_STATEMENTS[kind](w)
    else:
        _CORE_STATEMENTS[kind](w)


# How forward() returns its chosen tensors: containers, an alias of an output, a duplicate,
# a size (a SymInt when dynamic).
_OUTPUT_STYLES = [
    lambda outs: f"({', '.join(outs)},)",
    lambda outs: f"({', '.join(outs)},)",
    lambda outs: "{" + ", ".join(f"'o{i}': {o}" for i, o in enumerate(outs)) + "}",
    lambda outs: f"[{outs[0]}, ({''.join(o + ', ' for o in outs[1:])})]",
    lambda outs: f"({outs[0]}, {outs[0]}[:, 1:], {outs[0]}.t(), {''.join(o + ', ' for o in outs[1:])})",
    lambda outs: f"({', '.join(outs)}, {outs[0]})",
    lambda outs: f"({', '.join(outs)}, {outs[0]}.shape[0] * 2, float({outs[-1]}.size(1)))",
]


@st.composite
def programs(draw, max_statements: int = 8, focus: str | None = None) -> Program:
    """Random programs; forward(x0, ..., xn) returns a tuple of tensors. With `focus` (a key
    of program_statements.STATEMENTS), each program ends with one statement of that kind."""
    n_inputs = draw(st.integers(1, 3))
    w = _Writer(draw, n_inputs)
    for _ in range(draw(st.integers(1, max_statements))):
        _statement(w, 0)
    if focus is not None:
        STATEMENTS[focus](w)
    outputs = draw(st.lists(st.sampled_from(w.tensors), min_size=1, max_size=3, unique=True))
    result = draw(st.sampled_from(_OUTPUT_STYLES))(outputs)
    init = "".join(f"        {line}\n" for line in w.init) or "        pass\n"
    args = ", ".join(f"x{i}" for i in range(n_inputs))
    source = (
        (BLOCK_CLASS if "Block" in w.classes else "")
        + "class Generated(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        f"{init}\n"
        + "".join(w.helpers)
        + f"    def forward(self, {args}):\n"
        + "\n".join(w.lines) + "\n"
        + f"        return {result}\n"
    )
    return Program(source, n_inputs, w.mutates_inputs)
