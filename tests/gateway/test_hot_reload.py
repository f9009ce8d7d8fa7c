"""Hot reload under load: a client calls a tool in a loop while the manifests are rewritten (a
target added, descriptions changed, an invalid manifest written and removed). No call may fail,
new tools must appear, and an invalid manifest must be refused while the old config serves on."""

from __future__ import annotations

import asyncio
import time

import pytest
from call_loop import CallLoop
from conftest import list_all_tools, mcp_session, run

MIN_CALLS = 200

EXTRA_TARGET = """\
apiVersion: toolyard.dev/v1alpha1
kind: GatewayTarget
metadata:
  name: extra
spec:
  gatewayRef: {name: e2e}
  description: {{DESCRIPTION}}
  openApi:
    baseUrl: http://127.0.0.1:{{ECHO_PORT}}
    schema:
      configMapRef: {name: specs, key: echo.yaml}
  tools:
    include: [getItem]
    overrides:
      - name: getItem
        description: {{DESCRIPTION}}
  timeout: 5s
"""

INVALID_TARGET = """\
apiVersion: toolyard.dev/v1alpha1
kind: GatewayTarget
metadata:
  name: broken
spec:
  gatewayRef: {name: e2e}
  rateLimit: {requestsPerSecond: fast}
  openApi:
    baseUrl: http://127.0.0.1:{{ECHO_PORT}}
    schema:
      configMapRef: {name: specs, key: echo.yaml}
"""


@pytest.fixture(scope="module")
def gw(procs):
    echo = procs.echo()
    return procs.gateway(["echo"], {"ECHO_PORT": echo.port})


def tool_map(url: str) -> dict:
    async def go():
        async with mcp_session(url) as (session, _):
            tools, _ = await list_all_tools(session)
            return {t.name: t for t in tools}

    return run(go())


def test_reload_under_load(gw):
    loop = CallLoop(gw.url, min_calls=MIN_CALLS)
    loop.start()
    try:
        # Let the loop get going on the initial config.
        deadline = time.monotonic() + 30
        while loop.calls < 20 and time.monotonic() < deadline and loop.is_alive():
            time.sleep(0.05)
        assert loop.calls >= 20, f"call loop does not run: {loop.error or loop.failures[:3]}"
        start = gw.readyz()
        generation = start["generation"]
        calls_before_reloads = loop.calls

        # 1. Add a target.
        before = gw.readyz()
        gw.write("20-extra-target.yaml", EXTRA_TARGET.replace("{{DESCRIPTION}}", "Extra target, first version"))
        after = gw.wait_reload(before)
        assert after["generation"] > generation
        tools = tool_map(gw.url)
        assert "extra___getItem" in tools
        assert tools["extra___getItem"].description == "Extra target, first version"

        # 2..4. Change descriptions several times (the target's and a tool's).
        for version in range(2, 5):
            before = gw.readyz()
            gw.write("20-extra-target.yaml", EXTRA_TARGET.replace("{{DESCRIPTION}}", f"Extra target, version {version}"))
            gw.wait_reload(before)
            assert tool_map(gw.url)["extra___getItem"].description == f"Extra target, version {version}"

        # 5. Change an existing target's tool description in place (rewrite of a fixture file).
        before = gw.readyz()
        text = (gw.config_dir / "10-echo-target.yaml").read_text()
        text = text.replace("  timeout: 1s\n---", "  tools:\n    overrides:\n      - name: getItem\n        description: Renamed during the load test\n  timeout: 1s\n---", 1)
        gw.write("10-echo-target.yaml", text)
        gw.wait_reload(before)
        assert tool_map(gw.url)["echo___getItem"].description == "Renamed during the load test"
        served = gw.readyz()

        # 6. An invalid manifest is refused; the last good config keeps serving.
        before = gw.readyz()
        gw.write("30-broken-target.yaml", INVALID_TARGET)
        refused = gw.wait_reload(before, failure=True)
        assert refused["ready"] is True
        assert refused["revision"] == served["revision"]
        assert refused["generation"] == served["generation"]
        assert "spec.rateLimit.requestsPerSecond" in refused["reload"]["lastError"]
        assert "30-broken-target.yaml" in refused["reload"]["lastError"]
        tools = tool_map(gw.url)
        assert "extra___getItem" in tools and "echo___getItem" in tools
        calls_at_refusal = loop.calls
        time.sleep(0.5)
        assert loop.calls > calls_at_refusal, "calls stopped while the invalid manifest was present"

        # 7. Removing it recovers; the error is cleared.
        before = gw.readyz()
        gw.remove("30-broken-target.yaml")
        recovered = gw.wait_reload(before)
        assert "lastError" not in recovered["reload"]

        # 8. Remove the added target again: its tool disappears.
        before = gw.readyz()
        gw.remove("20-extra-target.yaml")
        gw.wait_reload(before)
        assert "extra___getItem" not in tool_map(gw.url)
        calls_during_reloads = loop.calls - calls_before_reloads
        assert calls_during_reloads >= 20, f"only {calls_during_reloads} calls overlapped the reloads"
    finally:
        loop.stop_requested.set()
        loop.join(timeout=120)

    print(f"hot reload: {loop.calls} calls, {len(loop.failures)} failed")
    assert not loop.is_alive(), "call loop did not finish"
    assert loop.error is None, f"call loop crashed: {loop.error!r}"
    assert loop.calls >= MIN_CALLS
    assert loop.failures == [], f"{len(loop.failures)} of {loop.calls} calls failed: {loop.failures[:5]}"


def test_readyz_and_metrics_after_reloads(gw):
    ready = gw.readyz()
    assert ready["ready"] is True
    assert ready["reload"]["reloads"] >= 8
    assert ready["reload"]["failures"] >= 1
    import httpx

    metrics = httpx.get(f"{gw.admin}/metrics", timeout=5).text
    assert "toolyard_gateway_reload_failures_total" in metrics
    assert 'toolyard_gateway_tool_calls_total{target="echo",tool="echo___getItem"}' in metrics


def test_tools_list_changed_notification_after_reload(gw):
    """A client that keeps a session open is told when a reload changes the tool list."""
    from mcp import ClientSession, types
    from mcp.client.streamable_http import streamablehttp_client

    async def go():
        changed = asyncio.Event()

        async def on_message(message):
            if isinstance(message, types.ServerNotification) and isinstance(message.root, types.ToolListChangedNotification):
                changed.set()

        async with streamablehttp_client(gw.url) as (read, write, _):
            async with ClientSession(read, write, message_handler=on_message) as session:
                init = await session.initialize()
                assert init.capabilities.tools.listChanged is True
                await asyncio.sleep(0.5)  # the client's GET stream for server notifications opens
                before = gw.readyz()
                gw.write("40-notify-target.yaml", EXTRA_TARGET.replace("name: extra", "name: notify").replace("{{DESCRIPTION}}", "Notify"))
                try:
                    await asyncio.to_thread(gw.wait_reload, before)
                    assert "notify___getItem" in [t.name for t in (await session.list_tools()).tools]
                    await asyncio.wait_for(changed.wait(), timeout=5)
                finally:
                    gw.remove("40-notify-target.yaml")

    run(go())
