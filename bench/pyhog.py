"""pyhog: the python3 workload of the Stasis benchmark (bench/run.py).

Builds about MIB MiB of interpreter state, half of it a bytearray of random
bytes (incompressible) and half a dict of small str objects (the heap of a
typical program: many small allocations, compressible), then loops forever:
every 100 ms it recomputes a checksum of both and prints "tick N ok" (or
"tick N CORRUPT" and exits 3), like memhog.

Usage: pyhog.py [MIB]
"""
import os
import sys
import time
import zlib

ENTRY_BYTES = 150  # what one dict entry below costs, measured on CPython 3.11


def checksum(blob, objs):
    return zlib.crc32(blob), sum(map(len, objs.values())), len(objs)


def main():
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    blob = bytearray(os.urandom((mib << 20) // 2))
    objs = {i: "%d:%s" % (i, "the quick brown fox") for i in range((mib << 20) // 2 // ENTRY_BYTES)}
    want = checksum(blob, objs)
    n = 0
    while True:
        ok = checksum(blob, objs) == want
        print("tick %d %s" % (n, "ok" if ok else "CORRUPT"), flush=True)
        if not ok:
            sys.exit(3)
        n += 1
        time.sleep(0.1)


if __name__ == "__main__":
    main()
