"""Outputs at the hints made without the kernel (ops/oracle/hint_outputs.py) are the kernel's:
the same sizes, strides, offset, dtype and autograd state, across shapes, layouts, dtypes and
grad modes; anything the checks do not decide runs the kernel."""
import itertools

import pytest
import torch
from hypothesis import given, settings
from torch._subclasses.fake_tensor import FakeTensor
from torch.export import Dim

import strict_tracer
from strict_tracer.ops.oracle import hint_kernels
from strict_tracer.ops.oracle.fakes import fake_mode
from strict_tracer.ops.oracle.hint_outputs import known_output
from strict_tracer.ops.oracle.iterator_layout import eager_layout
from strict_tracer.proxy import contiguous_strides
from strict_tracer.testing import check_program, programs
from support.helpers import assert_same, run_both

aten = torch.ops.aten


def _fake(shape, dtype=torch.float32, requires_grad=False, transposed=False):
    with fake_mode():
        if transposed and len(shape) >= 2:
            t = torch.empty(*shape[:-2], shape[-1], shape[-2], dtype=dtype).transpose(-1, -2)
        else:
            t = torch.empty(shape, dtype=dtype)
    return t.requires_grad_(requires_grad) if requires_grad else t


def _layout(t):
    return (tuple(t.shape), t.stride(), t.storage_offset(), t.dtype, t.requires_grad, t.is_leaf)


def _kernel(func, args, kwargs):
    with fake_mode():
        return func(*args, **kwargs)


def _on_meta(value):
    """A plain meta tensor with a fake's layout (the artifact check's run uses those)."""
    if not isinstance(value, torch.Tensor):
        return value
    room = value.storage_offset() + 1 + sum((n - 1) * s for n, s in zip(value.shape, value.stride()))
    base = torch.empty(room if value.numel() else value.storage_offset(), dtype=value.dtype,
                       device="meta")
    return base.as_strided(value.shape, value.stride(), value.storage_offset())


def _meta_agrees(func, args, kwargs, answered: bool) -> None:
    """On meta tensors of the same layouts, known_output answers alike, and its answer is the
    meta kernel's (autograd state aside: the artifact check's run has none)."""
    meta_args = tuple(_on_meta(a) for a in args)
    ours = known_output(func, meta_args, dict(kwargs))
    assert (ours is not None) == answered
    if ours is not None:
        theirs = func(*meta_args, **kwargs)
        assert ours.device.type == "meta"
        assert _layout(ours)[:4] == _layout(theirs)[:4]


CASES = list(itertools.product(
    [(5,), (3, 5), (0, 5), (1, 5), (2, 3, 5), (2, 1, 4, 5)],    # input shapes (last dim 5)
    [False, True],                                              # transposed input
    [None, (4,)],                                               # bias
    [torch.float32, torch.float64, torch.bfloat16],
    [(False, False), (True, False), (False, True)],             # input / weight requires grad
    [True, False],                                              # grad mode
))


@pytest.mark.parametrize("shape,transposed,bias,dtype,grads,grad_mode", CASES)
def test_linear_output_is_the_kernel_output(shape, transposed, bias, dtype, grads, grad_mode):
    x = _fake(shape, dtype, grads[0], transposed)
    w = _fake((4, 5), dtype, grads[1])
    args = (x, w) if bias is None else (x, w, _fake(bias, dtype))
    with torch.set_grad_enabled(grad_mode):
        ours = known_output(aten.linear.default, args, {})
        theirs = _kernel(aten.linear.default, args, {})
    assert ours is not None
    assert _layout(ours) == _layout(theirs)
    _meta_agrees(aten.linear.default, args, {}, True)


