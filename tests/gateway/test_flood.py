"""A flood of config changes: 100 manifest rewrites per second for 5 s (standalone mode, the file
watcher's reload path) while a client calls a tool continuously on one session. Every call must
succeed, the reloads must be coalesced (far fewer than the changes) and the served config must end
up being the last one written."""

from __future__ import annotations

import time

from call_loop import CallLoop
from conftest import list_all_tools, mcp_session, run

RATE = 100  # changes per second
SECONDS = 5
CHANGES = RATE * SECONDS

FLOOD_TARGET = """\
apiVersion: toolyard.dev/v1alpha1
kind: GatewayTarget
metadata:
  name: flood
spec:
  gatewayRef: {name: e2e}
  description: Flood target {{VERSION}}
  openApi:
    baseUrl: http://127.0.0.1:{{ECHO_PORT}}
    schema:
      configMapRef: {name: specs, key: echo.yaml}
  tools:
    include: [getItem]
    overrides:
      - name: getItem
        description: Flood version {{VERSION}}
  timeout: 5s
"""


def test_flood_of_changes_is_coalesced_and_no_call_fails(procs):
    echo = procs.echo()
    gw = procs.gateway(["echo"], {"ECHO_PORT": echo.port})
    before = gw.readyz()
    loop = CallLoop(gw.url)
    loop.start()
    try:
        deadline = time.monotonic() + 30
        while loop.calls < 10 and time.monotonic() < deadline and loop.is_alive():
            time.sleep(0.05)
        assert loop.calls >= 10, f"call loop does not run: {loop.error or loop.failures[:3]}"
        calls_at_start = loop.calls
        start = time.monotonic()
        for n in range(CHANGES):
            gw.write("20-flood.yaml", FLOOD_TARGET.replace("{{VERSION}}", str(n)))
            # Hold the rate: the n-th change is written at n / RATE seconds.
            delay = start + (n + 1) / RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        flood_seconds = time.monotonic() - start
        # The last change must be served: wait for its description.
        last = f"Flood version {CHANGES - 1}"
        deadline = time.monotonic() + 15
        description = None
        while time.monotonic() < deadline:

            async def describe():
                async with mcp_session(gw.url) as (session, _):
                    tools, _ = await list_all_tools(session)
                    return {t.name: t.description for t in tools}.get("flood___getItem")

            description = run(describe())
            if description == last:
                break
            time.sleep(0.2)
        calls_during = loop.calls - calls_at_start
    finally:
        loop.stop_requested.set()
        loop.join(timeout=60)

    after = gw.readyz()
    reloads = after["reload"]["reloads"] - before["reload"]["reloads"]
    print(f"flood: {CHANGES} changes in {flood_seconds:.1f}s, {reloads} reloads, {calls_during} calls, {len(loop.failures)} failed")
    assert description == last, f"the last change is not served: {description!r}"
    assert after["reload"]["failures"] == before["reload"]["failures"], after
    assert 1 <= reloads <= CHANGES // 10, f"{reloads} reloads for {CHANGES} changes: not coalesced"
    assert loop.error is None, f"call loop crashed: {loop.error!r}"
    assert calls_during >= 20, f"only {calls_during} calls overlapped the flood"
    assert loop.failures == [], f"{len(loop.failures)} of {loop.calls} calls failed: {loop.failures[:5]}"
