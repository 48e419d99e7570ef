"""Measure memory with PyTorch itself, to check llmmem's estimates against reality.

Needs the optional extra ``measure`` (torch, transformers): ``pip install -e '.[measure]'``. `import llmmem`
never imports this module. Models are built from a config with random weights (no download), small enough
for a CPU; every number here is a byte count read from the tensors PyTorch actually holds:

* parameters: bytes of the parameter storages (tied weights once);
* gradients: bytes of ``p.grad`` after one backward;
* optimizer states: bytes of the tensors in ``optimizer.state`` after one step, *without* the scalar ``step``
  counters (llmmem counts the moment buffers only; the counters, 4 B per parameter tensor, are reported
  apart as ``optimizer_step_bytes``);
* KV cache: bytes of the key and value tensors of the ``DynamicCache`` after a forward with ``use_cache=True``;
* saved for backward: every tensor autograd saves during one training forward, seen by
  ``torch.autograd.graph.saved_tensors_hooks``, counted once per storage (keyed by the storage's address;
  a saved tensor lives until backward, so an address cannot be reused meanwhile), parameters excluded. It is
  split into ``activations`` (saved until the final norm has run: embedding, decoder layers, final norm) and
  ``logits`` (saved after it: LM head and loss), by a forward hook on the final norm;
* on a GPU, also ``torch.cuda.max_memory_allocated`` over one training step.

Command line: ``python -m llmmem.measure --out notebooks/data/measured.csv`` measures a grid of small
configs and writes one CSV row per point with its provenance (device, torch and transformers versions, date).
Rows measured on another device already in the file are kept, so a GPU run adds to a CPU run.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime
import itertools
import platform
import sys
import time
from pathlib import Path

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM

__all__ = ["tiny_config", "build_model", "parameter_bytes", "gradient_bytes", "optimizer_state_bytes",
           "kv_cache_bytes", "saved_tensor_bytes", "peak_cuda_bytes", "measure_model", "grid", "main"]

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
OPTIMIZERS = ("adamw", "sgd-momentum")

# The small configs of the grid: Llama with multi-head and grouped-query attention, Mistral, Qwen2 (biases on
# q/k/v, tied embeddings). Sizes keep one forward+backward at 2 x 128 tokens to a few ms on a CPU core.
CONFIGS = {
    "llama-mha": dict(model_type="llama", hidden_size=128, num_layers=2, num_heads=4, num_kv_heads=4,
                      intermediate_size=352, vocab_size=1000),
    "llama-gqa": dict(model_type="llama", hidden_size=128, num_layers=2, num_heads=4, num_kv_heads=2,
                      intermediate_size=352, vocab_size=1000),
    "mistral-gqa": dict(model_type="mistral", hidden_size=192, num_layers=3, num_heads=6, num_kv_heads=2,
                        intermediate_size=512, vocab_size=2048),
    "qwen2-gqa": dict(model_type="qwen2", hidden_size=256, num_layers=2, num_heads=8, num_kv_heads=2,
                      intermediate_size=704, vocab_size=3000, tie_embeddings=True),
}


def tiny_config(model_type="llama", hidden_size=128, num_layers=2, num_heads=4, num_kv_heads=4,
                intermediate_size=352, vocab_size=1000, tie_embeddings=False, max_position_embeddings=2048):
    """A transformers config of a small decoder (random weights later); `config.to_dict()` feeds ModelSpec."""
    if hidden_size % num_heads or num_heads % num_kv_heads:
        raise ValueError(f"heads must divide hidden_size and kv heads must divide heads; got hidden_size="
                         f"{hidden_size}, num_heads={num_heads}, num_kv_heads={num_kv_heads}")
    return AutoConfig.for_model(
        model_type, vocab_size=vocab_size, hidden_size=hidden_size, num_hidden_layers=num_layers,
        num_attention_heads=num_heads, num_key_value_heads=num_kv_heads, intermediate_size=intermediate_size,
        tie_word_embeddings=tie_embeddings, max_position_embeddings=max_position_embeddings)


def build_model(config, dtype="fp32", attention="sdpa", device="cpu", seed=0):
    """A causal LM with random weights in `dtype` ("fp32" or "bf16") and `attention` ("eager" or "sdpa")."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}; got {dtype!r}")
    if attention not in ("eager", "sdpa"):
        raise ValueError(f"attention must be 'eager' or 'sdpa'; got {attention!r}")
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, attn_implementation=attention, dtype=DTYPES[dtype])
    return model.to(device).train()


