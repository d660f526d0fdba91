#!/usr/bin/env bash
# Ready for a GPU: one script that measures, on the GPU and beside it on the CPU, pre-training
# images/s (MAE ViT-B/16 at 224 in bf16, batch 256; SimCLR ResNet-50), embedding images/s through
# onnxruntime's CUDA execution provider (a ResNet-50-sized encoder) and exact-search GFLOP/s (torch
# over a 1M x 128 pool). Under 8 minutes on one GPU once setup is done; the last line is one JSON
# object (bench/gpu-check.ts says what it holds).
#   bench/gpu-check.sh [--mae-model NAME] [--simclr-model NAME]   on a GPU machine
#   bench/gpu-check.sh --cpu                                      the CPU side alone, small sizes, under a minute
# Needs `node infra/setup.cjs` done (npm packages, the trainer's Python). Without --cpu it installs
# onnxruntime's CUDA execution provider first where missing (infra/onnxruntime-cuda.cjs, about 1.5 GB
# once) and puts its CUDA runtime on the loader path, as a GPU worker that embeds is started.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ " $* " != *" --cpu "* ]]; then
  # A provider that cannot be installed fails the embedding figure alone, which then says why.
  if runtime=$(node infra/onnxruntime-cuda.cjs); then
    export LD_LIBRARY_PATH="${runtime}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
fi
exec node --import tsx bench/gpu-check.ts "$@"
