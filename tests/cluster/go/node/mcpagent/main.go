// mcpagent is the test cluster's in-pod agent: a real MCP client (the official Go SDK) that lists
// and calls a gateway's tools over streamable HTTP, at a chosen protocol revision (2025-06-18 with
// a session, 2026-07-28 stateless), runs a bounded call loop that counts failures, or watches the
// tool list and prints when each tool appears (propagation measurements).
//
//	mcpagent [flags] list
//	mcpagent [flags] call TOOL [JSON-ARGS]
//	mcpagent [flags] loop TOOL [JSON-ARGS]      # -duration, -interval; exit 1 on any failed call
//	mcpagent [flags] watch                      # prints `seen NAME UNIX_NANOS` / `gone NAME ...`
//
// Flags: -url (default $MCP_URL), -protocol, -bearer-file (an Authorization: Bearer token read
// from a file before each request, so a projected token's rotation is followed).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

var (
	url        = flag.String("url", os.Getenv("MCP_URL"), "MCP endpoint, e.g. http://gw.ns.svc.cluster.local/mcp")
	protocol   = flag.String("protocol", "2025-06-18", "MCP revision to ask for (2025-06-18, 2025-11-25, 2026-07-28)")
	bearerFile = flag.String("bearer-file", "", "file holding a bearer token sent with every request")
	duration   = flag.Duration("duration", 30*time.Second, "loop: how long to call")
	interval   = flag.Duration("interval", 50*time.Millisecond, "loop: pause between calls; watch: between lists")
	timeout    = flag.Duration("timeout", 10*time.Second, "timeout of one request")
)

// bearer adds the token from -bearer-file to every request.
type bearer struct{ next http.RoundTripper }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	tok, err := os.ReadFile(*bearerFile)
	if err != nil {
		return nil, fmt.Errorf("reading the bearer token: %w", err)
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	return b.next.RoundTrip(r)
}

func connect(ctx context.Context) (*mcp.ClientSession, error) {
	hc := &http.Client{Timeout: *timeout}
	if *bearerFile != "" {
		hc.Transport = bearer{http.DefaultTransport}
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "toolyard-test-agent", Version: "1"}, nil)
	t := &mcp.StreamableClientTransport{Endpoint: *url, HTTPClient: hc, DisableStandaloneSSE: true, MaxRetries: -1}
	cs, err := client.Connect(ctx, t, &mcp.ClientSessionOptions{ProtocolVersion: *protocol})
	if err != nil {
		return nil, fmt.Errorf("connecting to %s at %s: %w", *url, *protocol, err)
	}
	if got := cs.InitializeResult().ProtocolVersion; got != *protocol {
		cs.Close()
		return nil, fmt.Errorf("asked for protocol %s, the server negotiated %s", *protocol, got)
	}
	return cs, nil
}

func toolNames(ctx context.Context, cs *mcp.ClientSession) ([]string, error) {
	var names []string
	for t, err := range cs.Tools(ctx, nil) {
		if err != nil {
			return nil, err
		}
		names = append(names, t.Name)
	}
	return names, nil
}

func call(ctx context.Context, cs *mcp.ClientSession, tool string, args map[string]any) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			b.WriteString(t.Text)
		}
	}
	if res.IsError {
		return b.String(), errors.New("tool error: " + b.String())
	}
	return b.String(), nil
}

func parseArgs(a []string) (string, map[string]any, error) {
	if len(a) < 1 {
		return "", nil, errors.New("missing TOOL")
	}
	args := map[string]any{}
	if len(a) > 1 {
		if err := json.Unmarshal([]byte(a[1]), &args); err != nil {
			return "", nil, fmt.Errorf("JSON-ARGS is not a JSON object: %w", err)
		}
	}
	return a[0], args, nil
}

func run() error {
	flag.Parse()
	if *url == "" {
		return errors.New("no endpoint: pass -url or set MCP_URL")
	}
	ctx := context.Background()
	switch cmd, rest := flag.Arg(0), flag.Args(); cmd {
	case "list":
		cs, err := connect(ctx)
		if err != nil {
			return err
		}
		defer cs.Close()
		names, err := toolNames(ctx, cs)
		if err != nil {
			return fmt.Errorf("tools/list: %w", err)
		}
		fmt.Printf("protocol %s session %q tools %d\n", cs.InitializeResult().ProtocolVersion, cs.ID(), len(names))
		for _, n := range names {
			fmt.Println(n)
		}
	case "call":
		tool, args, err := parseArgs(rest[1:])
		if err != nil {
			return err
		}
		cs, err := connect(ctx)
		if err != nil {
			return err
		}
		defer cs.Close()
		out, err := call(ctx, cs, tool, args)
		if err != nil {
			return fmt.Errorf("tools/call %s: %w", tool, err)
		}
		fmt.Println(out)
	case "loop":
		return loop(ctx, rest[1:])
	case "watch":
		return watch(ctx)
	default:
		return fmt.Errorf("unknown command %q (list, call, loop, watch)", cmd)
	}
	return nil
}

// loop calls one tool on one session (the session must survive pod churn: any replica accepts
// it) until -duration has passed, and reports every failed call. It never reconnects: a lost
// session is a failure of every later call.
func loop(ctx context.Context, a []string) error {
	tool, args, err := parseArgs(a)
	if err != nil {
		return err
	}
	cs, err := connect(ctx)
	if err != nil {
		return err
	}
	defer cs.Close()
	calls, failed := 0, 0
	end := time.Now().Add(*duration)
	for time.Now().Before(end) {
		calls++
		if _, err := call(ctx, cs, tool, args); err != nil {
			failed++
			if failed <= 20 {
				fmt.Printf("failed call %d at %s: %v\n", calls, time.Now().Format(time.RFC3339Nano), err)
			}
		}
		time.Sleep(*interval)
	}
	fmt.Printf("loop protocol %s calls %d failed %d\n", *protocol, calls, failed)
	if failed > 0 {
		return fmt.Errorf("%d of %d calls failed", failed, calls)
	}
	return nil
}

// watch lists the tools every -interval and prints each name that appears or disappears with
// the wall-clock time it was first seen, for a test that compares it with when it applied a change
// (the pod and the test share the node's clock).
func watch(ctx context.Context) error {
	var cs *mcp.ClientSession
	known := map[string]bool{}
	first := true
	for {
		if cs == nil {
			var err error
			if cs, err = connect(ctx); err != nil {
				fmt.Println("error", err)
				time.Sleep(time.Second)
				continue
			}
		}
		names, err := toolNames(ctx, cs)
		if err != nil {
			fmt.Println("error", err)
			cs.Close()
			cs = nil
			continue
		}
		now := time.Now().UnixNano()
		seen := map[string]bool{}
		for _, n := range names {
			seen[n] = true
			if !known[n] && !first {
				fmt.Printf("seen %s %d\n", n, now)
			}
		}
		for n := range known {
			if !seen[n] {
				fmt.Printf("gone %s %d\n", n, now)
			}
		}
		if first {
			sorted := append([]string(nil), names...)
			sort.Strings(sorted)
			fmt.Printf("initial %d %s\n", now, strings.Join(sorted, ","))
			first = false
		}
		known = seen
		time.Sleep(*interval)
	}
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mcpagent:", err)
		os.Exit(1)
	}
}
