"""The `llmmem` command line: serving and training memory, GPU and model catalogs, drills, classroom HTML.

Every number printed comes from a call into llmmem; this module parses arguments and formats results.
Bad input exits with status 2 and one line on stderr (llmmem's ValueError message), never a traceback.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import drills as _drills
from .breakdown import Breakdown
from .estimate import serving_breakdown
from .gpus import get_gpu, gpu_names, gpus_needed_explained
from .model import ModelSpec, catalog_names
from .names import display_name, plain_note
from .units import GB, GiB, format_bytes, format_count, parse_context, parse_count
from .validation import check_batch, check_fraction, check_parallel, check_real, quote


def _model_or_size(text: str):
    """(ModelSpec, None) for a catalog name, (None, count) for a size like '70B'."""
    if len(text) > 200:
        raise ValueError(f"{quote(text)} is neither a size like '70B' nor a catalog model")
    if text.strip().lower() in catalog_names():
        return ModelSpec.from_catalog(text), None
    try:
        return None, parse_count(text)
    except ValueError:
        if text.strip()[:1] in tuple("0123456789.-+"):  # meant as a size: say what is wrong with it
            raise
    try:
        return ModelSpec.from_catalog(text), None
    except ValueError as err:
        raise ValueError(f"{quote(text)} is neither a size like '70B' nor a catalog model ({err})") from None


# ---------------------------------------------------------------------- output


def _amount(n_bytes) -> dict:
    exact = int(n_bytes) if isinstance(n_bytes, int) or float(n_bytes).is_integer() else float(n_bytes)
    return {"bytes": exact, "GB": round(n_bytes / GB, 6), "GiB": round(n_bytes / GiB, 6)}


def _gpu_report(total, gpu) -> dict:
    card = get_gpu(gpu)
    count, arithmetic = gpus_needed_explained(total, gpu=card)
    return {"gpu": card.name, "memory_bytes": card.memory_bytes, "count": count, "arithmetic": arithmetic}


def _table(b: Breakdown) -> str:
    """The Breakdown as a table, components in plain words (llmmem.names); the JSON keeps the code names."""
    names = {k: display_name(k) for k in b}
    width = max([len("component"), len("total")] + [len(n) for n in names.values()])
    lines = [b.title] if b.title else []
    lines.append(f"{'component':<{width}}  {'GB':>10}  {'GiB':>10}  {'share':>6}")
    for key, value in b.items():
        share = 100 * value / (b.total or 1)
        lines.append(f"{names[key]:<{width}}  {value / GB:>10,.2f}  {value / GiB:>10,.2f}  {share:>5.1f}%")
    lines.append(f"{'total':<{width}}  {b.total / GB:>10,.2f}  {b.total / GiB:>10,.2f}  {'':>6}")
    lines += [f"note: {plain_note(n)}" for n in b.notes]
    return "\n".join(lines)


def _emit_compare(args, spec, count) -> None:
    """`serve MODEL --compare`: every format side by side, as under the serving and inference calculators."""
    from .compare import compare_inference_formats, compare_serving_formats

    card = get_gpu(args.gpu)
    if spec is None:
        overhead = 1.2 if args.overhead is None else args.overhead
        rows = compare_serving_formats(count, card, overhead=overhead)
        what = f"{format_count(count)} parameters, weights × {overhead:g} overhead"
    else:
        seq_len = parse_context(args.context or "8192")
        batch = 1 if args.batch is None else args.batch
        rows = compare_inference_formats(spec, card, kv_cache=args.kv_cache or "bf16", batch=batch, seq_len=seq_len)
        what = f"{spec.name}, {args.kv_cache or 'bf16'} KV cache, batch {batch} x {seq_len:,} tokens, fewest GPUs (TP)"
    if args.json:
        print(json.dumps({"command": "serve", "compare": what, "gpu": card.name, "formats": [
            {"format": r.fmt, "note": r.note or None, "gpus": r.n_gpus,
             "total": None if r.total_bytes is None else _amount(r.total_bytes),
             "per_gpu": None if r.per_gpu_bytes is None else _amount(r.per_gpu_bytes)} for r in rows]}, indent=2))
        return
    print(f"Compare formats: {what}, on {card.name}")
    print(f"{'weights in':<10}  {'memory, GB':>11}  {'per GPU, GB':>11}  GPUs needed")
    for r in rows:
        if r.n_gpus is None or r.total_bytes is None or r.per_gpu_bytes is None:
            print(f"{r.fmt:<10}  {r.note}")
        else:
            total, per_gpu = r.total_bytes / GB, r.per_gpu_bytes / GB
            print(f"{r.fmt:<10}  {total:>11,.1f}  {per_gpu:>11,.1f}  {r.n_gpus} x {card.name}")


def _emit(args, b: Breakdown, gpus: dict | None, inputs: dict, extra: Sequence[str] = ()) -> None:
    if args.json:
        out = {"command": args.command, "input": inputs, "title": b.title,
               "components": {k: _amount(v) for k, v in b.items()}, "total": _amount(b.total),
               "notes": list(b.notes)}
        if gpus:
            out["gpus"] = gpus
        print(json.dumps(out, indent=2))
        return
    print(_table(b))
    print()
    print(f"Memory: {format_bytes(b.total)}")
    for line in extra:
        print(line)
    if gpus:
        print(f"GPUs:   {gpus['count']} x {gpus['gpu']}  ({gpus['arithmetic']})")


# ---------------------------------------------------------------------- commands


def _given(args, *names: str) -> list[str]:
    """The flags among ``names`` the user gave (their value is not None): to refuse those that do not apply."""
    return [f"--{n.replace('_', '-')}" for n in names if getattr(args, n) is not None]


def cmd_serve(args) -> None:
    spec, count = _model_or_size(args.model)
    if getattr(args, "compare", False):
        _emit_compare(args, spec, count)
        return
    if spec is None:
        needs_spec = _given(args, "context", "batch", "weights", "kv_cache", "tp")
        if needs_spec:
            raise ValueError(f"{', '.join(needs_spec)} need the architecture: give a catalog model "
                             "(see `llmmem models`), e.g. llama-3.1-70b, instead of a size")
        args.bits = 16 if args.bits is None else args.bits
        args.overhead = 1.2 if args.overhead is None else args.overhead
        b = serving_breakdown(count, bits=args.bits, overhead=args.overhead)
        inputs = {"params": count, "bits": args.bits, "overhead": args.overhead}
        _emit(args, b, _gpu_report(b.total, args.gpu), inputs)
        return
    from .inference import inference_memory, serving_gpus

    size_only = _given(args, "bits", "overhead")
    if size_only:
        raise ValueError(f"{', '.join(size_only)} apply to a size like '70B' (the article's formula); for a catalog "
                         "model use --weights (e.g. bf16, fp8, int4) instead")
    seq_len = parse_context("8192" if args.context is None else args.context)
    util = check_fraction(args.gpu_memory_utilization, "--gpu-memory-utilization", open_min=True)
    batch = 1 if args.batch is None else check_batch(args.batch, "--batch")
    weights = "auto" if args.weights is None else args.weights
    kv_cache = "bf16" if args.kv_cache is None else args.kv_cache
    inputs = {"model": spec.name, "params": spec.num_params(), "weights": weights, "kv_cache": kv_cache,
              "batch": batch, "seq_len": seq_len, "gpu_memory_utilization": util,
              "tp_divides_heads": args.tp_divides_heads}
    if args.tp is None:  # how many GPUs: the smallest valid TP size whose per-GPU memory fits
        tp, b, arithmetic = serving_gpus(spec, args.gpu, weights=weights, kv_cache=kv_cache, batch=batch,
                                         seq_len=seq_len, gpu_memory_utilization=util,
                                         tp_divides_heads=args.tp_divides_heads)
        card = get_gpu(args.gpu)
        gpus = {"gpu": card.name, "memory_bytes": card.memory_bytes, "count": tp, "arithmetic": arithmetic}
        _emit(args, b, gpus, dict(inputs, tp=tp if args.tp_divides_heads else 1))
        return
    tp = check_parallel(args.tp, "--tp")
    inputs["tp"] = tp
    b = inference_memory(spec, weights=weights, kv_cache=kv_cache, batch=batch, seq_len=seq_len, tp=tp)
    card = get_gpu(args.gpu)
    fits = b.total <= card.memory_bytes * util
    verdict = (f"Per GPU with TP={tp}: {format_bytes(b.total)} on a {card} at {util:.0%} utilization: "
               f"{'fits' if fits else 'does NOT fit'}")
    gpus = {"gpu": card.name, "memory_bytes": card.memory_bytes, "count": tp, "fits": fits, "arithmetic": verdict}
    if args.json:
        _emit(args, b, gpus, inputs)
    else:
        _emit(args, b, None, inputs, [verdict])


def cmd_train(args) -> None:
    from .training import training_memory, training_memory_seed

    spec, count = _model_or_size(args.model)
    extra: list[str] = []
    activation_flags = ("batch", "seq_len", "recompute", "attention")
    if args.as_written or args.seed_alias:  # --seed: the old name of --as-written, kept so that old notes still run
        not_seed = _given(args, "precision", *activation_flags)
        if not_seed:
            raise ValueError(f"{', '.join(not_seed)} do not apply to --as-written (the article's process has only "
                             "--bytes-per-param and --optimizer)")
        params = spec.num_params() if spec else count
        bytes_per_param = 4 if args.bytes_per_param is None else args.bytes_per_param
        b = training_memory_seed(params, bytes_per_param=bytes_per_param, optimizer=args.optimizer)
        if args.seed_alias:  # said once the command has worked: a refusal stays one line
            print("llmmem train: --seed is deprecated; use --as-written", file=sys.stderr)
        inputs = {"params": params, "bytes_per_param": bytes_per_param, "optimizer": args.optimizer,
                  "process": "as written in 'Calculating GPU memory for serving LLMs'"}
    else:
        if args.bytes_per_param is not None:
            raise ValueError("--bytes-per-param applies only with --as-written; the standard accounting takes "
                             "--precision (fp32, bf16, fp16, mixed-bf16, mixed-fp16)")
        needs_spec = _given(args, *activation_flags)
        if spec is None and needs_spec:
            raise ValueError(f"{', '.join(needs_spec)} need the architecture (activations): give a catalog "
                             "model (see `llmmem models`), e.g. llama-3.1-8b, instead of a size")
        precision = "mixed-bf16" if args.precision is None else args.precision
        batch = 1 if args.batch is None else check_batch(args.batch, "--batch")
        seq_len = parse_context("4096" if args.seq_len is None else args.seq_len)
        recompute = "none" if args.recompute is None else args.recompute
        attention = "sdpa" if args.attention is None else args.attention
        b = training_memory(spec if spec else count, precision=precision, optimizer=args.optimizer,
                            batch=batch, seq_len=seq_len, recompute=recompute, attention=attention)
        inputs = {"params": spec.num_params() if spec else count, "precision": precision,
                  "optimizer": args.optimizer}
        if spec:
            inputs.update(model=spec.name, batch=batch, seq_len=seq_len, recompute=recompute, attention=attention)
    check_real(args.margin, "--margin", 0, 10, accepted="a share such as 0.2 for 20 %")
    if args.margin:
        before = b.total
        b = b.with_margin(args.margin)
        extra.append(f"Margin: {format_bytes(before)} + {args.margin:.0%} = {format_bytes(b.total)}")
        inputs["margin"] = args.margin
    _emit(args, b, _gpu_report(b.total, args.gpu), inputs, extra)


def cmd_gpus(args) -> None:
    cards = [get_gpu(n) for n in gpu_names()]
    if args.json:
        print(json.dumps([{"name": c.name, "vendor": c.vendor, "nominal": c.nominal, "memory_mib": c.memory_mib,
                           **_amount(c.memory_bytes), "source": c.source} for c in cards], indent=2))
        return
    print(f"{'GPU':<11} {'nominal':<18} {'MiB':>8} {'GiB':>8} {'GB':>8}")
    for c in cards:
        print(f"{c.name:<11} {c.nominal:<18} {c.memory_mib:>8,} "
              f"{c.memory_bytes / GiB:>8.2f} {c.memory_bytes / GB:>8.1f}")
    print("\nMiB/GiB as nvidia-smi (rocm-smi) reports them; GB = 10^9 bytes. Sources:")
    for c in cards:
        print(f"  {c.name}: {c.source}")


def cmd_models(args) -> None:
    rows: list[dict[str, Any]] = []
    for name in catalog_names():
        spec = ModelSpec.from_catalog(name)
        rows.append({"name": name, "model_type": spec.model_type, "params": spec.num_params(),
                     "active_params": spec.num_active_params(), "layers": spec.num_layers,
                     "heads": spec.num_heads, "kv_heads": spec.num_kv_heads})
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'model':<18} {'type':<11} {'parameters':>17} {'':>7} {'active':>7} {'layers':>6} {'heads':>5} {'kv':>3}")
    for r in rows:
        active = format_count(r["active_params"]) if r["active_params"] != r["params"] else ""
        print(f"{r['name']:<18} {r['model_type']:<11} {r['params']:>17,} {format_count(r['params']):>7} "
              f"{active:>7} {r['layers']:>6} {r['heads']:>5} {r['kv_heads']:>3}")


def cmd_speed(args) -> None:
    from .inference import inference_memory
    from .speed import decode_throughput, prefill_time

    spec, count = _model_or_size(args.model)
    if spec is None:
        raise ValueError(f"speed needs an architecture: give a catalog model (see `llmmem models`), not a size "
                         f"({count:,})")
    context = parse_context(args.context)
    options = dict(weights=args.weights, kv_cache=args.kv_cache, batch=args.batch, context=context, tp=args.tp)
    bound = decode_throughput(spec, args.gpu, efficiency=1.0, **options)
    likely = decode_throughput(spec, args.gpu, efficiency=args.efficiency, **options)
    prompt = parse_context(args.prompt)
    ttft = prefill_time(spec, args.gpu, prompt, weights=args.weights, tp=args.tp, efficiency=None)
    memory = inference_memory(spec, weights=args.weights, kv_cache=args.kv_cache, batch=args.batch, seq_len=context,
                              tp=args.tp)
    card = get_gpu(args.gpu)
    if args.json:
        def side(r):
            return {"tokens_per_s_per_seq": r.tokens_per_s_per_seq, "tokens_per_s_total": r.tokens_per_s_total,
                    "bound": r.bound, "step_time_s": r.step_time_s, "efficiency": r.efficiency}
        print(json.dumps({
            "command": "speed", "input": {"model": spec.name, "gpu": card.name, **options},
            "roofline": side(bound), "expected": side(likely),
            "bytes_per_step": _amount(bound.bytes_per_step),
            "weight_bytes_per_step": _amount(bound.weight_bytes_per_step),
            "kv_bytes_per_step": _amount(bound.kv_bytes_per_step), "flops_per_step": bound.flops_per_step,
            "ridge_batch": bound.ridge_batch, "prefill": {"prompt_tokens": prompt, "seconds": ttft},
            "memory_per_gpu": _amount(memory.total), "fits": memory.total <= card.memory_bytes,
            "notes": list(likely.notes),
        }, indent=2))
        return
    print(f"Decode speed: {spec.name}, {args.weights} weights, {args.kv_cache} KV cache, batch {args.batch}, "
          f"context {context:,}, TP={args.tp}, on {card.name} ({card.bandwidth_bytes_per_s / 1e9:,.0f} GB/s)")
    print(f"  bytes per step:   {format_bytes(bound.weight_bytes_per_step)} weights + "
          f"{format_bytes(bound.kv_bytes_per_step)} KV cache = {format_bytes(bound.bytes_per_step)}")
    print(f"  roofline bound:   {bound.tokens_per_s_per_seq:,.1f} tokens/s per sequence, "
          f"{bound.tokens_per_s_total:,.0f} in total ({bound.bound}-bound, efficiency 1.0)")
    print(f"  expected:         {likely.tokens_per_s_per_seq:,.1f} tokens/s per sequence, "
          f"{likely.tokens_per_s_total:,.0f} in total (efficiency {likely.efficiency:.2f})")
    ridge = f"batch {bound.ridge_batch:,}" if bound.ridge_batch else "never at this context"
    print(f"  compute-bound from: {ridge}")
    print(f"  time to first token ({prompt:,}-token prompt): {ttft * 1e3:,.1f} ms")
    fits = "fits" if memory.total <= card.memory_bytes else "does NOT fit"
    print(f"  memory per GPU:   {format_bytes(memory.total)}: {fits} on one {card.name}")
    for note in likely.notes:
        print(f"  - {note}")


def cmd_drill(args) -> None:
    if args.why:
        why = _drills.why_drill(args.seed)
        if args.json:
            out = {"seed": args.seed, "kind": "why", "question": why.question}
            if args.answer:
                out["answer"] = why.answer
            print(json.dumps(out, indent=2))
        else:
            print(why.text(answers=args.answer))
        return
    drill = _drills.generate(args.seed, kind=args.kind)
    if args.check is not None:
        drill.read(args.check)  # an unreadable answer is bad input: ValueError, exit status 2
        ok, message = drill.check(args.check)
        if args.json:
            print(json.dumps({"seed": args.seed, "ok": ok, "message": message}))
        else:
            print(message)
        return
    if args.json:
        def as_dict(d):
            out = {"kind": d.kind, "question": d.question, "unit": d.unit, "tolerance": d.tolerance,
                   "params": d.params}
            if args.answer:
                out.update(answer=d.answer, solution=d.solution)
            return out
        print(json.dumps({"seed": args.seed, **as_dict(drill),
                          "follow_ups": [as_dict(f) for f in drill.follow_ups]}, indent=2))
        return
    print(f"Drill (seed {args.seed}, {drill.kind})")
    print(drill.text(answers=args.answer))
    if not args.answer:
        print(f"\nAnswers: llmmem drill --seed {args.seed} --answer   Check yours: llmmem drill --seed {args.seed} "
              "--check YOUR_ANSWER")


# ---------------------------------------------------------------------- classroom HTML

# MathJax 2.7 as jupyter-server-mathjax ships it (the Jupyter project's package of MathJax's static files).
# Its config TeX-AMS-MML_HTMLorMML-full renders $...$ and sympy's LaTeX like nbconvert's default CDN config.
MATHJAX_URL = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
_OFFLINE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{#- llmmem: offline pages. No require.js, Mermaid or widget manager from a CDN (the notebooks use none). -#}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
"""
_WIDGET = "application/vnd.jupyter.widget-view+json"
_WIDGET_NOTE = ("<p><em>Interactive widget: open this notebook in JupyterLab (or the calculator page) to use it. "
                "The next cell shows its result.</em></p>")


