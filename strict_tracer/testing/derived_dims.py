"""Random programs over inputs sized by derived dims (`a * d + b` of one root `d`).

Each program reads its inputs' sizes through residues, quotients, thresholds and relations
between the two inputs, so a guard lost on the way from the spec to `ep.module()`'s input
checks (a residue of a scaled root, an offset between inputs, a root that sizes no input
itself) shows as a program run at a size it was not traced for. `check` runs the property:
export either refuses or accepts every size the spec declares and matches eager there, and a
size outside the spec is rejected or matches eager too.
"""
from __future__ import annotations

import dataclasses
import linecache
from typing import Any

import torch
from hypothesis import strategies as st
from torch.export import Dim

# One input (x, size n) or two (x, y with sizes n, m); each statement appends to `out`.
SINGLE = {
    "residue_slice": "r = n % {k}\nout.append(x[r:] * (r + 1))",
    "residue_branch": "if n % {k} == 0:\n    out.append(x[::{k}])\nelse:\n    out.append(x[1:] + 1)",
    "quotient_view": "q = n // {k}\nout.append(x[:q * {k}].reshape(q, {k}).sum(1))",
    "threshold": "if n > {t}:\n    out.append(x[:{t}])\nelse:\n    out.append(x * 2)",
    "size_value": "out.append(x.sum() * (n * {k} - 1))",
}
PAIR = {
    "pair_min": "k = min(n, m)\nout.append(x[:k] + y[:k])",
    "pair_offset": "out.append(x.sum() * (n - m))",
    "pair_cat": "out.append(torch.cat([x, y]).cumsum(0))",
    "pair_branch": "if n >= m:\n    out.append(x[:m] - y)\nelse:\n    out.append(y[:n] - x)",
    "pair_quotient": "out.append(x[:m // {k}] * (n // {k}))",
}


@dataclasses.dataclass(frozen=True)
class Scaled:
    """An input's size `a * d + b` (a == 1 and b == 0: the root itself)."""
    a: int
    b: int

    def size(self, root: int) -> int:
        return self.a * root + self.b

    def dim(self, root: Dim) -> Any:
        if (self.a, self.b) == (1, 0):
            return root
        return root * self.a + self.b if self.a != 1 else root + self.b


@dataclasses.dataclass(frozen=True)
class DerivedDimProgram:
    source: str
    sizes: tuple[Scaled, ...]      # one per input, in forward's order
    lo: int                        # the root's range
    hi: int
    example: int                   # the root's example value
    filename: str

    def build(self) -> torch.nn.Module:
        lines = self.source.splitlines(keepends=True)
        linecache.cache[self.filename] = (len(self.source), None, lines, self.filename)
        namespace: dict = {"torch": torch}
        exec(compile(self.source, self.filename, "exec"), namespace)
        return namespace["Program"]()

    def spec(self) -> tuple:
        root = Dim("d", min=self.lo, max=self.hi)
        return tuple({0: scaled.dim(root)} for scaled in self.sizes)

    def inputs(self, sizes: tuple[int, ...], seed: int = 0) -> tuple[torch.Tensor, ...]:
        gen = torch.Generator().manual_seed(seed)
        return tuple(torch.randn(n, generator=gen) for n in sizes)


def _indent(text: str, spaces: int) -> str:
    return "".join(" " * spaces + line + "\n" for line in text.splitlines())


