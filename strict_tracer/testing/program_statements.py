"""More statement kinds for the program generator (programs.py): the constructs that stress
export's mechanisms rather than single ops.

Each function takes the generator's writer `w` and emits statements that keep its invariant:
every name in `w.tensors` is a float32 tensor of shape (batch, WIDTH). They cover dynamic
sizes used in arithmetic and factories, float arithmetic on sizes, `.shape`/`.size()` indexing, loops over sizes, views
and in-place writes through views (also aliases read after their base was mutated), custom
submodules, ModuleList/ModuleDict/Sequential, BatchNorm running stats, embeddings, module
constants steering control flow, closures with late binding, functools.partial, namedtuples,
grad-mode blocks, dtype round trips, `torch.cond`, introspection (`type`, `isinstance`,
`__class__`, inspect predicates) and sizes read from tensor data.
"""
from __future__ import annotations

from hypothesis import strategies as st

WIDTH = 6


def size_arithmetic(w) -> None:
    """Dynamic sizes flow into Python arithmetic, factories, reshapes and slices."""
    v = w.var()
    k = w.draw(st.integers(1, 3))
    w.assign(w.draw(st.sampled_from([
        f"torch.zeros({v}.shape[0] * 2, {WIDTH})[:{v}.shape[0]] + {v}",
        f"{v}.new_ones({v}.shape[0], 1) * {v}.size(0) + {v}",
        f"torch.arange({v}.shape[0]).unsqueeze(1).float() + {v}",
        f"{v}.reshape({v}.shape[0] * {WIDTH} // 2, 2).reshape({v}.shape)",
        f"{v}.view(-1, 3).view({v}.size())",
        f"{v} * ({v}.shape[0] + {k}) / {v}.numel()",
        f"torch.cat([{v}.narrow(0, 0, {v}.shape[0] - 1), {v}[-1:]], 0)",
        f"torch.cat([{v}[:{v}.shape[0] // 2], {v}[{v}.shape[0] // 2:]], 0)",
        f"F.pad({v}, (0, 0, 0, {k}))[:-{k}]",
        f"torch.full(({v}.shape[0], {WIDTH}), float({v}.shape[0])) - {v}",
        f"{v}.mean(0, keepdim=True).expand({v}.shape[0], -1)",
        f"{v}.sum(1, keepdim=True).expand_as({v})",
        f"{v} / math.sqrt({v}.shape[-1]) + min({v}.shape[0], {k + 2})",
        f"{v}.new_zeros({v}.shape).index_add(0, torch.arange({v}.shape[0]), {v})",
        f"{v}.scatter(1, torch.zeros({v}.shape[0], 1, dtype=torch.long), 1.0)",
        f"torch.ones_like({v}).cumsum(0) * {v}",
        f"{v}.unflatten(1, (2, 3)).flatten(1)",
        f"{v}.permute(1, 0).contiguous().view({WIDTH}, -1).t()",
        # views whose strides are expressions of the dynamic size (b * WIDTH)
        f"torch.stack([{v}, {v} + 1]).transpose(0, 1).contiguous().view({v}.shape[0], -1)[:, :{WIDTH}]",
        f"torch.stack([{v}, -{v}]).transpose(0, 1).reshape({v}.shape[0], -1)[:, {WIDTH}:]",
        f"torch.cat({v}.chunk({k + 1}, dim=1), dim=1)",
        f"torch.gather({v}, 1, {v}.argsort(1))",
        f"{v}.sort(dim=1).values",
        f"{v}.topk({k}, dim=1).values.sum(1, keepdim=True) + {v}",
        f"{v} * max({v}.shape) - len({v})",
        f"{v}.repeat({k}, 1)[:{v}.shape[0]]",
        f"torch.eye({v}.shape[0]) @ {v}",
        f"{v}.T.T * {v}.ndim",
        f"{v}.mT.mT + {v}.shape[-2]",
    ])))


