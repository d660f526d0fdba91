"""Stage finetune: supervised training of encoder + linear head on labeled shards."""
from . import engine, protocol
from .data import training_set
from .encoders import architecture, initial_encoder
from .methods import Classifier
from .precision import place


def run(config, device, resume_state, stop):
    arch = architecture(config)
    dataset = training_set(config)
    labels = dataset.labels(config["num_classes"], "config.train_shards")
    encoder = initial_encoder(config, arch)
    model = Classifier(encoder, config["num_classes"], config["finetune"], config["mean"], config["std"])
    start = config["init_checkpoint"] or "scratch"
    protocol.log(f"finetune {config['model']} from {start} on {len(dataset)} images, device {device}")
    path = engine.train("finetune", config, place(model, device), dataset, labels, device, arch, resume_state, stop)
    protocol.artifact("finetuned_checkpoint", path)
