"""The trainer protocol's output side: machine events on stdout, human logs on stderr.

stdout carries nothing but one JSON object per line, so the TypeScript activity can parse every
line it reads; anything meant for people goes to stderr.
"""
import atexit
import json
import math
import os
import signal
import sys
import threading
import time

EXIT_OK = 0
EXIT_FAILED = 1  # unexpected error: retryable
EXIT_INVALID_CONFIG = 2  # not retryable
EXIT_STOPPED = 143  # stopped on SIGTERM after writing a checkpoint (128 + SIGTERM)


_events = sys.stdout
_log_prefix = "septtrainer"


def claim_stdout():
    """Keeps stdout for events only: libraries that print (torch.onnx does) then print to stderr."""
    global _events
    _events = sys.stdout
    sys.stdout = sys.stderr


def speak_as(rank, ranks):
    """Under torchrun every rank runs the stage, but the job has one voice: rank 0 writes the
    events, the others only log, their lines marked with their rank."""
    global _events, _log_prefix
    if ranks > 1:
        _log_prefix = f"septtrainer rank {rank}/{ranks}"
    if rank != 0:
        _events = None


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def emit(event, **fields):
    if _events is None:
        return
    record = {"event": event, **{k: _finite(v) for k, v in fields.items()}}
    _events.write(json.dumps(record, separators=(",", ":")) + "\n")
    _events.flush()


def progress(stage, epoch, step, total_steps, loss, lr, images_per_s):
    emit("progress", stage=stage, epoch=epoch, step=step, total_steps=total_steps,
         loss=loss, lr=lr, images_per_s=images_per_s)


def checkpoint(path, step, write_seconds):
    emit("checkpoint", path=str(path), step=step, write_seconds=write_seconds)


def metrics(stage, values):
    emit("metrics", stage=stage, metrics={k: _finite(v) for k, v in values.items()})


def artifact(kind, path):
    emit("artifact", kind=kind, path=str(path))


def log(message):
    # A dead supervisor (a killed worker) held stderr's read end: a log line is then lost, and must
    # not end the stop it reports (a rank that never prints would train on with the others).
    try:
        sys.stderr.write(f"[{_log_prefix} {time.strftime('%H:%M:%S')}] {message}\n")
        sys.stderr.flush()
    except OSError:
        pass


def end(code):
    """Exits with `code` without tearing the interpreter down: with torch loaded that teardown
    takes two seconds of CPU (measured on torch 2.15) and does nothing a trainer needs, its files
    being closed and its events flushed. Exit handlers still run (multiprocessing's ends the
    data-loading workers)."""
    atexit._run_exitfuncs()
    for stream in (_events, sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


class StopRequested(Exception):
    """Raised to end a stage on SIGTERM; main turns it into exit code 143."""


class StopSignal:
    """On SIGTERM, training stages only set a flag and stop at a step boundary with a checkpoint;
    the other stages have nothing to save and stop at once."""

    def __init__(self, immediate):
        self.immediate = immediate
        self.requested = False
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum, frame):
        self.requested = True
        if self.immediate:
            raise StopRequested()
        log("SIGTERM: stopping after the current step")


def watch_supervisor():
    """Under a supervisor (SEPT_TRAINER_SUPERVISED=1) stdin is a pipe it holds open and never
    writes. EOF there means the supervisor died (a killed worker): stop as on SIGTERM, with a
    checkpoint, instead of training on as an orphan beside the retry that replaces it."""
    if os.environ.get("SEPT_TRAINER_SUPERVISED") != "1":
        return

    def wait_for_eof():
        # os.read on the raw descriptor: a daemon thread blocked in sys.stdin's buffered reader
        # holds its lock and makes interpreter shutdown abort.
        while os.read(0, 65536):
            pass
        log("supervisor gone (stdin closed): stopping")
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=wait_for_eof, name="supervisor-watch", daemon=True).start()
