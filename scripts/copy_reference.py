"""Copy the project's reference data into the repository: `python scripts/copy_reference.py REFERENCE_DIR`.

REFERENCE_DIR is the team's folder of public reference data (models.json, configs.json, measurements.json).
The copies land in llmmem/data/reference/, the one place the kit, its tests and its notebooks read them from
(through `llmmem.reference`), so a clone needs nothing beside it. The sources' quoted text is left out of
measurements.json: the numbers, settings and sources are kept, the prose stays with its authors.
"""

import json
import sys
from pathlib import Path

DEST = Path(__file__).resolve().parents[1] / "llmmem" / "data" / "reference"


def main(src: Path) -> None:
    for name in ("models.json", "configs.json", "measurements.json"):
        data = json.loads((src / name).read_text())
        if name == "measurements.json":
            data["measurements"] = [{k: v for k, v in m.items() if k != "quote"} for m in data["measurements"]]
            data["description"] += " (Copied without the sources' quoted text.)"
        (DEST / name).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        print(f"{src / name} -> {DEST / name}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.splitlines()[0])
    main(Path(sys.argv[1]))
