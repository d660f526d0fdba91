"""Atomic files: every file the trainer hands on (checkpoints, metrics, the exported encoder, shards)
is written under a hidden temporary name beside its target, fsynced, then renamed, so that readers
(a resumed run, the checkpoint mirror, septflow's embedder) see the whole file or none, even after
a crash or a power cut."""
import glob
import json
import os
import secrets


def _fsync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temporary_name(path):
    """`.<name>.tmp-<pid>-<random>` beside `path`: listings skip it, the rename stays on one file
    system, and writers stay apart where their pids are alike (containers sharing a volume)."""
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f".{name}.tmp-{os.getpid()}-{secrets.token_hex(8)}")


def write(path, produce):
    """Runs produce(temporary_path) to write the file, then puts it at `path`; on failure neither is left."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = _temporary_name(path)
    try:
        produce(tmp)
        _fsync(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    _fsync(directory)


def write_json(path, value):
    def produce(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(value, f, indent=2)

    write(path, produce)


def remove_stale(directory, pattern):
    """Deletes the temporaries that killed writers (other pids) left for names matching the glob `pattern`."""
    for stale in glob.glob(os.path.join(directory, f".{pattern}.tmp-*")):
        if f".tmp-{os.getpid()}-" not in os.path.basename(stale):
            os.remove(stale)
