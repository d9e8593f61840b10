#!/usr/bin/env python3
"""Build a 1M-parameter random-weight Qwen2-VL (model, tokenizer, processor) for the vLLM test server.

Run it with the vLLM venv's python (it needs transformers and tokenizers, which the project venv
does not carry): ``.venv-vllm/bin/python scripts/make_tiny_vlm.py OUT_DIR``. It writes about 4 MB
in a few seconds. The weights are random, so the model's text is garbage by design: tests that use
it assert on protocol behaviour (status codes, usage, finish_reason), never on what it says.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# Qwen2-VL's special tokens; their ids (0..7) are fixed by the config below.
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
            "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]
VOCAB_SIZE = 2048

# Qwen-style ChatML template; string or list content; images and videos become vision placeholders.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] }}"
    "{% elif part['type'] in ('image', 'image_url') %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] in ('video', 'video_url') %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% endif %}{% endfor %}{% endif %}"
    "{% if message.get('tool_calls') %}{% for call in message['tool_calls'] %}"
    "<tool_call>\n{{ call['function'] | tojson }}\n</tool_call>{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

PREPROCESSOR = {
    "image_processor_type": "Qwen2VLImageProcessor", "processor_class": "Qwen2VLProcessor",
    "do_resize": True, "do_rescale": True, "do_normalize": True, "do_convert_rgb": True,
    "rescale_factor": 1 / 255, "image_mean": [0.481, 0.458, 0.408], "image_std": [0.269, 0.261, 0.276],
    # max_pixels 50176 = 224*224: any image costs at most 64 tokens (patch 14, merge 2).
    "min_pixels": 3136, "max_pixels": 50176, "size": {"shortest_edge": 3136, "longest_edge": 50176},
    "patch_size": 14, "temporal_patch_size": 2, "merge_size": 2,
}


def _training_text() -> list[str]:
    """Return some standard-library source files to train the byte-level BPE on."""
    import json as _json
    import argparse as _argparse
    import pathlib as _pathlib
    files = [Path(m.__file__) for m in (_json, _argparse, _pathlib)]
    stdlib = Path(_argparse.__file__).parent
    files += sorted(stdlib.glob("*.py"))[:20]
    return [f.read_text(encoding="utf-8", errors="replace") for f in files]


def build_tokenizer():  # -> transformers.PreTrainedTokenizerFast
    """Train a small byte-level BPE with the Qwen special tokens at ids 0..7."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(_training_text(), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>",
                                   additional_special_tokens=SPECIALS[1:])
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_model(out: Path) -> None:
    """Write the random Qwen2-VL, its tokenizer and its image processor config to ``out``."""
    import torch
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    torch.manual_seed(0)
    tokenizer = build_tokenizer()
    ids = tokenizer.convert_tokens_to_ids(SPECIALS)
    if ids != list(range(len(SPECIALS))):
        raise RuntimeError(f"special token ids are {ids}, expected 0..7")
    cfg = Qwen2VLConfig(
        text_config=dict(vocab_size=VOCAB_SIZE, hidden_size=128, intermediate_size=256,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=32768,
                         rope_parameters={"rope_type": "default", "rope_theta": 1e4,
                                          "mrope_section": [8, 12, 12]},
                         bos_token_id=0, eos_token_id=2, pad_token_id=0),
        vision_config=dict(depth=2, embed_dim=64, hidden_size=128, num_heads=2, mlp_ratio=2,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2),
        image_token_id=6, video_token_id=7, vision_start_token_id=3, vision_end_token_id=4,
        eos_token_id=2, tie_word_embeddings=False)
    model = Qwen2VLForConditionalGeneration(cfg)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "preprocessor_config.json").write_text(json.dumps(PREPROCESSOR, indent=2))
    # vLLM reads the chat template from the tokenizer config; keep a plain copy for other servers.
    (out / "chat_template.jinja").write_text(CHAT_TEMPLATE)
    n = sum(p.numel() for p in model.parameters())
    print(f"wrote {out}: Qwen2-VL with {n / 1e6:.2f}M random parameters")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and build the model."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="output directory (created; existing files are replaced)")
    args = ap.parse_args(argv)
    try:
        import transformers  # noqa: F401
    except ImportError:
        print("error: transformers is missing; run this with the vLLM venv's python "
              "(make setup-vllm, then .venv-vllm/bin/python scripts/make_tiny_vlm.py OUT)",
              file=sys.stderr)
        return 2
    build_model(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
