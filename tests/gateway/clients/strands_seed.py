"""The seed's Strands client code, run against a Toolyard gateway.

Verbatim from the seed (AgentCore Gateway + Strands, /work/shared/seed), except:
- the gateway URL and target name come from the environment (GATEWAY_URL, TARGET_NAME);
- the tool is the users API's `getUser` instead of the Lambda's `get_order_tool`;
- the Bedrock model and the Agent are left out: they need AWS. Where the seed printed
  `agent.tool_names`, the tool names from `list_tools_sync()` are printed.
- `token` is the access token in GATEWAY_TOKEN (the auth tests get one from their OpenID provider, as
  the seed gets one from Cognito); without it, any string (a gateway with inboundAuth `none`
  ignores the header).
"""

import os

from mcp.client.streamable_http import streamablehttp_client
from strands.tools.mcp.mcp_client import MCPClient

gatewayURL = os.environ["GATEWAY_URL"]
targetname = os.environ.get("TARGET_NAME", "users")
token = os.environ.get("GATEWAY_TOKEN", "not-a-real-token")


def create_streamable_http_transport():
    return streamablehttp_client(
        gatewayURL,
        headers={"Authorization": f"Bearer {token}"}
    )


client = MCPClient(create_streamable_http_transport)

with client:
    # Call the listTools
    tools = client.list_tools_sync()
    print(f"Tools loaded in the agent are {[tool.tool_name for tool in tools]}")

    # Call the MCP tool explicitly. The MCP Tool name and arguments must match with your AWS Lambda function or the OpenAPI/Smithy API
    result = client.call_tool_sync(
        tool_use_id="get-order-id-123-call-1",  # You can replace this with unique identifier.
        name=targetname+"___getUser",  # This is the tool name based on AWS Lambda target types. This will change based on the target name
        arguments={"userId": "123"}
    )

    # Print the MCP Tool response
    print(f"Tool Call result: {result['content'][0]['text']}")
    print(f"Tool Call status: {result['status']}")
