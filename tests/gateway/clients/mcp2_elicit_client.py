"""Calls an upstream tool that asks for the user's name (elicitation) through the gateway, with the
current `mcp` 2.x Python SDK (run from pytest in its own venv).

Usage: mcp2_elicit_client.py URL MODE TOOL NAME
In `auto` mode (2026-07-28) the gateway answers with an InputRequiredResult and the SDK's MRTR
loop calls the elicitation callback and repeats the call; in `legacy` mode the gateway relays the
upstream's elicitation/create request to the callback on the session. Prints one JSON object.
"""

import asyncio
import json
import sys

from mcp import Client, types


async def main(url: str, mode: str, tool: str, name: str) -> dict:
    asked: list[str] = []

    async def on_elicit(context, params):
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"name": name})

    async with Client(url, mode=mode, elicitation_callback=on_elicit) as client:
        result = await client.call_tool(tool, {})
        return {
            "protocol_version": client.protocol_version,
            "asked": asked,
            "is_error": result.is_error,
            "text": "\n".join(c.text for c in result.content if getattr(c, "type", None) == "text"),
        }


if __name__ == "__main__":
    url, mode, tool, name = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    print(json.dumps(asyncio.run(main(url, mode, tool, name))))
