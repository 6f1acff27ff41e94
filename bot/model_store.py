"""Trained models shared by their content hash (setting `model_store`).

A model folder is named after the fingerprint of everything it was trained from (data, settings, encoder),
so the same name means the same model. With a store — a folder every node of a deployment can read, such as
a shared volume — the first node to train publishes its model there and every other node (and every later
start) copies it instead of training again. The node's own `models/` folder keeps its `current` pointer and
the snapshots it serves from; the store holds only finished models, each written under a temporary name and
renamed into place, so a reader never sees half a model.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

COMPLETE = "meta.json"
"""A model folder is complete once this file is in it (it is written last)."""


def fetch(store: Path | None, models_dir: Path, name: str) -> bool:
    """Copy the model `name` from the store into `models_dir` when the store has it complete and the node
    does not. True when `models_dir/name` is complete afterwards."""
    local = models_dir / name
    if (local / COMPLETE).exists():
        return True
    shared = store / name if store is not None else None
    if shared is None or not (shared / COMPLETE).exists():
        return False
    tmp = models_dir / f".fetch-{name}-{uuid.uuid4().hex[:8]}"
    try:
        shutil.copytree(shared, tmp)
        if local.exists():
            shutil.rmtree(local)
        tmp.rename(local)
    except OSError as e:  # an unreadable store is a cache miss: the node trains its own
        log.warning("could not copy model %s from the model store %s (%s); training here instead", name, store, e)
        shutil.rmtree(tmp, ignore_errors=True)
        return False
    log.info("model %s copied from the model store %s", name, store)
    return True


def publish(store: Path | None, model: Path) -> None:
    """Put a complete model folder into the store, unless it is there already (same name, same model)."""
    if store is None or not (model / COMPLETE).exists():
        return
    target = store / model.name
    if (target / COMPLETE).exists():
        return
    tmp = store / f".publish-{model.name}-{uuid.uuid4().hex[:8]}"
    try:
        store.mkdir(parents=True, exist_ok=True)
        shutil.copytree(model, tmp)
        if target.exists():  # an unfinished folder (no meta.json) is not a model: replace it
            shutil.rmtree(target, ignore_errors=True)
        os.rename(tmp, target)  # atomic; fails if another node published the same model first
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / COMPLETE).exists():
            log.warning("could not publish model %s to the model store %s (%s)", model.name, store, e)
