// A fixture MCP server for the conformance run through the gateway: the tools, prompts and
// resources the @modelcontextprotocol/conformance server scenarios call by name, written from the
// scenario descriptions (`conformance list --server`, each scenario's "Server Implementation
// Requirements"). Streamable HTTP with sessions (2025-11-25), on the TypeScript SDK's low-level
// `Server`, so every schema is served exactly as written here.
//
//   node --experimental-strip-types server.ts --port 3300 --sdk <dir of @modelcontextprotocol/sdk>
//
// Only erasable TypeScript syntax (type annotations) is used: Node 22 runs it without a build.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";

const { values: opts } = parseArgs({
  options: {
    port: { type: "string", default: "3300" },
    host: { type: "string", default: "127.0.0.1" },
    sdk: { type: "string" },
  },
});
const sdkDir: string | undefined = opts.sdk ?? process.env.TOOLYARD_MCP_SDK_DIR;
if (!sdkDir) {
  console.error("fixture-server: pass --sdk <path to node_modules/@modelcontextprotocol/sdk>");
  process.exit(2);
}
const { Server } = await import(`${sdkDir}/dist/esm/server/index.js`);
const { StreamableHTTPServerTransport } = await import(`${sdkDir}/dist/esm/server/streamableHttp.js`);
const types = await import(`${sdkDir}/dist/esm/types.js`);

// 1x1 red PNG and a tiny silent WAV (44-byte header + 2 samples).
const PNG =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
const WAV = Buffer.concat([
  Buffer.from("RIFF"), u32(40), Buffer.from("WAVEfmt "), u32(16), u16(1), u16(1), u32(8000),
  u32(16000), u16(2), u16(16), Buffer.from("data"), u32(4), Buffer.alloc(4),
]).toString("base64");
function u32(n: number): Buffer { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; }
function u16(n: number): Buffer { const b = Buffer.alloc(2); b.writeUInt16LE(n); return b; }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const noArgs = { type: "object", properties: {} };

const TOOLS = [
  { name: "test_simple_text", description: "Returns one text block", inputSchema: noArgs },
  { name: "test_image_content", description: "Returns a PNG image block", inputSchema: noArgs },
  { name: "test_audio_content", description: "Returns a WAV audio block", inputSchema: noArgs },
  { name: "test_embedded_resource", description: "Returns an embedded text resource", inputSchema: noArgs },
  { name: "test_multiple_content_types", description: "Returns text, image and resource blocks", inputSchema: noArgs },
  { name: "test_tool_with_logging", description: "Logs three info messages while it runs", inputSchema: noArgs },
  { name: "test_error_handling", description: "Always fails with isError", inputSchema: noArgs },
  { name: "test_tool_with_progress", description: "Reports progress 0, 50, 100 of 100", inputSchema: noArgs },
  {
    name: "test_sampling", description: "Asks the client's LLM (sampling/createMessage)",
    inputSchema: { type: "object", properties: { prompt: { type: "string" } }, required: ["prompt"] },
  },
  {
    name: "test_elicitation", description: "Asks the user for a username and email (elicitation/create)",
    inputSchema: { type: "object", properties: { message: { type: "string" } }, required: ["message"] },
  },
  { name: "test_elicitation_sep1034_defaults", description: "Elicitation with defaults for every primitive type", inputSchema: noArgs },
  { name: "test_elicitation_sep1330_enums", description: "Elicitation with the five enum shapes", inputSchema: noArgs },
  {
    name: "json_schema_2020_12_tool", description: "Tool with JSON Schema 2020-12 features",
    inputSchema: {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      type: "object",
      $defs: {
        address: {
          $anchor: "addressDef", type: "object",
          properties: { street: { type: "string" }, city: { type: "string" } },
        },
      },
      properties: {
        name: { type: "string" },
        address: { $ref: "#/$defs/address" },
        contactMethod: { type: "string", enum: ["phone", "email"] },
        phone: { type: "string" },
        email: { type: "string" },
      },
      allOf: [{ anyOf: [{ required: ["phone"] }, { required: ["email"] }] }],
      if: { properties: { contactMethod: { const: "phone" } }, required: ["contactMethod"] },
      then: { required: ["phone"] },
      else: { required: ["email"] },
      additionalProperties: false,
    },
  },
];