@pytest.mark.parametrize("args", [
    lambda: (_fake((3, 5)), _fake((4, 6))),                                  # size mismatch
    lambda: (_fake((3, 5)), _fake((4, 5), torch.float64)),                   # dtypes differ
    lambda: (_fake((3, 5)), _fake((4, 5)), _fake((3,))),                     # bias size
    lambda: (_fake((3, 5)), _fake((4, 5)), _fake((1, 4))),                   # 2-d bias
    lambda: (_fake((3, 5), torch.int64), _fake((4, 5), torch.int64)),        # not floating
    lambda: (_fake(()), _fake((4, 1))),                                      # 0-dim input
    lambda: (torch.empty(3, 5), torch.empty(4, 5)),                          # not fakes
])
def test_linear_outside_the_checks_runs_the_kernel(args):
    assert known_output(aten.linear.default, args(), {}) is None
    if all(isinstance(a, FakeTensor) for a in args()):
        _meta_agrees(aten.linear.default, args(), {}, False)


def test_meta_and_fake_tensors_together_run_the_kernel():
    fake, meta = _fake((3, 5)), torch.empty(4, 5, device="meta")
    assert known_output(aten.linear.default, (fake, meta), {}) is None
    assert known_output(aten.add.Tensor, (meta, _fake((4, 5))), {}) is None


def test_no_answer_under_autocast_or_for_other_ops():
    args = (_fake((3, 5)), _fake((4, 5)))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert known_output(aten.linear.default, args, {}) is None
    assert known_output(aten.mm.default, (args[0], args[1].t()), {}) is None
    assert known_output(aten.linear.default, args, {"unknown": 1}) is None


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = torch.nn.Linear(8, 16), torch.nn.Linear(16, 8, bias=False)
        self.norm = torch.nn.LayerNorm(8)
        self.w, self.bias = torch.nn.Parameter(torch.randn(8, 8)), torch.nn.Parameter(torch.randn(8))

    def forward(self, x):
        y = self.b(torch.relu(self.a(x))) + self.a(x.transpose(0, 1)).sum()
        conv1d = torch.addmm(self.bias, y.reshape(-1, 8), self.w).view(y.shape)    # HF's Conv1D
        return self.norm(conv1d) + torch.nn.functional.layer_norm(y.transpose(0, 1), (8,)).transpose(0, 1)


def test_dynamic_linears_take_the_answer_and_run_as_eager(monkeypatch):
    kernels = []
    real = hint_kernels.known_output

    def spy(func, args, kwargs):
        out = real(func, args, kwargs)
        kernels.append((str(func), out is not None))
        return out
    monkeypatch.setattr(hint_kernels, "known_output", spy)
    model = Mlp()
    strict_tracer.ops.clear_template_cache()
    ep = strict_tracer.export(model, (torch.randn(3, 4, 8),),
                              dynamic_shapes={"x": (Dim.DYNAMIC, Dim.DYNAMIC, Dim.STATIC)})
    for op in ("aten.linear.default", "aten.addmm.default", "aten.layer_norm.default"):
        assert (op, True) in kernels
    assert ("aten.layer_norm.default", False) in kernels      # of a transposed input
    for fresh in [torch.randn(2, 5, 8), torch.randn(6, 2, 8)]:
        got, want = run_both(model, ep, (fresh,))
        assert_same(got, want)
    with torch.no_grad():
        strict_tracer.ops.clear_template_cache()
        ep = strict_tracer.export(model, (torch.randn(3, 4, 8),),
                                  dynamic_shapes={"x": (Dim.DYNAMIC, Dim.DYNAMIC, Dim.STATIC)})
    got, want = run_both(model, ep, (torch.randn(2, 5, 8),))
    assert_same(got, want)


ADDMM = list(itertools.product(
    [(3, 5), (0, 5), (1, 5), (3, 1)],                   # mat1 shapes
    [False, True],                                      # transposed mat1
    [False, True],                                      # transposed mat2
    [torch.float32, torch.bfloat16],
    [(False, False), (True, False), (False, True)],     # mat1 / bias requires grad
    [True, False],
    [{}, {"beta": 0.5, "alpha": 2}],
))


@pytest.mark.parametrize("shape,t1,t2,dtype,grads,grad_mode,scales", ADDMM)
def test_addmm_output_is_the_kernel_output(shape, t1, t2, dtype, grads, grad_mode, scales):
    m1 = _fake(shape, dtype, grads[0], t1)
    m2 = _fake((shape[1], 4), dtype, False, t2)
    args = (_fake((4,), dtype, grads[1]), m1, m2)
    with torch.set_grad_enabled(grad_mode):
        ours = known_output(aten.addmm.default, args, scales)
        theirs = _kernel(aten.addmm.default, args, scales)
    assert ours is not None
    assert _layout(ours) == _layout(theirs)
    _meta_agrees(aten.addmm.default, args, scales, True)


