// Command comet is the long-poll COMET server of the javascript.ru article
// "COMET: серверная часть — паттерны реализации" (a Twisted server with
// /subscribe and /publish) rebuilt in Go on twine/deferred.
//
// GET /subscribe holds the request until a message is published, and
// answers 200 with the message as JSON, or 204 No Content when the hold
// timeout (-timeout) passes first, so that the client polls again. Each
// waiting subscriber is a *deferred.Deferred[Message] held by a Hub (the
// article's ClientManager); POST /publish with a form field "message" fires
// them all. A client that disconnects cancels its Deferred, which takes it
// out of the Hub: nothing is kept for clients that are gone. ?since=ID
// returns a recent message the client has not seen yet, if any, so that a
// browser between two polls misses nothing.
//
// GET / is a small page that subscribes in a loop and shows the messages:
//
//	go run ./comet -addr localhost:8001
//	open http://localhost:8001/ in a few tabs, or:
//	curl localhost:8001/subscribe &
//	curl -d message=hello localhost:8001/publish
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/twine-go/twine/deferred"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "comet:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends, then cancels the waiting subscribers (they get
// 503) and shuts the server down. It prints the address it listens on as
// "comet: listening on http://host:port" first; tests read that line.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("comet", flag.ContinueOnError)
	fs.SetOutput(stdout)
	addr := fs.String("addr", "localhost:8001", "listen address (port 0 picks a free port)")
	timeout := fs.Duration("timeout", 30*time.Second, "how long /subscribe holds a request before 204 No Content")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *timeout <= 0 {
		return errors.New("-timeout must be positive")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	hub := NewHub()
	s := &server{hub: hub, timeout: *timeout, clock: deferred.RealClock{}}
	srv := &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
	}
	// Shutdown waits for handlers to finish; the held subscribers finish
	// at once when the hub cancels them.
	srv.RegisterOnShutdown(hub.Close)
	fmt.Fprintf(stdout, "comet: listening on http://%s\n", ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	<-errc // Serve returns ErrServerClosed at once
	return err
}
