"""A client calling one tool continuously on one session while a test changes the config
(hot reload, change floods): every call must return its own echoed argument."""

from __future__ import annotations

import asyncio
import threading

from conftest import mcp_session, text_of


class CallLoop(threading.Thread):
    """Calls `echo___getItem` on one session until stopped (and at least `min_calls` times, at
    most `max_calls`). Failures are collected, never raised, so the test can report them all."""

    def __init__(self, url: str, min_calls: int = 0, max_calls: int = 20000):
        super().__init__(daemon=True)
        self.url = url
        self.min_calls = min_calls
        self.max_calls = max_calls
        self.stop_requested = threading.Event()
        self.calls = 0
        self.failures: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._loop())
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e

    async def _loop(self) -> None:
        async with mcp_session(self.url) as (session, _):
            while not (self.stop_requested.is_set() and self.calls >= self.min_calls):
                item = f"call-{self.calls}"
                try:
                    result = await session.call_tool("echo___getItem", {"itemId": item})
                    if result.isError:
                        self.failures.append(f"call {self.calls}: isError: {text_of(result)}")
                    elif item not in text_of(result):
                        self.failures.append(f"call {self.calls}: unexpected result {text_of(result)[:200]}")
                except Exception as e:  # noqa: BLE001 - every failure counts
                    self.failures.append(f"call {self.calls}: {type(e).__name__}: {e}")
                self.calls += 1
                if self.calls > self.max_calls:
                    break
