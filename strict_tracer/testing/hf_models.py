"""Tiny randomly initialised Hugging Face `transformers` models (built from configs, nothing
downloaded) with example inputs and dynamic shapes, for tests and benchmarks.

`transformers` is a test dependency: import this module only where it is installed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch.export import Dim

VOCAB = 100
_COMMON = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
               vocab_size=VOCAB)


@dataclass
class HFCase:
    name: str
    build: Callable[[], torch.nn.Module]
    inputs: Callable[[int, int], dict]      # (batch, length) -> forward kwargs
    dynamic: Callable[[], dict]             # dynamic_shapes for those kwargs
    example_size: tuple[int, int] = (2, 8)
    fresh_sizes: tuple[tuple[int, int], ...] = ((3, 5), (1, 11))


def _text_inputs(batch: int, length: int, with_mask: bool = True) -> dict:
    ids = torch.randint(0, VOCAB, (batch, length))
    if not with_mask:
        return {"input_ids": ids}
    mask = torch.ones(batch, length, dtype=torch.long)
    mask[0, length // 2:] = 0                      # one padded sequence
    return {"input_ids": ids, "attention_mask": mask}


def _text_dynamic() -> dict:
    batch, length = Dim.DYNAMIC, Dim.DYNAMIC
    return {"input_ids": {0: batch, 1: length}, "attention_mask": {0: batch, 1: length}}


def _image_inputs(batch: int, _length: int) -> dict:
    return {"pixel_values": torch.randn(batch, 3, 16, 16)}


def _bert():
    import transformers as T
    return T.BertModel(T.BertConfig(**_COMMON, max_position_embeddings=64))


def _gpt2():
    import transformers as T
    return T.GPT2Model(T.GPT2Config(n_embd=32, n_layer=2, n_head=4, vocab_size=VOCAB,
                                    n_positions=64, use_cache=False))


def _llama():
    import transformers as T
    return T.LlamaModel(T.LlamaConfig(**_COMMON, num_key_value_heads=2,
                                      max_position_embeddings=64, use_cache=False))


def _t5_encoder():
    import transformers as T
    return T.T5EncoderModel(T.T5Config(d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                                       vocab_size=VOCAB))


def _vit():
    import transformers as T
    return T.ViTModel(T.ViTConfig(**{**_COMMON, "vocab_size": None}, image_size=16, patch_size=4,
                                  num_channels=3))


CASES: dict[str, HFCase] = {
    "bert": HFCase("bert", _bert, _text_inputs, _text_dynamic),
    "gpt2": HFCase("gpt2", _gpt2, _text_inputs, _text_dynamic),
    "llama": HFCase("llama", _llama, _text_inputs, _text_dynamic),
    "t5_encoder": HFCase("t5_encoder", _t5_encoder, _text_inputs, _text_dynamic),
    "vit": HFCase("vit", _vit, _image_inputs, lambda: {"pixel_values": {0: Dim.DYNAMIC}}),
}


def build(name: str, seed: int = 0) -> torch.nn.Module:
    """The model of case `name`, randomly initialised with `seed`, in eval mode."""
    torch.manual_seed(seed)
    return CASES[name].build().eval()