def float_size(w) -> None:
    """Float arithmetic on sizes (torch's SymFloat semantics): true division, floor/ceil/
    trunc/round and int() of ratios, float comparisons, torch.sym_float/sym_int/sym_sqrt,
    powers; results feed slices, factories and scalar operands."""
    v = w.var()
    k = w.draw(st.integers(2, 4))
    w.assign(w.draw(st.sampled_from([
        f"{v}[: max(round({v}.shape[0] / {k}), 1)].sum(0, keepdim=True) + {v}",
        f"{v}[: math.ceil({v}.shape[0] / {k})].mean(0, keepdim=True) + {v}",
        f"{v}[: max(math.floor({v}.shape[0] / {k}), 1)].amax(0, keepdim=True) * {v}",
        f"{v}[: math.trunc({v}.shape[0] / {k}) + 1].sum(0) + {v}",
        f"{v}[: int({v}.shape[0] / {k}) + 1].sum(0) + {v}",
        f"{v} * ({v}.shape[0] / {k}) + {v}.shape[1] / 2",
        f"{v} * (math.ceil({v}.shape[0] * 1.5) - {v}.shape[0])",
        f"torch.cat([{v}, {v}.new_zeros(math.ceil({v}.shape[0] / {k}) * {k} - {v}.shape[0], "
        f"{WIDTH})])[:{v}.shape[0]]",
        f"{v} * torch.sym_sqrt({v}.shape[0]) + torch.sym_float({v}.shape[1]) / 3",
        f"({v} + 1 if {v}.shape[0] / {k} > 1.0 else {v} - 1)",
        f"{v}[: torch.sym_int({v}.shape[0] / {k}) + 1].sum(0) + {v}",
        f"{v} * ({v}.shape[0] ** 0.5) - {v}.shape[0] // {k} * 0.25",
        f"{v}.new_full((1, {WIDTH}), {v}.shape[0] / {k} % 1.5) + {v}",
        f"torch.arange(math.ceil({v}.shape[0] * 2.0)).float()[:{v}.shape[0]].unsqueeze(1) + {v}",
        f"{v} * torch.sym_ite({v}.shape[0] > {k}, {v}.shape[0] / {k}, 1.0)",
    ])))


def shape_branch(w) -> None:
    """Python control flow on sizes and on module constants."""
    v = w.var()
    target = w.new()
    cond = w.draw(st.sampled_from([
        f"{v}.shape[0] % 2 == 0", f"{v}.numel() > 20", f"{v}.size(0) == x0.size(0)",
        f"{v}.shape[0] >= 3", f"len({v}) < 5", f"{v}.shape == x0.shape",
        "self.mode == 'scale'", f"self.flags['wide'] and {v}.shape[1] == {WIDTH}",
        f"{v}.dim() == 2 and {v}.dtype == torch.float32",
    ]))
    w.init.append("self.mode = " + w.draw(st.sampled_from(["'scale'", "'shift'"])))
    w.init.append("self.flags = {'wide': " + w.draw(st.sampled_from(["True", "False"])) + "}")
    w.emit(f"if {cond}:")
    w.emit(f"{target} = {v} * {w.draw(st.sampled_from(['2', 'self.scale']))}", 3)
    w.emit("else:")
    w.emit(f"{target} = {v} - 1", 3)
    w.init.append("self.scale = 1.5")
    w.tensors.append(target)


def size_loop(w) -> None:
    """Loops over sizes: range(dim), iterating a tensor, enumerate over unbind."""
    v = w.var()
    target = w.new()
    style = w.draw(st.sampled_from(["rows", "iter", "cols", "accumulate"]))
    if style == "rows":
        w.emit(f"{target} = {v}.clone()")
        w.emit(f"for i in range({target}.shape[0]):")
        w.emit(f"{target}[i] = {target}[i] * (i + 1)", 3)
    elif style == "iter":
        w.emit(f"rows = []")
        w.emit(f"for row in {v}:")
        w.emit("rows.append(row.flip(0))", 3)
        w.emit(f"{target} = torch.stack(rows)")
    elif style == "cols":
        w.emit(f"{target} = {v}[:, :1]")
        w.emit(f"for j in range(1, {v}.size(1)):")
        w.emit(f"{target} = torch.cat([{target}, {v}[:, j:j + 1] + {target}[:, -1:]], 1)", 3)
    else:
        w.emit(f"{target} = torch.zeros_like({v})")
        w.emit(f"for i, col in enumerate({v}.unbind(1)):")
        w.emit(f"{target}[:, i] += col * i", 3)
    w.tensors.append(target)


