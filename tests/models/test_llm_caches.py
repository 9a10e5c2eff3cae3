"""Exporting LLM decode steps: tiny Hugging Face Llama / GPT-2 / T5 (built from configs) with
DynamicCache, StaticCache and EncoderDecoderCache inputs and outputs, checked against eager
over 4 greedy decode steps (and against torch.export where it exports the same program)."""
from __future__ import annotations

from unittest import mock

import pytest
import torch
from torch.export import Dim

pytest.importorskip("transformers")
pytestmark = pytest.mark.usefixtures("quiet_transformers")

import strict_tracer  # noqa: E402
from support.helpers import assert_same  # noqa: E402
from strict_tracer.testing import hf_decode  # noqa: E402

STEPS = 4


class UnregisteredCache(__import__("transformers").DynamicCache):
    """A cache class nobody registered with torch.utils._pytree (until strict_tracer meets it)."""


def _prefill_cache(model, ids):
    with torch.no_grad():
        return model(input_ids=ids, use_cache=True).past_key_values


def _assert_decodes_like_eager(program, model, ids, first):
    eager = hf_decode.greedy_decode(hf_decode.DecoderStep(model), first,
                                    _prefill_cache(model, ids), STEPS)
    exported = hf_decode.greedy_decode(program, first, _prefill_cache(model, ids), STEPS)
    assert_same(exported, eager)


def test_llama_decode_step_with_dynamic_cache_input_and_output():
    """The executorch registration of DynamicCache: its unflatten builds the cache in Python
    around our proxies; the cached length is dynamic, so one program serves every step."""
    from transformers.integrations.executorch import register_dynamic_cache_export_support
    register_dynamic_cache_export_support()
    model = hf_decode.llama()
    ids, first = torch.randint(0, 100, (1, 5)), torch.tensor([[7]])
    cache = _prefill_cache(model, ids)
    seq = Dim("seq", min=1, max=60)
    shapes = {"input_ids": None, "cache": hf_decode.cache_dynamic_shapes(cache, seq)}
    ep = strict_tracer.export(hf_decode.DecoderStep(model), (first, cache), dynamic_shapes=shapes)
    assert type(ep.module()(first, _prefill_cache(model, ids))[1]).__name__ == "DynamicCache"
    _assert_decodes_like_eager(ep.module(), model, ids, first)


def test_gpt2_prefill_returns_its_cache_without_registration():
    """Beyond torch.export (which refuses an unregistered DynamicCache output): prefill and
    decode programs sharing the weights, the cache classes registered by strict_tracer."""
    model = hf_decode.gpt2()
    ids, first = torch.randint(0, 100, (1, 5)), torch.tensor([[3]])
    prefill = strict_tracer.export(hf_decode.DecoderStep(model), (ids,)).module()
    logits, cache = prefill(ids)
    eager_logits, eager_cache = hf_decode.DecoderStep(model)(ids)
    assert_same(logits, eager_logits)
    assert_same([layer.keys for layer in cache.layers], [layer.keys for layer in eager_cache.layers])

    custom = UnregisteredCache()
    for index, layer in enumerate(cache.layers):
        custom.update(layer.keys, layer.values, index)
    with pytest.raises(Exception, match="UnregisteredCache"):
        torch.export.export(hf_decode.DecoderStep(model), (first, custom), strict=True)
    decode = strict_tracer.export(hf_decode.DecoderStep(model), (first, custom)).module()
    with torch.no_grad():
        out_logits, out_cache = decode(first, custom)
        want_logits, want_cache = hf_decode.DecoderStep(model)(first, eager_cache)
    assert type(out_cache) is UnregisteredCache
    assert_same(out_logits, want_logits)
    assert_same(out_cache.layers[0].keys, want_cache.layers[0].keys)


def test_static_cache_wrapper_decodes_like_eager():
    """transformers' TorchExportableModuleWithStaticCache: the cache tensors are buffers the
    program mutates (BUFFER_MUTATION outputs), cumulative lengths reset from cache_position."""
    model = hf_decode.llama()
    wrapper = hf_decode.static_cache_model(model)
    ids, pos = torch.tensor([[3]]), torch.tensor([0])
    ep = strict_tracer.export(wrapper, (), {"input_ids": ids, "cache_position": pos})
    kinds = [spec.kind.name for spec in ep.graph_signature.output_specs]
    assert kinds.count("BUFFER_MUTATION") == 6 and kinds[-1] == "USER_OUTPUT"
    program, eager = ep.module(), hf_decode.static_cache_model(model)
    token = ids
    for step in range(STEPS):
        position = torch.tensor([step])
        with torch.no_grad():
            want = eager(input_ids=token, cache_position=position)
            assert_same(program(input_ids=token, cache_position=position), want)
        token = want[:, -1:].argmax(-1)


@pytest.mark.slow
def test_convert_and_export_with_cache_through_strict_tracer():
    from transformers.integrations.executorch import convert_and_export_with_cache
    model = hf_decode.llama()
    hf_decode.static_cache_model(model)          # sets the static generation config
    with mock.patch("torch.export.export", strict_tracer.export):
        ep = convert_and_export_with_cache(model)
    reference = torch.export.export(hf_decode.static_cache_model(model), (),
                                    {"input_ids": torch.tensor([[1]]),
                                     "cache_position": torch.tensor([0])}, strict=True)
    token = torch.tensor([[5]])
    for step in range(2):
        position = torch.tensor([step])
        with torch.no_grad():
            got = ep.module()(input_ids=token, cache_position=position)
            assert_same(got, reference.module()(input_ids=token, cache_position=position))


@pytest.mark.slow
def test_t5_decoder_step_with_encoder_decoder_cache():
    model = hf_decode.t5()
    step = hf_decode.Seq2SeqDecoderStep(model)
    with torch.no_grad():
        states = model.get_encoder()(input_ids=torch.randint(2, 100, (1, 6))).last_hidden_state

    def prefill():
        with torch.no_grad():
            return model(encoder_outputs=(states,), decoder_input_ids=torch.tensor([[0, 5]]),
                         use_cache=True).past_key_values

    first = torch.tensor([[7]])
    ep = strict_tracer.export(step, (first, states, prefill()))
    logits, cache = ep.module()(first, states, prefill())
    assert type(cache).__name__ == "EncoderDecoderCache"
    with torch.no_grad():
        assert_same(logits, step(first, states, prefill())[0])


def test_static_cache_passed_in_and_returned():
    """A StaticCache as an input (registered on first use by strict_tracer): its tensors are
    written in place by the decode step, USER_INPUT_MUTATION outputs the program writes back."""
    from transformers.cache_utils import StaticCache
    model = hf_decode.llama()

    def prefilled():
        cache = StaticCache(config=model.config, max_cache_len=16)
        with torch.no_grad():
            model(input_ids=torch.tensor([[1, 2, 3]]), cache=cache, use_cache=True)
        return cache

    step, first = hf_decode.DecoderStep(model), torch.tensor([[5]])
    ep = strict_tracer.export(step, (first, prefilled()))
    kinds = {spec.kind.name for spec in ep.graph_signature.output_specs}
    assert "USER_INPUT_MUTATION" in kinds
    eager = hf_decode.greedy_decode(step, first, prefilled(), STEPS)
    exported = hf_decode.greedy_decode(ep.module(), first, prefilled(), STEPS)
    assert_same(exported, eager)
