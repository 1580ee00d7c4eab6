// Command ferretdb-test-server runs FerretDB v1.24.2 (SQLite or PostgreSQL handler) on loopback
// ports, optionally with a TLS listener. It exists because `go install .../cmd/ferretdb@v1.24.2`
// panics at start when FerretDB is the main module (missing generated version file); embedding
// the package avoids that check. Used only by the test-server provisioning in test/helpers and
// scripts; never at runtime.
//
//	ferretdb-test-server --listen 127.0.0.1:P --dir DIR                          # SQLite
//	ferretdb-test-server --listen 127.0.0.1:P --handler postgresql --postgresql-url URL
//	  [--tls-listen 127.0.0.1:Q --tls-cert F --tls-key F [--tls-ca F]]          # + TLS listener
//	  [--exit-on-stdin-eof]                                                    # die with the parent
//
// With --tls-ca the TLS listener requires and verifies client certificates (FerretDB's
// tlsutil.Config sets tls.RequireAndVerifyClientCert when a CA file is given).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func fail(code int, args ...any) {
	fmt.Fprintln(os.Stderr, append([]any{"ferretdb-test-server:"}, args...)...)
	os.Exit(code)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on (plain, no TLS)")
	handler := flag.String("handler", "sqlite", "backend handler: sqlite or postgresql")
	dir := flag.String("dir", "", "SQLite data directory (sqlite handler; created if missing)")
	pgURL := flag.String("postgresql-url", "", "PostgreSQL connection string (postgresql handler)")
	tlsListen := flag.String("tls-listen", "", "TLS address to listen on (optional)")
	tlsCert := flag.String("tls-cert", "", "server certificate (PEM) for --tls-listen")
	tlsKey := flag.String("tls-key", "", "server private key (PEM) for --tls-listen")
	tlsCA := flag.String("tls-ca", "", "CA (PEM) that client certificates must chain to; makes them required")
	exitOnEOF := flag.Bool("exit-on-stdin-eof", false, "stop when stdin reaches EOF (the parent process went away)")
	flag.Parse()

	cfg := &ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: *listen},
		Handler:  *handler,
	}
	switch *handler {
	case "sqlite":
		if *dir == "" {
			fail(2, "--dir is required for the sqlite handler")
		}
		if err := os.MkdirAll(*dir, 0o700); err != nil {
			fail(1, err)
		}
		cfg.SQLiteURL = "file:" + *dir + "/"
	case "postgresql":
		if *pgURL == "" {
			fail(2, "--postgresql-url is required for the postgresql handler")
		}
		cfg.PostgreSQLURL = *pgURL
	default:
		fail(2, "unknown --handler", *handler, "(sqlite or postgresql)")
	}
	if *tlsListen != "" {
		if *tlsCert == "" || *tlsKey == "" {
			fail(2, "--tls-listen needs --tls-cert and --tls-key")
		}
		cfg.Listener.TLS = *tlsListen
		cfg.Listener.TLSCertFile = *tlsCert
		cfg.Listener.TLSKeyFile = *tlsKey
		cfg.Listener.TLSCAFile = *tlsCA
	}

	f, err := ferretdb.New(cfg)
	if err != nil {
		fail(1, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *exitOnEOF {
		// The parent holds the write end of our stdin and never writes: EOF means it is gone
		// (even after kill -9), so a test server never outlives the test run.
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			fmt.Fprintln(os.Stderr, "ferretdb-test-server: stdin closed (parent gone), stopping")
			stop()
		}()
	}
	fmt.Fprintln(os.Stderr, "ferretdb-test-server: listening on", *listen, "handler", *handler)
	if *tlsListen != "" {
		fmt.Fprintln(os.Stderr, "ferretdb-test-server: TLS listening on", *tlsListen)
	}
	_ = f.Run(ctx)
}
