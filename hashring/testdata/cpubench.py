"""CPU time per benchmark iteration on a shared, noisy machine.

Usage: python3 cpubench.py TESTBINARY BENCH[,BENCH...] ROUNDS N1 N2

Wall-clock ns/op is meaningless when other work shares the cores, so this
runs each benchmark (a full -test.bench regexp, anchored with $ per level)
with N1 and N2 iterations under `perf stat -e task-clock` and reports
(cpu(N2) - cpu(N1)) / (N2 - N1): the CPU time of one iteration, without the
set-up. The benchmarks are interleaved over ROUNDS rounds so that a busy
moment hits all of them alike; it prints the minimum and the median.

Build the binary with: go test -c -o /tmp/x.test ./hashring (or in
internal/benchpeers). Used for the hashring figures in BENCHMARKS.md.
"""
import collections
import subprocess
import sys


def cpu_ms(binary, bench, n):
    out = subprocess.run(
        ["perf", "stat", "-x,", "-e", "task-clock", binary, "-test.run", "^$",
         "-test.bench", bench, "-test.benchtime=%dx" % n],
        capture_output=True, text=True).stderr
    for line in out.splitlines():
        if "task-clock" in line:
            return float(line.split(",")[0])
    raise SystemExit("no task-clock in perf output:\n" + out)


def main():
    binary, benches, rounds, n1, n2 = sys.argv[1], sys.argv[2].split(","), *map(int, sys.argv[3:6])
    res = collections.defaultdict(list)
    for _ in range(rounds):
        for b in benches:
            res[b].append((cpu_ms(binary, b, n2) - cpu_ms(binary, b, n1)) * 1e6 / (n2 - n1))
    for b in benches:
        v = sorted(res[b])
        print("%-60s min %10.1f  median %10.1f  ns/op" % (b, v[0], v[len(v) // 2]))


main()
