"""Graceful termination (what a pod deletion or `kubectl rollout restart` does): on SIGTERM the
gateway fails `/readyz` at once, keeps accepting and serving for the drain window
(`--drain-seconds`), then stops accepting, lets in-flight calls finish (bounded by
`--shutdown-timeout-seconds`) and exits 0.

Several sessions call a tool in a loop through SIGTERM; every call that started before the drain
window ended must succeed. The last 250 ms of the window are left out: a call started then can
race the listener's close on loopback (its connection queued but not yet accepted), which in a
cluster cannot happen since kube-proxy stopped routing to the pod long before (preStop delay)."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import httpx
import pytest
from conftest import mcp_session, text_of

DRAIN = 3.0
SHUTDOWN_TIMEOUT = 10
RACE_MARGIN = 0.25
LOOPS = 4


@pytest.fixture(scope="module")
def gw(procs):
    echo = procs.echo()
    return procs.gateway(
        ["echo"],
        {"ECHO_PORT": echo.port},
        env={
            "TOOLYARD_DRAIN_SECONDS": str(int(DRAIN)),
            "TOOLYARD_SHUTDOWN_TIMEOUT_SECONDS": str(SHUTDOWN_TIMEOUT),
        },
    )


class TimedLoop(threading.Thread):
    """Calls `echo___getItem` on one session until `stop_at` (monotonic); records
    (start, error or None) per call. A slow call (`echo___sleep`) every `slow_every` calls keeps
    requests in flight."""

    def __init__(self, url: str, name: str, slow_every: int = 0):
        super().__init__(daemon=True)
        self.url = url
        self.name = name
        self.slow_every = slow_every
        self.stop_at = float("inf")
        self.calls: list[tuple[float, str | None]] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._loop())
        except BaseException as e:  # noqa: BLE001 - the session's teardown after the exit fails
            self.error = e

    async def _loop(self) -> None:
        async with mcp_session(self.url) as (session, _):
            n = 0
            while time.monotonic() < self.stop_at:
                start = time.monotonic()
                item = f"{self.name}-{n}"
                try:
                    if self.slow_every and n % self.slow_every == self.slow_every - 1:
                        result = await session.call_tool("echo___sleep", {"seconds": 0.6})
                        ok = not result.isError
                    else:
                        result = await session.call_tool("echo___getItem", {"itemId": item})
                        ok = not result.isError and item in text_of(result)
                    self.calls.append((start, None if ok else f"bad result: {text_of(result)[:200]}"))
                except Exception as e:  # noqa: BLE001 - every failure counts
                    self.calls.append((start, f"{type(e).__name__}: {e}"))
                    await asyncio.sleep(0.05)
                n += 1


def test_sigterm_drains_without_failing_calls(gw):
    loops = [TimedLoop(gw.url, f"loop{i}", slow_every=5 if i == 0 else 0) for i in range(LOOPS)]
    for loop in loops:
        loop.start()
    deadline = time.monotonic() + 30
    while not all(len(loop.calls) >= 3 for loop in loops) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(loop.calls for loop in loops), "the loops did not start calling"
    assert not any(err for loop in loops for _, err in loop.calls), "calls failed before SIGTERM"

    term_at = time.monotonic()
    os.kill(gw.proc.pid, signal.SIGTERM)
    drain_end = term_at + DRAIN
    for loop in loops:
        loop.stop_at = drain_end + 1.0

    # Not ready at once, while still serving.
    r = httpx.get(f"{gw.admin}/readyz", timeout=2)
    assert r.status_code == 503, r.text
    assert r.json()["draining"] is True, r.text
    assert time.monotonic() - term_at < 1.0

    # After the window nothing is accepted any more.
    time.sleep(max(0.0, drain_end + 0.5 - time.monotonic()))
    with pytest.raises(httpx.ConnectError):
        httpx.get(gw.url, timeout=2)

    for loop in loops:
        loop.join(timeout=DRAIN + SHUTDOWN_TIMEOUT + 10)
        assert not loop.is_alive(), f"{loop.name} still running"

    # The process exits by itself, successfully, within the drain plus the in-flight bound.
    try:
        code = gw.proc.popen.wait(timeout=max(0.0, drain_end + SHUTDOWN_TIMEOUT + 2 - time.monotonic()))
    except Exception:  # noqa: BLE001
        pytest.fail(f"the gateway did not exit:\n{gw.proc.log_tail()}")
    assert code == 0, gw.proc.log_tail()

    counted = [(loop.name, start - term_at, err) for loop in loops for start, err in loop.calls
               if start < drain_end - RACE_MARGIN]
    during = [c for c in counted if c[1] >= 0]
    failed = [c for c in counted if c[2] is not None]
    print(f"calls started before the drain ended: {len(counted)} ({len(during)} after SIGTERM), failed: {len(failed)}")
    assert len(during) >= 20, f"too few calls during the drain window to mean anything: {len(during)}"
    assert not failed, "calls started before the drain ended failed:\n" + "\n".join(
        f"{name} +{at:.2f}s: {err}" for name, at, err in failed[:20])

    log = gw.proc.log.read_text(errors="replace")
    assert "accepting connections for the drain window" in log, gw.proc.log_tail()
