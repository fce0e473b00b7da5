"""The tutorial notebook runs top to bottom on the real bundled model, and is committed clean."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from ipykernel.kernelspec import write_kernel_spec
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbformat import NotebookNode

from foundry_local_chat.config import BUNDLED_MODEL_ALIAS, BUNDLED_MODEL_ID
from tests.support.processes import REPO, clean_env, free_port

pytestmark = [pytest.mark.e2e]  # runs the notebook in a kernel

NOTEBOOK = REPO / "notebooks" / "chainlit_app.ipynb"
EXECUTED_COPY = REPO / "test-artifacts" / "chainlit_app.executed.ipynb"
KERNEL_NAME = "foundry-local-chat-tests"


def project_kernel(kernels_dir: Path) -> AsyncKernelManager:
    """A kernel running this test's own python (the project's venv), whatever jupyter is around."""
    write_kernel_spec(kernels_dir / KERNEL_NAME, overrides={"display_name": KERNEL_NAME})
    specs = KernelSpecManager(kernel_dirs=[str(kernels_dir)], ensure_native_kernel=False)
    return AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)


def tagged(notebook: NotebookNode, tag: str) -> NotebookNode:
    (cell,) = [cell for cell in notebook.cells if tag in cell.metadata.get("tags", [])]
    return cell


def stdout(cell: NotebookNode) -> str:
    return "".join(out.text for out in cell.outputs if out.get("name") == "stdout")


def code_cells(notebook: NotebookNode) -> list[NotebookNode]:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


@pytest.fixture(scope="module")
def executed(bundled_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> NotebookNode:
    """The notebook, run in memory (the file stays clean); a copy with outputs goes to
    test-artifacts/ so a failure can be read cell by cell.

    Foundry Local starts in-process inside the kernel on a free port, rather than the notebook
    using the session `endpoint` through BASE_URL and FOUNDRY_LOCAL=0: it is the path a learner
    takes, FoundryLocalManager included, and costs only the model load (about 1 s). The kernel is
    a process of its own, so its manager singleton cannot clash with anything in this one. The
    BASE_URL branch is ProfileResolver's fallback, which e2e/test_fallback.py covers.
    """
    tmp = tmp_path_factory.mktemp("notebook")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        km=project_kernel(tmp / "kernels"),
        timeout=120,
        startup_timeout=60,
        coalesce_streams=True,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},  # Jupyter's cwd: notebooks/
    )
    env = clean_env({
        "FOUNDRY_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "FOUNDRY_OFFLINE": "1",
        "APP_DATA_DIR": str(tmp / "app-data"),
    })  # fmt: skip
    try:
        client.execute(env=env, cleanup_kc=True)  # raises CellExecutionError on a failing cell
    finally:
        EXECUTED_COPY.parent.mkdir(exist_ok=True)
        nbformat.write(notebook, EXECUTED_COPY)
    return notebook


def test_every_cell_ran_without_error(executed: NotebookNode) -> None:
    cells = code_cells(executed)
    assert [cell.execution_count for cell in cells] == list(range(1, len(cells) + 1))
    errors = [out for cell in cells for out in cell.outputs if out.output_type == "error"]
    assert errors == []


def test_it_connects_to_foundry_local_in_process(executed: NotebookNode) -> None:
    printed = stdout(tagged(executed, "connect"))
    assert "ready in" in printed
    assert "Foundry Local · http://127.0.0.1:" in printed
    assert "Foundry Local was not used" not in printed


def test_the_endpoint_is_the_gateway_in_front_of_foundrys_private_service(
    executed: NotebookNode,
) -> None:
    printed = stdout(tagged(executed, "manager"))
    endpoint = re.search(r"the endpoint \(the gateway\): http://([\d.]+:\d+)/v1", printed)
    private = re.search(r"Foundry's own web service, behind it: \['http://([\d.]+:\d+)", printed)
    assert endpoint and private, printed
    assert private[1].startswith("127.") and private[1] != endpoint[1]


def test_the_gateway_answers_for_the_models_alias(executed: NotebookNode) -> None:
    printed = stdout(tagged(executed, "models"))
    assert f"{BUNDLED_MODEL_ALIAS} is {BUNDLED_MODEL_ID}" in printed


def test_streaming_prints_many_tokens(executed: NotebookNode) -> None:
    printed = stdout(tagged(executed, "streaming"))
    answer, summary = printed.rsplit("\n\n", 1)
    text_chunks = re.search(r"\[(\d+) text chunks", summary)
    assert text_chunks, summary
    assert int(text_chunks.group(1)) >= 10
    assert len(answer.split()) >= 5


def test_one_chunk_is_shown_as_json(executed: NotebookNode) -> None:
    printed = stdout(tagged(executed, "chunk-shape"))
    assert '"object": "chat.completion.chunk"' in printed
    assert '"delta": {' in printed
    assert "no choices, usage=" in printed  # the usage chunk that closes the stream


def test_the_follow_up_question_gets_an_answer(executed: NotebookNode) -> None:
    turns = re.findall(r"^\s*(user|assistant): (.*)$", stdout(tagged(executed, "multi-turn")), re.M)
    assert [role for role, _ in turns] == ["user", "assistant", "user", "assistant"]
    assert turns[2][1] == "How many people live there?"
    assert turns[3][1].strip()


def test_timing_table_and_chart(executed: NotebookNode) -> None:
    table = stdout(tagged(executed, "timing")).splitlines()
    assert len(table) == 1 + 4  # header and one row per prompt
    chart_outputs = tagged(executed, "chart").outputs
    assert any("image/png" in out.get("data", {}) for out in chart_outputs)


def test_committed_notebook_has_no_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    dirty = [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert dirty == [], (
        f"cells {dirty} of {NOTEBOOK.name} keep outputs: clear them before committing "
        "(JupyterLab: Edit → Clear Outputs of All Cells, then save)"
    )