@st.composite
def derived_dim_programs(draw: st.DrawFn) -> DerivedDimProgram:
    lo = draw(st.integers(2, 4))
    hi = lo + draw(st.integers(2, 6))
    pair = draw(st.booleans())
    sizes = [Scaled(draw(st.integers(1, 4)), draw(st.integers(-1, 3)))]
    if pair:
        # the root sizes y itself, or y is scaled too (the root then sizes no input)
        root_sizes_y = draw(st.booleans())
        sizes.append(Scaled(1, 0) if root_sizes_y
                     else Scaled(draw(st.integers(1, 3)), draw(st.integers(-1, 2))))
    if any(s.size(lo) < 1 for s in sizes) or len(set(sizes)) < len(sizes):
        sizes = [Scaled(s.a, max(s.b, 1 - s.a * lo)) for s in sizes]
        if len(set(sizes)) < len(sizes):
            sizes = sizes[:1]
    kinds = dict(SINGLE, **(PAIR if len(sizes) == 2 else {}))
    names = draw(st.lists(st.sampled_from(sorted(kinds)), min_size=1, max_size=3))
    body = "".join(_indent(kinds[name].format(k=draw(st.integers(2, 4)),
                                              t=draw(st.integers(lo, hi * 2))), 8)
                   for name in names)
    params = "x, y" if len(sizes) == 2 else "x"
    reads = "n = x.shape[0]\n" + ("m = y.shape[0]\n" if len(sizes) == 2 else "")
    source = (f"class Program(torch.nn.Module):\n    def forward(self, {params}):\n"
              f"{_indent(reads, 8)}        out = []\n{body}        return tuple(out)\n")
    example = draw(st.integers(lo, hi))
    filename = f"<derived-dim program {abs(hash(source)) % 10**8}>"
    return DerivedDimProgram(source, tuple(sizes), lo, hi, example, filename)


def _same(got: Any, want: Any) -> bool:
    if len(got) != len(want):
        return False
    for g, w in zip(got, want):
        if g.shape != w.shape or not torch.allclose(g, w, atol=1e-5, rtol=1e-4):
            return False
    return True


REJECTIONS = ("Guard failed", "Runtime assertion failed")
# torch's ep.module() checks a dim derived from a root no input sizes by solving another
# input's `a*d + b` for d with `/` (floating point): `1 / 3 + 2 / 3 * x.size()[0] ==
# y.size()[0]` rejects some declared sizes. ep.module() is torch's code, so an exported
# program of ours inherits this; `check` then asserts torch.export's program does the same.
TORCH_FLOAT_CHECK = " / "


def _run(runner: torch.nn.Module, args: tuple) -> tuple[Any, str | None]:
    """(outputs, None), or (None, the first line of the input check that rejected `args`)."""
    try:
        return runner(*args), None
    except AssertionError as exc:
        return None, str(exc).splitlines()[0]


def check(program: DerivedDimProgram, export) -> str:
    """Run the property on one program with `export` (strict_tracer.export): "refused" when
    export refused it with a ConstraintViolationError or GraphBreakError, "torch check" when a
    declared size is rejected by torch's floating-point check (as torch.export's program
    rejects it), "ok" otherwise; raises AssertionError on a program that rejects a declared
    size otherwise or differs from eager."""
    from ..errors import ConstraintViolationError, GraphBreakError
    model = program.build()
    example = program.inputs(tuple(s.size(program.example) for s in program.sizes))
    try:
        ep = export(model, example, dynamic_shapes=program.spec())
    except (ConstraintViolationError, GraphBreakError):
        return "refused"
    runner, outcome, theirs = ep.module(), "ok", None
    for root in range(program.lo, program.hi + 1):
        sizes = tuple(s.size(root) for s in program.sizes)
        args = program.inputs(sizes, seed=root)
        got, rejected = _run(runner, args)
        if rejected is not None:     # a declared size must be accepted, torch's check aside
            assert TORCH_FLOAT_CHECK in rejected, f"declared sizes {sizes} rejected: {rejected}"
            if theirs is None:       # torch.export's program, once
                theirs = torch.export.export(model, example, dynamic_shapes=program.spec()).module()
            assert _run(theirs, args)[1] == rejected, rejected
            outcome = "torch check"
            continue
        assert _same(got, model(*args)), f"differs from eager at sizes {sizes}"
    for root in (program.lo, program.hi):
        sizes = (program.sizes[0].size(root) + 1,) + tuple(s.size(root) for s in program.sizes[1:])
        args = program.inputs(sizes, seed=99)
        try:
            want = model(*args)
        except Exception:
            want = None
        try:
            got = runner(*args)
        except Exception as exc:
            assert want is None or any(m in str(exc) for m in REJECTIONS), \
                f"failed inside the graph at sizes {sizes} eager accepts: {exc}"
            continue
        assert want is not None and _same(got, want), f"ran sizes {sizes} unlike eager"
    return outcome
