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
# Mixture-of-experts layers run grouped matmuls, whose strides must be multiples of 16 bytes.
_MOE = {**_COMMON, "intermediate_size": 32}


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


def _mixtral():
    import transformers as T
    return T.MixtralModel(T.MixtralConfig(**_MOE, num_key_value_heads=2, max_position_embeddings=64,
                                          num_local_experts=4, num_experts_per_tok=2, use_cache=False))


def _qwen2_moe():
    import transformers as T
    return T.Qwen2MoeModel(T.Qwen2MoeConfig(**_MOE, num_key_value_heads=2,
                                            max_position_embeddings=64, num_experts=4,
                                            num_experts_per_tok=2, moe_intermediate_size=16,
                                            shared_expert_intermediate_size=32, use_cache=False))


def _olmoe():
    import transformers as T
    return T.OlmoeModel(T.OlmoeConfig(**_MOE, num_key_value_heads=2, max_position_embeddings=64,
                                      num_experts=4, num_experts_per_tok=2, eos_token_id=None,
                                      use_cache=False))


def _bamba():
    import transformers as T
    return T.BambaModel(T.BambaConfig(**_MOE, num_key_value_heads=2, max_position_embeddings=64,
                                      mamba_n_heads=4, mamba_d_head=16, mamba_n_groups=1,
                                      mamba_d_state=8, mamba_chunk_size=4, attn_layer_indices=[1],
                                      use_cache=False))


def _fnet():
    import transformers as T
    return T.FNetModel(T.FNetConfig(**_MOE, max_position_embeddings=64))


def _convbert():
    import transformers as T
    return T.ConvBertModel(T.ConvBertConfig(**_MOE, max_position_embeddings=64, embedding_size=32))


def _ids_only(batch: int, length: int) -> dict:
    return _text_inputs(batch, length, with_mask=False)


def _ids_dynamic() -> dict:
    return {"input_ids": {0: Dim.DYNAMIC, 1: Dim.DYNAMIC}}


# Models whose routing, scans or FFTs go through ops without a hand-written shape rule
# (floor_divide, histc, tensor_split, fft, im2col): dynamic batch and sequence, three other
# sizes.
_THREE_SIZES = ((3, 5), (1, 11), (4, 7))
DYNAMIC_CASES: dict[str, HFCase] = {
    "mixtral": HFCase("mixtral", _mixtral, _ids_only, _ids_dynamic, fresh_sizes=_THREE_SIZES),
    "qwen2_moe": HFCase("qwen2_moe", _qwen2_moe, _ids_only, _ids_dynamic,
                        fresh_sizes=_THREE_SIZES),
    "olmoe": HFCase("olmoe", _olmoe, _ids_only, _ids_dynamic, fresh_sizes=_THREE_SIZES),
    # Bamba's chunked scan (chunk size 4) takes the unpadded path at the example's length 8:
    # its program accepts whole numbers of chunks, two or more (as torch.export's).
    "bamba": HFCase("bamba", _bamba, _ids_only, _ids_dynamic,
                    fresh_sizes=((3, 12), (1, 16), (4, 20))),
    "fnet": HFCase("fnet", _fnet, _ids_only, _ids_dynamic, fresh_sizes=_THREE_SIZES),
    "convbert": HFCase("convbert", _convbert, _text_inputs, _text_dynamic,
                       fresh_sizes=_THREE_SIZES),
}


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
    return (CASES.get(name) or DYNAMIC_CASES[name]).build().eval()
