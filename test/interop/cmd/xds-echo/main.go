// Command xds-echo is grpc-go as a proxyless xDS client of Meridian, for the end-to-end tests:
// it dials an xds:/// target with the bootstrap named by GRPC_XDS_BOOTSTRAP and calls
// testkit's echo service (JSON messages, /meridian.testkit.Echo/Echo).
//
// Each line on stdin is a number of calls to make; each call prints one JSON line on stdout,
// {"backend":...,"cluster":...} or {"error":...}, so the test sees which backend answered.
// The channel stays open between lines, as a real client's would, so xDS updates reach it.
//
// --xds-creds: the channel's security comes from xDS (grpc-go's xds credentials): mTLS with
// the bootstrap's certificate provider where the cluster Meridian sends says so, plaintext
// where it does not.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	xdscreds "google.golang.org/grpc/credentials/xds"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/metadata"
	_ "google.golang.org/grpc/xds" // registers the xds:/// resolver and the xDS balancers
)

// jsonCodec speaks testkit's echo service, which has no .proto file.
type jsonCodec struct{}

func (jsonCodec) Marshal(v any) ([]byte, error)   { return json.Marshal(v) }
func (jsonCodec) Unmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
func (jsonCodec) Name() string                    { return "json" }

var _ encoding.Codec = jsonCodec{}

type echoRequest struct {
	Message string `json:"message"`
}

type echoReply struct {
	Cluster string `json:"cluster,omitempty"`
	Backend string `json:"backend,omitempty"`
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

func main() {
	target := flag.String("target", "", "xds:///host:port")
	deadline := flag.Duration("deadline", 5*time.Second, "deadline of each call")
	fromXds := flag.Bool("xds-creds", false, "security from xDS (mTLS where Meridian's cluster says so)")
	var headers headerFlags
	flag.Var(&headers, "header", "request metadata name=value sent with every call (repeatable)")
	flag.Parse()
	if *target == "" || os.Getenv("GRPC_XDS_BOOTSTRAP") == "" {
		fmt.Fprintln(os.Stderr, "usage: GRPC_XDS_BOOTSTRAP=bootstrap.json xds-echo --target xds:///host:port")
		os.Exit(2)
	}
	creds := insecure.NewCredentials()
	if *fromXds {
		var err error
		if creds, err = xdscreds.NewClientCredentials(xdscreds.ClientOptions{FallbackCreds: insecure.NewCredentials()}); err != nil {
			fmt.Fprintf(os.Stderr, "xds credentials: %v\n", err)
			os.Exit(1)
		}
	}
	conn, err := grpc.NewClient(*target, grpc.WithTransportCredentials(creds))
	if err != nil {
		fmt.Fprintf(os.Stderr, "dial %s: %v\n", *target, err)
		os.Exit(1)
	}
	defer conn.Close()

	out := json.NewEncoder(os.Stdout)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		n, err := strconv.Atoi(strings.TrimSpace(in.Text()))
		if err != nil {
			_ = out.Encode(echoReply{Error: fmt.Sprintf("not a number of calls: %q", in.Text())})
			continue
		}
		for i := 0; i < n; i++ {
			_ = out.Encode(call(conn, *deadline, fmt.Sprintf("call %d", i), headers))
		}
	}
}

// headerFlags collects --header name=value pairs: what route header matches see.
type headerFlags []string

func (h *headerFlags) String() string { return strings.Join(*h, ",") }
func (h *headerFlags) Set(v string) error {
	if !strings.Contains(v, "=") {
		return fmt.Errorf("--header takes name=value, got %q", v)
	}
	*h = append(*h, v)
	return nil
}

func call(conn *grpc.ClientConn, deadline time.Duration, message string, headers headerFlags) echoReply {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	for _, kv := range headers {
		name, value, _ := strings.Cut(kv, "=")
		ctx = metadata.AppendToOutgoingContext(ctx, name, value)
	}
	var reply echoReply
	if err := conn.Invoke(ctx, "/meridian.testkit.Echo/Echo", &echoRequest{Message: message}, &reply, grpc.ForceCodec(jsonCodec{})); err != nil {
		return echoReply{Error: err.Error()}
	}
	return reply
}