def _checkpointing(model, on: bool):
    """Turn transformers' gradient checkpointing on (non-reentrant, torch's recommended mode) or off.

    transformers 5 renamed `gradient_checkpointing_enable` to `activation_checkpointing_enable`."""
    if on:
        enable = getattr(model, "activation_checkpointing_enable", None)
        if enable is not None:
            enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    else:
        getattr(model, "activation_checkpointing_disable", model.gradient_checkpointing_disable)()


def _storage(t: torch.Tensor):
    return t.untyped_storage()


def _unique_bytes(tensors) -> int:
    """Bytes of the distinct storages behind `tensors` (a storage shared by two tensors counts once)."""
    seen = {}
    for t in tensors:
        s = _storage(t)
        seen[s.data_ptr()] = s.nbytes()
    return sum(seen.values())


def parameter_bytes(model) -> int:
    return _unique_bytes(model.parameters())


def _batch(model, batch, seq_len, device):
    g = torch.Generator().manual_seed(1)
    return torch.randint(0, model.config.vocab_size, (batch, seq_len), generator=g).to(device)


def _zero_grad(model):
    for p in model.parameters():
        p.grad = None


def gradient_bytes(model, batch=1, seq_len=32) -> int:
    """Bytes of the gradients after one forward and backward (gradients start unallocated)."""
    device = next(model.parameters()).device
    _zero_grad(model)
    ids = _batch(model, batch, seq_len, device)
    model(input_ids=ids, labels=ids, use_cache=False).loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    nbytes = _unique_bytes(grads)
    _zero_grad(model)
    return nbytes


