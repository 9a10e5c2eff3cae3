"""Convolution/pooling/upsampling/padding and normalization/embedding/attention/loss rules
against the meta kernels."""
import torch
from hypothesis import given, strategies as st

from strict_tracer.testing.rules_harness import check_rule, draw_case, fewer, sizes

aten = torch.ops.aten
CONV = {1: aten.conv1d.default, 2: aten.conv2d.default, 3: aten.conv3d.default}
MAXPOOL = {1: aten.max_pool1d.default, 2: aten.max_pool2d.default, 3: aten.max_pool3d.default}
MAXPOOL_IDX = {1: aten.max_pool1d_with_indices.default, 2: aten.max_pool2d_with_indices.default,
               3: aten.max_pool3d_with_indices.default}
AVGPOOL = {1: aten.avg_pool1d.default, 2: aten.avg_pool2d.default, 3: aten.avg_pool3d.default}
ADAPTIVE = {1: aten.adaptive_avg_pool1d.default, 2: aten.adaptive_avg_pool2d.default,
            3: aten.adaptive_avg_pool3d.default}
TRANSPOSED = {1: aten.conv_transpose1d.default, 2: aten.conv_transpose2d.input,
              3: aten.conv_transpose3d.input}


def _spatial(data, n):
    hints, dynamic = draw_case(data.draw, st, "nchwd", low=2, high=9)
    hints.update({k: max(v, 5) for k, v in hints.items() if k in "hwd"})
    batched = data.draw(st.booleans())
    spec = (["n"] if batched else []) + ["c"] + list("hwd"[:n])
    return hints, dynamic, spec