// MRTR scenarios (SEP-2322, 2026-07-28) the 2025-11-25 way: these tools ask the client in the
// middle of the call (elicitation/create, sampling/createMessage, roots/list) and wait. The
// gateway turns each question into an InputRequiredResult for a 2026-07-28 caller and answers it
// from the caller's inputResponses when the call is repeated. `_meta["dev.toolyard/inputKey"]`
// names the question (the key the scenarios look for); without it the gateway numbers them.
TOOLS.push(
  { name: "test_input_required_result_elicitation", description: "Asks for the user's name (elicitation)", inputSchema: noArgs },
  { name: "test_input_required_result_sampling", description: "Asks the client's LLM for the capital of France (sampling)", inputSchema: noArgs },
  { name: "test_input_required_result_list_roots", description: "Asks for the client's roots (roots/list)", inputSchema: noArgs },
  { name: "test_input_required_result_request_state", description: "Asks for a confirmation (elicitation)", inputSchema: noArgs },
  { name: "test_input_required_result_multiple_inputs", description: "Asks for a name, a greeting and the roots at once", inputSchema: noArgs },
  { name: "test_input_required_result_multi_round", description: "Asks for a name, then for a color", inputSchema: noArgs },
  { name: "test_input_required_result_tampered_state", description: "Asks for a confirmation (elicitation)", inputSchema: noArgs },
  { name: "test_input_required_result_capabilities", description: "Asks by elicitation and by sampling, uses what the client supports", inputSchema: noArgs },
  // server-stateless (SEP-2575) diagnostics: a tool that cannot work without sampling, one that
  // elicits while it runs, one that logs while it runs.
  { name: "test_missing_capability", description: "Needs the client's LLM (sampling); fails without it", inputSchema: noArgs },
  { name: "test_streaming_elicitation", description: "Asks for the user's name (elicitation) while it runs", inputSchema: noArgs },
  { name: "test_logging_tool", description: "Logs while it runs", inputSchema: noArgs },
);

TOOLS.push(
  { name: "test_trigger_tool_change", description: "Adds or removes a dynamic tool and announces tools/list_changed", inputSchema: noArgs },
  { name: "test_trigger_prompt_change", description: "Adds or removes a dynamic prompt and announces prompts/list_changed", inputSchema: noArgs },
);
// Toggled by the trigger tools; shared by every session, which all hear about the change.
const dynamic = { tool: false, prompt: false };
const DYNAMIC_TOOL = { name: "test_dynamic_tool", description: "Appears and disappears with test_trigger_tool_change", inputSchema: noArgs };
const DYNAMIC_PROMPT = { name: "test_dynamic_prompt", description: "Appears and disappears with test_trigger_prompt_change" };
const servers = new Set<any>();

const text = (t: string) => ({ type: "text", text: t });

