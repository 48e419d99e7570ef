"""Vision-language models: a language model (``text_config``) plus a vision tower and a projector.

The language model is read by its own family reader; the vision tower and projector become the spec's
``vision_tensors`` (component ``vision_tower`` / ``projector``), counted from the module shapes in
transformers' ``modeling_<type>.py`` (defaults from each ``configuration_<type>.py``). They hold weights
(vLLM loads them, so serving memory includes them) but keep no KV cache. Convolution kernels are listed as
(out_channels, in_channels * kernel volume) matrices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._common import Config, llama_family_core

VisionTensors = list[tuple[str, str, int, int, int]]


def _vec(out: VisionTensors, name: str, size: int, copies: int = 1, component: str = "vision_tower") -> None:
    out.append((name, component, 1, size, copies))


def _lin(out: VisionTensors, name: str, rows: int, cols: int, bias: bool, count: int = 1,
         component: str = "vision_tower") -> None:
    out.append((f"{name}.weight", component, rows, cols, count))
    if bias:
        out.append((f"{name}.bias", component, 1, rows, count))


def _encoder(out: VisionTensors, prefix: str, h: int, f: int, layers: int, *, bias: bool, norm_bias: bool,
             gated: bool = False, fused_qkv: bool = False) -> None:
    """``layers`` identical ViT blocks: q/k/v/o (or fused qkv), two norms, an MLP (plain or gated)."""
    if fused_qkv:
        _lin(out, f"{prefix}.attn.qkv", 3 * h, h, bias, layers)
    else:
        for p in ("q_proj", "k_proj", "v_proj"):
            _lin(out, f"{prefix}.attn.{p}", h, h, bias, layers)
    _lin(out, f"{prefix}.attn.o_proj", h, h, bias, layers)
    _vec(out, f"{prefix}.norms", h, 2 * layers * (2 if norm_bias else 1))
    if gated:
        _lin(out, f"{prefix}.mlp.gate_proj", f, h, bias, layers)
        _lin(out, f"{prefix}.mlp.up_proj", f, h, bias, layers)
    else:
        _lin(out, f"{prefix}.mlp.fc1", f, h, bias, layers)
    _lin(out, f"{prefix}.mlp.fc2" if not gated else f"{prefix}.mlp.down_proj", h, f, bias, layers)


# ---------------------------------------------------------------- vision towers: (tensors, hidden size)


def siglip(v: Config) -> tuple[VisionTensors, int]:
    # transformers/models/siglip/configuration_siglip.py (SiglipVisionConfig): hidden_size=768,
    # intermediate_size=3072, num_hidden_layers=12, num_channels=3, image_size=224, patch_size=16,
    # vision_use_head=True. modeling_siglip.py: patch Conv2d with bias, a position table of
    # (image/patch)^2 rows, blocks with biased q/k/v/out_proj and fc1/fc2, LayerNorms with bias,
    # post_layernorm, and (vision_use_head) an attention-pooling head: probe, MultiheadAttention
    # (in_proj 3h x h, out_proj), a LayerNorm and an MLP.
    h, f = v.size("hidden_size", default=768), v.size("intermediate_size", default=3072)
    c, p, img = v.size("num_channels", default=3), v.size("patch_size", default=16), v.size("image_size", default=224)
    out: VisionTensors = []
    _lin(out, "vision_tower.patch_embedding", h, c * p * p, True)
    out.append(("vision_tower.position_embedding.weight", "vision_tower", (img // p) ** 2, h, 1))
    _encoder(out, "vision_tower.layers", h, f, v.size("num_hidden_layers", default=12), bias=True, norm_bias=True)
    _vec(out, "vision_tower.post_layernorm", h, 2)
    if v.flag("vision_use_head", True):
        _vec(out, "vision_tower.head.probe", h)
        _lin(out, "vision_tower.head.in_proj", 3 * h, h, True)
        _lin(out, "vision_tower.head.out_proj", h, h, True)
        _vec(out, "vision_tower.head.layernorm", h, 2)
        _lin(out, "vision_tower.head.fc1", f, h, True)
        _lin(out, "vision_tower.head.fc2", h, f, True)
    return out, h


def clip(v: Config) -> tuple[VisionTensors, int]:
    # transformers/models/clip/configuration_clip.py (CLIPVisionConfig): hidden_size=768,
    # intermediate_size=3072, num_hidden_layers=12, num_channels=3, image_size=224, patch_size=32.
    # modeling_clip.py: class_embedding, a patch Conv2d without bias, a position table of
    # (image/patch)^2 + 1 rows, pre_layrnorm, biased blocks as SigLIP's, post_layernorm. Every layer is
    # built even where vision_feature_layer reads an earlier one (transformers counts them all).
    h, f = v.size("hidden_size", default=768), v.size("intermediate_size", default=3072)
    c, p, img = v.size("num_channels", default=3), v.size("patch_size", default=32), v.size("image_size", default=224)
    out: VisionTensors = []
    _vec(out, "vision_tower.class_embedding", h)
    _lin(out, "vision_tower.patch_embedding", h, c * p * p, False)
    out.append(("vision_tower.position_embedding.weight", "vision_tower", (img // p) ** 2 + 1, h, 1))
    _vec(out, "vision_tower.pre_layrnorm", h, 2)
    _encoder(out, "vision_tower.layers", h, f, v.size("num_hidden_layers", default=12), bias=True, norm_bias=True)
    _vec(out, "vision_tower.post_layernorm", h, 2)
    return out, h


def pixtral(v: Config) -> tuple[VisionTensors, int]:
    # transformers/models/pixtral/configuration_pixtral.py: hidden_size=1024, intermediate_size=4096,
    # num_hidden_layers=24, num_channels=3, patch_size=16. modeling_pixtral.py: patch_conv without bias,
    # ln_pre (RMSNorm), blocks with attention_norm / ffn_norm RMSNorms, bias-free q/k/v/o and a gated MLP;
    # 2-D rotary embeddings (no parameters).
    h, f = v.size("hidden_size", default=1024), v.size("intermediate_size", default=4096)
    c, p = v.size("num_channels", default=3), v.size("patch_size", default=16)
    out: VisionTensors = []
    _lin(out, "vision_tower.patch_conv", h, c * p * p, False)
    _vec(out, "vision_tower.ln_pre", h)
    _encoder(out, "vision_tower.layers", h, f, v.size("num_hidden_layers", default=24), bias=False,
             norm_bias=False, gated=True)
    return out, h


def llama4_vision(v: Config) -> tuple[VisionTensors, int]:
    # transformers/models/llama4/configuration_llama4.py (Llama4VisionConfig): hidden_size=768,
    # intermediate_size=5632, num_hidden_layers=34, num_channels=3, image_size=448, patch_size=14,
    # vision_output_dim=7680, projector_input_dim=4096, projector_output_dim=4096. modeling_llama4.py: an
    # unfold + Linear(C*p*p, h, bias=False) patch embedding, class_embedding, a position table of
    # (image/patch)^2 + 1 rows, layernorm_pre/post (with bias), biased blocks, and the pixel-shuffle
    # adapter MLP (fc1: intermediate_size -> projector_input_dim, fc2: projector_output_dim square, no bias).
    h, f = v.size("hidden_size", default=768), v.size("intermediate_size", default=5632)
    c, p, img = v.size("num_channels", default=3), v.size("patch_size", default=14), v.size("image_size", default=448)
    out: VisionTensors = []
    _lin(out, "vision_model.patch_embedding.linear", h, c * p * p, False)
    _vec(out, "vision_model.class_embedding", h)
    out.append(("vision_model.positional_embedding_vlm", "vision_tower", (img // p) ** 2 + 1, h, 1))
    _vec(out, "vision_model.layernorms", h, 4)
    _encoder(out, "vision_model.layers", h, f, v.size("num_hidden_layers", default=34), bias=True, norm_bias=True)
    pin, pout = v.size("projector_input_dim", default=4096), v.size("projector_output_dim", default=4096)
    _lin(out, "vision_model.vision_adapter.fc1", pin, f, False)
    _lin(out, "vision_model.vision_adapter.fc2", pout, pout, False)
    return out, v.size("vision_output_dim", default=7680)


def qwen2_vl_vision(v: Config, v2_5: bool) -> tuple[VisionTensors, int]:
    # transformers/models/qwen2_vl/configuration_qwen2_vl.py (Qwen2VLVisionConfig): depth=32, embed_dim=1280,
    # mlp_ratio=4, hidden_size=3584 (the merger's output), in_channels=3, patch_size=14,
    # temporal_patch_size=2, spatial_merge_size=2. qwen2_5_vl (Qwen2_5_VLVisionConfig): depth=32,
    # hidden_size=3584 (the blocks' width), intermediate_size=3420, out_hidden_size=3584.
    # modeling_qwen2_vl.py / modeling_qwen2_5_vl.py: a Conv3d patch embedding without bias, blocks with a
    # fused biased qkv and proj, norm1/norm2 (LayerNorm in Qwen2-VL, RMSNorm in Qwen2.5-VL), an MLP
    # (fc1/fc2 of embed_dim * mlp_ratio; Qwen2.5-VL: gated gate/up/down with bias), and the patch merger:
    # ln_q, Linear(e*m^2, e*m^2) and Linear(e*m^2, out), both biased.
    if v2_5:
        e, f = v.size("hidden_size", default=3584), v.size("intermediate_size", default=3420)
        out_dim = v.size("out_hidden_size", default=3584)
    else:
        e = v.size("embed_dim", default=1280)
        f = e * v.size("mlp_ratio", default=4)
        out_dim = v.size("hidden_size", default=3584)
    c, p, t = v.size("in_channels", default=3), v.size("patch_size", default=14), v.size("temporal_patch_size",
                                                                                         default=2)
    m = v.size("spatial_merge_size", default=2)
    out: VisionTensors = []
    _lin(out, "visual.patch_embed.proj", e, c * t * p * p, False)
    _encoder(out, "visual.blocks", e, f, v.size("depth", default=32), bias=True, norm_bias=not v2_5,
             gated=v2_5, fused_qkv=True)
    _vec(out, "visual.merger.ln_q", e, 1 if v2_5 else 2, component="projector")
    _lin(out, "visual.merger.mlp.0", e * m * m, e * m * m, True, component="projector")
    _lin(out, "visual.merger.mlp.2", out_dim, e * m * m, True, component="projector")
    return out, out_dim


def moonvit(v: Config) -> tuple[VisionTensors, int]:
    # Moonshot's MoonViT (Kimi-VL, trust_remote_code: moonshotai/Kimi-VL-A3B-Instruct modeling_kimi_vl.py;
    # no transformers class). Defaults of its MoonViTConfig: hidden_size=1152, intermediate_size=4304,
    # num_hidden_layers=27, patch_size=14, init_pos_emb_height = init_pos_emb_width = 64. Modules: a patch
    # Conv2d with bias, a learnable (64, 64, hidden) position grid, blocks with LayerNorms norm0/norm1, a fused
    # biased wqkv and wo, an MLP fc0/fc1 with bias, and a final LayerNorm; 2-D rotary (no parameters). Same
    # parameter shapes as SigLIP-so400m without its head, which tests/test_architectures.py checks against
    # transformers' SiglipVisionModel.
    h, f = v.size("hidden_size", default=1152), v.size("intermediate_size", default=4304)
    c, p = v.size("num_channels", default=3), v.size("patch_size", default=14)
    grid = v.size("init_pos_emb_height", default=64) * v.size("init_pos_emb_width", default=64)
    out: VisionTensors = []
    _lin(out, "vision_tower.patch_embed.proj", h, c * p * p, True)
    out.append(("vision_tower.patch_embed.pos_emb.weight", "vision_tower", grid, h, 1))
    _encoder(out, "vision_tower.encoder.blocks", h, f, v.size("num_hidden_layers", default=27), bias=True,
             norm_bias=True, fused_qkv=True)
    _vec(out, "vision_tower.encoder.final_layernorm", h, 2)
    return out, h


def read_mllama_text(c: Config) -> dict:
    # transformers/models/mllama/configuration_mllama.py (MllamaTextConfig): llama's sizes (defaults
    # vocab 128256, hidden 4096, 40 layers, 32 heads, 8 KV heads, MLP 14336), cross_attention_layers
    # [3, 8, 13, 18, 23, 28, 33, 38], tie_word_embeddings=False. modeling_mllama.py: embed_tokens has
    # vocab_size + 8 rows; a cross-attention layer has q/k/v/o like self-attention plus q_norm, k_norm
    # (RMSNorm(head_dim)) and two scalar gates; its K/V come from the image, so no per-token KV cache.
    fields = llama_family_core(c, kv_default=8)
    cross = c.config.get("cross_attention_layers", [3, 8, 13, 18, 23, 28, 33, 38])
    if not isinstance(cross, list) or not all(isinstance(i, int) and 0 <= i < fields["num_layers"] for i in cross):
        raise ValueError(f"cross_attention_layers must list layer indices below {fields['num_layers']}; got {cross!r}")
    return dict(fields, tie_embeddings=c.tie(False), cross_attention_layers=tuple(sorted(cross)),
                extra_embedding_rows=8)


def mllama_vision(v: Config) -> tuple[VisionTensors, int]:
    # transformers/models/mllama/configuration_mllama.py (MllamaVisionConfig): hidden_size=1280,
    # intermediate_size=5120, num_hidden_layers=32, num_global_layers=8, num_channels=3, image_size=448,
    # patch_size=14, max_num_tiles=4, 8 supported_aspect_ratios, vision_output_dim=7680. modeling_mllama.py:
    # class_embedding, a bias-free patch Conv2d, a gated position embedding ((image/patch)^2 + 1 rows, a
    # gate, and a tile table of (ratios + 1) x (tiles * positions * hidden)), pre- and post-tile position
    # embeddings (gate + (ratios + 1) x (tiles * hidden) each), layernorm_pre/post, a local encoder (q/k/v/o
    # without bias, fc1/fc2 with bias, LayerNorms) and a global one with two gates per layer.
    h, f = v.size("hidden_size", default=1280), v.size("intermediate_size", default=5120)
    c, p, img = v.size("num_channels", default=3), v.size("patch_size", default=14), v.size("image_size", default=448)
    tiles = v.size("max_num_tiles", default=4)
    ratios = len(v.config.get("supported_aspect_ratios") or [[1, 1], [1, 2], [1, 3], [1, 4], [2, 1], [2, 2], [3, 1],
                                                              [4, 1]])
    positions = (img // p) ** 2 + 1
    out: VisionTensors = []
    _vec(out, "vision_model.class_embedding", h)
    _lin(out, "vision_model.patch_embedding", h, c * p * p, False)
    _vec(out, "vision_model.position_gates", 3)  # gated, pre-tile and post-tile embeddings: one gate each
    out.append(("vision_model.gated_positional_embedding.embedding", "vision_tower", positions, h, 1))
    out.append(("vision_model.gated_positional_embedding.tile_embedding.weight", "vision_tower", ratios + 1,
                tiles * positions * h, 1))
    out.append(("vision_model.tile_positional_embeddings.weight", "vision_tower", ratios + 1, tiles * h, 2))
    _vec(out, "vision_model.layernorms", h, 4)
    for name, layers in (("transformer", v.size("num_hidden_layers", default=32)),
                         ("global_transformer", v.size("num_global_layers", default=8))):
        for part in ("q_proj", "k_proj", "v_proj", "o_proj"):
            _lin(out, f"vision_model.{name}.{part}", h, h, False, layers)
        _vec(out, f"vision_model.{name}.norms", h, 4 * layers)
        _lin(out, f"vision_model.{name}.fc1", f, h, True, layers)
        _lin(out, f"vision_model.{name}.fc2", h, f, True, layers)
    _vec(out, "vision_model.global_transformer.gates", 2, v.size("num_global_layers", default=8))
    return out, v.size("vision_output_dim", default=7680)


# ---------------------------------------------------------------- wrappers: text reader + tower + projector


def _feature_layers(config: dict[str, Any], default: int | list) -> int:
    layer = config.get("vision_feature_layer", default)
    return len(layer) if isinstance(layer, list) else 1


def read_multimodal(c: Config, text_default: str, tower: str,
                    readers: dict[str, Callable[[Config], dict]]) -> dict:
    """Read a VLM wrapper: text_config by its own reader, then the vision tower and the projector."""
    cfg = c.config
    text = cfg.get("text_config")
    if text is None and tower.startswith("qwen2"):  # Qwen2-VL configs keep the text fields at the top level
        text = {k: val for k, val in cfg.items() if k != "vision_config"}
    if not isinstance(text, dict):
        raise ValueError(f"{c.model_type} config needs a 'text_config' object (the language model)")
    text = dict(text)
    inner = text.get("model_type") or text_default
    if inner in (c.model_type, None) or tower.startswith("qwen2"):
        inner = text_default
    reader = read_mllama_text if tower == "mllama" else readers.get(inner)
    if reader is None:
        raise ValueError(f"{c.model_type}: unsupported text_config model_type {inner!r}")
    # The wrapper's tie_word_embeddings, where given, decides (transformers ties lm_head to the language
    # model's embed_tokens from the top-level config); otherwise the text config's, else the text class's
    # default -- what vLLM reads (its language model gets text_config) and what the checkpoint holds.
    # Example: Mistral-Small-3.1's config.json says nothing about ties and its safetensors hold an lm_head
    # (24.0 B parameters); transformers 5 would fall back to Mistral3Config's own default (True) and tie it.
    if "tie_word_embeddings" in cfg:
        text["tie_word_embeddings"] = cfg["tie_word_embeddings"]
    fields = reader(Config(text, inner))
    vision = cfg.get("vision_config") or {}
    if not isinstance(vision, dict):
        raise ValueError(f"{c.model_type} config key 'vision_config' must be an object")
    v = Config(vision, f"{c.model_type} vision_config")
    text_h = fields["hidden_size"]
    proj: VisionTensors = []
    if tower == "siglip":  # gemma3: Gemma3MultiModalProjector
        tensors, vh = siglip(v)
        proj.append(("multi_modal_projector.mm_input_projection_weight", "projector", vh, text_h, 1))
        _vec(proj, "multi_modal_projector.mm_soft_emb_norm", vh, component="projector")
    elif tower in ("clip", "clip_next"):  # llava, llava_next: LlavaMultiModalProjector
        tensors, vh = clip(v) if vision.get("model_type", "clip_vision_model") != "siglip_vision_model" else siglip(v)
        bias = cfg.get("multimodal_projector_bias", True)
        _lin(proj, "multi_modal_projector.linear_1", text_h, vh * _feature_layers(cfg, -2), bias, component="projector")
        _lin(proj, "multi_modal_projector.linear_2", text_h, text_h, bias, component="projector")
        if tower == "clip_next":
            _vec(proj, "image_newline", text_h, component="projector")
    elif tower == "pixtral":  # mistral3: Mistral3MultiModalProjector (RMSNorm, patch merger, 2 Linears)
        tensors, vh = pixtral(v)
        m = cfg.get("spatial_merge_size", 2)
        bias = cfg.get("multimodal_projector_bias", False)
        _vec(proj, "multi_modal_projector.norm", vh, component="projector")
        _lin(proj, "multi_modal_projector.patch_merger.merging_layer", vh, vh * m * m, False, component="projector")
        _lin(proj, "multi_modal_projector.linear_1", text_h, vh * _feature_layers(cfg, -1), bias,
             component="projector")
        _lin(proj, "multi_modal_projector.linear_2", text_h, text_h, bias, component="projector")
    elif tower == "llama4":  # Llama4MultiModalProjector: one Linear without bias
        tensors, out_dim = llama4_vision(v)
        _lin(proj, "multi_modal_projector.linear_1", text_h, out_dim, False, component="projector")
    elif tower == "moonvit":  # kimi_vl: KimiVLMultiModalProjector (LayerNorm, 2x2 patch merge, 2 Linears)
        tensors, vh = moonvit(v)
        kh, kw = vision.get("merge_kernel_size", [2, 2])
        merged = vh * kh * kw
        _vec(proj, "multi_modal_projector.pre_norm", vh, 2, component="projector")
        _lin(proj, "multi_modal_projector.linear_1", merged, merged, True, component="projector")
        _lin(proj, "multi_modal_projector.linear_2", text_h, merged, True, component="projector")
    elif tower == "mllama":  # MllamaForConditionalGeneration: multi_modal_projector, one biased Linear
        tensors, out_dim = mllama_vision(v)
        _lin(proj, "multi_modal_projector", text_h, out_dim, True, component="projector")
    elif tower in ("qwen2_vl", "qwen2_5_vl"):
        tensors, _ = qwen2_vl_vision(v, v2_5=tower == "qwen2_5_vl")
    else:  # pragma: no cover - the registry passes only the towers above
        raise ValueError(f"unknown vision tower {tower!r}")
    fields["vision_tensors"] = tuple(tensors + proj)
    return fields