def view_mutation(w) -> None:
    """In-place writes through views; aliases read after their base (or each other) changed."""
    v = w.var()
    target = w.new()
    w.emit(f"{target} = {v}.clone()")
    style = w.draw(st.sampled_from(["slice", "flat", "transpose", "diagonal", "narrow_copy",
                                    "alias_after", "base_after", "mask", "index_put", "chain"]))
    if style == "slice":
        w.emit(f"{target}[:, :2].mul_(2)")
    elif style == "flat":
        w.emit(f"{target}.view(-1)[::2].zero_()")
    elif style == "transpose":
        w.emit(f"{target}.t()[0].add_(1)")
    elif style == "diagonal":
        w.emit(f"torch.diagonal({target}).fill_(3.0)")
    elif style == "narrow_copy":
        w.emit(f"{target}.narrow(1, 1, 2).copy_({w.var()}[:, :2])")
    elif style == "alias_after":
        alias = w.new("alias")
        w.emit(f"{alias} = {target}[:, 1:]")
        w.emit(f"{target}.mul_(2)")
        w.emit(f"{target} = torch.cat([{target}[:, :1], {alias} + 1], 1)")
    elif style == "base_after":
        w.emit(f"{target}.view(-1).add_(1)")
        w.emit(f"{target}.unsqueeze(0).squeeze(0).sub_(0.5)")
    elif style == "mask":
        other = w.var()
        w.emit(f"{target}[{target} > 0] = {other}[{target} > 0]")
    elif style == "index_put":
        w.emit(f"{target}.index_put_((torch.tensor([0, 0]),), torch.ones({WIDTH}), accumulate=True)")
    else:
        w.emit(f"{target}[1:].t()[2:4].mul_(-1)")
    w.tensors.append(target)


def input_view_mutation(w) -> None:
    """Mutate a user input through a view (the mutation must reach the caller's tensor)."""
    v = w.draw(st.sampled_from([t for t in w.tensors if t.startswith("x")]))
    w.mutates_inputs = True
    w.emit(w.draw(st.sampled_from([f"{v}[:, 0].add_(1)", f"{v}.t()[1].mul_(2)",
                                   f"{v}[1:].clamp_(-0.5, 0.5)", f"{v}.view(-1)[:3].fill_(0.0)"])))


def submodule(w) -> None:
    """Custom submodules (also called twice), containers of modules, norm layers, embeddings."""
    v = w.var()
    name = f"sub{w.n_linear}"
    w.n_linear += 1
    kind = w.draw(st.sampled_from(["custom", "list", "dict", "sequential", "batchnorm", "embedding",
                                   "layernorm", "shared"]))
    if kind == "custom":
        w.classes.add("Block")
        w.init.append(f"self.{name} = Block()")
        w.assign(f"self.{name}({v})")
    elif kind == "shared":
        w.classes.add("Block")
        w.init.append(f"self.{name} = Block()")
        w.assign(f"self.{name}(self.{name}({v}))")
    elif kind == "list":
        w.init.append(f"self.{name} = torch.nn.ModuleList([torch.nn.Linear({WIDTH}, {WIDTH}) for _ in range(2)])")
        target = w.new()
        w.emit(f"{target} = {v}")
        w.emit(f"for layer in self.{name}:")
        w.emit(f"{target} = layer({target}).tanh()", 3)
        w.tensors.append(target)
    elif kind == "dict":
        w.init.append(f"self.{name} = torch.nn.ModuleDict({{'a': torch.nn.Linear({WIDTH}, {WIDTH}), "
                      f"'b': torch.nn.ReLU()}})")
        w.assign(f"sum(m({v}) for key, m in self.{name}.items())")
    elif kind == "sequential":
        w.init.append(f"self.{name} = torch.nn.Sequential(torch.nn.Linear({WIDTH}, {WIDTH}), "
                      f"torch.nn.GELU(), torch.nn.Linear({WIDTH}, {WIDTH}))")
        w.assign(f"self.{name}({v})")
    elif kind == "batchnorm":
        w.init.append(f"self.{name} = torch.nn.BatchNorm1d({WIDTH})")
        w.assign(f"self.{name}({v})")
    elif kind == "embedding":
        w.init.append(f"self.{name} = torch.nn.Embedding({WIDTH}, {WIDTH})")
        w.assign(f"self.{name}({v}.argmax(1)) + {v}")
    else:
        w.init.append(f"self.{name} = torch.nn.LayerNorm({WIDTH})")
        w.assign(f"self.{name}({v})")


