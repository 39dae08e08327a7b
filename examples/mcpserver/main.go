// Command mcpserver is a small MCP server to put behind Caddy's mcp_auth in
// the demo. It speaks Streamable HTTP at /mcp and offers a few tools, two
// resources and a prompt, among them things a reader role must not reach:
// the tool delete_record and the resource file:///private/secrets.txt.
//
//	go run ./examples/mcpserver -addr 127.0.0.1:3001
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type echoArgs struct {
	Text string `json:"text" jsonschema:"the text to echo"`
}

type addArgs struct {
	A float64 `json:"a" jsonschema:"the first number"`
	B float64 `json:"b" jsonschema:"the second number"`
}

type deleteArgs struct {
	ID string `json:"id" jsonschema:"the id of the record to delete"`
}

type countArgs struct {
	N int `json:"n,omitempty" jsonschema:"how many steps to count (default 5, at most 50)"`
}

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

func newServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "mcp-auth-example", Version: "v0.1.0"}, nil)

	mcp.AddTool(s, &mcp.Tool{Name: "echo", Description: "Returns its text."},
		func(_ context.Context, _ *mcp.CallToolRequest, in echoArgs) (*mcp.CallToolResult, any, error) {
			return text(in.Text), nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "get_time", Description: "Returns the server's time (RFC 3339)."},
		func(context.Context, *mcp.CallToolRequest, any) (*mcp.CallToolResult, any, error) {
			return text(time.Now().Format(time.RFC3339)), nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "add", Description: "Adds two numbers."},
		func(_ context.Context, _ *mcp.CallToolRequest, in addArgs) (*mcp.CallToolResult, any, error) {
			return text(fmt.Sprint(in.A + in.B)), nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{
		Name:        "delete_record",
		Description: "Deletes a record (pretends to). A dangerous tool: the demo's roles deny it.",
		Annotations: &mcp.ToolAnnotations{DestructiveHint: new(true)},
	}, func(_ context.Context, _ *mcp.CallToolRequest, in deleteArgs) (*mcp.CallToolResult, any, error) {
		return text("deleted record " + in.ID + " (not really)"), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{
		Name:        "slow_count",
		Description: "Counts to n, one step every 200ms, sending a progress notification for each step when the request has a progress token.",
	}, func(ctx context.Context, req *mcp.CallToolRequest, in countArgs) (*mcp.CallToolResult, any, error) {
		n := in.N
		if n <= 0 {
			n = 5
		}
		n = min(n, 50)
		token := req.Params.GetProgressToken()
		for i := 1; i <= n; i++ {
			select {
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
			if token != nil {
				err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
					ProgressToken: token,
					Progress:      float64(i),
					Total:         float64(n),
					Message:       fmt.Sprintf("step %d of %d", i, n),
				})
				if err != nil {
					return nil, nil, err
				}
			}
		}
		return text(fmt.Sprintf("counted to %d", n)), nil, nil
	})

	s.AddResource(&mcp.Resource{
		URI: "file:///docs/readme.md", Name: "readme", MIMEType: "text/markdown",
		Description: "Public documentation.",
	}, staticResource("text/markdown", "# Example\n\nThis document is readable by every role.\n"))
	s.AddResource(&mcp.Resource{
		URI: "file:///private/secrets.txt", Name: "secrets", MIMEType: "text/plain",
		Description: "Private data: only the admin role may read it.",
	}, staticResource("text/plain", "the launch code is 0000\n"))

	s.AddPrompt(&mcp.Prompt{
		Name:        "summarize",
		Description: "Asks the model to summarize a text.",
		Arguments:   []*mcp.PromptArgument{{Name: "text", Description: "the text to summarize", Required: true}},
	}, func(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		return &mcp.GetPromptResult{
			Description: "Summarize a text",
			Messages: []*mcp.PromptMessage{{
				Role:    "user",
				Content: &mcp.TextContent{Text: "Summarize in one sentence:\n\n" + req.Params.Arguments["text"]},
			}},
		}, nil
	})
	return s
}

// staticResource serves fixed text for a resource.
func staticResource(mimeType, body string) mcp.ResourceHandler {
	return func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{
			{URI: req.Params.URI, MIMEType: mimeType, Text: body},
		}}, nil
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:3001", "address to listen on")
	jsonResponse := flag.Bool("json", false, "answer requests with application/json instead of an SSE stream")
	flag.Parse()

	server := newServer()
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{JSONResponse: *jsonResponse})
	mux := http.NewServeMux()
	mux.Handle("/mcp", handler)

	log.Printf("MCP server listening on http://%s/mcp", *addr)
	log.Fatal(http.ListenAndServe(*addr, mux))
}
