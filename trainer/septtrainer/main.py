"""Entry point: `python -m septtrainer <stage> --config <file.json> [--resume <checkpoint>]`.

Maps outcomes to the protocol's exit codes: 0 done, 2 invalid configuration, 143 stopped on
SIGTERM with a checkpoint, 1 anything else (retryable).
"""
import argparse
import os
import random
import signal
import sys
import traceback

# Deterministic cuBLAS needs this before CUDA initializes; harmless on CPU.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from . import checkpoint, config as config_module, engine, evaluate, export, finetune, pretrain, protocol  # noqa: E402
from .config import ConfigError  # noqa: E402
from .encoders import architecture  # noqa: E402

STAGES = {"pretrain": pretrain, "finetune": finetune, "evaluate": evaluate, "export": export}
RESUMABLE = ("pretrain", "finetune")


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="septtrainer", description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=list(STAGES))
    parser.add_argument("--config", required=True, help="JSON config file (fields in trainer/PROTOCOL.md)")
    parser.add_argument("--resume", help="checkpoint of an interrupted run of the same stage and config")
    return parser.parse_args(argv)


def select_device(requested):
    available = torch.cuda.is_available()
    if requested == "cuda" and not available:
        raise ConfigError("config.device", "is cuda but no CUDA device is available")
    return torch.device("cuda" if requested == "cuda" or (requested == "auto" and available) else "cpu")


def prepare_runtime(config, device):
    if config["threads"]:
        torch.set_num_threads(config["threads"])
    if config["deterministic"]:
        # On CUDA some kernels have no deterministic variant; warn instead of failing the run.
        torch.use_deterministic_algorithms(True, warn_only=device.type == "cuda")
        torch.backends.cudnn.benchmark = False
    random.seed(config["seed"])
    np.random.seed(config["seed"])
    torch.manual_seed(config["seed"])


def stop_immediately(signum, frame):
    raise engine.StopRequested()


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # Training stages stop at a step boundary with a checkpoint; the others have nothing to save.
    stop = None
    if args.stage in RESUMABLE:
        stop = engine.StopSignal()
    else:
        signal.signal(signal.SIGTERM, stop_immediately)
    try:
        config = config_module.load(args.config, args.stage)
        resume_state = None
        if args.resume:
            if args.stage not in RESUMABLE:
                raise ConfigError("--resume", f"only {' and '.join(RESUMABLE)} can resume")
            resume_state = checkpoint.read_for("--resume", args.resume, architecture(config), stage=args.stage)
        device = select_device(config["device"])
        prepare_runtime(config, device)
        STAGES[args.stage].run(config, device, resume_state, stop)
        return protocol.EXIT_OK
    except ConfigError as err:
        protocol.log(f"invalid configuration: {err}")
        return protocol.EXIT_INVALID_CONFIG
    except engine.StopRequested:
        protocol.log("stopped on request")
        return protocol.EXIT_STOPPED
    except Exception:  # noqa: BLE001  every other failure is reported and left to the caller's retry
        traceback.print_exc(file=sys.stderr)
        return protocol.EXIT_FAILED