def mathjax_dir() -> Path:
    """MathJax's static files from jupyter-server-mathjax, or a ValueError that says how to get them."""
    try:
        import jupyter_server_mathjax
    except ImportError:
        raise ValueError("offline HTML needs MathJax from the package jupyter-server-mathjax: "
                         "pip install jupyter-server-mathjax (it is in llmmem's test extra)") from None
    return Path(jupyter_server_mathjax.__file__).parent / "static"


def export_html(notebooks, output_dir="build/html") -> list:
    """Static HTML pages of `notebooks` in `output_dir`, readable offline; returns the pages written.

    Formulas: MathJax is copied next to the pages (output_dir/mathjax) and loaded from there, not from a CDN.
    Figures are embedded (base64 PNG). Widgets cannot run without a kernel: each widget's output becomes a
    short note. Solutions stay folded in <details> until clicked, as in JupyterLab.
    """
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter

    source = mathjax_dir()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not (out / "mathjax" / "MathJax.js").exists():
        shutil.copytree(source, out / "mathjax", dirs_exist_ok=True)
    exporter = HTMLExporter(template_name="lab", mathjax_url=MATHJAX_URL,
                            extra_loaders=[jinja2.DictLoader({"llmmem_offline.html.j2": _OFFLINE_TEMPLATE})],
                            template_file="llmmem_offline.html.j2")
    written = []
    for path in map(Path, notebooks):
        if not path.is_file():
            raise ValueError(f"no notebook at {quote(str(path))}")
        try:
            nb = nbformat.read(path, as_version=4)
            nbformat.validate(nb)
        except Exception as err:  # NotJSONError, jsonschema's ValidationError, UnicodeDecodeError, ...
            raise ValueError(f"{quote(path.name)} is not a valid notebook ({type(err).__name__})") from None
        nb.metadata.pop("widgets", None)
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                if _WIDGET in output.get("data", {}):
                    output["data"] = {"text/html": _WIDGET_NOTE}
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
        page = out / f"{path.stem}.html"
        page.write_text(body, encoding="utf-8")
        written.append(page)
    return written


