"""Failures: a backend error, an unknown tool, a missing argument, a backend that does not answer
in time, a method the gateway forbids. Each is a tool result with `isError: true` (or, for an
unknown tool, a JSON-RPC error), never a hang or a dropped connection."""

from __future__ import annotations

import time

import pytest
from conftest import call, mcp_session, run, text_of
from mcp.shared.exceptions import McpError

GENERIC = "An internal error occurred. Please retry later."


@pytest.fixture(scope="module")
def echo(procs):
    return procs.echo()


@pytest.fixture(scope="module")
def gw(procs, echo):
    return procs.gateway(["echo", "echo-limited"], {"ECHO_PORT": echo.port})


@pytest.fixture(scope="module")
def gw_debug(procs, echo):
    return procs.gateway(["echo", "echo-debug"], {"ECHO_PORT": echo.port})


def test_backend_500_is_a_generic_tool_error(gw):
    result = call(gw.url, "echo___failWithStatus", {"code": 500})
    assert result.isError
    text = text_of(result)
    assert text == GENERIC
    assert "stack trace" not in text and "500" not in text


@pytest.mark.parametrize("code", [400, 404, 422])
def test_backend_4xx_shows_status_and_redacted_body_by_default(gw, code):
    """A client error is the caller's to fix: its status and body reach the agent (without the
    target's credential, which this backend echoes) under the default exceptionLevel."""
    result = call(gw.url, "echo___failWithStatus", {"code": code})
    assert result.isError
    text = text_of(result)
    assert text.startswith(f"The backend rejected the request with HTTP {code}: "), text
    assert f"backend failure {code}" in text
    assert "header-secret-123" not in text, text
    assert "[REDACTED]" in text


def test_backend_500_with_debug_shows_status_and_body(gw_debug):
    result = call(gw_debug.url, "echo___failWithStatus", {"code": 500})
    assert result.isError
    text = text_of(result)
    assert "500" in text
    assert "backend failure 500" in text


def test_unknown_tool_is_a_json_rpc_error(gw):
    async def go():
        async with mcp_session(gw.url) as (session, _):
            with pytest.raises(McpError) as info:
                await session.call_tool("echo___noSuchTool", {})
            # The session is still usable afterwards.
            ok = await session.call_tool("echo___getItem", {"itemId": "1"})
            return info.value, ok

    error, ok = run(go())
    assert error.error.code == -32602
    assert "echo___noSuchTool" in error.error.message
    assert not ok.isError


def test_missing_required_argument_is_a_tool_error(gw):
    result = call(gw.url, "echo___getItem", {})
    assert result.isError
    assert "itemId" in text_of(result)


def test_missing_required_body_property_is_a_tool_error(gw):
    result = call(gw.url, "echo___postJson", {"count": 1})
    assert result.isError
    assert "name" in text_of(result)


def test_backend_timeout_is_a_tool_error_within_the_timeout(gw):
    """The echo target's timeout is 1 s; the backend sleeps 5 s."""

    async def go():
        async with mcp_session(gw.url) as (session, _):
            started = time.monotonic()
            result = await session.call_tool("echo___sleep", {"seconds": 5})
            return result, time.monotonic() - started

    result, elapsed = run(go())
    assert result.isError
    assert "1000 ms" in text_of(result)
    assert 0.9 <= elapsed < 3.0, f"took {elapsed:.2f}s"


def test_fast_enough_backend_is_not_timed_out(gw):
    result = call(gw.url, "echo___sleep", {"seconds": 0.2})
    assert not result.isError, text_of(result)


def test_method_outside_allowed_methods_is_a_tool_error(gw):
    result = call(gw.url, "echo___deleteItem", {"itemId": "1"})
    assert result.isError
    assert "allowedMethods" in text_of(result)


def test_wrong_argument_type_is_a_tool_error(gw):
    result = call(gw.url, "echo___failWithStatus", {"code": "not-a-number"})
    assert result.isError


def test_rate_limit_is_a_tool_error(gw):
    """`limited` allows bursts of 2 at 1 call/s: the third call in a row is refused."""

    async def go():
        async with mcp_session(gw.url) as (session, _):
            return [await session.call_tool("limited___getItem", {"itemId": str(i)}) for i in range(3)]

    first, second, third = run(go())
    assert not first.isError and not second.isError
    assert third.isError
    assert "Rate limit exceeded" in text_of(third)
