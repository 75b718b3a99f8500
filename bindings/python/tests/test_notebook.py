"""The what-if notebook runs headless, and its plots are written as non-empty PNG files."""

import nbformat
from nbclient import NotebookClient

from conftest import ROOT

NOTEBOOK = ROOT / "examples" / "notebooks" / "what-if.ipynb"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_the_what_if_notebook_executes_and_writes_its_plots(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEETPLAN_PLOTS", str(tmp_path))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors, errors
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pngs == ["failover-per-cluster.png", "failover-per-region.png", "replicas-per-cluster.png",
                    "traffic.png", "utilisation.png"]
    for name in pngs:
        data = (tmp_path / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5_000, name
