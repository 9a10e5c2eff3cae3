"""Normalization (layer/group/batch/instance/rms norm and their native_* multi-output forms),
embedding, scaled_dot_product_attention and losses."""
from __future__ import annotations

import torch

from .common import broadcast, expect, expect_divisible, expect_eq, numel, shape, wrap_dim
from .rule_table import Bound, register

aten = torch.ops.aten


def _check_trailing(s: tuple, normalized: list, what: str) -> None:
    expect(len(normalized) <= len(s), f"{what}: normalized_shape has too many dims")
    for x, y in zip(s[len(s) - len(normalized):], normalized):
        expect_eq(x, y, f"{what}: normalized_shape")


def _check_param(param, want: tuple, what: str) -> None:
    if param is not None:
        got = shape(param)
        expect(len(got) == len(want), f"{what} has the wrong number of dims")
        for x, y in zip(got, want):
            expect_eq(x, y, what)


@register(aten.layer_norm.default, aten.rms_norm.default)
def layer_norm(a: Bound):
    s, normalized = shape(a["input"]), list(a["normalized_shape"])
    _check_trailing(s, normalized, str(a.op))
    _check_param(a["weight"], tuple(normalized), "norm weight")
    _check_param(a.get("bias"), tuple(normalized), "norm bias")
    return s


@register(aten.native_layer_norm.default)
def native_layer_norm(a: Bound):
    s, normalized = shape(a["input"]), list(a["normalized_shape"])
    _check_trailing(s, normalized, "native_layer_norm")
    _check_param(a["weight"], tuple(normalized), "norm weight")
    _check_param(a["bias"], tuple(normalized), "norm bias")
    stat = s[:len(s) - len(normalized)] + (1,) * len(normalized)
    return [s, stat, stat]


def _channels(s: tuple):
    return s[1] if len(s) > 1 else 1


@register(aten.group_norm.default)
def group_norm(a: Bound):
    s = shape(a["input"])
    expect(len(s) >= 2, "group_norm() needs (N, C, ...) input")
    expect_divisible(s[1], a["num_groups"], "group_norm(): channels into groups")
    _check_param(a["weight"], (s[1],), "group_norm weight")
    _check_param(a["bias"], (s[1],), "group_norm bias")
    return s


@register(aten.native_group_norm.default)
def native_group_norm(a: Bound):
    s = shape(a["input"])
    expect_eq(a["N"], s[0], "native_group_norm(): N")
    expect_eq(a["C"], s[1], "native_group_norm(): C")
    expect_divisible(a["C"], a["group"], "native_group_norm(): channels into groups")
    expect_eq(numel(s), a["N"] * a["C"] * a["HxW"], "native_group_norm(): N * C * HxW")
    _check_param(a["weight"], (a["C"],), "native_group_norm weight")
    _check_param(a["bias"], (a["C"],), "native_group_norm bias")
    return [s, (s[0], a["group"]), (s[0], a["group"])]


@register(aten.batch_norm.default, aten.instance_norm.default)
def batch_norm(a: Bound):
    s = shape(a["input"])
    for name in ("weight", "bias", "running_mean", "running_var"):
        _check_param(a[name], (_channels(s),), f"{a.op} {name}")
    return s


@register(aten.native_batch_norm.default, aten._native_batch_norm_legit.default,
          aten._native_batch_norm_legit.no_stats, aten._native_batch_norm_legit_functional.default,
          aten._native_batch_norm_legit_no_training.default)
def native_batch_norm(a: Bound):
    s = shape(a["input"])
    c = (_channels(s),)
    # Eval-mode stats are per-channel from the meta kernels but empty from the CPU
    # decomposition fake tensors use: the oracle's shape says which.
    stats = (0,) if len(a.outputs) > 1 and tuple(a.outputs[1].shape) == (0,) else c
    outs = [s, stats, stats]
    if a.op is aten._native_batch_norm_legit_functional.default:
        outs += [c, c]
    return outs


@register(aten.embedding.default)
def embedding(a: Bound):
    w = shape(a["weight"])
    expect(len(w) == 2, "embedding() weight must be 2-d")
    return shape(a["indices"]) + (w[1],)


@register(aten.scaled_dot_product_attention.default)
def scaled_dot_product_attention(a: Bound):
    q, k, v = shape(a["query"]), shape(a["key"]), shape(a["value"])
    expect(len(q) >= 2 and len(k) == len(q) and len(v) == len(q), "sdpa(): q/k/v ranks")
    expect_eq(q[-1], k[-1], "sdpa(): query and key embedding sizes")
    expect_eq(k[-2], v[-2], "sdpa(): key and value sequence lengths")
    if a.get("enable_gqa") and len(q) >= 3:
        expect_eq(k[-3], v[-3], "sdpa(): key and value heads")
        groups = q[-3] // k[-3]
        expect_eq(groups * k[-3], q[-3], "sdpa(): query heads divisible by key heads")
        batch = broadcast(q[:-3], k[:-3], v[:-3]) + (q[-3],)
    else:
        batch = broadcast(q[:-2], k[:-2], v[:-2])
    out = batch + (q[-2], v[-1])
    if a["attn_mask"] is not None:
        scores = batch + (q[-2], k[-2])
        fitted = broadcast(scores, shape(a["attn_mask"]))
        for x, y in zip(fitted, scores):
            expect_eq(x, y, "sdpa(): attn_mask broadcast")
    return out


# ---------------------------------------------------------------- losses
_NONE = 0


def _elementwise_loss(a: Bound):
    s = broadcast(shape(a["self"]), shape(a["target"]))
    return s if a["reduction"] == _NONE else ()


register(aten.mse_loss.default, aten.l1_loss.default, aten.smooth_l1_loss.default,
         aten.huber_loss.default, aten.binary_cross_entropy.default,
         aten.binary_cross_entropy_with_logits.default, aten.kl_div.default,
         aten.soft_margin_loss.default)(_elementwise_loss)


@register(aten.cross_entropy_loss.default, aten.nll_loss.default, aten.nll_loss_nd.default,
          aten.nll_loss2d.default)
def class_loss(a: Bound):
    s, t = shape(a["self"]), shape(a["target"])
    if a["reduction"] != _NONE:
        return ()
    if len(s) == 1:
        return ()
    out = s[:1] + s[2:]
    if len(t) == len(s):     # class probabilities
        for x, y in zip(t, s):
            expect_eq(x, y, "cross_entropy(): target shape")
    else:
        expect(len(t) == len(out), "loss target rank")
        for x, y in zip(t, out):
            expect_eq(x, y, "loss target shape")
    return out


@register(aten.nll_loss_forward.default)
def nll_loss_forward(a: Bound):
    s = shape(a["self"])
    out = (s[0],) if a["reduction"] == _NONE and len(s) == 2 else ()
    return [out, ()]


@register(aten.cosine_similarity.default, aten.pairwise_distance.default)
def along_dim(a: Bound):
    if a.op is aten.pairwise_distance.default:
        s = broadcast(shape(a["x1"]), shape(a["x2"]))
        return s[:-1] + ((1,) if a["keepdim"] else ())
    s = broadcast(shape(a["x1"]), shape(a["x2"]))
    d = wrap_dim(a["dim"], len(s))
    return s[:d] + s[d + 1:]
