"""Trained models shared by content hash (bot/model_store.py, setting `model_store`): a second node with
its own state folder copies the model the first one trained instead of training it again."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import bootstrap, model_store
from bot.config import Settings
from bot.encoding import FakeEncoder

ROOT = Path(__file__).resolve().parents[1]


def node(tmp_path: Path, name: str, store: Path | None) -> Settings:
    return Settings(project_dir=ROOT, state_dir=tmp_path / name, model_store=store, learning_retrain=False)


def test_a_second_node_copies_the_model_the_first_one_trained(tmp_path: Path) -> None:
    store, encoder = tmp_path / "store", FakeEncoder()
    first = bootstrap.train(node(tmp_path, "a", store), encoder)
    assert first.trained
    assert (store / first.path.name / "meta.json").exists()  # published under its content hash

    second = bootstrap.train(node(tmp_path, "b", store), encoder)
    assert not second.trained  # copied, not trained
    assert second.path.parent == tmp_path / "b" / "models" and second.path.name == first.path.name
    assert (second.path / "meta.json").read_bytes() == (first.path / "meta.json").read_bytes()
    assert (tmp_path / "b" / "models" / "current").read_text() == first.path.name
    # the copied model serves: the assistant loads from the second node's folder without training
    settings_b = node(tmp_path, "b", store)
    assert bootstrap.model_is_current(settings_b, encoder, bootstrap.load_project(settings_b)) == second.path
    # the sentiment head travels the same way
    assert any(p.name.startswith("sentiment-") for p in store.iterdir())
    assert any(p.name.startswith("sentiment-") for p in (tmp_path / "b" / "models").iterdir())
    # a node without the store has nothing to fetch (it trains its own: `fetch(None, …)` is tested below)
    assert bootstrap.model_is_current(node(tmp_path, "c", None), encoder, bootstrap.load_project(settings_b)) is None


def fake_model(folder: Path, name: str = "nlu-0123456789abcdef", who: str = "first") -> Path:
    model = folder / name
    (model / "classifier").mkdir(parents=True)
    (model / "classifier" / "weights.npz").write_text(who)
    (model / "meta.json").write_text(f'{{"who": "{who}"}}')
    return model


def test_an_unfinished_model_in_the_store_is_not_used_and_is_replaced(tmp_path: Path) -> None:
    store, models = tmp_path / "store", tmp_path / "models"
    models.mkdir()
    unfinished = fake_model(store)
    (unfinished / "meta.json").unlink()  # written last: without it the folder is not a model
    assert not model_store.fetch(store, models, unfinished.name)
    model_store.publish(store, fake_model(tmp_path / "trained", who="trained here"))
    assert (store / unfinished.name / "meta.json").read_text() == '{"who": "trained here"}'
    assert model_store.fetch(store, models, unfinished.name)
    assert (models / unfinished.name / "classifier" / "weights.npz").read_text() == "trained here"


def test_publishing_keeps_the_model_already_there(tmp_path: Path) -> None:
    store = tmp_path / "store"
    model_store.publish(store, fake_model(tmp_path / "a", who="first"))
    model_store.publish(store, fake_model(tmp_path / "b", who="second"))
    assert (store / "nlu-0123456789abcdef" / "meta.json").read_text() == '{"who": "first"}'
    assert not [p for p in store.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_a_store_that_cannot_be_copied_is_a_miss_not_an_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store, models = tmp_path / "store", tmp_path / "models"
    models.mkdir()
    shared = fake_model(store)
    (shared / "classifier" / "vectors.npy").symlink_to(tmp_path / "gone")  # a broken file on the shared volume
    assert not model_store.fetch(store, models, shared.name)
    assert "training here instead" in caplog.text
    assert [p.name for p in models.iterdir()] == []  # nothing half-copied left behind
    assert not model_store.fetch(None, models, shared.name)  # no store: nothing to fetch
