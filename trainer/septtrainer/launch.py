"""`python -m septtrainer.launch <torchrun arguments>`: torchrun, ending with the protocol's exit code.

torchrun starts one process per rank, watches them, and stops them all when one fails or when it
is itself signalled; but it then exits 1 whatever happened, and the training activity tells an
invalid configuration (2, not retryable) and a stop with a checkpoint (143) from a crash (1,
retried) by the exit code alone. This runs torchrun's own launcher, unchanged, and gives back the
ranks' verdict: 2 or 143 when every rank that exited by itself exited so, 1 for anything else.
"""
import sys

from torch.distributed.elastic.multiprocessing.api import SignalException
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.run import parse_args, run

from .protocol import EXIT_FAILED, EXIT_INVALID_CONFIG, EXIT_OK, EXIT_STOPPED

# Exits that every rank reaches alike, so one rank's is the job's: a config error is found by all
# ranks in the same config, and a stop is agreed by all ranks at the same step.
UNANIMOUS = (EXIT_INVALID_CONFIG, EXIT_STOPPED)


def exit_code(failures):
    """The job's exit code from torchrun's failures: the ranks that ended non-zero, those it killed
    itself once it saw the first (a negative code: the signal) among them."""
    codes = {failure.exitcode for failure in failures.values() if failure.exitcode >= 0}
    return codes.pop() if len(codes) == 1 and next(iter(codes)) in UNANIMOUS else EXIT_FAILED


def main(argv=None):
    try:
        run(parse_args(sys.argv[1:] if argv is None else argv))
    except ChildFailedError as err:
        print(err, file=sys.stderr, flush=True)
        return exit_code(err.failures)
    except SignalException:
        # torchrun has passed the signal to every rank and waited up to --shutdown-timeout for
        # them: they agree on a step, rank 0 writes the stop checkpoint, all exit.
        return EXIT_STOPPED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