def optimizer_state_bytes(model, optimizer="adamw") -> tuple[int, int]:
    """(moment bytes, step-counter bytes) in the optimizer's state after one step.

    AdamW (torch defaults: not fused, not capturable) keeps `exp_avg` and `exp_avg_sq` like each parameter and a
    scalar fp32 `step` per parameter tensor; SGD with momentum 0.9 keeps `momentum_buffer`.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    opt: torch.optim.Optimizer
    if optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=1e-3)
    elif optimizer == "sgd-momentum":
        opt = torch.optim.SGD(params, lr=1e-3, momentum=0.9)
    else:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {optimizer!r}")
    device = params[0].device
    ids = _batch(model, 1, 8, device)
    model(input_ids=ids, labels=ids, use_cache=False).loss.backward()
    opt.step()
    moments: list[torch.Tensor] = []
    steps: list[torch.Tensor] = []
    for state in opt.state.values():
        for name, value in state.items():
            if torch.is_tensor(value):
                (steps if name == "step" else moments).append(value)
    _zero_grad(model)
    return _unique_bytes(moments), _unique_bytes(steps)


@torch.no_grad()
def kv_cache_bytes(model, batch=1, seq_len=32) -> int:
    """Bytes of the keys and values in the DynamicCache after one forward of `batch` x `seq_len` tokens."""
    device = next(model.parameters()).device
    cache = model(input_ids=_batch(model, batch, seq_len, device), use_cache=True).past_key_values
    tensors = []
    for layer in cache.layers:
        tensors += [layer.keys, layer.values]
    return _unique_bytes(tensors)


def saved_tensor_bytes(model, batch=1, seq_len=32, checkpointing=False, record=False) -> dict:
    """Bytes saved for backward in one training forward, {"activations": ..., "logits": ...}.

    `checkpointing=True` turns on transformers' gradient checkpointing (non-reentrant). With `record=True` the
    result also has "tensors": one (phase, shape, dtype, bytes) per storage, in the order they were saved.
    """
    device = next(model.parameters()).device
    if checkpointing:
        _checkpointing(model, True)
    params = {_storage(p).data_ptr() for p in model.parameters()}
    phase = ["activations"]
    seen = {}

    def pack(t):
        s = _storage(t)
        ptr = s.data_ptr()
        if ptr not in params and ptr not in seen:
            seen[ptr] = (phase[0], tuple(t.shape), str(t.dtype).replace("torch.", ""), s.nbytes())
        return t

    handle = model.model.norm.register_forward_hook(lambda *_: phase.__setitem__(0, "logits"))
    ids = _batch(model, batch, seq_len, device)
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = model(input_ids=ids, labels=ids, use_cache=False)
        out.loss.backward()  # checks the graph is whole; frees what was saved
    finally:
        handle.remove()
        _zero_grad(model)
        if checkpointing:
            _checkpointing(model, False)
    result = {p: sum(v[3] for v in seen.values() if v[0] == p) for p in ("activations", "logits")}
    if record:
        result["tensors"] = list(seen.values())
    return result


def peak_cuda_bytes(model, batch=1, seq_len=32, checkpointing=False):
    """torch.cuda.max_memory_allocated over one forward + backward (None off a GPU)."""
    device = next(model.parameters()).device
    if device.type != "cuda":
        return None
    if checkpointing:
        _checkpointing(model, True)
    ids = _batch(model, batch, seq_len, device)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    model(input_ids=ids, labels=ids, use_cache=False).loss.backward()
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    _zero_grad(model)
    if checkpointing:
        _checkpointing(model, False)
    return {"peak_allocated_bytes": peak, "allocated_before_bytes": base}


def _device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"cpu ({platform.machine()})"


def measure_model(config_name, dtype="fp32", attention="sdpa", shapes=((1, 32, False),), device="cpu") -> list:
    """Rows for one model (a config of `CONFIGS`, a dtype, an attention): one per (batch, seq_len, checkpointing)
    in `shapes`. Each row has the setting, the saved activations and logits, the KV cache of that batch, and the
    model states (parameters, gradients, optimizer states), which depend on the model only."""
    shape = CONFIGS[config_name]
    model = build_model(tiny_config(**shape), dtype, attention, device)
    rows = []
    for batch, seq_len, checkpointing in shapes:
        row = {"config": config_name, **shape, "dtype": dtype, "attention": attention, "batch": batch,
               "seq_len": seq_len, "checkpointing": int(checkpointing)}
        saved = saved_tensor_bytes(model, batch, seq_len, checkpointing)
        row["activations_bytes"], row["logits_bytes"] = saved["activations"], saved["logits"]
        row["kv_cache_bytes"] = kv_cache_bytes(model, batch, seq_len)
        row.update(peak_cuda_bytes(model, batch, seq_len, checkpointing) or {})
        rows.append(row)
    states = {"params": sum(p.numel() for p in model.parameters()), "parameter_bytes": parameter_bytes(model),
              "gradient_bytes": gradient_bytes(model)}
    for opt in OPTIMIZERS:  # last: a step changes the weights (not their size)
        states[f"{opt}_state_bytes"], states[f"{opt}_step_bytes"] = optimizer_state_bytes(model, opt)
    return [{**row, **states} for row in rows]


def grid():
    """The measured models (config x dtype x attention) and, for each, the shapes: batch {1, 2} x seq_len
    {32, 128} x checkpointing off/on."""
    models = list(itertools.product(CONFIGS, ("fp32", "bf16"), ("eager", "sdpa")))
    shapes = list(itertools.product((1, 2), (32, 128), (False, True)))
    return models, shapes


COLUMNS = ["device", "torch", "transformers", "date", "config", "model_type", "hidden_size", "num_layers",
           "num_heads", "num_kv_heads", "intermediate_size", "vocab_size", "tie_embeddings", "dtype", "attention",
           "batch", "seq_len", "checkpointing", "params", "parameter_bytes", "gradient_bytes",
           "adamw_state_bytes", "adamw_step_bytes", "sgd-momentum_state_bytes", "sgd-momentum_step_bytes",
           "kv_cache_bytes", "activations_bytes", "logits_bytes", "peak_allocated_bytes", "allocated_before_bytes"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llmmem.measure", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="CSV file to write (rows of other devices are kept)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    device_name = _device_name(args.device)
    provenance = {"device": device_name, "torch": torch.__version__, "transformers": transformers.__version__,
                  "date": datetime.date.today().isoformat()}
    out = Path(args.out)
    kept = []
    if out.exists():
        with out.open(newline="") as fh:
            kept = [r for r in csv.DictReader(fh) if r["device"] != device_name]
    start = time.perf_counter()
    rows = []
    models, shapes = grid()
    for name, dtype, attention in models:
        rows += [{**provenance, **row} for row in measure_model(name, dtype, attention, shapes, args.device)]
    seconds = time.perf_counter() - start
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, COLUMNS, extrasaction="raise")
        writer.writeheader()
        writer.writerows(kept + rows)
    print(f"{len(rows)} points measured on {device_name} in {seconds:.1f} s -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
