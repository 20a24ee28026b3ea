// Command gcp-server is envoyproxy/go-control-plane serving a snapshot that Meridian generated,
// the side-by-side peer of `pnpm bench xds`: same resources, same simulated proxies, so the
// full push time and memory per proxy of the two servers can be compared.
//
// --resources names a directory with Meridian's responses as it sent them (cds.pb, eds.pb:
// serialized DiscoveryResponse messages). Every proxy gets the same snapshot (one node group),
// as every simulated proxy gets the same view from Meridian.
//
// It prints {"listening":"host:port"} once serving, then answers one JSON line per stdin line:
//
//	push  a new snapshot version in which one cluster changed, as the bench's Service port
//	      change does in Meridian: {"pushAt": <epoch ms>} taken just before SetSnapshot
//	mem   after two forced GCs: {"heapAlloc", "stackInuse", "rss"} in bytes
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	// Registers ClusterLoadAssignment, so eds.pb's Any values can be unpacked.
	_ "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
)

// oneGroup puts every node in one snapshot group.
type oneGroup struct{}

func (oneGroup) ID(*core.Node) string { return "mesh" }

func main() {
	dir := flag.String("resources", "", "directory with cds.pb and eds.pb")
	listen := flag.String("listen", "127.0.0.1:0", "address to serve ADS on")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "usage: gcp-server --resources DIR [--listen host:port]")
		os.Exit(2)
	}
	clusters, err := load(filepath.Join(*dir, "cds.pb"))
	must(err)
	endpoints, err := load(filepath.Join(*dir, "eds.pb"))
	must(err)
	if len(clusters) == 0 {
		must(fmt.Errorf("%s/cds.pb has no clusters", *dir))
	}
	variants := [2][]types.Resource{clusters, withChangedCluster(clusters)}

	ctx := context.Background()
	// ads=false: in ADS mode the cache answers an EDS request only when it names every EDS
	// resource of the snapshot, and the simulated proxies watch one of the mesh's services.
	snapshots := cachev3.NewSnapshotCache(false, oneGroup{}, nil)
	version := 0
	set := func() {
		version++
		snap, err := cachev3.NewSnapshot(strconv.Itoa(version), map[resourcev3.Type][]types.Resource{
			resourcev3.ClusterType:  variants[version%2],
			resourcev3.EndpointType: endpoints,
		})
		must(err)
		must(snapshots.SetSnapshot(ctx, "mesh", snap))
	}
	set()

	grpcServer := grpc.NewServer()
	discoverygrpc.RegisterAggregatedDiscoveryServiceServer(grpcServer, serverv3.NewServer(ctx, snapshots, nil))
	lis, err := net.Listen("tcp", *listen)
	must(err)
	go func() { must(grpcServer.Serve(lis)) }()

	out := json.NewEncoder(os.Stdout)
	must(out.Encode(map[string]string{"listening": lis.Addr().String()}))
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch strings.TrimSpace(in.Text()) {
		case "push":
			at := float64(time.Now().UnixNano()) / 1e6
			set()
			must(out.Encode(map[string]float64{"pushAt": at}))
		case "mem":
			must(out.Encode(memory()))
		default:
			must(out.Encode(map[string]string{"error": fmt.Sprintf("unknown command %q", in.Text())}))
		}
	}
	grpcServer.Stop()
}

// load reads one serialized DiscoveryResponse and unpacks its resources.
func load(file string) ([]types.Resource, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var response discoverygrpc.DiscoveryResponse
	if err := proto.Unmarshal(raw, &response); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	resources := make([]types.Resource, 0, len(response.GetResources()))
	for _, a := range response.GetResources() {
		m, err := a.UnmarshalNew()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		resources = append(resources, m)
	}
	return resources, nil
}

// withChangedCluster is the cluster list with the last cluster's port changed (8080 ↔ 8081 in
// its name and EDS service name), what the bench's Service port change makes Meridian send.
func withChangedCluster(clusters []types.Resource) []types.Resource {
	changed := append([]types.Resource(nil), clusters...)
	last, ok := proto.Clone(changed[len(changed)-1]).(*clusterv3.Cluster)
	if !ok {
		must(fmt.Errorf("the last resource of cds.pb is not a Cluster"))
	}
	flip := func(name string) string {
		if strings.Contains(name, "|8080|") {
			return strings.Replace(name, "|8080|", "|8081|", 1)
		}
		return strings.Replace(name, "|8081|", "|8080|", 1)
	}
	last.Name = flip(last.GetName())
	if eds := last.GetEdsClusterConfig(); eds != nil && eds.GetServiceName() != "" {
		eds.ServiceName = flip(eds.GetServiceName())
	}
	changed[len(changed)-1] = last
	return changed
}

func memory() map[string]uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return map[string]uint64{"heapAlloc": m.HeapAlloc, "stackInuse": m.StackInuse, "rss": rss()}
}

// rss is the resident set size from /proc/self/statm (pages).
func rss() uint64 {
	raw, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(raw))
	if len(fields) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(fields[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "gcp-server:", err)
		os.Exit(1)
	}
}