LAYER_NORM = list(itertools.product(
    [(4,), (3, 4), (2, 3, 4), (0, 4), (2, 1, 4)],
    [(4,), "last2"],
    [False, True],                                      # weight and bias
    [torch.float32, torch.float64, torch.bfloat16],
    [(False, False), (True, False), (False, True)],     # input / weight requires grad
    [True, False],
))


@pytest.mark.parametrize("shape,normalized,affine,dtype,grads,grad_mode", LAYER_NORM)
def test_layer_norm_output_is_the_kernel_output(shape, normalized, affine, dtype, grads, grad_mode):
    n = list(shape[-2:]) if normalized == "last2" else list(normalized)
    x = _fake(shape, dtype, grads[0])
    args = (x, n) if not affine else (x, n, _fake(n, dtype, grads[1]), _fake(n, dtype))
    with torch.set_grad_enabled(grad_mode):
        ours = known_output(aten.layer_norm.default, args, {"eps": 1e-5})
        theirs = _kernel(aten.layer_norm.default, args, {"eps": 1e-5})
    assert ours is not None
    assert _layout(ours) == _layout(theirs)
    _meta_agrees(aten.layer_norm.default, args, {"eps": 1e-5}, True)


@pytest.mark.parametrize("func,args", [
    (aten.addmm.default, lambda: (_fake((3, 4)), _fake((3, 5)), _fake((5, 4)))),    # 2-d bias
    (aten.addmm.default, lambda: (_fake((4,)), _fake((3, 5)), _fake((6, 4)))),      # sizes
    (aten.addmm.default, lambda: (_fake((3,)), _fake((3, 5)), _fake((5, 4)))),      # bias size
    (aten.layer_norm.default, lambda: (_fake((3, 4), transposed=True), [4])),       # layout
    (aten.layer_norm.default, lambda: (_fake((3, 4)), [3])),                        # dims
    (aten.layer_norm.default, lambda: (_fake((3, 4)), [4], _fake((3,)))),           # weight
    (aten.layer_norm.default, lambda: (_fake((3, 4)), [4], _fake((4,), torch.float64))),
])
def test_addmm_and_layer_norm_outside_the_checks_run_the_kernel(func, args):
    assert known_output(func, args(), {}) is None
    _meta_agrees(func, args(), {}, False)


EMBEDDING = list(itertools.product(
    [(0,), (3,), (2, 5), (0, 16), (1, 1), (2, 1, 3), ()],   # index shapes
    [False, True],                                          # transposed indices
    [torch.float32, torch.bfloat16], [torch.int64, torch.int32],
    [-1, 0, 9],                                             # padding_idx
    [False, True],                                          # weight requires grad
    [True, False],                                          # grad mode
))


@pytest.mark.parametrize("shape,transposed,dtype,index_dtype,padding,grad,grad_mode", EMBEDDING)
def test_embedding_output_is_the_kernel_output(shape, transposed, dtype, index_dtype, padding,
                                               grad, grad_mode):
    indices = _fake(shape, index_dtype, transposed=transposed and len(shape) >= 2)
    args = (_fake((10, 4), dtype, grad), indices, padding)
    with torch.set_grad_enabled(grad_mode):
        ours = known_output(aten.embedding.default, args, {})
        assert ours is not None
        assert _layout(ours) == _layout(_kernel(aten.embedding.default, args, {}))
        weight = torch.randn(10, 4, dtype=dtype, requires_grad=grad)
        index = torch.randint(0, 10, indices.shape, dtype=index_dtype)
        if transposed and len(shape) >= 2:
            index = index.transpose(-1, -2).contiguous().transpose(-1, -2)
        assert _layout(ours) == _layout(aten.embedding.default(weight, index, padding))   # eager
    _meta_agrees(aten.embedding.default, args, {}, True)


