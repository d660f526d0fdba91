"""Stage pretrain: self-supervised training (SimCLR or MAE) of an encoder on unlabeled shards."""
from . import engine, protocol
from .data import training_set
from .encoders import architecture, initial_encoder
from .methods import MAE, SimCLR
from .precision import place


def run(config, device, resume_state, stop):
    arch = architecture(config)
    dataset = training_set(config)
    encoder = initial_encoder(config, arch)
    if config["method"] == "simclr":
        model = SimCLR(encoder, config["simclr"], config["mean"], config["std"])
    else:
        model = MAE(encoder, config["mae"], config["mean"], config["std"], config["channels"])
    protocol.log(f"pretrain {config['method']} on {len(dataset)} images, {config['model']}, device {device}")
    path = engine.train("pretrain", config, place(model, device), dataset, None, device, arch, resume_state, stop)
    protocol.artifact("pretrained_checkpoint", path)
