"""The trainer protocol's output side: machine events on stdout, human logs on stderr.

stdout carries nothing but one JSON object per line, so the TypeScript activity can parse every
line it reads; anything meant for people goes to stderr.
"""
import json
import math
import sys
import time

EXIT_OK = 0
EXIT_FAILED = 1  # unexpected error: retryable
EXIT_INVALID_CONFIG = 2  # not retryable
EXIT_STOPPED = 143  # stopped on SIGTERM after writing a checkpoint (128 + SIGTERM)


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def emit(event, **fields):
    record = {"event": event, **{k: _finite(v) for k, v in fields.items()}}
    sys.stdout.write(json.dumps(record, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def progress(stage, epoch, step, total_steps, loss, lr, images_per_s):
    emit("progress", stage=stage, epoch=epoch, step=step, total_steps=total_steps,
         loss=loss, lr=lr, images_per_s=images_per_s)


def checkpoint(path, step):
    emit("checkpoint", path=str(path), step=step)


def metrics(stage, values):
    emit("metrics", stage=stage, metrics={k: _finite(v) for k, v in values.items()})


def artifact(kind, path):
    emit("artifact", kind=kind, path=str(path))


def log(message):
    sys.stderr.write(f"[septtrainer {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()
