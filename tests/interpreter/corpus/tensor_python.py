"""Tensors in Python positions: types, shapes, iteration, containers, callbacks."""
import collections
import dataclasses
import functools

import torch

from corpus.support import tensor_program


def two(*shape):
    return lambda: (torch.randn(*shape), torch.randn(*shape))


def one(*shape):
    return lambda: (torch.randn(*shape),)


@tensor_program(one(2, 3))
def isinstance_and_type(x):
    checks = (isinstance(x, torch.Tensor), type(x) is torch.Tensor, type(x).__name__,
              isinstance(x, (list, torch.Tensor)), torch.is_tensor(x), isinstance(x.shape, tuple))
    return x * 2 if all(checks[:2]) and checks[2] == "Tensor" and checks[3] else x


@tensor_program(one(2, 3, 4))
def shape_unpacking(x):
    b, c, d = x.shape
    *lead, last = x.size()
    n = x.numel()
    return x.reshape(b, c * d) * last + len(lead) + n + x.dim() + x.ndim + x.size(-1)


@tensor_program(one(4, 3))
def len_and_iteration(x):
    rows = [row * i for i, row in enumerate(x)]
    total = sum(x)
    return torch.stack(rows), total, len(x), list(x)[1], [r.sum() for r in reversed(list(x))]


@tensor_program(two(3, 2))
def zip_and_map_over_tensors(x, y):
    pairs = [a + b for a, b in zip(x, y)]
    relus = list(map(torch.relu, [x, y]))
    doubled = list(map(lambda t: t * 2, (x, y)))
    return pairs, relus, doubled


@tensor_program(two(2, 2))
def nested_containers_returned(x, y):
    d = {"sum": x + y, "parts": [x, (y, x * y)], "meta": None}
    d["scaled"] = {k: v * 2 for k, v in [("a", x), ("b", y)]}
    return d, (x,), [[y]]


@tensor_program(two(2, 3))
def tensors_as_dict_values_and_list_ops(x, y):
    store = {}
    store["x"] = x
    store.setdefault("y", y)
    items = list(store.values())
    items.append(items[0] + items[1])
    items.insert(0, items.pop())
    return store.get("missing", x) + items[0], len(items)


@tensor_program(one(3, 4))
def shape_comparisons_and_arith(x):
    if x.shape == (3, 4) and x.shape[-1] == 4 and x.shape != torch.Size([1]):
        x = x.view(*x.shape[:-1], 2, 2)
    new_shape = x.shape[:1] + (-1,)
    return x.reshape(new_shape), tuple(x.shape), list(x.shape), max(x.shape), sum(x.shape)


@tensor_program(one(2, 3))
def dtype_device_queries(x):
    y = x.to(torch.float64) if x.dtype == torch.float32 else x
    z = y if x.device.type == "cpu" else x
    flags = (x.is_floating_point(), x.dtype.is_floating_point, x.requires_grad, x.is_contiguous())
    return z, x.new_zeros(x.shape), torch.zeros_like(x, dtype=torch.int64), flags[0] and flags[1]


@tensor_program(two(3, 3), torch_export="fails")
def identity_and_membership(x, y):
    ts = [x, y]
    first = x in ts
    same = ts[0] is x
    idx = ts.index(x) + [1, 2].index(2)
    return (x if first and same else y) * idx


@tensor_program(one(5, 2), torch_export="fails")
def sorted_and_max_by_shape(x):
    parts = [x[:1], x[1:4], x[4:]]
    ordered = sorted(parts, key=lambda t: t.shape[0], reverse=True)
    biggest = max(parts, key=lambda t: t.numel())
    return ordered, biggest, min(len(p) for p in parts)


@tensor_program(one(2, 3))
def fstrings_and_repr_of_shapes(x):
    label = f"{tuple(x.shape)}-{x.dtype}-{x.dim()}"
    table = {label: x}
    return table[f"{tuple(x.shape)}-{x.dtype}-{x.dim()}"] + len(label)


@tensor_program(two(2, 3))
def getattr_and_partial_on_torch(x, y):
    op = getattr(torch, "add")
    summed = getattr(x, "sum")(dim=1)
    scaled_add = functools.partial(torch.add, alpha=2)
    fns = {"relu": torch.relu, "tanh": torch.tanh}
    return op(x, y), summed, scaled_add(x, y), [fns[k](x) for k in sorted(fns)]


@tensor_program(one(3))
def closures_over_tensors(x):
    bias = x * 0.5

    def add_bias(t):
        return t + bias

    def make_scaler(k):
        return lambda t: t * k
    return add_bias(x), make_scaler(3)(x), functools.reduce(lambda a, b: a * b, [x, x, x])


@dataclasses.dataclass
class Pair:
    left: torch.Tensor
    right: torch.Tensor

    def total(self):
        return self.left + self.right


@tensor_program(two(2, 2))
def dataclass_holding_tensors(x, y):
    p = Pair(x, y)
    q = dataclasses.replace(p, right=p.left * 2)
    return p.total(), q.total(), [getattr(q, f.name) for f in dataclasses.fields(q)][1]


Out = collections.namedtuple("Out", ["a", "b"])


@tensor_program(two(2, 2))
def namedtuple_values(x, y):
    out = Out(x + 1, y - 1)
    a, b = out
    return out.a * out.b + a - b, out._replace(a=x)[0]


@tensor_program(one(4, 4))
def python_loops_and_comprehensions(x):
    acc = torch.zeros_like(x[0])
    for i in range(x.shape[0]):
        if i % 2 == 0:
            acc = acc + x[i]
        else:
            continue
    squares = {i: x[i] ** 2 for i in range(len(x)) if i != 1}
    return acc, squares[0] + squares[3], [x[i, j] for i in range(2) for j in range(2)]


@tensor_program(one(3, 3), torch_export="fails")
def exceptions_around_tensor_code(x):
    try:
        y = x @ torch.ones(4, 4)
    except RuntimeError:
        y = x * 10
    try:
        raise ValueError("handled")
    except ValueError as exc:
        z = y + len(str(exc))
    finally:
        z = z - 1
    return z


@tensor_program(one(2, 3), torch_export="fails")
def generators_yielding_tensors(x):
    def halves(t):
        yield t[:, :1]
        yield t[:, 1:]
        return "done"

    def outer(t):
        result = yield from halves(t)
        yield t * len(result)
    return list(outer(x)), tuple(t.sum() for t in halves(x))


@tensor_program(one(2, 4))
def match_on_shapes(x):
    match tuple(x.shape):
        case (2, n) if n > 2:
            return x[:, :2] * n
        case (_, _):
            return x
        case _:
            return x * 0


@tensor_program(two(2, 3))
def tensor_methods_via_super_in_subclass_free_code(x, y):
    chunks = x.unflatten(1, (3, 1))
    parts = torch.split(y, 1, dim=1)
    return chunks, parts, x.T.contiguous(), x.mT, torch.cat(parts[::-1], dim=1)


class Acc:
    def __init__(self):
        self.items = []

    def __iadd__(self, t):
        self.items.append(t)
        return self

    def __len__(self):
        return len(self.items)


@tensor_program(one(2), torch_export="fails")
def user_object_collecting_tensors(x):
    acc = Acc()
    acc += x
    acc += x * 2
    return torch.stack(acc.items) * len(acc)