BLOCK_CLASS = (
    "class Block(torch.nn.Module):\n"
    "    def __init__(self):\n"
    "        super().__init__()\n"
    f"        self.inner = torch.nn.Linear({WIDTH}, {WIDTH})\n"
    "        self.register_buffer('calls', torch.zeros(()))\n"
    "    def forward(self, x):\n"
    "        self.calls.add_(1)\n"
    "        return self.inner(x).relu() + x * self.calls\n\n"
)


def python_feature(w) -> None:
    """Closures with late binding, partial, namedtuple, grad modes, dtype round trips, cond."""
    v = w.var()
    target = w.new()
    style = w.draw(st.sampled_from(["late_binding", "partial", "namedtuple", "no_grad", "dtype",
                                    "cond_shape", "cond_data", "dict_comp", "star_args",
                                    "walrus", "recursion", "generator"]))
    if style == "late_binding":
        w.emit(f"fns = [lambda t, i=i: t * i for i in range(3)] + [lambda t: t + i for i in range(2)]")
        w.emit(f"{target} = sum(f({v}) for f in fns)")
    elif style == "partial":
        w.emit(f"{target} = functools.partial(torch.clamp, min=-0.5)({v}, max=0.5)")
    elif style == "namedtuple":
        w.emit("Pair = collections.namedtuple('Pair', ['left', 'right'])")
        w.emit(f"pair = Pair({v}, right={w.var()} * 2)")
        w.emit(f"{target} = pair.left + pair[1] + len(pair)")
    elif style == "no_grad":
        w.emit(w.draw(st.sampled_from(["with torch.no_grad():", "with torch.enable_grad():",
                                       "with torch.inference_mode(False):"])))
        w.emit(f"{target} = {v} * 3 + 1", 3)
    elif style == "dtype":
        w.emit(f"{target} = {v}.double().cumsum(1).to(torch.float32) + {v}.to(torch.int32).float()")
    elif style == "cond_shape":
        w.emit(f"{target} = torch.cond({v}.shape[0] > 3, lambda t: t.sin(), lambda t: t.cos(), ({v},))")
    elif style == "cond_data":
        w.emit(f"{target} = torch.cond({v}.sum() > 0, lambda t, u: t + u, lambda t, u: t - u, "
               f"({v}.clone(), {w.var()}.clone()))")   # eager cond refuses aliased operands
    elif style == "dict_comp":
        w.emit(f"parts = {{f'p{{i}}': {v}[:, i:i + 1] * i for i in range({v}.shape[1])}}")
        w.emit(f"{target} = torch.cat([parts[key] for key in parts], 1)")
    elif style == "star_args":
        w.emit(f"def combine(*ts, bias=0.0, **extra):")
        w.emit("return sum(ts) + bias + extra.get('more', 0.0)", 3)
        w.emit(f"{target} = combine(*[{v}, {w.var()}], **{{'bias': 1.0, 'more': 2.0}})")
    elif style == "walrus":
        w.emit(f"if (n := {v}.shape[0]) > 1:")
        w.emit(f"{target} = {v} * n", 3)
        w.emit("else:")
        w.emit(f"{target} = {v}", 3)
    elif style == "recursion":
        w.emit("def halve(t, depth):")
        w.emit("return t if depth == 0 else halve(t * 0.5, depth - 1)", 3)
        w.emit(f"{target} = halve({v}, {w.draw(st.integers(0, 3))})")
    else:
        w.emit(f"def gen(t):")
        w.emit("for k in range(3):", 3)
        w.emit("yield t * k", 4)
        w.emit(f"{target} = sum(gen({v}))")
    w.tensors.append(target)


