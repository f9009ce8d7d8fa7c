"""Lists and calls a tool with the current `mcp` 2.x Python SDK (run from pytest in its own venv).

Usage: mcp2_client.py URL MODE TOOL ARGS_JSON
MODE is the SDK's connect mode: `auto` (server/discover, i.e. the stateless 2026-07-28 revision
when the server offers it) or `legacy` (the initialize handshake). Prints one JSON object.
"""

import asyncio
import json
import sys

from mcp import Client


async def main(url: str, mode: str, tool: str, args: dict) -> dict:
    async with Client(url, mode=mode) as client:
        names: list[str] = []
        schemas: dict[str, dict] = {}
        cursor = None
        pages = 0
        while True:
            page = await client.list_tools(cursor=cursor)
            pages += 1
            for t in page.tools:
                names.append(t.name)
                schemas[t.name] = t.input_schema
            cursor = page.next_cursor
            if not cursor or pages > 50:
                break
        result = await client.call_tool(tool, args)
        return {
            "protocol_version": client.protocol_version,
            "server_name": client.server_info.name if client.server_info else None,
            "tools": names,
            "pages": pages,
            "input_schema": schemas.get(tool),
            "is_error": result.is_error,
            "content": [c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in result.content],
            "structured_content": result.structured_content,
        }


if __name__ == "__main__":
    url, mode, tool, args = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    print(json.dumps(asyncio.run(main(url, mode, tool, args))))
