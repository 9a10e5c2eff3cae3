"""A size used as a Python int answers every int operation as eager does: exactly where the
engine can express it (shifts by constants, divmod, ~), else at its value with a guard (a
constraint violation when the size was declared dynamic) — never an exception eager would not
raise, which a program could catch and take another path on."""
import operator

import pytest
import torch
from torch.export import Dim

import strict_tracer

EXACT = {
    "rshift": lambda x, n: x * (n >> 1),
    "lshift": lambda x, n: x * (n << 2),
    "divmod": lambda x, n: x * divmod(n, 3)[0] + divmod(n, 3)[1],
    "rdivmod": lambda x, n: x * divmod(20, n)[1],
    "invert": lambda x, n: x * ~n,
}
AT_VALUE = {
    "rlshift": lambda x, n: x * (1 << n),
    "and": lambda x, n: x * (n & 1),
    "or": lambda x, n: x * (n | 1),
    "xor": lambda x, n: x * (2 ^ n),
    "bit_length": lambda x, n: x * n.bit_length(),
    "pow_mod": lambda x, n: x * pow(n, 2, 7),
    "int_base_pow_mod": lambda x, n: x * pow(3, n, 7),
    "pow_mod_by_size": lambda x, n: x * pow(4, 3, n),
    "caught": lambda x, n: _caught(x, n),
}


def _caught(x, n):
    try:
        k = n.bit_length() + divmod(n, 2)[1] + (n >> 1)
    except (AttributeError, TypeError):
        return x - 1
    return x + k


class Apply(torch.nn.Module):
    def __init__(self, f):
        super().__init__()
        self.f = f

    def forward(self, x):
        return self.f(x, x.shape[0])


@pytest.mark.parametrize("name", sorted(EXACT))
def test_exact_operations_stay_dynamic(name):
    m = Apply(EXACT[name])
    ep = strict_tracer.export(m, (torch.randn(5, 3),), dynamic_shapes=({0: Dim("n", min=2, max=64)},))
    for n in (2, 5, 6, 9, 17):
        x = torch.randn(n, 3)
        torch.testing.assert_close(ep.module()(x), m(x))


class Shifts(torch.nn.Module):
    def forward(self, x):
        n = x.shape[0]
        return x[: n >> 1], x[: n << 1], torch.ones((n + 3) >> 2)


def test_shifts_are_shift_nodes_in_the_graph():
    """`n >> k` and `n << k` are exact (floor division and product by 2**k) and the graph
    computes them with the shift the program wrote, as torch.export records them."""
    m = Shifts()
    ep = strict_tracer.export(m, (torch.randn(8),), dynamic_shapes=({0: Dim("n", min=2, max=64)},))
    targets = [n.target for n in ep.graph.nodes if n.op == "call_function"]
    assert targets.count(operator.rshift) == 2 and targets.count(operator.lshift) == 1
    assert operator.floordiv not in targets
    for n in (2, 3, 7, 8, 33):
        x = torch.randn(n)
        for got, want in zip(ep.module()(x), m(x)):
            torch.testing.assert_close(got, want)


@pytest.mark.parametrize("name", sorted(AT_VALUE))
def test_other_operations_are_computed_at_the_value(name):
    m = Apply(AT_VALUE[name])
    x = torch.randn(5, 3)
    ep = strict_tracer.export(m, (x,), dynamic_shapes=({0: Dim.AUTO},))
    torch.testing.assert_close(ep.module()(x), m(x))
    with pytest.raises(Exception, match="Guard failed"):
        ep.module()(torch.randn(6, 3))
    with pytest.raises(torch._dynamo.exc.UserError):   # a declared-dynamic size may not be pinned
        strict_tracer.export(m, (x,), dynamic_shapes=({0: Dim.DYNAMIC},))


class SizeSums(torch.nn.Module):
    def forward(self, x, y):
        doubled = torch.cat([x, x]).repeat(y.shape[0])
        return doubled.shape[0] + x.shape[0], y.shape[0] + x.shape[0], y.shape[0] * (x.shape[0] + 2)


def _formula(node) -> str:
    if not isinstance(node, torch.fx.Node):
        return str(node)
    if node.target is torch.ops.aten.sym_size.int:
        return f"{node.args[0].name}[{node.args[1]}]"
    symbol = "+" if node.target is operator.add else "*"
    return f"({_formula(node.args[0])} {symbol} {_formula(node.args[1])})"


def test_sums_and_products_of_sizes_keep_the_order_written():
    """`a + b` and `a * b` of two sizes are computed in the order the program wrote them
    (torch.export records the Python operation), whatever order sympy keeps them in; the
    shape rules' own arithmetic (cat's size x + x) is not the program's and stays 2*x."""
    m = SizeSums()
    dims = {"x": (Dim("dx"),), "y": (Dim("dy"),)}
    ep = strict_tracer.export(m, (torch.randn(6), torch.randn(4)), dynamic_shapes=dims)
    outputs = [_formula(o) for o in next(iter(reversed(ep.graph.nodes))).args[0]]
    assert outputs == ["(((x[0] * y[0]) * 2) + x[0])", "(y[0] + x[0])", "(y[0] * (x[0] + 2))"]
    for a, b in ((6, 4), (3, 5), (9, 2)):
        assert ep.module()(torch.randn(a), torch.randn(b)) == m(torch.randn(a), torch.randn(b))