async function callTool(server: any, name: string, args: any, extra: any) {
  const log = (data: string) =>
    server.sendLoggingMessage({ level: "info", logger: "fixture", data }, extra.sessionId);
  switch (name) {
    case "test_simple_text":
      return { content: [text("This is a simple text response for testing.")] };
    case "test_image_content":
      return { content: [{ type: "image", data: PNG, mimeType: "image/png" }] };
    case "test_audio_content":
      return { content: [{ type: "audio", data: WAV, mimeType: "audio/wav" }] };
    case "test_embedded_resource":
      return {
        content: [{
          type: "resource",
          resource: { uri: "test://embedded-resource", mimeType: "text/plain", text: "This is an embedded resource content." },
        }],
      };
    case "test_multiple_content_types":
      return {
        content: [
          text("Multiple content types test:"),
          { type: "image", data: PNG, mimeType: "image/png" },
          {
            type: "resource",
            resource: { uri: "test://mixed-content-resource", mimeType: "application/json", text: JSON.stringify({ test: "data", value: 123 }) },
          },
        ],
      };
    case "test_tool_with_logging":
      await log("Tool execution started");
      await sleep(50);
      await log("Tool processing data");
      await sleep(50);
      await log("Tool execution completed");
      return { content: [text("Tool with logging executed successfully")] };
    case "test_error_handling":
      return { isError: true, content: [text("This tool intentionally returns an error for testing")] };
    case "test_tool_with_progress": {
      const token = extra._meta?.progressToken;
      for (const progress of [0, 50, 100]) {
        if (token !== undefined) {
          await extra.sendNotification({ method: "notifications/progress", params: { progressToken: token, progress, total: 100 } });
        }
        if (progress < 100) await sleep(50);
      }
      return { content: [text(`Progress reported${token === undefined ? " (no token given)" : ""}`)] };
    }
    case "test_sampling": {
      const result = await extra.sendRequest(
        { method: "sampling/createMessage", params: { messages: [{ role: "user", content: text(String(args.prompt ?? "")) }], maxTokens: 100 } },
        types.CreateMessageResultSchema,
      );
      const reply = result.content?.type === "text" ? result.content.text : JSON.stringify(result.content);
      return { content: [text(`LLM response: ${reply}`)] };
    }
    case "test_elicitation": {
      const result = await elicit(extra, String(args.message ?? ""), {
        type: "object",
        properties: {
          username: { type: "string", description: "User's response" },
          email: { type: "string", description: "User's email address" },
        },
        required: ["username", "email"],
      });
      return { content: [text(`User response: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`)] };
    }
    case "test_elicitation_sep1034_defaults": {
      const result = await elicit(extra, "Please review and update the form fields with defaults", {
        type: "object",
        properties: {
          name: { type: "string", description: "User name", default: "John Doe" },
          age: { type: "integer", description: "User age", default: 30 },
          score: { type: "number", description: "User score", default: 95.5 },
          status: { type: "string", description: "User status", enum: ["active", "inactive", "pending"], default: "active" },
          verified: { type: "boolean", description: "Verification status", default: true },
        },
      });
      return { content: [text(`Elicitation completed: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`)] };
    }
    case "test_elicitation_sep1330_enums": {
      const result = await elicit(extra, "Please select options from the enum fields", {
        type: "object",
        properties: {
          untitledSingle: { type: "string", description: "Pick one", enum: ["option1", "option2", "option3"] },
          titledSingle: {
            type: "string", description: "Pick one (titled)",
            oneOf: [{ const: "value1", title: "First Option" }, { const: "value2", title: "Second Option" }, { const: "value3", title: "Third Option" }],
          },
          legacyEnum: {
            type: "string", description: "Pick one (legacy titles)",
            enum: ["opt1", "opt2", "opt3"], enumNames: ["Option One", "Option Two", "Option Three"],
          },
          untitledMulti: {
            type: "array", description: "Pick several",
            items: { type: "string", enum: ["option1", "option2", "option3"] },
          },
          titledMulti: {
            type: "array", description: "Pick several (titled)",
            items: { anyOf: [{ const: "value1", title: "First Choice" }, { const: "value2", title: "Second Choice" }, { const: "value3", title: "Third Choice" }] },
          },
        },
      });
      return { content: [text(`Elicitation completed: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`)] };
    }
    case "test_input_required_result_elicitation": {
      const r = await askName(extra, "user_name", "What is your name?");
      return { content: [text(`Hello, ${r.content?.name ?? "stranger"}!`)] };
    }
    case "test_input_required_result_sampling": {
      const r = await sample(extra, "capital_question", "What is the capital of France?", 100);
      return { content: [text(`LLM response: ${r.content?.type === "text" ? r.content.text : JSON.stringify(r.content)}`)] };
    }
    case "test_input_required_result_list_roots": {
      const r = await roots(extra, "client_roots");
      return { content: [text(`Roots: ${(r.roots ?? []).map((x: any) => x.uri).join(", ")}`)] };
    }
    case "test_input_required_result_request_state":
    case "test_input_required_result_tampered_state": {
      const r = await ask(extra, "confirm", "Please confirm", {
        type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"],
      });
      return { content: [text(`Confirmed: ok=${r.content?.ok} (state-ok)`)] };
    }
    case "test_input_required_result_multiple_inputs": {
      // Asked concurrently, so all three questions reach the client in one round.
      const [name, greeting, rootList] = await Promise.all([
        askName(extra, "user_name", "What is your name?"),
        sample(extra, "greeting", "Generate a greeting", 50),
        roots(extra, "client_roots"),
      ]);
      const said = greeting.content?.type === "text" ? greeting.content.text : "";
      return { content: [text(`${said} ${name.content?.name ?? ""} (${(rootList.roots ?? []).length} roots)`)] };
    }
    case "test_input_required_result_multi_round": {
      const name = await askName(extra, "step1", "Step 1: What is your name?");
      const color = await ask(extra, "step2", "Step 2: What is your favorite color?", {
        type: "object", properties: { color: { type: "string" } }, required: ["color"],
      });
      return { content: [text(`${name.content?.name ?? ""} likes ${color.content?.color ?? ""}`)] };
    }
    case "test_input_required_result_capabilities": {
      // Either question may be refused (the client lacks the capability): use what comes back.
      const [e, s] = await Promise.allSettled([
        askName(extra, "user_name", "What is your name?"),
        sample(extra, "capital_question", "What is the capital of France?", 100),
      ]);
      return { content: [text(`elicitation: ${e.status}, sampling: ${s.status}`)] };
    }
    case "test_missing_capability": {
      const r = await sample(extra, "summary", "Summarize the weather", 50);
      return { content: [text(`LLM response: ${r.content?.type === "text" ? r.content.text : ""}`)] };
    }
    case "test_streaming_elicitation": {
      const r = await askName(extra, "user_name", "What is your name?");
      return { content: [text(`Hello, ${r.content?.name ?? "stranger"}!`)] };
    }
    case "test_logging_tool":
      await log("logging tool started");
      await log("logging tool finished");
      return { content: [text("Logged two messages")] };
    case "test_trigger_tool_change":
      dynamic.tool = !dynamic.tool;
      for (const s of servers) await s.sendToolListChanged().catch(() => {});
      return { content: [text(`test_dynamic_tool is now ${dynamic.tool ? "listed" : "gone"}`)] };
    case "test_trigger_prompt_change":
      dynamic.prompt = !dynamic.prompt;
      for (const s of servers) await s.sendPromptListChanged().catch(() => {});
      return { content: [text(`test_dynamic_prompt is now ${dynamic.prompt ? "listed" : "gone"}`)] };
    case "test_dynamic_tool":
      return { content: [text("dynamic tool called")] };
    case "json_schema_2020_12_tool":
      return { content: [text(`Received: ${JSON.stringify(args)}`)] };
    default:
      throw new types.McpError(types.ErrorCode.InvalidParams, `Unknown tool: ${name}`);
  }
}

