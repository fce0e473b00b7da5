"""Run the real Open WebUI (from .venv-openwebui, `make open-webui`) against an endpoint, configured
with the variables the README's "Use it from Open WebUI" section gives a user."""

from __future__ import annotations

from pathlib import Path

from tests.support.processes import REPO, RunningProcess, clean_env, free_port, start, wait_for_port

OPEN_WEBUI = REPO / ".venv-openwebui" / "bin" / "open-webui"


def open_webui_env(endpoint_url: str, api_key: str, data_dir: Path) -> dict[str, str]:
    """The README's table, for this endpoint and a throwaway data dir."""
    return {
        "OPENAI_API_BASE_URL": endpoint_url,
        "OPENAI_API_KEY": api_key or "local",
        "ENABLE_OLLAMA_API": "false",
        "OFFLINE_MODE": "true",
        "ENABLE_PERSISTENT_CONFIG": "False",
        "DATA_DIR": str(data_dir),
    }


def start_open_webui(endpoint_url: str, api_key: str, workdir: Path) -> tuple[RunningProcess, str]:
    """`open-webui serve` on a free loopback port; returns once it listens (uvicorn binds the port
    after Open WebUI's start-up has finished)."""
    if not OPEN_WEBUI.exists():
        raise FileNotFoundError(f"{OPEN_WEBUI} is missing: run `make open-webui`")
    port = free_port()
    env = clean_env(open_webui_env(endpoint_url, api_key, workdir / "data"))
    # Open WebUI writes its secret key file into the working directory: keep it out of the repo.
    command = [str(OPEN_WEBUI), "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = start(command, env, cwd=workdir)
    wait_for_port(port, timeout=300, process=process)
    return process, f"http://127.0.0.1:{port}"