@pytest.mark.parametrize("args", [
    lambda: (_fake((10, 4)), _fake((3,), torch.float32)),                   # float indices
    lambda: (_fake((10, 4), torch.int64), _fake((3,), torch.int64)),        # integer weight
    lambda: (_fake((10, 4), transposed=True), _fake((3,), torch.int64)),    # weight's layout
    lambda: (_fake((10,)), _fake((3,), torch.int64)),                       # 1-d weight
    lambda: (_fake((10, 4)), _fake((3,), torch.int64), 10),                 # padding_idx
    lambda: (_fake((10, 4)), _fake((3,), torch.int64), -1, False, True),    # sparse
])
def test_embedding_outside_the_checks_runs_the_kernel(args):
    assert known_output(aten.embedding.default, args(), {}) is None


ATTENTION = list(itertools.product(
    [(2, 4, 8, 8, 16, 16), (2, 4, 8, 5, 16, 4), (1, 1, 1, 1, 8, 8), (0, 4, 8, 8, 16, 16),
     (2, 4, 1, 8, 16, 16), (2, 4, 8, 0, 16, 16), (3, 2, 1, 1, 4, 4), (2, 1, 8, 8, 8, 8)],
    [None, "bool (b, 1, L, S)", "float (1, 1, L, S)", "float (b, h, L, S)", "bool (L, S)",
     "bool expanded (b, 1, L, S)", "float expanded (b, h, L, S)"],
    [False, True],                                              # is_causal
    [torch.float32, torch.bfloat16],
    ["none", "query", "mask"],                                  # what requires grad
    [("fresh", "fresh"), ("heads", "fresh"), ("fresh", "heads"), ("heads", "heads"),
     ("split", "split"), ("split", "fresh")],
))


def _attention_args(sizes, mask, dtype, grad, layouts, make):
    b, h, length, source, dim, vdim = sizes

    def tensor(shape, layout, requires_grad=False):
        if layout == "fresh":
            return make(shape, dtype, requires_grad)
        n, heads, rows, width = shape
        if layout == "heads":   # (b, length, heads, dim) transposed to (b, heads, length, dim)
            t = make((n, rows, heads, width), dtype).transpose(1, 2)
        else:                   # the middle third of a fused projection's output, as heads
            t = make((n, rows, 3 * heads * width), dtype)[:, :, heads * width:2 * heads * width]
            t = t.view(n, rows, heads, width).transpose(1, 2)
        return t.requires_grad_(requires_grad) if requires_grad else t
    shapes = {"bool (b, 1, L, S)": (b, 1, length, source), "float (1, 1, L, S)": (1, 1, length, source),
              "float (b, h, L, S)": (b, h, length, source), "bool (L, S)": (length, source)}
    args = (tensor((b, h, length, dim), layouts[0], grad == "query"),
            tensor((b, h, source, dim), layouts[1]),
            tensor((b, h, source, vdim), layouts[1], grad == "value"))
    if mask is None:
        return args
    mask_dtype = torch.bool if mask.startswith("bool") else dtype
    if "expanded" in mask:      # rows (or heads) of one, expanded: strides of 0
        full = (b, 1, length, source) if mask.startswith("bool") else (b, h, length, source)
        one = make((1, 1, 1, source), mask_dtype).expand(full)
        return (*args, one.requires_grad_(True) if grad == "mask" and mask_dtype is dtype else one)
    return (*args, make(shapes[mask], mask_dtype, grad == "mask" and mask_dtype is dtype))


def _real(shape, dtype, requires_grad=False):
    t = torch.rand(shape) > 0.5 if dtype is torch.bool else torch.randn(shape, dtype=dtype)
    return t.requires_grad_(requires_grad)


