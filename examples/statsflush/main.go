// Command statsflush buffers page-view counts in a cachestruct.Stats and
// flushes them into SQLite (modernc.org/sqlite, pure Go) with an
// idempotent sink: the counts of one flush and its flush id are written in
// one transaction, so a flush retried after a crash or a lost reply is
// applied once.
//
//	go run ./statsflush -db views.sqlite -hits 10000
//	go run ./statsflush -memcached 127.0.0.1:11211,127.0.0.1:11212
//
// The store is the in-memory one unless -memcached names servers; a service
// passes a memcached store shared by all its processes, so that each page
// view costs one memcached increment and the database sees one upsert per
// page and hour per flush.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/twine-go/twine/cachestruct"
	_ "modernc.org/sqlite"
)

// schema creates the tables of the sink: the totals per page and hour, and
// the ids of the flushes already applied.
const schema = `
CREATE TABLE IF NOT EXISTS views (
	page TEXT NOT NULL,
	hour TEXT NOT NULL,
	n    INTEGER NOT NULL,
	PRIMARY KEY (page, hour)
);
CREATE TABLE IF NOT EXISTS flushes (id TEXT PRIMARY KEY);
`

// Sink is a cachestruct.Sink over a SQLite database.
type Sink struct{ db *sql.DB }

// OpenSink opens (creating if needed) the SQLite database at path.
func OpenSink(ctx context.Context, path string) (*Sink, error) {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1) // one writer: SQLite serialises writes anyway
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, err
	}
	return &Sink{db: db}, nil
}

// Close closes the database.
func (s *Sink) Close() error { return s.db.Close() }

// Add adds counts to the totals in one transaction with the flush id; a
// flush id already applied changes nothing.
func (s *Sink) Add(ctx context.Context, flushID string, counts []cachestruct.StatCount) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	res, err := tx.ExecContext(ctx, `INSERT INTO flushes (id) VALUES (?) ON CONFLICT (id) DO NOTHING`, flushID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err // applied already (n == 0): idempotent
	}
	for _, c := range counts {
		_, err := tx.ExecContext(ctx, `INSERT INTO views (page, hour, n) VALUES (?, ?, ?)
			ON CONFLICT (page, hour) DO UPDATE SET n = n + excluded.n`,
			c.ID, c.Hour.UTC().Format("2006-01-02T15"), int64(c.N))
		if err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Total returns the total views of page over all hours.
func (s *Sink) Total(ctx context.Context, page string) (int64, error) {
	var n sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT SUM(n) FROM views WHERE page = ?`, page).Scan(&n)
	return n.Int64, err
}

// run simulates hits page views spread over pages, flushing every
// flushEvery hits, and prints the totals.
func run(ctx context.Context, store cachestruct.Store, sink *Sink, hits, pages, flushEvery int, out *os.File) error {
	stats := cachestruct.NewStats(store, "views", cachestruct.StatsConfig{})
	flushes, moved := 0, 0
	for i := 1; i <= hits; i++ {
		page := fmt.Sprintf("page%d", rand.IntN(pages))
		if err := stats.Incr(ctx, page, 1); err != nil {
			return err
		}
		if i%flushEvery == 0 || i == hits {
			n, err := stats.Flush(ctx, sink)
			if err != nil {
				return err
			}
			flushes++
			moved += n
		}
	}
	var sum int64
	for p := range pages {
		n, err := sink.Total(ctx, fmt.Sprintf("page%d", p))
		if err != nil {
			return err
		}
		sum += n
	}
	fmt.Fprintf(out, "%d hits, %d flushes, %d rows upserted, %d views in SQLite\n", hits, flushes, moved, sum)
	return nil
}

func main() {
	path := flag.String("db", "file::memory:?cache=shared", "SQLite database path")
	hits := flag.Int("hits", 10000, "page views to simulate")
	pages := flag.Int("pages", 20, "distinct pages")
	every := flag.Int("flush-every", 1000, "flush after this many hits")
	servers := flag.String("memcached", "", "comma-separated memcached servers (default: the in-memory store)")
	flag.Parse()
	if *hits < 1 || *pages < 1 || *every < 1 {
		log.Fatal("statsflush: -hits, -pages and -flush-every must be positive")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sink, err := OpenSink(ctx, *path)
	if err != nil {
		log.Fatal(err)
	}
	defer sink.Close()
	var store cachestruct.Store = cachestruct.NewMemory(cachestruct.MemoryOptions{})
	if *servers != "" {
		mc, err := cachestruct.NewMemcached(strings.Split(*servers, ","), cachestruct.MemcachedOptions{})
		if err != nil {
			log.Fatal(err)
		}
		defer mc.Close()
		store = mc
	}
	if err := run(ctx, store, sink, *hits, *pages, *every, os.Stdout); err != nil {
		log.Fatal(err)
	}
}