function elicit(extra: any, message: string, requestedSchema: object) {
  return extra.sendRequest({ method: "elicitation/create", params: { message, requestedSchema } }, types.ElicitResultSchema);
}

const inputKey = (key: string) => ({ _meta: { "dev.toolyard/inputKey": key } });

function ask(extra: any, key: string, message: string, requestedSchema: object) {
  return extra.sendRequest(
    { method: "elicitation/create", params: { message, requestedSchema, ...inputKey(key) } },
    types.ElicitResultSchema,
  );
}

function askName(extra: any, key: string, message: string) {
  return ask(extra, key, message, { type: "object", properties: { name: { type: "string" } }, required: ["name"] });
}

function sample(extra: any, key: string, question: string, maxTokens: number) {
  return extra.sendRequest(
    { method: "sampling/createMessage", params: { messages: [{ role: "user", content: text(question) }], maxTokens, ...inputKey(key) } },
    types.CreateMessageResultSchema,
  );
}

function roots(extra: any, key: string) {
  return extra.sendRequest({ method: "roots/list", params: inputKey(key) }, types.ListRootsResultSchema);
}

const PROMPTS = [
  { name: "test_simple_prompt", description: "A prompt without arguments" },
  {
    name: "test_prompt_with_arguments", description: "A prompt with two required arguments",
    arguments: [
      { name: "arg1", description: "First test argument", required: true },
      { name: "arg2", description: "Second test argument", required: true },
    ],
  },
  {
    name: "test_prompt_with_embedded_resource", description: "A prompt embedding a resource",
    arguments: [{ name: "resourceUri", description: "URI of the resource to embed", required: true }],
  },
  { name: "test_prompt_with_image", description: "A prompt with an image" },
  { name: "test_input_required_result_prompt", description: "Asks for the context to use (elicitation) before it answers" },
];

async function getPrompt(name: string, args: Record<string, string>, extra: any) {
  const user = (content: object) => ({ role: "user", content });
  switch (name) {
    case "test_input_required_result_prompt": {
      const r = await ask(extra, "user_context", "What context should the prompt use?", {
        type: "object", properties: { context: { type: "string" } }, required: ["context"],
      });
      return { messages: [user(text(`Use this context: ${r.content?.context ?? ""}`))] };
    }
    case "test_simple_prompt":
      return { messages: [user(text("This is a simple prompt for testing."))] };
    case "test_prompt_with_arguments":
      return { messages: [user(text(`Prompt with arguments: arg1='${args.arg1}', arg2='${args.arg2}'`))] };
    case "test_prompt_with_embedded_resource":
      return {
        messages: [
          user({ type: "resource", resource: { uri: args.resourceUri, mimeType: "text/plain", text: "Embedded resource content for testing." } }),
          user(text("Please process the embedded resource above.")),
        ],
      };
    case "test_dynamic_prompt":
      return { messages: [user(text("dynamic prompt"))] };
    case "test_prompt_with_image":
      return { messages: [user({ type: "image", data: PNG, mimeType: "image/png" }), user(text("Please analyze the image above."))] };
    default:
      throw new types.McpError(types.ErrorCode.InvalidParams, `Unknown prompt: ${name}`);
  }
}

