"""`make notebooks` is reproducible: the same notebook, executed twice, is stored as the same file."""

import importlib.util
import uuid
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("execute_notebooks", ROOT / "scripts" / "execute_notebooks.py")
execute_notebooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(execute_notebooks)


def _executed(ids: list[str], state_order: list[int]):
    """A notebook as nbclient leaves it: a box (ids[0]) holding a slider (ids[1]) with its layout (ids[2]), and an
    orphan layout (ids[3]); the widget state stored in `state_order`."""
    box, slider, layout, orphan = ids
    models = {
        box: {"model_name": "VBoxModel", "state": {"children": [f"IPY_MODEL_{slider}"]}},
        slider: {"model_name": "IntSliderModel", "state": {"layout": f"IPY_MODEL_{layout}", "value": 3}},
        layout: {"model_name": "LayoutModel", "state": {"width": "10px"}},
        orphan: {"model_name": "LayoutModel", "state": {"width": None}},
    }
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("box", id="cell-1", outputs=[nbformat.v4.new_output(
        "display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": box, "version_major": 2}})]))
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "state": {ids[i]: models[ids[i]] for i in state_order}, "version_major": 2}}
    return nb


def _stored(nb) -> str:
    ids = execute_notebooks._stable_widget_ids(nb, "x.ipynb")
    renamed = execute_notebooks._MODEL_ID.sub(lambda m: ids.get(m.group(), m.group()), nbformat.writes(nb))
    return nbformat.writes(nbformat.reads(renamed, as_version=4))


def test_two_runs_with_other_random_ids_and_order_store_the_same_file():
    first = _stored(_executed([uuid.uuid4().hex for _ in range(4)], [0, 1, 2, 3]))
    second = _stored(_executed([uuid.uuid4().hex for _ in range(4)], [3, 2, 0, 1]))
    assert first == second
    assert "IPY_MODEL_" in first  # references are renamed with the models they point to


def test_references_follow_the_models_they_point_to():
    stored = nbformat.reads(_stored(_executed([uuid.uuid4().hex for _ in range(4)], [2, 0, 3, 1])), as_version=4)
    state = stored.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"]
    box = stored.cells[0].outputs[0].data["application/vnd.jupyter.widget-view+json"]["model_id"]
    slider = state[box]["state"]["children"][0].removeprefix("IPY_MODEL_")
    layout = state[slider]["state"]["layout"].removeprefix("IPY_MODEL_")
    assert state[slider]["model_name"] == "IntSliderModel" and state[layout]["state"] == {"width": "10px"}


def test_printed_text_is_stored_as_one_stream_however_it_arrived():
    one = [nbformat.v4.new_output("stream", name="stdout", text="a\nb\n")]
    two = [nbformat.v4.new_output("stream", name="stdout", text="a\n"),
           nbformat.v4.new_output("stream", name="stdout", text="b\n")]
    assert execute_notebooks._joined_streams(two) == execute_notebooks._joined_streams(one) == one
    mixed = [nbformat.v4.new_output("stream", name="stdout", text="a\n"),
             nbformat.v4.new_output("stream", name="stderr", text="warn\n")]
    assert len(execute_notebooks._joined_streams(mixed)) == 2  # stdout and stderr stay apart
