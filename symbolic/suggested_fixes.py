"""The "Suggested fixes" block of a ConstraintViolationError, as torch.export writes it.

Each named Dim gets at most one fix: a narrower range (`dx = Dim('dx', max=15)`), a value
(`dy = 12`) or a derivation from another Dim (`dy = dx + 1`, `K = 3*_K`). A divisibility
guard introduces a new root (`_dx`): the dim becomes `3*_dx - 1`, its range moves to the new
root, and the dims derived from it are rewritten over the new root too (`dy = dx + 1` becomes
`dy = 3*_dx`), so the block is one consistent spec `refine_dynamic_shapes_from_suggested_fixes`
can apply. Ranges come first, then values and derivations, each in the order of the inputs'
sources (a new root, which sizes no input, sorts by its own name after them).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from torch.export.dynamic_shapes import Dim
from torch.utils._sympy.numbers import int_oo

from .ranges import INF


@dataclass
class SuggestedFixes:
    ranges: dict = field(default_factory=dict)      # name -> (lo, hi)
    values: dict = field(default_factory=dict)      # name -> int
    derived: dict = field(default_factory=dict)     # name -> (root name, a, b): a*root + b
    new_roots: dict = field(default_factory=dict)   # new root name -> the dim it came from
    sort_keys: dict = field(default_factory=dict)   # name -> its input's source

    def narrow(self, name: str, lo, hi, source: Optional[str] = None) -> None:
        self.ranges.setdefault(name, (lo, hi))
        self._key(name, source)

    def pin(self, name: str, value: int, source: Optional[str] = None) -> None:
        self.values.setdefault(name, int(value))
        self._key(name, source)

    def derive(self, name: str, root: str, a: int, b: int, source: Optional[str] = None) -> None:
        self.derived.setdefault(name, (root, int(a), int(b)))
        self._key(name, source)

    def divisible(self, name: str, modulus: int, shift: int, lo, hi,
                  source: Optional[str] = None) -> None:
        """`(name + shift) % modulus == 0` over [lo, hi]: name = modulus*_name - shift."""
        root = f"_{name}"
        if name in self.derived:
            return
        root_lo = -(-(lo + shift) // modulus)
        root_hi = INF if hi == INF else (hi + shift) // modulus
        self.ranges[root] = (root_lo, root_hi)
        self.new_roots[root] = name
        self.derive(name, root, modulus, -shift, source)

    def _key(self, name: str, source: Optional[str]) -> None:
        if source is not None:
            self.sort_keys.setdefault(name, source)

    def __bool__(self) -> bool:
        return bool(self.ranges or self.values or self.derived)

    def lines(self) -> list[str]:
        ranges, derived = dict(self.ranges), dict(self.derived)
        for root, dim in self.new_roots.items():
            ranges.pop(dim, None)           # the dim's range now lives in the new root's
            _, a, b = derived[dim]
            for name, (base, c, d) in list(derived.items()):
                if base == dim:             # name = c*dim + d = c*(a*root + b) + d
                    derived[name] = (root, c * a, c * b + d)
        order = sorted(set(ranges) | set(self.values) | set(derived),
                       key=lambda n: self.sort_keys.get(n, n))
        out = [f"{n} = {Dim._readable(n, lo, int_oo if hi == INF else int(hi))}"
               for n in order if n in ranges for lo, hi in [ranges[n]]]
        for n in order:
            if n in self.values:
                out.append(f"{n} = {self.values[n]}")
            elif n in derived:
                out.append(f"{n} = {derivation(*derived[n])}")
        return out


def derivation(root: str, a: int, b: int) -> str:
    """`a*root + b` as torch.export prints a derived Dim: `3*_dx - 1`, `dx + 1`, `dx`."""
    text = root if a == 1 else f"{a}*{root}"
    if b > 0:
        return f"{text} + {b}"
    if b < 0:
        return f"{text} - {-b}"
    return text
