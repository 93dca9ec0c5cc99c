// Command metrics exports the observability hooks of a cachestruct store
// as Prometheus metrics: every Store operation (by operation, server and
// outcome, with a latency histogram) and every ejection and readmission of
// a memcached server.
//
//	go run ./metrics                                  # memory store, serves :9464/metrics
//	go run ./metrics -memcached 127.0.0.1:11211 -listen 127.0.0.1:9464
//	go run ./metrics -once                            # print the metrics once and exit
//
// While serving it runs a small workload (a stampede-safe cache, a rate
// limiter and a lock) every -every, so that the metrics move. The hooks
// are the only coupling: cachestruct knows nothing of Prometheus, and the
// Prometheus client stays in the examples module.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/twine-go/twine/cachestruct"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// Metrics are the Prometheus collectors fed by the hooks.
type Metrics struct {
	ops      *prometheus.CounterVec   // cachestruct_ops_total{op,server,outcome}
	duration *prometheus.HistogramVec // cachestruct_op_duration_seconds{op,server}
	events   *prometheus.CounterVec   // cachestruct_server_events_total{server,event}
	ejected  *prometheus.GaugeVec     // cachestruct_server_ejected{server}
}

// NewMetrics registers the collectors with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cachestruct_ops_total",
			Help: "Store operations by operation, server and outcome.",
		}, []string{"op", "server", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cachestruct_op_duration_seconds",
			Help:    "Store operation latency.",
			Buckets: prometheus.ExponentialBuckets(10e-6, 4, 9), // 10µs .. 655ms
		}, []string{"op", "server"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cachestruct_server_events_total",
			Help: "Ejections and readmissions of memcached servers.",
		}, []string{"server", "event"}),
		ejected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cachestruct_server_ejected",
			Help: "1 while a memcached server is ejected.",
		}, []string{"server"}),
	}
	reg.MustRegister(m.ops, m.duration, m.events, m.ejected)
	return m
}

// Hook is the cachestruct.Hook that feeds the operation metrics. The key
// is deliberately not a label: keys are unbounded.
func (m *Metrics) Hook(e cachestruct.OpEvent) {
	op := e.Op.String()
	m.ops.WithLabelValues(op, e.Server, e.Outcome()).Inc()
	m.duration.WithLabelValues(op, e.Server).Observe(e.Duration.Seconds())
}

// OnServer is the MemcachedOptions.OnServer callback that feeds the server
// metrics.
func (m *Metrics) OnServer(e cachestruct.ServerEvent) {
	if e.Ejected {
		m.events.WithLabelValues(e.Server, "ejected").Inc()
		m.ejected.WithLabelValues(e.Server).Set(1)
		return
	}
	m.events.WithLabelValues(e.Server, "readmitted").Inc()
	m.ejected.WithLabelValues(e.Server).Set(0)
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("metrics", flag.ContinueOnError)
	servers := fs.String("memcached", "", "comma-separated memcached servers (default: the in-memory store)")
	listen := fs.String("listen", "127.0.0.1:9464", "address of the /metrics endpoint")
	once := fs.Bool("once", false, "run the workload once, print the metrics and exit")
	every := fs.Duration("every", time.Second, "how often the workload runs while serving")
	if err := fs.Parse(args); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	metrics := NewMetrics(reg)
	var store cachestruct.Store
	if *servers == "" {
		store = cachestruct.NewMemory(cachestruct.MemoryOptions{Hook: metrics.Hook})
	} else {
		mc, err := cachestruct.NewMemcached(strings.Split(*servers, ","), cachestruct.MemcachedOptions{
			Hook: metrics.Hook, OnServer: metrics.OnServer,
		})
		if err != nil {
			return err
		}
		defer mc.Close()
		store = mc
	}
	w := newWorkload(store)

	if *once {
		if err := w.run(ctx); err != nil {
			return err
		}
		return writeMetrics(reg, stdout)
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(stdout, "serving http://%s/metrics\n", ln.Addr())
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	t := time.NewTicker(*every)
	defer t.Stop()
	for {
		if err := w.run(ctx); err != nil && ctx.Err() == nil {
			fmt.Fprintln(stdout, "workload:", err) // a down server: the metrics show it
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// writeMetrics prints reg's metrics in Prometheus's text format.
func writeMetrics(reg *prometheus.Registry, w io.Writer) error {
	srv := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	rec := &textRecorder{w: w, header: http.Header{}}
	req, err := http.NewRequest(http.MethodGet, "/metrics", nil)
	if err != nil {
		return err
	}
	srv.ServeHTTP(rec, req)
	if rec.code != 0 && rec.code != http.StatusOK {
		return fmt.Errorf("metrics: status %d", rec.code)
	}
	return nil
}

// textRecorder is the smallest http.ResponseWriter that copies the body to
// w.
type textRecorder struct {
	w      io.Writer
	header http.Header
	code   int
}

func (r *textRecorder) Header() http.Header         { return r.header }
func (r *textRecorder) WriteHeader(code int)        { r.code = code }
func (r *textRecorder) Write(b []byte) (int, error) { return r.w.Write(b) }

// workload exercises a cache, a rate limiter and a lock on one store.
type workload struct {
	cache *cachestruct.Cache[string]
	limit *cachestruct.RateLimiter
	lock  *cachestruct.Lock
}

func newWorkload(store cachestruct.Store) *workload {
	return &workload{
		cache: cachestruct.NewCache(store, cachestruct.StringCodec{}, cachestruct.CacheConfig{}),
		limit: cachestruct.NewRateLimiter(store, cachestruct.PerSecond(5, 5), cachestruct.RateLimiterConfig{}),
		lock:  cachestruct.NewLock(store, "metrics:lock", cachestruct.LockConfig{TTL: 5 * time.Second}),
	}
}

// run does one round: 3 cache reads of one key (a miss, then hits), 8 rate
// limiter decisions (5 allowed, 3 refused) and a lock taken and released.
func (w *workload) run(ctx context.Context) error {
	for range 3 {
		if _, err := w.cache.GetOrCompute(ctx, "metrics:profile", time.Minute, func(context.Context) (string, error) {
			return "alice", nil
		}); err != nil {
			return err
		}
	}
	for range 8 {
		if _, err := w.limit.Allow(ctx, "metrics:rate", 1); err != nil {
			return err
		}
	}
	h, err := w.lock.TryLock(ctx)
	if errors.Is(err, cachestruct.ErrLocked) {
		return nil
	}
	if err != nil {
		return err
	}
	return h.Unlock(ctx)
}
