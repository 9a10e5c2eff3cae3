"""Tiny Hugging Face causal and seq2seq LMs (configs built locally, nothing downloaded) and the
decode-step modules that LLM exports use: prefill and decode with a `DynamicCache` passed in
and returned, a `StaticCache` held as buffers (transformers' own export wrapper), and a T5
decoder step with an `EncoderDecoderCache`. For tests and benchmarks.

`transformers` is a test dependency: import this module only where it is installed.
"""
from __future__ import annotations

import torch

VOCAB = 100
MAX_POSITIONS = 64


def llama(seed: int = 0) -> torch.nn.Module:
    import transformers as T
    torch.manual_seed(seed)
    return T.LlamaForCausalLM(T.LlamaConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=37, vocab_size=VOCAB, max_position_embeddings=MAX_POSITIONS)).eval()


def gpt2(seed: int = 0) -> torch.nn.Module:
    import transformers as T
    torch.manual_seed(seed)
    return T.GPT2LMHeadModel(T.GPT2Config(n_embd=32, n_layer=2, n_head=4, vocab_size=VOCAB,
                                          n_positions=MAX_POSITIONS, bos_token_id=0,
                                          eos_token_id=0)).eval()


def t5(seed: int = 0) -> torch.nn.Module:
    import transformers as T
    torch.manual_seed(seed)
    return T.T5ForConditionalGeneration(T.T5Config(
        d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4, vocab_size=VOCAB,
        decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)).eval()


class DecoderStep(torch.nn.Module):
    """One forward of a causal LM with its KV cache passed in and returned (prefill when the
    cache is empty or None, decode otherwise)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, cache=None):
        out = self.model(input_ids=input_ids, cache=cache, use_cache=True)
        return out.logits, out.past_key_values


class Seq2SeqDecoderStep(torch.nn.Module):
    """One decoder step of an encoder-decoder LM on given encoder states, with its
    EncoderDecoderCache passed in and returned."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, decoder_input_ids: torch.Tensor, encoder_states: torch.Tensor, cache):
        out = self.model(encoder_outputs=(encoder_states,), decoder_input_ids=decoder_input_ids,
                         cache=cache, use_cache=True)
        return out.logits, out.past_key_values


def static_cache_model(model: torch.nn.Module, max_cache_len: int = 16) -> torch.nn.Module:
    """transformers' `TorchExportableModuleWithStaticCache` around `model` (batch 1)."""
    from transformers.integrations.executorch import TorchExportableModuleWithStaticCache
    model.generation_config.use_cache = True
    model.generation_config.cache_implementation = "static"
    model.generation_config.cache_config = {"batch_size": 1, "max_cache_len": max_cache_len}
    return TorchExportableModuleWithStaticCache(model)


def greedy_decode(step, first_token: torch.Tensor, cache, steps: int) -> list[torch.Tensor]:
    """Logits of `steps` greedy decode steps of `step(token, cache) -> (logits, cache)`."""
    logits_seen, token = [], first_token
    for _ in range(steps):
        with torch.no_grad():
            logits, cache = step(token, cache)
        logits_seen.append(logits)
        token = logits[:, -1:].argmax(-1)
    return logits_seen


def cache_dynamic_shapes(cache, seq) -> list:
    """dynamic_shapes for a DynamicCache registered by transformers'
    `register_dynamic_cache_export_support` (children: key list, value list), with the cached
    sequence length (dim 2) marked `seq`."""
    layers = len(cache.layers)
    return [[{2: seq}] * layers, [{2: seq}] * layers]
