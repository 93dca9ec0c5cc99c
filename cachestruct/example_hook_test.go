package cachestruct_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/twine-go/twine/cachestruct"
)

func ExampleHook() {
	ctx := context.Background()
	// Count operations by kind and outcome, as a metrics exporter would.
	counts := map[string]int{}
	store := cachestruct.NewMemory(cachestruct.MemoryOptions{
		Hook: func(e cachestruct.OpEvent) { counts[e.Op.String()+" "+e.Outcome()]++ },
	})
	_, _, _ = store.Get(ctx, "user:1", cachestruct.GetOptions{})
	_, _ = store.Set(ctx, "user:1", []byte("alice"), cachestruct.SetOptions{})
	_, _, _ = store.Get(ctx, "user:1", cachestruct.GetOptions{})
	_, _ = store.Set(ctx, "user:1", []byte("bob"), cachestruct.SetOptions{Mode: cachestruct.ModeAdd})
	fmt.Println(counts)
	// Output:
	// map[get hit:1 get miss:1 set not_stored:1 set ok:1]
}

func ExampleSlogHook() {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "duration" {
				return slog.Attr{} // drop what varies from run to run
			}
			return a
		},
	}))
	store := cachestruct.NewMemory(cachestruct.MemoryOptions{Hook: cachestruct.SlogHook(logger, slog.LevelDebug)})
	_, _ = store.Incr(ctx, "hits", 1, cachestruct.IncrOptions{Vivify: true})
	_, _ = store.Incr(ctx, "bad key", 1, cachestruct.IncrOptions{})
	// Output:
	// level=DEBUG msg="cachestruct op" op=incr key=hits server="" outcome=ok
	// level=WARN msg="cachestruct op" op=incr key="bad key" server="" outcome=invalid_key error="cachestruct: invalid key"
}

func ExampleSlogServerEvents() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	onServer := cachestruct.SlogServerEvents(logger)
	store, err := cachestruct.NewMemcached([]string{"10.0.0.1:11211", "10.0.0.2:11211"}, cachestruct.MemcachedOptions{
		OnServer: onServer, // called when a server is ejected or readmitted
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	// What the store reports when a server fails and comes back:
	onServer(cachestruct.ServerEvent{Server: "10.0.0.2:11211", Ejected: true, Period: 1e9, Err: cachestruct.ErrUnavailable})
	onServer(cachestruct.ServerEvent{Server: "10.0.0.2:11211"})
	// Output:
	// level=WARN msg="cachestruct server ejected" server=10.0.0.2:11211 period=1s error="cachestruct: store unavailable"
	// level=INFO msg="cachestruct server readmitted" server=10.0.0.2:11211
}
