// Command ferretdb-launcher runs FerretDB (MongoDB wire protocol) on its SQLite backend through
// the embeddable package. `go install` of FerretDB's own command panics on a missing version
// file when built outside its repository; this launcher avoids that path.
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27027", "TCP address to listen on")
	dataDir := flag.String("sqlite-dir", "./data", "directory of the SQLite databases")
	logLevel := flag.String("log-level", "warn", "debug, info, warn or error")
	// WAL with synchronous=NORMAL: durable against a process crash (what the chaos tests do),
	// without an fsync per write.
	sqliteParams := flag.String("sqlite-params", "_pragma=synchronous(normal)", "query parameters of the SQLite URI")
	flag.Parse()

	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		log.Fatalf("data dir: %v", err)
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Handler:   "sqlite",
		SQLiteURL: "file:" + *dataDir + "/?" + *sqliteParams,
		Logger:    newLogger(*logLevel),
	})
	if err != nil {
		log.Fatalf("ferretdb: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	logger := newLogger(*logLevel)
	go newIDIndexWatcher(*dataDir, logger).run(ctx, 200*time.Millisecond)

	log.Printf("ferretdb listening on %s, sqlite in %s", *listen, *dataDir)
	f.Run(ctx)
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}
