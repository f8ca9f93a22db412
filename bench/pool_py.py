#!/usr/bin/python3
"""The Python contenders of bench/pool.sh: the same tiny task as
bench/pool_bench.c (f(x) = 2*x + 1 over range(N)) through Python's own
process pools and mpi4py.futures, two workers each.

  /usr/bin/python3 bench/pool_py.py local N N1 TRIPS [NF]
      multiprocessing Pool(2).map (default chunksize), concurrent.futures
      ProcessPoolExecutor(2).map with chunksize 1 (on N1 tasks: it is slow)
      and chunksize N/(4*2), a ProcessPoolExecutor submit+result round
      trip (TRIPS times), and NF futures in bulk (all submitted, then each
      result taken; default 20000).

  mpirun -n 3 /usr/bin/python3 -m mpi4py.futures bench/pool_py.py mpi N N1 TRIPS [NF]
      mpi4py.futures MPIPoolExecutor on the 2 worker ranks that
      `-m mpi4py.futures` set aside (rank 0 runs this script): map with
      chunksize 1 on N1 tasks, with a few larger chunksizes on N tasks (the
      best is reported as mpi4py_map_best), a submit+result round trip, and
      NF futures in bulk.

Prints one "name value unit" line per measurement (the format of
bench/pool_bench), and "skip NAME: why" for a contender that cannot run.
Run it with Debian's /usr/bin/python3: python3-mpi4py is a Debian package.
Pool creation and a small warm-up map are left out of every timing, as
bench/pool_bench leaves out the pool's start-up.
"""
import os
import sys
import time


def f(x):
    return 2 * x + 1


def check(out, n):
    if len(out) != n or any(out[i] != 2 * i + 1 for i in (0, n // 2, n - 1)):
        sys.exit("pool_py: wrong results")


def timed_map(mapfn, n, **kw):
    t = time.perf_counter()
    out = list(mapfn(f, range(n), **kw))
    dt = time.perf_counter() - t
    check(out, n)
    return n / dt


def roundtrip(ex, trips):
    ex.submit(f, 0).result()  # warm-up
    t = time.perf_counter()
    for i in range(trips):
        if ex.submit(f, i).result() != 2 * i + 1:
            sys.exit("pool_py: wrong round-trip result")
    return (time.perf_counter() - t) / trips * 1e6


def bulk(ex, nf):
    """nf futures submitted, then each result taken: futures/s."""
    t = time.perf_counter()
    futs = [ex.submit(f, i) for i in range(nf)]
    for i, fu in enumerate(futs):
        if fu.result() != 2 * i + 1:
            sys.exit("pool_py: wrong bulk future result")
    return nf / (time.perf_counter() - t)


def say(name, value, unit):
    print("%s %.*f %s" % (name, 2 if unit == "us" else 0, value, unit),
          flush=True)


def local(n, n1, trips, nf):
    import multiprocessing
    try:
        with multiprocessing.Pool(2) as pool:
            pool.map(f, range(1000))
            say("py_pool_map", timed_map(pool.map, n), "tasks/s")
    except (ImportError, OSError) as e:
        print("skip py_pool_map: %s" % e, flush=True)
    try:
        from concurrent.futures import ProcessPoolExecutor
    except ImportError as e:
        print("skip py_cf: %s" % e, flush=True)
        return
    with ProcessPoolExecutor(2) as ex:
        list(ex.map(f, range(1000), chunksize=100))
        say("py_cf_map_chunk1", timed_map(ex.map, n1), "tasks/s")
        say("py_cf_map_chunkN8", timed_map(ex.map, n, chunksize=max(1, n // 8)),
            "tasks/s")
        say("py_cf_roundtrip", roundtrip(ex, trips), "us")
        say("py_cf_bulk", bulk(ex, nf), "futures/s")


def mpi(n, n1, trips, nf):
    try:
        from mpi4py import MPI
        from mpi4py.futures import MPIPoolExecutor
    except ImportError as e:
        print("skip mpi4py: %s" % e, flush=True)
        return
    with MPIPoolExecutor() as ex:
        # Under `-m mpi4py.futures` the executor's workers are the other
        # ranks of the launch.
        nw = ex.num_workers if hasattr(ex, "num_workers") else \
            MPI.COMM_WORLD.Get_size() - 1
        list(ex.map(f, range(1000), chunksize=100))
        say("mpi4py_workers", nw, "ranks")
        say("mpi4py_map_chunk1", timed_map(ex.map, n1), "tasks/s")
        best, best_cs = 0, 0
        for cs in sorted({max(1, n // 8), max(1, n // 32), 4096}):
            r = timed_map(ex.map, n, chunksize=cs)
            say("mpi4py_map_chunk%d" % cs, r, "tasks/s")
            if r > best:
                best, best_cs = r, cs
        say("mpi4py_map_best", best, "tasks/s")
        say("mpi4py_best_chunksize", best_cs, "tasks")
        say("mpi4py_roundtrip", roundtrip(ex, trips), "us")
        say("mpi4py_bulk", bulk(ex, nf), "futures/s")


def main(argv):
    if len(argv) not in (5, 6) or argv[1] not in ("local", "mpi"):
        sys.exit("usage: pool_py.py local|mpi N N1 TRIPS [NF]")
    n, n1, trips = (int(a) for a in argv[2:5])
    nf = int(argv[5]) if len(argv) == 6 else 20000
    say("py_n", n, "tasks")
    say("py_n1", n1, "tasks")
    (local if argv[1] == "local" else mpi)(n, n1, trips, nf)


if __name__ == "__main__":
    main(sys.argv)