const RESOURCES = [
  { uri: "test://static-text", name: "static-text", description: "A static text resource", mimeType: "text/plain" },
  { uri: "test://static-binary", name: "static-binary", description: "A static PNG resource", mimeType: "image/png" },
  { uri: "test://watched-resource", name: "watched-resource", description: "A resource clients may subscribe to", mimeType: "text/plain" },
];
const TEMPLATES = [
  { uriTemplate: "test://template/{id}/data", name: "template-data", description: "Data for an id", mimeType: "application/json" },
];

function readResource(uri: string) {
  if (uri === "test://static-text") {
    return { contents: [{ uri, mimeType: "text/plain", text: "This is the content of the static text resource." }] };
  }
  if (uri === "test://static-binary") return { contents: [{ uri, mimeType: "image/png", blob: PNG }] };
  if (uri === "test://watched-resource") return { contents: [{ uri, mimeType: "text/plain", text: "Watched resource content." }] };
  const m = /^test:\/\/template\/([^/]+)\/data$/.exec(uri);
  if (m) {
    const id = m[1];
    return { contents: [{ uri, mimeType: "application/json", text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }) }] };
  }
  throw new types.McpError(types.ErrorCode.InvalidParams, `Resource not found: ${uri}`, { uri });
}

function newServer() {
  const server = new Server(
    { name: "toolyard-conformance-fixture", version: "1.0.0" },
    {
      capabilities: {
        tools: { listChanged: true },
        prompts: { listChanged: true },
        resources: { subscribe: true, listChanged: true },
        logging: {},
        completions: {},
      },
    },
  );
  server.setRequestHandler(types.ListToolsRequestSchema, async () => ({ tools: dynamic.tool ? [...TOOLS, DYNAMIC_TOOL] : TOOLS }));
  server.setRequestHandler(types.CallToolRequestSchema, async (req: any, extra: any) =>
    callTool(server, req.params.name, req.params.arguments ?? {}, extra));
  server.setRequestHandler(types.ListPromptsRequestSchema, async () => ({ prompts: dynamic.prompt ? [...PROMPTS, DYNAMIC_PROMPT] : PROMPTS }));
  server.setRequestHandler(types.GetPromptRequestSchema, async (req: any, extra: any) =>
    getPrompt(req.params.name, req.params.arguments ?? {}, extra));
  server.setRequestHandler(types.ListResourcesRequestSchema, async () => ({ resources: RESOURCES }));
  server.setRequestHandler(types.ListResourceTemplatesRequestSchema, async () => ({ resourceTemplates: TEMPLATES }));
  server.setRequestHandler(types.ReadResourceRequestSchema, async (req: any) => readResource(req.params.uri));
  server.setRequestHandler(types.SubscribeRequestSchema, async () => ({}));
  server.setRequestHandler(types.UnsubscribeRequestSchema, async () => ({}));
  server.setRequestHandler(types.SetLevelRequestSchema, async () => ({}));
  server.setRequestHandler(types.CompleteRequestSchema, async (req: any) => {
    const prefix = String(req.params.argument?.value ?? "");
    const values = ["paris", "park", "party", "test", "testing"].filter((v) => v.startsWith(prefix));
    return { completion: { values, total: values.length, hasMore: false } };
  });
  return server;
}

const sessions = new Map<string, any>();

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks).toString("utf8");
  return raw ? JSON.parse(raw) : undefined;
}

async function handle(req: IncomingMessage, res: ServerResponse) {
  if (!req.url?.startsWith("/mcp")) {
    res.writeHead(404).end();
    return;
  }
  const body = req.method === "POST" ? await readBody(req) : undefined;
  const sid = req.headers["mcp-session-id"];
  let transport = typeof sid === "string" ? sessions.get(sid) : undefined;
  if (!transport) {
    if (req.method !== "POST" || !types.isInitializeRequest(body)) {
      res.writeHead(typeof sid === "string" ? 404 : 400, { "content-type": "application/json" });
      res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32000, message: "no valid session; initialize first" } }));
      return;
    }
    transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id: string) => sessions.set(id, transport),
    });
    const server = newServer();
    servers.add(server);
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
      servers.delete(server);
    };
    await server.connect(transport);
  }
  await transport.handleRequest(req, res, body);
}

createServer((req, res) => {
  handle(req, res).catch((e) => {
    console.error("fixture-server:", e);
    if (!res.headersSent) res.writeHead(500).end();
  });
}).listen(Number(opts.port), opts.host, () => {
  console.log(`fixture MCP server on http://${opts.host}:${opts.port}/mcp`);
});
