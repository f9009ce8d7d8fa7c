// A CoreDNS with only the plugins the test cluster's Corefile uses. The full binary registers
// every plugin (cloud DNS providers, etcd, ...) and takes about 8 minutes to build cold on two
// cores; this one shares the Kubernetes client with nothing else to compile.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

// directives is CoreDNS' own plugin order (core/dnsserver/zdirectives.go), cut to the plugins
// imported above: a Corefile may only name these.
var directives = []string{
	"reload", "ready", "health", "errors", "log", "loadbalance", "cache", "kubernetes", "loop",
}

func main() {
	dnsserver.Directives = directives
	coremain.Run()
}
