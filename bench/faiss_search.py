"""FAISS and numpy's BLAS beside septflow's exact search (run by bench/retrieval.ts).

`versions`: what is measured (FAISS and numpy versions), and a check that the venv works before
the bench spends minutes on septflow's side. `sgemm`: the fp32 rate of OpenBLAS's sgemm through numpy at 2048^3, the same shape as the
onnxruntime Gemm the bench measures. `search`: FAISS IndexFlatIP (exact inner product; on unit
vectors that is cosine) over a pool and targets that the bench wrote as raw float32 rows; only
`search` is timed, on vectors already in memory, since a FAISS user holds the pool in RAM. The
top-k ids (int64) and scores (float32), [targets x k] each, go to `--hits` for the bench to
compare with septflow's. Prints one JSON object.

Threads: the bench sets OMP_NUM_THREADS and OPENBLAS_NUM_THREADS before Python starts (BLAS reads
them at load); --threads also goes to faiss.omp_set_num_threads.
"""

import argparse
import json
import time

import numpy as np

GEMM_N = 2048
GEMM_RUNS = 6


def sgemm_gflops() -> float:
    rng = np.random.default_rng(5)
    a = rng.standard_normal((GEMM_N, GEMM_N), dtype=np.float32)
    b = rng.standard_normal((GEMM_N, GEMM_N), dtype=np.float32)
    out = np.empty((GEMM_N, GEMM_N), dtype=np.float32)
    np.matmul(a, b, out=out)
    started = time.perf_counter()
    for _ in range(GEMM_RUNS):
        np.matmul(a, b, out=out)
    return 2 * GEMM_N**3 * GEMM_RUNS / (time.perf_counter() - started) / 1e9


def rows_of(path: str, dim: int) -> np.ndarray:
    return np.memmap(path, dtype=np.float32, mode="r").reshape(-1, dim)


def search(args: argparse.Namespace) -> dict:
    import faiss

    faiss.omp_set_num_threads(args.threads)
    pool = rows_of(args.pool, args.dim)
    targets = np.ascontiguousarray(rows_of(args.targets, args.dim))
    index = faiss.IndexFlatIP(args.dim)
    started = time.perf_counter()
    index.add(pool)
    add_s = time.perf_counter() - started
    # Searched `runs` times back to back (the bench interleaves them with septflow's, A B B A).
    search_runs = []
    for _ in range(args.runs):
        started = time.perf_counter()
        scores, ids = index.search(targets, args.k)
        search_runs.append(time.perf_counter() - started)
    with open(args.hits, "wb") as f:
        f.write(np.ascontiguousarray(ids, dtype=np.int64).tobytes())
        f.write(np.ascontiguousarray(scores, dtype=np.float32).tobytes())
    return {
        "faiss_version": faiss.__version__,
        "threads": faiss.omp_get_max_threads(),
        "pool": index.ntotal,
        "targets": len(targets),
        "add_s": add_s,
        "search_s": search_runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["versions", "sgemm", "search"])
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--pool")
    parser.add_argument("--targets")
    parser.add_argument("--dim", type=int)
    parser.add_argument("--k", type=int)
    parser.add_argument("--hits")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    if args.mode == "versions":
        import faiss

        result = {"faiss": faiss.__version__, "numpy": np.__version__}
    elif args.mode == "sgemm":
        result = {"sgemm_gflops": sgemm_gflops()}
    else:
        result = search(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
