// Command backoffsim is a deterministic discrete-event simulation of retry
// strategies during a server outage, using the policies and the Budget of
// package backoff for every delay.
//
// The default mode reproduces the experiment of the Habr article
// "Exponential Backoff или как «не завалить сервер»": 1000 clients
// that think Exp(10 s) between requests, a server that serves 30 requests
// at a time in 100 ms each (about 300 req/s) and slows down as requests pile
// up, a 10 s pause of the server, 2 s client timeouts, and one retry strategy
// per run. It prints, per strategy, whether the server recovered, how long
// after the outage, the peak offered load, the total number of requests and
// the 99th percentile of the time from a request's first attempt to its
// success; -plot draws offered load and goodput over time.
//
// With -mode aws it reproduces the AWS Architecture Blog's contention
// simulation: clients that each make one optimistic-concurrency update
// (read, conditional write) and back off on conflict.
//
// Usage:
//
//	go run ./backoffsim                       # table for the defaults
//	go run ./backoffsim -json                 # one JSON object per strategy
//	go run ./backoffsim -plot backoffsim/plot.png
//	go run ./backoffsim -clients 600 -outage 30s
//	go run ./backoffsim -mode aws -clients 100
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "backoffsim:", err)
		os.Exit(2)
	}
}

func run(args []string, stdout io.Writer) error {
	cfg := defaultOutage()
	aws := defaultContention()
	fs := flag.NewFlagSet("backoffsim", flag.ContinueOnError)
	mode := fs.String("mode", "outage", "simulation: outage (the Habr article's experiment) or aws (optimistic-concurrency contention)")
	fs.IntVar(&cfg.Clients, "clients", cfg.Clients, "number of clients (aws mode: 100 unless set)")
	fs.DurationVar(&cfg.Outage, "outage", cfg.Outage, "how long the server is paused")
	fs.DurationVar(&cfg.OutageStart, "outage-start", cfg.OutageStart, "when the outage starts")
	fs.Float64Var(&cfg.Capacity, "capacity", cfg.Capacity, "server capacity in requests per second (workers = capacity × 100 ms)")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed; the same seed gives the same results")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "simulated time of each run")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "client request timeout")
	fs.Float64Var(&cfg.SlowdownMax, "slowdown-max", cfg.SlowdownMax, "cap on the server's slowdown factor (×1.05 per 15 waiting requests)")
	fs.BoolVar(&cfg.DropExpired, "drop-expired", false, "server skips requests that cannot finish before their client's timeout (deadline propagation; not the article's server)")
	fs.BoolVar(&cfg.SharedBudget, "shared-budget", false, "one retry Budget for all clients instead of one per client")
	asJSON := fs.Bool("json", false, "print one JSON object per strategy instead of a table")
	plotPath := fs.String("plot", "", "write offered load and goodput over time to this file (.png or .svg)")
	runs := fs.Int("runs", aws.Runs, "aws mode: runs averaged per strategy")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch *mode {
	case "outage":
		if cfg.Clients <= 0 || cfg.Capacity <= 0 || cfg.Duration <= 0 || cfg.Outage < 0 || cfg.Timeout <= 0 || cfg.SlowdownMax < 1 {
			return errors.New("clients, capacity, duration and timeout must be positive, outage not negative, slowdown-max at least 1")
		}
		var results []outageResult
		for _, s := range strategies() {
			results = append(results, runOutage(cfg, s))
		}
		if *plotPath != "" {
			if err := writePlot(*plotPath, cfg, results); err != nil {
				return err
			}
		}
		if *asJSON {
			return writeJSON(stdout, results)
		}
		return writeOutageTable(stdout, cfg, results)
	case "aws":
		aws.Seed = cfg.Seed
		aws.Runs = *runs
		if isSet(fs, "clients") {
			aws.Clients = cfg.Clients
		}
		if aws.Clients <= 0 || aws.Runs <= 0 {
			return errors.New("clients and runs must be positive")
		}
		var results []contentionResult
		for _, s := range contentionStrategies() {
			results = append(results, runContention(aws, s))
		}
		if *asJSON {
			return writeJSON(stdout, results)
		}
		return writeContentionTable(stdout, aws, results)
	}
	return fmt.Errorf("unknown mode %q (want outage or aws)", *mode)
}

func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func writeJSON[T any](w io.Writer, results []T) error {
	enc := json.NewEncoder(w)
	for _, r := range results {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

func writeOutageTable(w io.Writer, cfg outageConfig, results []outageResult) error {
	fmt.Fprintf(w, "%d clients, think Exp(%v), timeout %v; server %.0f req/s; outage %v from %v; run %v; seed %d\n\n",
		cfg.Clients, cfg.Think, cfg.Timeout, cfg.Capacity, cfg.Outage, cfg.OutageStart, cfg.Duration, cfg.Seed)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "strategy\trecovered\trecovery\tpeak req/s\trequests\tp99 completion\tgave up\twasted\t")
	for _, r := range results {
		rec, after := "no", "—"
		if r.Recovered {
			rec, after = "yes", fmt.Sprintf("%.1f s", r.RecoverySeconds)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%d\t%.2f s\t%d\t%d\t\n",
			r.Strategy, rec, after, r.PeakRPS, r.Requests, r.P99Seconds, r.GaveUp, r.Wasted)
	}
	return tw.Flush()
}
