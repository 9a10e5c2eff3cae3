"""Statement kinds for the program generator that target issue 17's classes of bugs: views of
slices made contiguous, reshaped or viewed under dynamic sizes (whether they copy depends on
the layout), exception chaining (`raise ... from`, implicit context, cycles the program makes
itself) and cyclic containers. Same invariant as program_statements.py: every name in
`w.tensors` is a float32 tensor of shape (batch, WIDTH).
"""
from __future__ import annotations

from hypothesis import strategies as st

WIDTH = 6


def view_of_slice(w) -> None:
    """A slice (of an op's output, of a parameter-dependent value, of a transpose) made
    contiguous, reshaped or viewed, then put back to (batch, WIDTH); reshapes that copy."""
    v = w.var()
    k = w.draw(st.integers(1, WIDTH - 1))
    base = w.draw(st.sampled_from([v, f"({v} + 1)", f"({v} * self.scale_param)"]))
    if "scale_param" in base and "self.scale_param = " not in "".join(w.init):
        w.init.append(f"self.scale_param = torch.nn.Parameter(torch.linspace(0.5, 1.5, {WIDTH}))")
    rest = f"{v}[:, {k}:]"
    w.assign(w.draw(st.sampled_from([
        f"torch.cat([{base}[:, :{k}].contiguous().view(-1).view({v}.shape[0], {k}), {rest}], 1)",
        f"torch.cat([{base}[:, :{k}].reshape(-1).reshape({v}.shape[0], -1), {rest}], 1)",
        f"torch.cat([{base}.t()[:{k}].contiguous().view({k}, -1).t(), {rest}], 1)",
        f"torch.cat([{base}.t()[:{k}].reshape(-1).view({k}, -1).t(), {rest}], 1)",
        f"{base}[:, ::2].contiguous().view({v}.shape[0], -1).repeat(1, 2)[:, :{WIDTH}] + {v}",
        f"{base}.unsqueeze(2)[:, :{k}].reshape({v}.shape[0], -1).sum(1, keepdim=True) + {v}",
        f"{base}[1:].contiguous().view(-1).sum() + {v}",
        f"{base}.narrow(1, 1, {WIDTH - 1}).contiguous().view(-1)[:{v}.shape[0]].unsqueeze(1) + {v}",
        f"{base}[:, {k - 1}].contiguous().view(-1, 1) + {v}",
        f"{base}[:, :].contiguous().view(-1).view({v}.shape)",
        # reshapes that copy at batch >= 2 (repeated heads, heads merged after a transpose)
        f"{base}.unsqueeze(1).expand(-1, 2, -1).reshape(-1, {WIDTH}).reshape({v}.shape[0], -1)"
        f"[:, :{WIDTH}] * 2 + {v}",
        f"{base}.view({v}.shape[0], 2, 3).transpose(0, 1).reshape(2 * {v}.shape[0], 3)"
        f".view(2, {v}.shape[0], 3).transpose(0, 1).reshape({v}.shape[0], {WIDTH}) + {v}",
    ])))


def dense_at_example_slice(w) -> None:
    """A slice that is the whole tensor at the example sizes (`[:, :WIDTH]` of a width-WIDTH
    value, `[:batch]`) is dense there and strided at other sizes: its layout (contiguous(),
    view(), reshape(), and what stride() and is_contiguous() answer) must follow the symbolic
    strides, or be guarded the way torch.export guards it."""
    v = w.var()
    base = w.draw(st.sampled_from([v, f"{v}.triu()", f"({v} + 1)", f"{v}.clone()"]))
    whole = w.draw(st.sampled_from([f"{base}[:, :{WIDTH}]", f"{base}.narrow(1, 0, {WIDTH})",
                                    f"{base}[:{v}.shape[0]]", f"{base}.t()[:{WIDTH}].t()"]))
    w.assign(w.draw(st.sampled_from([
        f"{whole}[1:].contiguous().view(-1).sum() + {whole}",
        f"{whole}.contiguous().view(-1).view({v}.shape)",
        f"{whole}.reshape(-1).view({v}.shape) * 2",
        f"{whole}.flatten().view({v}.shape[0], -1)",
        f"{v} * {whole}.stride(0) + {whole}.stride(1)",
        f"{v} + {whole}.is_contiguous()",
        f"{v} * len({whole}.view(-1))",
        f"{whole}.view({v}.shape[0] * {WIDTH}).view({v}.shape)",
        # a branch bounds the width first: the slice is decided under a narrower range
        f"({base} if {v}.shape[1] <= {WIDTH} else {v} * 2)[:, :{WIDTH}] + 1",
    ])))


