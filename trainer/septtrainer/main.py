"""Entry point: `python -m septtrainer <stage> --config <file.json> [--resume <checkpoint>]`.

Maps outcomes to the protocol's exit codes: 0 done, 2 invalid configuration, 143 stopped on
SIGTERM, 1 anything else (retryable). torch is imported only after the config is valid, so a bad
config fails in milliseconds and a SIGTERM during the slow import is already handled.

Under torchrun (septtrainer.launch) every rank runs this entry point: distributed.py.
"""
import argparse
import importlib
import os
import random
import sys
import traceback

from . import config as config_module, protocol
from .config import ConfigError

STAGES = ("pretrain", "finetune", "evaluate", "export")
RESUMABLE = ("pretrain", "finetune")


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="septtrainer", description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("--config", required=True, help="JSON config file (fields in trainer/PROTOCOL.md)")
    parser.add_argument("--resume", help="checkpoint of an interrupted run of the same stage and config")
    return parser.parse_args(argv)


def select_device(torch, requested):
    available = torch.cuda.is_available()
    if requested == "cuda" and not available:
        raise ConfigError("config.device", "is cuda but no CUDA device is available")
    return torch.device("cuda" if requested == "cuda" or (requested == "auto" and available) else "cpu")


def prepare_runtime(torch, config, device, threads):
    import numpy as np

    if threads:
        torch.set_num_threads(threads)
    if config["deterministic"]:
        # On CUDA some kernels have no deterministic variant; warn instead of failing the run.
        torch.use_deterministic_algorithms(True, warn_only=device.type == "cuda")
        torch.backends.cudnn.benchmark = False
    random.seed(config["seed"])
    np.random.seed(config["seed"])
    torch.manual_seed(config["seed"])


def run(args, stop):
    config = config_module.load(args.config, args.stage)
    # Deterministic cuBLAS needs this before CUDA initializes; harmless on CPU.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    import torch

    from . import checkpoint, distributed
    from .encoders import architecture

    world = distributed.world_from_env()
    protocol.speak_as(world.rank, world.size)
    if world.size > 1:
        if args.stage not in RESUMABLE:
            raise ConfigError("stage", f"{args.stage} runs as one process; only {' and '.join(RESUMABLE)} run under torchrun")
        distributed.rank_batch_size(config["batch_size"], world)
    resume_state = None
    if args.resume:
        if args.stage not in RESUMABLE:
            raise ConfigError("--resume", f"only {' and '.join(RESUMABLE)} can resume")
        resume_state = checkpoint.read_for("--resume", args.resume, architecture(config), stage=args.stage)
        checkpoint.check_resumable(config, resume_state)
    device = distributed.device_of(world, select_device(torch, config["device"]))
    prepare_runtime(torch, config, device, config["threads"] or (distributed.default_threads(world) if world.size > 1 else None))
    stage = importlib.import_module(f".{args.stage}", __package__)
    distributed.join(world, device)
    try:
        stage.run(config, device, resume_state, stop)
    finally:
        distributed.leave(world)


def main(argv=None):
    protocol.claim_stdout()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    stop = protocol.StopSignal(immediate=args.stage not in RESUMABLE)
    protocol.watch_supervisor()
    try:
        run(args, stop)
        return protocol.EXIT_OK
    except ConfigError as err:
        protocol.log(f"invalid configuration: {err}")
        return protocol.EXIT_INVALID_CONFIG
    except protocol.StopRequested:
        protocol.log("stopped on request")
        return protocol.EXIT_STOPPED
    except Exception:  # noqa: BLE001  every other failure is reported and left to the caller's retry
        traceback.print_exc(file=sys.stderr)
        return protocol.EXIT_FAILED