@given(st.data())
def test_convolution(data):
    n = data.draw(st.integers(1, 3))
    hints, dynamic, spec = _spatial(data, n)
    k = data.draw(st.integers(1, 3))
    stride, pad, dil = (data.draw(st.integers(1, 2)), data.draw(st.integers(0, 1)),
                        data.draw(st.integers(1, 2)))
    groups = data.draw(st.sampled_from([1, 2]))
    hints["c"] = 2 * hints["c"]
    r = check_rule(CONV[n], lambda S, T: ((T(sizes(S, spec)), T((4, S["c"] // groups) + (k,) * n),
                                           None, [stride], [pad], [dil], groups), {}), hints, dynamic)
    assert r["points"] > 0
    padding = data.draw(st.sampled_from(["same", "valid"]))
    padding_op = {1: aten.conv1d.padding, 2: aten.conv2d.padding, 3: aten.conv3d.padding}[n]
    check_rule(padding_op, lambda S, T: ((T(sizes(S, spec)), T((4, S["c"]) + (k,) * n), None, [1],
                                          padding, [dil]), {}), hints, dynamic)
    out_pad = data.draw(st.integers(0, max(stride, dil) - 1))
    check_rule(TRANSPOSED[n], lambda S, T: ((T(sizes(S, spec)), T((S["c"], 3) + (k,) * n), None,
                                             [stride], [pad], [out_pad], 1, [dil]), {}),
               hints, dynamic)
    check_rule(aten.convolution.default, lambda S, T: (
        (T(sizes(S, ["n"] + spec[-n - 1:])), T((4, S["c"]) + (k,) * n), None, [stride] * n, [pad] * n, [dil] * n,
         False, [0] * n, 1), {}), hints, dynamic)


@fewer(3)
@given(st.data())
def test_pooling(data):
    n = data.draw(st.integers(1, 3))
    hints, dynamic, spec = _spatial(data, n)
    k = data.draw(st.integers(1, 3))
    stride = data.draw(st.sampled_from([[], [1], [2], [3]]))
    pad = data.draw(st.integers(0, k // 2))
    dil = data.draw(st.integers(1, 2))
    ceil = data.draw(st.booleans())
    r = check_rule(MAXPOOL[n], lambda S, T: ((T(sizes(S, spec)), [k], stride, [pad], [dil], ceil), {}),
                   hints, dynamic)
    assert r["points"] > 0
    check_rule(MAXPOOL_IDX[n], lambda S, T: ((T(sizes(S, spec)), [k], stride, [pad], [dil], ceil), {}),
               hints, dynamic)
    check_rule(AVGPOOL[n], lambda S, T: ((T(sizes(S, spec)), [k], stride, [pad], ceil), {}),
               hints, dynamic)
    out = data.draw(st.lists(st.integers(1, 4), min_size=n, max_size=n))
    check_rule(ADAPTIVE[n], lambda S, T: ((T(sizes(S, spec)), out), {}), hints, dynamic)


@fewer(3)
@given(st.data())
def test_upsample_and_pad(data):
    hints, dynamic, spec = _spatial(data, 2)
    spec = ["n"] + spec[-3:]
    scale = data.draw(st.sampled_from([2.0, 0.5, 1.5, 3.0]))
    r = check_rule(aten.upsample_nearest2d.vec, lambda S, T: ((T(sizes(S, spec)), None, [scale] * 2), {}),
                   hints, dynamic)
    check_rule(aten.upsample_bilinear2d.vec, lambda S, T: (
        (T(sizes(S, spec)), [S["h"] * 2, S["w"] + 1], False, None), {}), hints, dynamic)
    pads = data.draw(st.lists(st.integers(-1, 2), min_size=2, max_size=4).filter(lambda p: len(p) % 2 == 0))
    check_rule(aten.constant_pad_nd.default, lambda S, T: ((T(sizes(S, spec)), pads, 0.0), {}),
               hints, dynamic)
    refl = [abs(p) for p in pads]
    check_rule(aten.reflection_pad2d.default if len(refl) == 4 else aten.reflection_pad1d.default,
               lambda S, T: ((T(sizes(S, spec[-3:] if len(refl) == 2 else spec)), refl), {}),
               hints, dynamic)
    assert r["points"] > 0


@fewer(3)
@given(st.data())
def test_normalization(data):
    hints, dynamic = draw_case(data.draw, st, "bsdg")
    rank = data.draw(st.integers(2, 4))
    spec = ["b", "s", "d"][: rank - 1] + ["d"]
    spec = ["b"] + spec[1:]
    nd = data.draw(st.integers(1, 2))
    norm = list(spec[-nd:])
    affine = data.draw(st.booleans())
    build = lambda S, T: ((T(sizes(S, spec)), list(sizes(S, norm)),  # noqa: E731
                           T(sizes(S, norm)) if affine else None, T(sizes(S, norm)) if affine else None,
                           1e-5), {})
    r = check_rule(aten.layer_norm.default, build, hints, dynamic)
    assert r["points"] > 0
    check_rule(aten.native_layer_norm.default, build, hints, dynamic)
    check_rule(aten.rms_norm.default, lambda S, T: ((T(sizes(S, spec)), list(sizes(S, norm)),
                                                     T(sizes(S, norm)) if affine else None), {}),
               hints, dynamic)
    hints["c"] = 2 * hints["g"]
    img = ["b", "c", "s", "d"][:rank]
    check_rule(aten.group_norm.default, lambda S, T: ((T(sizes(S, img)), 2,
                                                       T((S["c"],)) if affine else None), {}),
               hints, dynamic)
    training = data.draw(st.booleans())
    bn = lambda S, T: ((T(sizes(S, img)), T((S["c"],)), T((S["c"],)), T((S["c"],)),  # noqa: E731
                        T((S["c"],)), training, 0.1, 1e-5), {})
    check_rule(aten.native_batch_norm.default, bn, hints, dynamic)
    check_rule(aten.batch_norm.default, lambda S, T: (bn(S, T)[0] + (False,), {}), hints, dynamic)
    check_rule(aten._native_batch_norm_legit_no_training.default, lambda S, T: (
        (T(sizes(S, img)), None, None, T((S["c"],)), T((S["c"],)), 0.1, 1e-5), {}), hints, dynamic)


@fewer(3)
@given(st.data())
def test_embedding_sdpa_losses(data):
    hints, dynamic = draw_case(data.draw, st, "bhlsde")
    idx = data.draw(st.lists(st.sampled_from("bl"), min_size=1, max_size=2))
    r = check_rule(aten.embedding.default, lambda S, T: ((T((10, S["d"])), T(sizes(S, idx), torch.long)), {}),
                   hints, dynamic)
    assert r["points"] > 0
    mask = data.draw(st.sampled_from([None, "ls", "1s", "bhls"]))
    gqa = data.draw(st.booleans())

    def attn(S, T):
        heads_kv = 1 if gqa else S["h"]
        q = T((S["b"], S["h"], S["l"], S["d"]))
        k = T((S["b"], heads_kv, S["s"], S["d"]))
        v = T((S["b"], heads_kv, S["s"], S["e"]))
        m = None if mask is None else T(tuple(1 if c == "1" else S[c] for c in mask), torch.bool)
        return (q, k, v, m), {"enable_gqa": gqa}
    check_rule(aten.scaled_dot_product_attention.default, attn, hints, dynamic)
    reduction = data.draw(st.integers(0, 2))
    check_rule(aten.mse_loss.default, lambda S, T: ((T((S["b"], S["d"])), T((S["b"], S["d"])),
                                                     reduction), {}), hints, dynamic)
    check_rule(aten.cross_entropy_loss.default, lambda S, T: (
        (T((S["b"], S["d"], S["l"])), T((S["b"], S["l"]), torch.long), None, reduction), {}),
        hints, dynamic)
