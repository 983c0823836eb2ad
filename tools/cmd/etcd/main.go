// Command etcd is a minimal single-member etcd for tests, built on
// go.etcd.io/etcd/server/v3/embed. It listens on loopback only, prints one
// readiness line to stdout ("etcd ready client=<url> peer=<url>") and shuts
// down cleanly (exit 0) on SIGTERM/SIGINT.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/logutil"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func main() {
	os.Exit(run())
}

func run() int {
	fs := flag.NewFlagSet("etcd", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "data directory (required)")
	listenClient := fs.String("listen-client-urls", "http://127.0.0.1:2379", "client URL (loopback; port 0 = pick a free port)")
	advertiseClient := fs.String("advertise-client-urls", "", "advertised client URL (default: the listen client URL)")
	listenPeer := fs.String("listen-peer-urls", "http://127.0.0.1:0", "peer URL (loopback; port 0 = pick a free port)")
	name := fs.String("name", "test", "member name")
	noFsync := fs.Bool("unsafe-no-fsync", false, "disable fsync (tests only: unsafe on crash)")
	logLevel := fs.String("log-level", "warn", "log level: debug, info, warn, error, panic, fatal")
	startTimeout := fs.Duration("start-timeout", 60*time.Second, "how long to wait for the server to become ready")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *dataDir == "" {
		fmt.Fprintln(os.Stderr, "etcd: --data-dir is required")
		return 2
	}

	clientURL, err := loopbackURL(*listenClient)
	if err != nil {
		fmt.Fprintf(os.Stderr, "etcd: --listen-client-urls: %v\n", err)
		return 2
	}
	peerURL, err := loopbackURL(*listenPeer)
	if err != nil {
		fmt.Fprintf(os.Stderr, "etcd: --listen-peer-urls: %v\n", err)
		return 2
	}
	advClientURL := clientURL
	if *advertiseClient != "" {
		u, err := url.Parse(*advertiseClient)
		if err != nil {
			fmt.Fprintf(os.Stderr, "etcd: --advertise-client-urls: %v\n", err)
			return 2
		}
		advClientURL = *u
	}

	cfg := embed.NewConfig()
	cfg.Name = *name
	cfg.Dir = *dataDir
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{advClientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.UnsafeNoFsync = *noFsync
	cfg.LogLevel = *logLevel
	cfg.LogOutputs = []string{"stderr"}
	// Own logger with an adjustable level, so a requested shutdown can be
	// quiet (etcd logs "server closed" errors while it stops).
	var level zapcore.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "etcd: --log-level: %v\n", err)
		return 2
	}
	atomicLevel := zap.NewAtomicLevelAt(level)
	lcfg := logutil.DefaultZapLoggerConfig
	lcfg.Level = atomicLevel
	lcfg.OutputPaths = []string{"stderr"}
	lcfg.ErrorOutputPaths = []string{"stderr"}
	lg, err := lcfg.Build()
	if err != nil {
		fmt.Fprintf(os.Stderr, "etcd: logger: %v\n", err)
		return 1
	}
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "etcd: start failed: %v\n", err)
		return 1
	}
	defer e.Close() // the only Close: a second one panics (close of closed channel)

	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		fmt.Fprintf(os.Stderr, "etcd: failed before ready: %v\n", err)
		return 1
	case <-time.After(*startTimeout):
		fmt.Fprintf(os.Stderr, "etcd: not ready after %s\n", *startTimeout)
		return 1
	case s := <-sigs:
		fmt.Fprintf(os.Stderr, "etcd: got %s before ready, stopping\n", s)
		return 0
	}
	fmt.Printf("etcd ready client=%s peer=%s data-dir=%s\n", clientURL.String(), peerURL.String(), *dataDir)

	select {
	case s := <-sigs:
		fmt.Fprintf(os.Stderr, "etcd: got %s, stopping\n", s)
		atomicLevel.SetLevel(zapcore.FatalLevel)
		return 0
	case err := <-e.Err():
		fmt.Fprintf(os.Stderr, "etcd: server error: %v\n", err)
		return 1
	}
}

// loopbackURL parses a single http URL, insists on a loopback host and
// replaces port 0 with a currently free port.
func loopbackURL(raw string) (url.URL, error) {
	if strings.Contains(raw, ",") {
		return url.URL{}, fmt.Errorf("only one URL is supported, got %q", raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return url.URL{}, err
	}
	if u.Scheme != "http" {
		return url.URL{}, fmt.Errorf("only http:// is supported, got %q", raw)
	}
	host, port := u.Hostname(), u.Port()
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return url.URL{}, fmt.Errorf("host must be a loopback address, got %q", host)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	if port == "" || port == "0" {
		p, err := freePort(host)
		if err != nil {
			return url.URL{}, err
		}
		port = fmt.Sprint(p)
	}
	u.Host = net.JoinHostPort(host, port)
	return *u, nil
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
