"""Stage evaluate: top-1 of a fine-tuned classifier, kNN and linear-probe top-1 of a frozen encoder."""
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import atomic, checkpoint, protocol
from .augment import normalize
from .data import ShardDataset, batch_loader
from .encoders import architecture, checkpoint_encoder
from .methods import Classifier
from .precision import Precision


@torch.no_grad()
def forward_all(model, dataset, config, device, what):
    """Runs model over the dataset in order, reporting progress so the activity sees it alive."""
    batch_size = config["batch_size"]
    batches = [range(i, min(i + batch_size, len(dataset))) for i in range(0, len(dataset), batch_size)]
    loader = batch_loader(dataset, device, config["loader_workers"])
    autocast = Precision(device).autocast
    outputs, started = [], time.perf_counter()
    try:
        for done, (indices, images) in enumerate(loader.batches(batches), start=1):
            with autocast():
                outputs.append(model(normalize(images.to(device), config["mean"], config["std"])).float().cpu())
            if done % config["log_every_steps"] == 0 or done == len(batches):
                rate = sum(len(b) for b in batches[:done]) / (time.perf_counter() - started)
                protocol.progress("evaluate", 0, done, len(batches), None, None, rate)
    finally:
        loader.close()
    protocol.log(f"{what}: {len(dataset)} images")
    return torch.cat(outputs)


def top1(predictions, labels):
    return (predictions == labels).float().mean().item()


def knn_top1(bank, bank_labels, queries, query_labels, k, temperature, num_classes):
    """Weighted kNN vote on cosine similarity (as in InstDisc / DINO evaluation)."""
    bank, queries = F.normalize(bank, dim=1), F.normalize(queries, dim=1)
    k = min(k, len(bank))
    predictions = []
    for chunk in queries.split(1024):
        similarity, neighbours = (chunk @ bank.T).topk(k, dim=1)
        votes = torch.zeros(len(chunk), num_classes).scatter_add_(1, bank_labels[neighbours], (similarity / temperature).exp())
        predictions.append(votes.argmax(dim=1))
    return top1(torch.cat(predictions), query_labels)


def linear_probe_top1(train_features, train_labels, test_features, test_labels, steps, lr, num_classes):
    """Full-batch logistic regression on standardized frozen features; zero init keeps it deterministic."""
    mean, std = train_features.mean(dim=0), train_features.std(dim=0) + 1e-6
    head = nn.Linear(train_features.shape[1], num_classes)
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    optimizer = torch.optim.Adam(head.parameters(), lr=lr)
    x = (train_features - mean) / std
    with torch.enable_grad():
        for _ in range(steps):
            optimizer.zero_grad()
            F.cross_entropy(head(x), train_labels).backward()
            optimizer.step()
    with torch.no_grad():
        return top1(head((test_features - mean) / std).argmax(dim=1), test_labels)


def run(config, device, resume_state, stop):
    arch = architecture(config)
    state = checkpoint.read_init(config, arch)
    encoder = checkpoint_encoder(state)
    encoder.to(device).eval()
    settings, num_classes = config["evaluate"], config["num_classes"]
    test_set = ShardDataset(config["test_shards"], "config.test_shards", config["image_size"], config["channels"])
    test_labels = test_set.labels(num_classes, "config.test_shards")

    values = {"test_samples": len(test_set)}
    if state.stage == "finetune":
        classifier = Classifier(encoder, num_classes, config["finetune"], config["mean"], config["std"])
        classifier.load_state_dict(state.model)
        logits = forward_all(classifier.to(device).eval(), test_set, config, device, "classifier on test")
        values["top1"] = top1(logits.argmax(dim=1), test_labels)

    if settings["knn_k"] > 0 or settings["linear_probe_steps"] > 0:
        train_set = ShardDataset(config["train_shards"], "config.train_shards", config["image_size"], config["channels"])
        train_labels = train_set.labels(num_classes, "config.train_shards")
        bank = forward_all(encoder, train_set, config, device, "encoder on train")
        queries = forward_all(encoder, test_set, config, device, "encoder on test")
        if settings["knn_k"] > 0:
            values["knn_top1"] = knn_top1(bank, train_labels, queries, test_labels,
                                          settings["knn_k"], settings["knn_temperature"], num_classes)
        if settings["linear_probe_steps"] > 0:
            values["linear_probe_top1"] = linear_probe_top1(bank, train_labels, queries, test_labels,
                                                            settings["linear_probe_steps"], settings["linear_probe_lr"],
                                                            num_classes)
    protocol.metrics("evaluate", values)
    path = os.path.join(config["output_dir"], "metrics.json")
    atomic.write_json(path, {"checkpoint": config["init_checkpoint"], "checkpoint_stage": state.stage, **values})
    protocol.artifact("metrics", path)