def exception_chain(w) -> None:
    """Explicit and implicit exception chaining, and context/cause cycles made on purpose
    (CPython's chaining walks them with a cycle check; a tracer without one hangs)."""
    v = w.var()
    target = w.new()
    style = w.draw(st.sampled_from(["from", "context", "context_cycle", "cause_cycle", "walk"]))
    w.emit("try:")
    if style == "from":
        w.emit("try:", 3)
        w.emit("raise KeyError('inner')", 4)
        w.emit("except KeyError as inner:", 3)
        w.emit("raise ValueError('outer') from inner", 4)
        w.emit("except ValueError as err:")
        w.emit(f"{target} = {v} * (2 if isinstance(err.__cause__, KeyError) else 3) "
               "+ err.__suppress_context__", 3)
    elif style == "context":
        w.emit("try:", 3)
        w.emit("{}['missing']", 4)
        w.emit("except KeyError:", 3)
        w.emit("raise TypeError('while handling')", 4)
        w.emit("except TypeError as err:")
        w.emit(f"{target} = {v} + (1 if type(err.__context__) is KeyError else 5)", 3)
    elif style == "context_cycle":
        w.emit("raise ValueError('first')", 3)
        w.emit("except ValueError as first:")
        w.emit("first.__context__ = first", 3)
        w.emit("try:", 3)
        w.emit("raise TypeError('second')", 4)
        w.emit("except TypeError as second:", 3)
        w.emit(f"{target} = {v} + (1 if second.__context__ is first else 2) "
               "+ (3 if first.__context__ is first else 4)", 4)
    elif style == "cause_cycle":
        w.emit("raise ValueError('a')", 3)
        w.emit("except ValueError as a:")
        w.emit("b = KeyError('b')", 3)
        w.emit("a.__cause__, b.__cause__ = b, a", 3)
        w.emit(f"{target} = {v} * (a.__cause__.__cause__ is a)", 3)
    else:
        w.emit("try:", 3)
        w.emit("raise ValueError('a')", 4)
        w.emit("except ValueError as a:", 3)
        w.emit("a.__context__ = a", 4)
        w.emit("raise KeyError('b')", 4)
        w.emit("except KeyError as err:")
        w.emit("seen, link = [], err", 3)
        w.emit("while link is not None and all(link is not s for s in seen):", 3)
        w.emit("seen.append(link)", 4)
        w.emit("link = link.__context__", 4)
        w.emit(f"{target} = {v} + len(seen)", 3)
    w.tensors.append(target)


def cyclic_structure(w) -> None:
    """Containers that contain themselves: repr, comparison, len and identity as in CPython."""
    v = w.var()
    target = w.new()
    style = w.draw(st.sampled_from(["list", "dict", "mutual", "nested"]))
    if style == "list":
        w.emit("items = [1, 2]")
        w.emit("items.append(items)")
        w.emit(f"{target} = {v} + len(repr(items)) + (items[2][2] is items)")
    elif style == "dict":
        w.emit("table = {'n': 3}")
        w.emit("table['me'] = table")
        w.emit(f"{target} = {v} * table['me']['me']['n'] + len(str(table))")
    elif style == "mutual":
        w.emit("left, right = [], []")
        w.emit("left.append(right)")
        w.emit("right.append(left)")
        w.emit(f"{target} = {v} + (left == left) + len(repr(left))")
    else:
        w.emit(f"holder = [{v}]")
        w.emit("holder.append(holder)")
        w.emit(f"{target} = holder[1][1][0] * 2 + len(holder[1])")
    w.tensors.append(target)


def group_split(w) -> None:
    """Kernels that split a batch-derived size into groups: group_norm and channel_shuffle
    over it as channels, a grouped conv whose weight's dim 0 is made from it, pixel_shuffle.
    Their divisibility checks are guards. Either the size is the batch itself (the program
    is valid at even batches only, and must reject the others, never fail inside), or it is
    rounded to a multiple first (valid at every batch: the guards must not narrow it)."""
    v = w.var()
    exact = w.draw(st.booleans())
    g = 2 if exact else w.draw(st.sampled_from([2, 3]))
    op = w.draw(st.sampled_from(["group_norm", "channel_shuffle", "conv1d", "pixel_shuffle"]))
    k = g * g if op == "pixel_shuffle" else g
    n, rows = w.new("n"), w.new("rows")
    if exact:
        w.emit(f"{n} = {v}.shape[0]")
        w.emit(f"{rows} = {v}.unsqueeze(0)")
    else:
        w.emit(f"{n} = {v}.shape[0] * {k + 1} // {k} * {k}")       # >= batch, a multiple of k
        w.emit(f"{rows} = torch.cat([{v}] * {k + 1})[:{n}].unsqueeze(0)")
    out = {
        "group_norm": f"F.group_norm({rows}, {g})",
        "channel_shuffle": f"F.channel_shuffle({rows}.unsqueeze(-1), {g}).squeeze(-1)",
        "conv1d": f"F.conv1d({v}.t()[:{g}].unsqueeze(0), torch.ones({n}, 1, 1) * 0.1, "
                  f"groups={g}).sum(-1, True)",
        "pixel_shuffle": f"F.pixel_shuffle({rows}.unsqueeze(-1), {g}).flatten(2)"
                         f".sum(1, True)[..., :{WIDTH}]",
    }[op]
    w.assign(f"({out})[0, :{v}.shape[0]] + {v}")


SOUNDNESS_STATEMENTS = {
    "group_split": group_split,
    "view_of_slice": view_of_slice, "dense_at_example_slice": dense_at_example_slice,
    "exception_chain": exception_chain,
    "cyclic_structure": cyclic_structure,
}
