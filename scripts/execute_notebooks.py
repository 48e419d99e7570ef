"""Re-execute notebooks top to bottom in a fresh kernel and store their outputs, reproducibly (`make notebooks`).

Running a notebook twice must leave the same file, so that `make notebooks` on an unchanged checkout leaves
`git status` clean. Two things differ from run to run in what nbconvert stores, and are fixed here:
- ipywidgets give each widget a random model id (in the outputs and in the stored widget state); they are renamed
  to ids derived from the notebook's name and their order of appearance (a uuid5), consistently in both places;
- per-cell execution timestamps (`metadata.execution`) are not recorded;
- a cell's printed text may arrive in one stream message or several (flush timing): consecutive stream outputs
  of the same name are joined into one, as nbval joins them when it compares.

    python scripts/execute_notebooks.py notebooks/00_start_here.ipynb ...
"""

from __future__ import annotations

import json
import re
import sys
import uuid
from pathlib import Path

import nbformat
from nbclient import NotebookClient

_MODEL_ID = re.compile(r"[0-9a-f]{32}")
_NAMESPACE = uuid.UUID("6f1c1b1e-8d1e-4c55-9a59-4c0d1f1e0a11")  # any fixed namespace: ids only need to be stable


def _stable_widget_ids(nb, name: str) -> dict[str, str]:
    """A stable new id for every widget model id in an executed notebook. The kernel's creation order is not stable
    (nor is the stored state's), so the order comes from the notebook's structure: the widgets shown in the
    outputs, in cell order, each followed depth-first by the widgets it refers to ("IPY_MODEL_<id>", fields in
    sorted order); then any widget nothing refers to, ordered by its content."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    order: list[str] = []

    def visit(model_id: str) -> None:
        if model_id in order or model_id not in state:
            return
        order.append(model_id)
        for ref in _MODEL_ID.findall(json.dumps(state[model_id], sort_keys=True)):
            visit(ref)

    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for ref in _MODEL_ID.findall(json.dumps(output.get("data", {}), sort_keys=True)):
                visit(ref)
    order += sorted((i for i in state if i not in order),
                    key=lambda i: _MODEL_ID.sub("", json.dumps(state[i], sort_keys=True)))
    return {old: uuid.uuid5(_NAMESPACE, f"{name}:{n}").hex for n, old in enumerate(order)}


def _joined_streams(outputs: list) -> list:
    joined: list = []
    for output in outputs:
        last = joined[-1] if joined else None
        if (output.get("output_type") == "stream" and last is not None and last.get("output_type") == "stream"
                and last.get("name") == output.get("name")):
            last["text"] = "".join(last["text"]) + "".join(output["text"])
        else:
            joined.append(output)
    return joined


def execute(path: Path, timeout: int = 900) -> bool:
    """Execute one notebook in place; True when the stored file changed."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = _joined_streams(cell.outputs)
    ids = _stable_widget_ids(nb, path.name)
    renamed = _MODEL_ID.sub(lambda m: ids.get(m.group(), m.group()), nbformat.writes(nb))
    text = nbformat.writes(nbformat.reads(renamed, as_version=4)) + "\n"  # written again: keys sorted by new id
    if path.read_text() == text:
        return False
    path.write_text(text)
    return True


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        changed = execute(Path(arg))
        print(f"{arg}: {'updated' if changed else 'unchanged'}")
