"""Write keys through pylibmc with ketama_weighted, for the end-to-end test.

Usage: python3 pylibmc_set.py SERVER... < keys

Each SERVER is pylibmc's "host:port:weight". Each line of stdin is a key in
hex. Every key is stored with the value "v"; the script prints "ok N".
"""
import binascii
import sys

import pylibmc


def main():
    client = pylibmc.Client(sys.argv[1:], behaviors={"ketama_weighted": True})
    n = 0
    for line in sys.stdin:
        key = binascii.unhexlify(line.strip())
        if not client.set(key, b"v"):
            sys.exit("set failed for %r" % key)
        n += 1
    print("ok", n)


main()