def introspection(w) -> None:
    """Branches on what Python introspection answers: the class of tensors, parameters, sizes,
    tensor methods, generators, exceptions and frames (each answer changes the output, so a
    traced answer that differs from eager's shows as a wrong result)."""
    v = w.var()
    target = w.new()
    name = f"wp{w.n_linear}"
    w.n_linear += 1
    w.init.append(f"self.{name} = torch.nn.Parameter(torch.randn({WIDTH}))")
    test = w.draw(st.sampled_from([
        f"type({v}).__name__ == 'Tensor'",
        f"{v}.__class__ is torch.Tensor and {v}.__class__.__module__ == 'torch'",
        f"isinstance({v}, torch.Tensor) and not isinstance({v}, torch.nn.Parameter)",
        f"type(self.{name}) is torch.nn.Parameter",
        f"isinstance(self.{name}, torch.nn.Parameter) and self.{name}.__class__.__name__ == 'Parameter'",
        f"issubclass(type({v} * 2), torch.nn.Parameter)",
        f"repr(type({v})) == \"<class 'torch.Tensor'>\"",
        f"type({v}.shape) is torch.Size and isinstance({v}.shape[0], int)",
        f"type({v}.size(0)).__name__ == 'int'",
        f"type({v}.add).__name__ == 'builtin_function_or_method'",
        f"isinstance((t for t in [{v}]), types.GeneratorType)",
        f"inspect.isgenerator(t for t in [{v}]) and not inspect.isgeneratorfunction({v}.add)",
        f"inspect.currentframe().f_code.co_name == 'forward'",
        f"inspect.isfunction(lambda: 0) and not inspect.ismethod({v}.add)",
        f"type(self).__name__ == 'Generated' and type(self.{name}).__mro__[1] is torch.Tensor",
    ]))
    w.emit(f"if {test}:")
    w.emit(f"{target} = {v} * self.{name} + 1", 3)
    w.emit("else:")
    w.emit(f"{target} = {v} - self.{name}", 3)
    if w.draw(st.booleans()):
        w.emit("try:")
        w.emit(f"{target} = {target} * {{}}['missing']", 3)
        w.emit("except Exception as error:")
        w.emit(f"{target} = {target} + len(type(error).__name__) + "
               f"isinstance(error, LookupError)", 3)
    w.tensors.append(target)


def data_size(w) -> None:
    """Sizes and numbers read from tensor data (`.item()`, `.tolist()`, nonzero, masked_select,
    a 0-dim tensor passed as a number, a 1-element tensor as a size) through views, reshape,
    expand, broadcasting and scalar constructors. The data differs between the runs a campaign
    compares, so the sizes do too (0 included: no positive value)."""
    v = w.var()
    n = f"({v} > 0).sum().item()"
    w.assign(w.draw(st.sampled_from([
        f"torch.ones({n}, {WIDTH}).view(-1, 2).sum(0).repeat(3) + {v}",
        f"torch.ones({n}, 2).reshape(2, -1).sum(1).sum() + {v}",
        f"torch.zeros({n}, 1).expand(-1, {WIDTH}).sum(0) + {v}",
        f"torch.ones({n} * 2).view(-1, 2).sum() * {v}",
        f"{v}.index_select(0, ({v}[:, 0] > 0).nonzero().view(-1)).sum(0, keepdim=True) + {v}",
        f"torch.masked_select({v}, ({v}[:, :1] > 0).expand(-1, {WIDTH})).view(-1, {WIDTH})"
        f".sum(0) + {v}",
        f"{v}.new_ones([({v}[:, 0] > 0).nonzero().size(0), {WIDTH}]).sum(0) * {v}",
        f"torch.full((1, {WIDTH}), {v}.amax()) + {v}",
        f"torch.full((1, {WIDTH}), ({v}.sum() > 0)).float() + {v}",
        f"torch.tensor([{v}.amax().item()] * {WIDTH}) - {v}",
        f"torch.tensor([({v}[0, 0] > 0).item()]).float() + {v}",
        f"torch.ones(({v} > 0).sum().reshape(1)).sum() + {v}",
        f"torch.ones(sum(({v}[0, :2] > 0).long().tolist()) + 1).sum() + {v}",
        f"torch.ones({n}).expand(2, -1).sum(1).sum() + {v}",
        f"torch.arange({n} * 2).view(-1, 2).t().contiguous().view(-1).float().sum() + {v}",
    ])))