@pytest.mark.parametrize("sizes,mask,causal,dtype,grad,layouts", ATTENTION)
def test_attention_output_is_the_kernel_output(sizes, mask, causal, dtype, grad, layouts):
    args = _attention_args(sizes, mask, dtype, grad, layouts, _fake)
    kwargs = {"is_causal": causal, "scale": None if causal else 0.5}
    ours = known_output(aten.scaled_dot_product_attention.default, args, kwargs)
    eager = _outcome_eager(aten.scaled_dot_product_attention.default,
                           _attention_args(sizes, mask, dtype, grad, layouts, _real), kwargs)
    if ours is None:    # left to the kernel
        small = min(sizes[:4]) < 2
        mask_grad = grad == "mask" and mask is not None and not mask.startswith("bool")
        assert mask is not None and causal or mask_grad and small or \
            layouts[0] != "fresh" and not mask_grad and (small or sizes[4] != sizes[5]) or \
            small and layouts != ("fresh", "fresh")     # heads of sizes 0 and 1: unrecognized
        return
    assert _layout(ours) == _outcome(aten.scaled_dot_product_attention.default, args, kwargs)
    assert _layout(ours) == eager
    assert not ours._is_view()
    # On meta tensors only a query with the standard strides is answered (see _attention).
    fresh_query = args[0].stride() == contiguous_strides(tuple(args[0].shape))
    _meta_agrees(aten.scaled_dot_product_attention.default, args, kwargs, fresh_query)


def test_attention_masks_outside_the_checks_run_the_kernel():
    args = _attention_args((2, 4, 8, 8, 16, 16), None, torch.float32, "none",
                           ("heads", "heads"), _fake)
    sdpa = aten.scaled_dot_product_attention.default
    rows = _fake((2, 1, 8), torch.bool).unsqueeze(-1).expand(2, 1, 8, 8)   # last stride 0
    assert known_output(sdpa, (*args, rows), {}) is None
    grad_mask = _fake((2, 4, 8, 8), torch.float32, True)
    assert known_output(sdpa, (*args, grad_mask), {}) is not None       # the math kernel's
    with torch.no_grad():
        assert known_output(sdpa, (*args, grad_mask), {}) is None
    assert known_output(sdpa, args, {"scale": torch.tensor(0.5)}) is None


def test_attention_heads_under_the_math_kernel_run_the_kernel():
    from torch.nn.attention import SDPBackend, sdpa_kernel
    sizes, layouts = (2, 4, 8, 8, 16, 16), ("heads", "heads")
    args = _attention_args(sizes, None, torch.float32, "none", layouts, _fake)
    assert known_output(aten.scaled_dot_product_attention.default, args, {}) is not None
    with sdpa_kernel(SDPBackend.MATH):
        assert known_output(aten.scaled_dot_product_attention.default, args, {}) is None
        real = _attention_args(sizes, None, torch.float32, "none", layouts, _real)
        out = aten.scaled_dot_product_attention.default(*real)
        assert out.stride() == contiguous_strides(tuple(out.shape))    # eager's math kernel
        assert _layout(_kernel(aten.scaled_dot_product_attention.default, args, {})) == _layout(out)


def _outcome_eager(func, args, kwargs):
    try:
        return _layout(func(*args, **kwargs))
    except Exception as exc:    # noqa: BLE001 - eager's refusal is the expected answer
        return type(exc)


@pytest.mark.parametrize("change", [
    {"dropout_p": 0.1}, {"enable_gqa": True}, {"key": (2, 2, 8, 16)}, {"key": (2, 4, 8, 8)},
    {"value": (2, 4, 7, 16)}, {"attn_mask": (2, 4, 8, 9)}, {"query_layout": "transposed"},
    {"attn_mask_dtype": torch.int64}, {"three_d": True},
])
def test_attention_outside_the_checks_runs_the_kernel(change):
    shapes = {"query": (2, 4, 8, 16), "key": (2, 4, 8, 16), "value": (2, 4, 8, 16)}
    shapes.update({k: v for k, v in change.items() if k in shapes})
    if change.get("three_d"):
        shapes = {k: v[1:] for k, v in shapes.items()}
    args = [_fake(shapes["query"], transposed=change.get("query_layout") == "transposed"),
            _fake(shapes["key"]), _fake(shapes["value"])]
    if "attn_mask" in change or "attn_mask_dtype" in change:
        args.append(_fake(change.get("attn_mask", (2, 4, 8, 8)),
                          change.get("attn_mask_dtype", torch.float32)))
    kwargs = {k: v for k, v in change.items() if k in ("dropout_p", "enable_gqa")}
    assert known_output(aten.scaled_dot_product_attention.default, tuple(args), kwargs) is None


