"""llmmem: how much GPU memory it takes to serve, train and fine-tune an LLM, and how many GPUs that is.

`import llmmem` stays light (standard library only). The sympy derivations (`llmmem.symbolic`),
figures (`llmmem.plots`), calculators (`llmmem.widgets`) and PyTorch measurements (`llmmem.measure`) are
modules of their own, imported where they are used.

Data flows one way: a spec (`ModelSpec`, a GPU) -> a formula -> a `Breakdown` -> a view (table, figure,
widget, command line).
"""

from .breakdown import Breakdown
from .checkpoint import from_hub, read_safetensors_counts, read_safetensors_header, safetensors_total_params
from .estimate import SERVING_BITS, serving_breakdown, serving_memory
from .finetune import lora_memory, lora_trainable_params, qlora_memory
from .formats import bits_per_weight, format_names, weight_bytes
from .gpus import GPU, get_gpu, gpu_names, gpus_needed, gpus_needed_explained
from .inference import (
    cheapest_weight_format,
    inference_memory,
    kv_cache_bytes,
    kv_cache_tokens,
    max_batch,
    max_concurrency,
    max_context,
)
from .model import SUPPORTED_MODEL_TYPES, ModelSpec, catalog_names
from .parallel import gpus_needed_for_training, sharded_training_memory, zero_model_states_per_gpu
from .peak import TrainingPeak, training_peak
from .speed import (
    decode_throughput,
    expected_distinct_experts,
    prefill_time,
    ridge_batch,
    speculative_decoding,
    speculative_expected_tokens,
)
from .training import training_memory, training_memory_seed, training_timeline
from .units import GB, GiB, MiB, format_bytes, format_count, parse_context, parse_count, to_gb, to_gib

__version__ = "0.1.0"

__all__ = [
    "Breakdown", "GB", "GiB", "GPU", "MiB", "ModelSpec", "SERVING_BITS", "SUPPORTED_MODEL_TYPES",
    "bits_per_weight", "catalog_names", "cheapest_weight_format", "format_bytes", "format_count", "format_names",
    "from_hub", "get_gpu", "gpu_names", "gpus_needed", "gpus_needed_explained", "gpus_needed_for_training",
    "inference_memory", "kv_cache_bytes", "kv_cache_tokens", "lora_memory", "lora_trainable_params", "max_batch",
    "max_concurrency", "max_context", "parse_context", "parse_count", "qlora_memory", "read_safetensors_counts",
    "read_safetensors_header", "safetensors_total_params", "serving_breakdown", "serving_memory",
    "sharded_training_memory", "to_gb", "to_gib", "training_memory", "training_memory_seed",
    "training_peak", "training_timeline", "TrainingPeak", "weight_bytes", "zero_model_states_per_gpu",
    "decode_throughput", "prefill_time", "ridge_batch", "expected_distinct_experts", "speculative_decoding",
    "speculative_expected_tokens",
]
