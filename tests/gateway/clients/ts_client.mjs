// The official TypeScript MCP SDK against the gateway: connect over streamable HTTP, list every
// tool (following cursors), call one, and print one JSON line with what it saw.
//   TOOLYARD_NODE_MODULES=<dir with @modelcontextprotocol/sdk> node ts_client.mjs <url> <tool> <json-args>
// The SDK is installed in the test cache, not beside this file, so it is imported by path.
import path from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.env.TOOLYARD_NODE_MODULES;
const sdk = (p) => import(pathToFileURL(path.join(modules, "@modelcontextprotocol/sdk/dist/esm", p)).href);
const { Client } = await sdk("client/index.js");
const { StreamableHTTPClientTransport } = await sdk("client/streamableHttp.js");

const [url, tool, rawArgs] = process.argv.slice(2);
const client = new Client({ name: "toolyard-ts-test", version: "1.0.0" });
const transport = new StreamableHTTPClientTransport(new URL(url));
await client.connect(transport);

const tools = [];
let cursor;
do {
  const page = await client.listTools(cursor ? { cursor } : {});
  tools.push(...page.tools);
  cursor = page.nextCursor;
} while (cursor);

const result = await client.callTool({ name: tool, arguments: JSON.parse(rawArgs) });
console.log(JSON.stringify({
  protocolVersion: transport.protocolVersion ?? null,
  sessionId: transport.sessionId ?? null,
  tools: tools.map((t) => t.name),
  inputSchema: tools.find((t) => t.name === tool)?.inputSchema ?? null,
  isError: result.isError ?? false,
  content: result.content,
  structuredContent: result.structuredContent ?? null,
}));
await transport.terminateSession().catch(() => {});
await client.close();