def indexing_key(w) -> None:
    """Keys mixing ints, slices, None, `...` and index tensors on dynamic sizes, which export
    applies entry by entry as torch's indexing would (whole slices kept or skipped, bounds
    checks on a dynamic size, index tensors at their dims)."""
    v = w.var()
    k = w.draw(st.integers(1, WIDTH - 1))
    w.assign(w.draw(st.sampled_from([
        f"{v}[None, :, :][0] + {v}[...]",
        f"{v}[..., None][:, :, 0] * 2",
        f"{v}[:, None, :].squeeze(1) - {v}[:]",
        f"{v}[torch.arange({v}.shape[0])] + 1",
        f"{v}[:, torch.arange({WIDTH}).flip(0)]",
        f"{v}[:, {k}:][:, :-1].sum(1, keepdim=True) + {v}",
        f"{v}[:, -{k}:].sum(1, keepdim=True).expand_as({v}) + {v}[:, 0:1]",
        f"{v}[None, ..., None][0, ..., 0] * {v}[0]",
        f"{v}[-1][None] * {v} + {v}[{v}.shape[0] - 1]",
        f"{v}[torch.arange({v}.shape[0]), {k - 1}:{k}] + {v}",
        f"{v}[:, None, {k}:{k + 1}][..., 0] * {v}",
        f"{v}[:, [0, {k}]].sum(1, keepdim=True) + {v}",
        f"{v}[:, :, None][:, torch.tensor([{k}, 0]), 0].mean(1, keepdim=True) + {v}",
        f"{v}[1:][:{v}.shape[0]].sum(0) + {v}",
    ])))


def pointwise_layout(w) -> None:
    """Pointwise ops (and ops allocating their output: masked_fill, log_softmax, nan_to_num,
    attention of a fresh query or of heads of one)
    whose output layout the oracle may decide without the kernel (contiguous inputs of one
    dtype, dims of size 1, broadcasting, Python numbers, integer and bool tensors) or must
    leave to it (a size-1 dim with another stride, transposed inputs), with the output's
    strides read back into values, those of dims of size 1 among them (where torch's meta
    functions and eager differ: ops/oracle/iterator_layout.py)."""
    v = w.var()
    w.assign(w.draw(st.sampled_from([
        f"{v} + ({v}.unsqueeze(-1) * 2).stride()[1]",
        f"{v} * ({v}.t().unsqueeze(0) + 1).stride()[2]",
        f"{v} + ({v}.unsqueeze(1).transpose(1, 2) - 1).stride()[2]",
        f"({v}.unsqueeze(1).transpose(1, 2) - 1).view({v}.shape[0], {WIDTH}) + {v}",
        f"(({v} > 0).unsqueeze(1) & ({v} < 1).unsqueeze(1)).squeeze(1).float() * {v}",
        f"torch.where({v}.unsqueeze(2) > 0, {v}.unsqueeze(2), -{v}.unsqueeze(2)).sum(2)"
        f" + torch.where({v} > 0, {v}, {v}[0]).stride()[0]",
        f"(torch.arange({v}.shape[0]) * 2 + 1).unsqueeze(1).float() + {v}",
        f"({v}[:, :1] + {v}[:1, :]).view(-1, {WIDTH}) + ({v}[:, :1] * 0.5).stride()[1]",
        f"{v}.sigmoid() * {v}.unsqueeze(0).tanh()[0] + ({v}.t() / 2).stride()[0]",
        f"{v} + torch.log_softmax({v}.unsqueeze(1).transpose(1, 2), 1).stride()[2]",
        f"{v} + {v}[:, None, ::2].masked_fill({v}[:, None, ::2] > 0, 0).stride()[1]",
        f"{v} + torch.nan_to_num({v}.t()[:, :1]).stride()[1] * torch.relu({v}[:1]).stride()[0]",
        f"{v} + torch.where({v}.t()[:, :1] > 0, 0.0, {v}.t()[:, :1]).stride()[1]"
        f" * (~({v}.t()[:, :1] > 0)).stride()[1]",
        f"{v} + {v}.unsqueeze(1).transpose(1, 2).square().stride()[2]",
        f"{v} + torch.nn.functional.scaled_dot_product_attention("
        f"*[{v}.view(-1, 3, 2, 1).transpose(1, 2)] * 3).stride()[1]",
        f"torch.nn.functional.scaled_dot_product_attention(*[{v}.view(-1, 2, 3, 1)] * 3, "
        f"is_causal=True).view(-1, {WIDTH}) + {v}",
    ])))


STATEMENTS = {
    "indexing_key": indexing_key, "pointwise_layout": pointwise_layout,
    "size_arithmetic": size_arithmetic, "float_size": float_size, "shape_branch": shape_branch, "size_loop": size_loop,
    "view_mutation": view_mutation, "input_view_mutation": input_view_mutation,
    "submodule": submodule, "python_feature": python_feature, "introspection": introspection,
    "data_size": data_size,
}