# ---------------------------------------------------------------- pointwise ops
def _pointwise_input(shape, dtype, layout, requires_grad):
    """A fake of `shape`: contiguous, transposed (last two dims) or an offset slice."""
    with fake_mode():
        if layout == "transposed" and len(shape) >= 2:
            t = torch.empty(*shape[:-2], shape[-1], shape[-2], dtype=dtype).transpose(-1, -2)
        elif layout == "offset" and shape:
            t = torch.empty(shape[0] + 1, *shape[1:], dtype=dtype)[1:]
        else:
            t = torch.empty(shape, dtype=dtype)
    return t.requires_grad_(requires_grad) if requires_grad else t


def _outcome(func, args, kwargs):
    try:
        return _layout(_kernel(func, args, kwargs))
    except Exception as exc:    # noqa: BLE001 - the kernel's refusal is the expected answer
        return type(exc)


def _answer_checked(func, args, kwargs, grad_mode, context) -> bool:
    """Whether known_output answers; its answer must be the kernel's, with eager's strides."""
    with torch.set_grad_enabled(grad_mode):
        ours = known_output(func, args, dict(kwargs))
        _meta_agrees(func, args, kwargs, ours is not None)
        if ours is None:
            return False
        assert _layout(ours) == _outcome(func, args, kwargs), context
        assert eager_layout(func, args, dict(kwargs), ours) is ours, context
    return True


PAIRS = [((3, 4), (3, 4)), ((2, 4, 1), (2, 4, 1)), ((1, 4), (4,)), ((3, 4), (4,)),
         ((2, 3, 4), (3, 1)), ((3, 1), (1, 4)), ((3, 4), (1, 4)), ((1, 4), (1, 4)),
         ((0, 4), (4,)), ((3, 4), ()), ((), ()), ((3, 4), (5,)), ((2, 1, 4), (4,)),
         ((0, 3, 4), (1, 3, 4)), ((2, 4, 0, 0), (2, 1, 1, 0)), ((3, 0), (3, 1)), ((0, 3), (1, 1)),
         ((2, 0, 4), (2, 0, 4)), ((1, 0), (1, 0)), ((0, 4), (3, 4))]
BINARY = [(aten.add.Tensor, {}), (aten.add.Tensor, {"alpha": 2}), (aten.sub.Tensor, {"alpha": 0.5}),
          (aten.mul.Tensor, {}), (aten.div.Tensor, {}), (aten.gt.Tensor, {}), (aten.eq.Tensor, {}),
          (aten.le.Tensor, {}), (aten.__and__.Tensor, {}), (aten.bitwise_or.Tensor, {})]
DTYPES = [(torch.float32, torch.float32), (torch.bfloat16, torch.bfloat16),
          (torch.int64, torch.int64), (torch.bool, torch.bool), (torch.float32, torch.float64)]


@pytest.mark.parametrize("shapes", PAIRS, ids=str)
@pytest.mark.parametrize("func,kwargs", BINARY, ids=str)
def test_binary_pointwise_output_is_the_kernel_output(shapes, func, kwargs):
    answered = 0
    for dtypes, layouts, grads, grad_mode in itertools.product(
            DTYPES,
            [("contiguous", "contiguous"), ("transposed", "contiguous"), ("contiguous", "offset")],
            [(False, False), (True, False)], [True, False]):
        if grads[0] and not dtypes[0].is_floating_point:
            continue
        args = tuple(_pointwise_input(s, d, layout, g)
                     for s, d, layout, g in zip(shapes, dtypes, layouts, grads))
        answered += _answer_checked(func, args, kwargs, grad_mode, (dtypes, layouts, grads))
    try:
        out_shape = torch.broadcast_shapes(*shapes)
    except RuntimeError:
        out_shape = None
    # The checks decide the plain cases: same-dtype contiguous inputs that broadcast (sizes 0
    # and 1 included), 0-dim tensors aside.
    plain = out_shape is not None and all(shapes)
    assert answered > 0 or not plain


