"""The notebooks run from top to bottom without an error.

Each notebook in `notebooks/` is executed with nbclient in a fresh kernel whose working folder is
`notebooks/` (as when a user opens it there). The kernel runs in the interpreter running the tests
(`sys.executable -m ipykernel_launcher`), not whatever a `python3` kernel spec installed elsewhere points
to, which could be another Python without this project. A notebook takes under a minute at
the small scales they use.
"""

from __future__ import annotations

import sys
from pathlib import Path

import ipykernel  # noqa: F401  (the kernel the notebooks run in: a test dependency, like nbclient and nbformat)
import nbclient
import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
CELL_TIMEOUT = 600  # seconds a cell may take: generous, for a loaded machine


class ThisPythonKernel(AsyncKernelManager):
    """A kernel manager that starts ipykernel in the interpreter running the tests, whatever specs are installed."""

    @property
    def kernel_spec(self) -> KernelSpec:
        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        return KernelSpec(argv=argv, display_name=f"Python {sys.version_info[0]}", language="python")


def test_notebooks_are_found() -> None:
    assert {p.name for p in PATHS} >= {"walkthrough.ipynb", "penalty_tax.ipynb"}


def test_notebooks_are_committed_without_outputs() -> None:
    for path in PATHS:
        nb = nbformat.read(path, as_version=4)
        dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
        assert not dirty, f"{path.name}: cells {dirty} have outputs; clear them before committing"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_notebook_runs_without_error(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        kernel_manager_class=ThisPythonKernel,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, on the first error
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