def cmd_html(args) -> None:
    pages = export_html(args.notebooks, args.output_dir)
    for page in pages:
        print(page)
    print(f"{len(pages)} page(s) in {args.output_dir}/ (MathJax in {args.output_dir}/mathjax/, no network needed)")


# ---------------------------------------------------------------------- the parser


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (status 2), pointing at --help."""

    def error(self, message):
        message = " ".join(message.split())
        if len(message) > 200:  # argparse quotes the whole bad argument: "invalid int value: '999...'"
            message = message[:197] + "..."
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


_FORMATTER = argparse.RawDescriptionHelpFormatter

SERVE_HELP = """\
Serving memory and how many GPUs.
  With a size ('70B'): the serving article's formula M = P x Q/8 x overhead = 0.15 x billions x bits GB
    (weights + 20 %).
  With a catalog model ('llama-3.1-70b'): weights in a format + exact KV cache
    (2 x layers x kv_heads x head_dim x bytes per token) + activations + overhead, per GPU.
  Context lengths: k = 1024 tokens, M = 1024 x 1024 ('128k' = 131,072, Llama 3.1's context).

examples:
  llmmem serve 70B --bits 16 --gpu A100-80GB
  llmmem serve llama-3.1-70b --context 128k --batch 4 --weights bf16 --kv-cache fp8 --gpu H100-80GB
"""

TRAIN_HELP = """\
Training memory on one GPU.
  Standard accounting: mixed-bf16 AdamW = 2 (weights) + 4 (fp32 master) + 2 (gradients) + 8 (two fp32
  Adam moments) = 16 bytes per parameter; with a catalog model, + activations for --batch x --seq-len.
  --as-written: the process of "Calculating GPU memory for serving LLMs" as written
    (4 x inference + gradients + optimizer: counts them twice).

examples:
  llmmem train 13B --optimizer adamw
  llmmem train 13B --as-written --margin 0.2     # 364 GB -> 436.8 GB, as the article
  llmmem train llama-3.1-8b --batch 4 --seq-len 4k --recompute full
"""

DRILL_HELP = """\
An interview question with follow-ups (weights -> GPUs -> KV cache with GQA -> long context -> training).
  The same --seed always gives the same question; answers are computed by llmmem.

examples:
  llmmem drill --seed 7
  llmmem drill --seed 7 --answer
  llmmem drill --seed 7 --check '168 GB'
"""


SPEED_HELP = """\
Decode speed by the roofline: a step reads every weight once (MoE: the experts the batch touches) plus
each sequence's KV cache, and does 2 FLOPs per active parameter per token:

  step time = max(bytes / bandwidth, FLOPs / peak FLOP/s);  tokens/s per sequence = 1 / step time

'roofline bound' is at peak (efficiency 1.0); 'expected' uses the efficiency measured on 30 published runs.

examples:
  llmmem speed llama-2-7b --gpu A100-80GB --weights fp16     (about 151 tokens/s at most)
  llmmem speed llama-3.1-8b --gpu H100-80GB --batch 64 --context 4k --json
"""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="llmmem", formatter_class=_FORMATTER,
                     description="How much GPU memory an LLM needs to serve or train, and how many GPUs that is.\n"
                                 "Every subcommand takes --help with its formula and an example; --json for scripts.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    json_help = "print JSON (bytes, GB and GiB) instead of a table"

    p = sub.add_parser("serve", help="serving memory and GPU count (M = 0.15 x billions x bits GB)",
                       description=SERVE_HELP, formatter_class=_FORMATTER)
    p.add_argument("model", help="a size ('70B', '8e9') or a catalog model ('llama-3.1-70b', see `llmmem models`)")
    p.add_argument("--bits", type=int, help="bits per weight for a size: 4, 8, 16 or 32 (default 16)")
    p.add_argument("--overhead", type=float, help="overhead multiplier for a size (default 1.2 = 20 %%)")
    p.add_argument("--gpu", default="A100-80GB", help="GPU from `llmmem gpus` (default A100-80GB)")
    p.add_argument("--context", help="catalog model: tokens per sequence, e.g. 8192, 128k (k = 1024; default 8192)")
    p.add_argument("--batch", type=int, help="catalog model: sequences served at once (default 1)")
    p.add_argument("--weights", help="catalog model: weight format, e.g. bf16, fp8, int4, nf4, q4_k_m (default auto: "
                                     "the checkpoint's own quantization_config, else bf16)")
    p.add_argument("--kv-cache", help="catalog model: KV-cache format: bf16, fp8, int8, int4 (default bf16)")
    p.add_argument("--tp", type=int, help="catalog model: tensor-parallel GPUs; memory is then per GPU "
                                          "(default: the fewest valid TP GPUs that fit)")
    p.add_argument("--gpu-memory-utilization", type=float, default=0.9,
                   help="catalog model: share of each card the server may use (default 0.9, vLLM's default)")
    p.add_argument("--no-tp-divides-heads", dest="tp_divides_heads", action="store_false",
                   help="catalog model: count GPUs as total / capacity, ignoring that TP must divide the heads")
    p.add_argument("--compare", action="store_true",
                   help="a table of every common weight format (fp32 ... q4_k_m): memory, per GPU, GPUs needed")
    p.add_argument("--json", action="store_true", help=json_help)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("train", help="training memory (mixed-precision AdamW: 16 bytes/param + activations)",
                       description=TRAIN_HELP, formatter_class=_FORMATTER)
    p.add_argument("model", help="a size ('13B') or a catalog model ('llama-3.1-8b') for activations too")
    p.add_argument("--optimizer", default="adamw",
                   help="adamw, sgd, sgd-momentum, lion, adamw-8bit, ... (default adamw)")
    p.add_argument("--precision", help="fp32, bf16, fp16, mixed-bf16, mixed-fp16 (default mixed-bf16)")
    p.add_argument("--as-written", action="store_true",
                   help="the serving article's process as written (364 GB for 13B at 4 bytes)")
    p.add_argument("--seed", dest="seed_alias", action="store_true", help=argparse.SUPPRESS)  # deprecated alias
    p.add_argument("--bytes-per-param", type=float, help="--as-written: 4, 2, 1 or 0.5 bytes (default 4)")
    p.add_argument("--margin", type=float, default=0.0, help="add a safety margin, e.g. 0.2 for 20 %%")
    p.add_argument("--batch", type=int, help="catalog model: sequences per step (default 1)")
    p.add_argument("--seq-len", help="catalog model: tokens per sequence, e.g. 4096 or 4k (default 4096)")
    p.add_argument("--recompute", help="catalog model: none, selective, full (default none)")
    p.add_argument("--attention", help="catalog model: sdpa or eager (default sdpa)")
    p.add_argument("--gpu", default="A100-80GB", help="GPU from `llmmem gpus` (default A100-80GB)")
    p.add_argument("--json", action="store_true", help=json_help)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("gpus", help="the GPU catalog: memory in MiB, GiB and GB, with sources",
                       description="The GPU catalog: memory as the driver reports it (MiB, GiB) and in GB, with "
                                   "where each number was read.\n\nexample:\n  llmmem gpus", formatter_class=_FORMATTER)
    p.add_argument("--json", action="store_true", help=json_help)
    p.set_defaults(func=cmd_gpus)

    p = sub.add_parser("models", help="the model catalog with exact parameter counts",
                       description="Catalog models (from their config.json) with exact parameter counts, active "
                                   "parameters for MoE, layers and heads.\n\nexample:\n  llmmem models",
                       formatter_class=_FORMATTER)
    p.add_argument("--json", action="store_true", help=json_help)
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("drill", help="a seeded interview question with follow-ups", description=DRILL_HELP,
                       formatter_class=_FORMATTER)
    p.add_argument("--seed", type=int, default=0, help="which question (default 0)")
    p.add_argument("--kind", help=f"one of: {', '.join(_drills.all_kinds())} (default: chosen by the seed)")
    p.add_argument("--answer", action="store_true", help="show answers and worked solutions")
    p.add_argument("--check", metavar="VALUE", help="check your answer to the first question, e.g. '168 GB'")
    p.add_argument("--why", action="store_true",
                   help="a conceptual 'why' question instead (--answer: the model answer)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_drill)

    p = sub.add_parser("speed", help="decode tokens/s by the roofline (bandwidth / bytes per step), and prefill time",
                       description=SPEED_HELP, formatter_class=_FORMATTER)
    p.add_argument("model", help="a catalog model ('llama-3.1-8b', see `llmmem models`)")
    p.add_argument("--gpu", default="H100-80GB", help="GPU from `llmmem gpus` (default H100-80GB)")
    p.add_argument("--batch", type=int, default=1, help="sequences decoded together (default 1)")
    p.add_argument("--context", default="1",
                   help="tokens already in each sequence's KV cache, e.g. 4096, 32k (default 1)")
    p.add_argument("--weights", default="bf16", help="weight format, e.g. bf16, fp8, int4, q4_k_m (default bf16)")
    p.add_argument("--kv-cache", default="bf16", help="KV-cache format: bf16, fp8, int8, int4 (default bf16)")
    p.add_argument("--tp", type=int, default=1, help="tensor-parallel GPUs; bytes are then per GPU (default 1)")
    p.add_argument("--efficiency", type=float, default=None,
                   help="achieved share of peak for the 'expected' line (default: measured, 0.75 for 16-bit "
                        "weights, 0.50 quantized)")
    p.add_argument("--prompt", default="2048", help="prompt tokens for the time to first token (default 2048)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_speed)

    p = sub.add_parser("html", help="export notebooks to static HTML that works offline (for a class)",
                       description="Static HTML pages of notebooks, readable without a network: MathJax is copied "
                                   "next to the pages.\n\nexample:\n  llmmem html notebooks/*.ipynb --output-dir "
                                   "build/html", formatter_class=_FORMATTER)
    p.add_argument("notebooks", nargs="+", help="notebook files")
    p.add_argument("--output-dir", default="build/html", help="where the pages go (default build/html)")
    p.set_defaults(func=cmd_html)
    return parser


def _fail(json_wanted: bool, command: str, message: str, status: int = 2) -> int:
    message = " ".join(message.split())[:500]  # one line, never a flood
    if json_wanted:
        print(json.dumps({"error": message}))
    print(f"llmmem {command}: error: {message}" if command else f"llmmem: error: {message}", file=sys.stderr)
    return status


def _quiet_stdout() -> None:
    """After a broken pipe (`llmmem models | head -1`): send what is left to /dev/null, so that Python's own
    flush at exit does not print a second BrokenPipeError (Python docs, "Note on SIGPIPE")."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor (captured in tests)
        pass


def main(argv=None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 bad input, 130 Ctrl-C, 141 broken pipe).

    Every bad input ends with status 2 and one line on stderr; with --json also ``{"error": ...}`` on stdout.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    json_wanted = "--json" in argv
    parser = build_parser()
    args = None
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exit_:  # --help (0) or a usage error (2), already printed on stderr
            code = exit_.code if isinstance(exit_.code, int) else 0
            if code and json_wanted:
                print(json.dumps({"error": "usage error (see --help)"}))
            return code
        args.func(args)
    except (ValueError, TypeError, OverflowError, ArithmeticError, RecursionError, KeyError, OSError) as err:
        if isinstance(err, BrokenPipeError):
            _quiet_stdout()
            return 141
        command = getattr(args, "command", "") or ""
        if isinstance(err, (ValueError, TypeError, FileNotFoundError, PermissionError, IsADirectoryError)):
            return _fail(json_wanted, command, str(err) or type(err).__name__)
        # not a message meant for a user: say what kind of failure, without a traceback
        return _fail(json_wanted, command, f"cannot compute this ({type(err).__name__}); check the input")
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    return 0