UNARY = [(aten.neg.default, (), {}), (aten.tanh.default, (), {}), (aten.relu.default, (), {}),
         (aten.gelu.default, (), {"approximate": "tanh"}), (aten.gelu.default, (), {}),
         (aten.silu.default, (), {}), (aten.sigmoid.default, (), {}), (aten.rsqrt.default, (), {}),
         (aten.sqrt.default, (), {}), (aten.exp.default, (), {}),
         (aten.pow.Tensor_Scalar, (2,), {}), (aten.pow.Tensor_Scalar, (0.5,), {}),
         (aten.add.Tensor, (1,), {}), (aten.mul.Tensor, (2.5,), {}), (aten.div.Tensor, (3,), {}),
         (aten.gt.Scalar, (0,), {}), (aten.eq.Scalar, (0.5,), {}), (aten.ne.Scalar, (1,), {}),
         (aten.add.Tensor, (1,), {"alpha": 2}), (aten.sub.Tensor, (0.5,), {}),
         (aten.mul.Tensor, (True,), {})]


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4), (5,), (1, 4), (2, 4, 1), (0, 4), ()], ids=str)
@pytest.mark.parametrize("func,rest,kwargs", UNARY, ids=str)
def test_pointwise_with_numbers_output_is_the_kernel_output(shape, func, rest, kwargs):
    answered = 0
    for dtype, layout, requires_grad, grad_mode in itertools.product(
            [torch.float32, torch.float16, torch.int64, torch.bool],
            ["contiguous", "transposed", "offset"], [False, True], [True, False]):
        if requires_grad and not dtype.is_floating_point:
            continue
        args = (_pointwise_input(shape, dtype, layout, requires_grad), *rest)
        answered += _answer_checked(func, args, kwargs, grad_mode, (dtype, layout, requires_grad))
    if any(type(r) is bool for r in rest):
        assert answered == 0        # a bool number promotes like a tensor: the kernel decides
    else:
        assert answered > 0 or not shape


@pytest.mark.parametrize("shapes", [((3, 4), (3, 4), (3, 4)), ((2, 1), (2, 1), (2, 1)),
                                    ((3, 4), (4,), (3, 1)), ((1, 4), (4,), (4,)),
                                    ((3, 4), (3, 4), ())], ids=str)
def test_where_output_is_the_kernel_output(shapes):
    answered = 0
    for dtypes, grads, grad_mode in itertools.product(
            [(torch.bool, torch.float32, torch.float32), (torch.bool, torch.float32, torch.float64),
             (torch.int64, torch.float32, torch.float32)],
            [(False, False), (False, True)], [True, False]):
        args = tuple(_pointwise_input(s, d, "contiguous", g)
                     for s, d, g in zip(shapes, dtypes, (False, *grads)))
        answered += _answer_checked(aten.where.self, args, {}, grad_mode, dtypes)
    assert answered > 0 or () in shapes or len(set(shapes)) > 1 and 1 in shapes[0]


def test_pointwise_outside_the_checks_runs_the_kernel():
    x = _pointwise_input((3, 4), torch.float32, "contiguous", False)
    assert known_output(aten.add.Tensor, (x, True), {}) is None                 # a bool number
    assert known_output(aten.add.Tensor, (x, 1j), {}) is None                   # a complex one
    assert known_output(aten.gelu.default, (x,), {"approximate": "erf"}) is None
    assert known_output(aten.add.Tensor, (x, torch.empty(3, 4)), {}) is None   # a real tensor
    assert known_output(aten.add.Tensor, (x, x), {"out": x}) is None
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert known_output(aten.mul.Tensor, (x, x), {}) is None


@settings(max_examples=12, deadline=None)
@given(programs(max_statements=2, focus="pointwise_layout"))
def test_generated_pointwise_layouts_match_eager(program):
    """Programs reading back the strides of pointwise outputs, static and on a dynamic batch."""
    check_program(program, batches=(4, 7, 2), dynamic=True)
    check_program(program, batches=(3,), dynamic=False)

