"""The Python side of bench/gpu-check.sh, run by the trainer's Python (torch). One figure per call,
printed as one JSON object on the last line:

  gpu_check.py trainer --device cuda --method mae --model vit_base_patch16_224 --image-size 224 --batch-size 256 --steps 24
      pre-training images/s of the reference trainer (trainer/bench/throughput.py's measurement)
  gpu_check.py search --device cuda --pool 1000000 --queries 4096 --dim 128 --k 10 --seconds 5
      exact search GFLOP/s: float32 scores of every query against every pool vector, top k kept
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "trainer", "bench"))
sys.path.insert(0, os.path.join(ROOT, "trainer", "tests"))


def trainer(args):
    from synthetic import write_shard
    from throughput import measure

    setup = {"method": args.method, "model": args.model, "image_size": args.image_size, "channels": 3,
             "device": args.device, "deterministic": False}
    with tempfile.TemporaryDirectory() as workdir:
        # Four batches of RGB JPEGs at the trained size: decoding them is part of every step, as in a run.
        shard = write_shard(os.path.join(workdir, "pool.tar"), "bench", args.batch_size * 4, seed=7, labeled=False,
                            size=args.image_size, channels=3, image_format="JPEG")
        rate = measure(workdir, shard, setup, os.cpu_count(), args.batch_size, args.steps)
    return {"images_per_s": round(rate, 1)}


def search(args):
    import torch

    device = torch.device(args.device)
    torch.set_num_threads(os.cpu_count())
    # Exact float32 products: TF32 would trade the ranking's exactness for speed.
    torch.backends.cuda.matmul.allow_tf32 = False
    generator = torch.Generator().manual_seed(0)
    pool = torch.nn.functional.normalize(torch.randn(args.pool, args.dim, generator=generator), dim=1).to(device)
    queries = torch.nn.functional.normalize(torch.randn(args.queries, args.dim, generator=generator), dim=1).to(device)
    # Scores a block of the pool at a time, so a block's score matrix stays near 1 GiB.
    block = max(1, min(args.pool, (1 << 28) // args.queries))

    def one_pass():
        best_scores = torch.full((args.queries, args.k), -float("inf"), device=device)
        best_ids = torch.zeros((args.queries, args.k), dtype=torch.long, device=device)
        for start in range(0, args.pool, block):
            scores, ids = (queries @ pool[start:start + block].T).topk(min(args.k, block), dim=1)
            merged_scores, order = torch.cat([best_scores, scores], dim=1).topk(args.k, dim=1)
            best_ids = torch.cat([best_ids, ids + start], dim=1).gather(1, order)
            best_scores = merged_scores
        if device.type == "cuda":
            torch.cuda.synchronize()
        return best_ids

    one_pass()
    passes, started = 0, time.perf_counter()
    while time.perf_counter() - started < args.seconds:
        one_pass()
        passes += 1
    elapsed = time.perf_counter() - started
    flops = 2.0 * args.queries * args.pool * args.dim * passes
    figures = {"gflops": round(flops / elapsed / 1e9, 1)}
    if device.type == "cuda":
        figures["device_name"] = torch.cuda.get_device_name(device)
    return figures


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="figure", required=True)
    t = sub.add_parser("trainer")
    t.add_argument("--device", choices=("cpu", "cuda"), required=True)
    t.add_argument("--method", choices=("mae", "simclr"), required=True)
    t.add_argument("--model", required=True)
    t.add_argument("--image-size", type=int, required=True)
    t.add_argument("--batch-size", type=int, required=True)
    t.add_argument("--steps", type=int, required=True)
    s = sub.add_parser("search")
    s.add_argument("--device", choices=("cpu", "cuda"), required=True)
    s.add_argument("--pool", type=int, required=True)
    s.add_argument("--queries", type=int, required=True)
    s.add_argument("--dim", type=int, default=128)
    s.add_argument("--k", type=int, default=10)
    s.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args()
    try:
        figures = trainer(args) if args.figure == "trainer" else search(args)
    except subprocess.CalledProcessError as err:
        # The trainer's own words say what went wrong (a config refusal, no CUDA, out of memory).
        sys.exit(f"{' '.join(err.cmd)} exited with {err.returncode}:\n{err.stderr[-4000:]}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
