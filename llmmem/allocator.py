"""What PyTorch's CUDA caching allocator counts for a tensor: its block, which can be larger than the tensor.

``torch.cuda.memory_allocated`` (and vLLM's "Model loading took", which reads it) adds up *blocks*, not
tensors. The rules, from c10/cuda/CUDACachingAllocator.cpp (PyTorch 2.x, default settings, no
``expandable_segments``):

* every request is rounded up to a multiple of 512 bytes (``kMinBlockSize``);
* a request of up to 1 MiB (``kSmallSize``) comes from the small pool's 2 MiB segments, one up to 10 MiB
  (``kMinLargeAlloc``) from a shared 20 MiB segment (``kLargeBuffer``), and a larger one gets a segment of its
  own, rounded up to 2 MiB (``kRoundLarge``, ``get_allocation_size``);
* the rest of a large-pool block is split off for later requests only when it is more than 1 MiB
  (``should_split``: ``remaining > kSmallSize``); otherwise the request keeps, and is counted at, the whole
  block.

So a fresh tensor of 11 MiB is counted as 12 MiB, one of 259 MiB as 260 MiB, while 12, 24.5 (1.5 MiB is split
off) or 4 MiB tensors cost their size. :func:`cuda_block_bytes` applies the rule to one tensor that opens
its own segment; smaller tensors that share segments can waste up to 1 MiB each too, which is not counted.
Checked against vLLM's start-up logs (tests/test_vllm_runs.py, tests/test_allocator.py): it is the 26.5 MiB by
which vLLM v0.5.0 loaded DeepSeek-V2-Lite above its parameters and RoPE table (26 shared-expert down projections
of 11 MiB, layer 0's 85.5 MiB gate_up), assuming that release built the parameters v0.19.0 builds.
"""

from __future__ import annotations

from .units import MiB, round_up

MIN_BLOCK = 512  # kMinBlockSize: every request is rounded up to this
SMALL_SIZE = 1 * MiB  # kSmallSize: requests up to this come from the small pool; the large pool's split threshold
MIN_LARGE_ALLOC = 10 * MiB  # kMinLargeAlloc: from here on a request opens a segment of its own
ROUND_LARGE = 2 * MiB  # kRoundLarge: such a segment is rounded up to this


def cuda_block_bytes(nbytes: int) -> int:
    """Bytes PyTorch's allocator counts as allocated for a fresh ``nbytes`` tensor (see the module docstring).

    >>> cuda_block_bytes(11 * 2**20), cuda_block_bytes(12 * 2**20), cuda_block_bytes(2**20 * 49 // 2)
    (12582912, 12582912, 25690112)
    """
    segment = cuda_segment_bytes(nbytes)
    size = round_up(nbytes, MIN_BLOCK)
    return segment if segment - size <= SMALL_SIZE else size  # below 10 MiB segment == size: shared segments


def cuda_segment_bytes(nbytes: int) -> int:
    """Bytes of the allocator's ``reserved`` memory a fresh ``nbytes`` tensor stands for: its request rounded to
    512 B and, from 10 MiB on, the whole segment it opens (rounded up to 2 MiB); smaller tensors share segments.

    >>> cuda_segment_bytes(2**20 * 49 // 2), cuda_segment_bytes(4 * 2**20)
    (27262976, 4194304)
    """
    if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < 0:
        raise ValueError(f"nbytes must be a whole number of bytes >= 0; got {nbytes!r}")
    size = round_up(nbytes, MIN_BLOCK)
    return size if size < MIN_LARGE_ALLOC else round_up(size, ROUND_LARGE)
