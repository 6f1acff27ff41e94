"""Background retraining with a fake builder: the swap happens only for a model that trained and passed its
check; a failing training, a failing check or invalid data keep the serving model."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from bot.errors import Problem, TrainingDataError
from bot.learning.retrain import ModelCheckFailed, ModelRefresher, discard_model


class Builder:
    def __init__(self, *, stale: bool = True, train_error: Exception | None = None, check_error: str = "",
                 invalid: bool = False) -> None:  # fmt: skip
        self.is_stale = stale
        self.train_error = train_error
        self.check_error = check_error
        self.invalid = invalid
        self.trained = 0
        self.discarded: list[Path] = []
        self.serving: Any = "old"
        self.gate = threading.Event()
        self.gate.set()

    def stale(self) -> bool:
        if self.invalid:
            raise TrainingDataError([Problem("intents/nlu.yml", 3, "bad indentation", "fix it")])
        return self.is_stale

    def train(self) -> Path:
        self.gate.wait(5)
        self.trained += 1
        if self.train_error is not None:
            raise self.train_error
        return Path(f"/models/nlu-{self.trained}")

    def load(self, path: Path) -> str:
        return f"assistant on {path.name}"

    def check(self, assistant: Any) -> None:
        if self.check_error:
            raise ModelCheckFailed(self.check_error)

    def discard(self, path: Path) -> None:
        self.discarded.append(path)

    def swapped(self, assistant: Any) -> None:
        self.serving = assistant
        self.is_stale = False


def refresher(builder: Builder, swaps: list[Any]) -> ModelRefresher:
    return ModelRefresher(builder, swaps.append, settle_seconds=0.05, model="nlu-old")


def test_a_good_model_is_swapped_in() -> None:
    swaps: list[Any] = []
    r = refresher(builder := Builder(), swaps)
    assert r.run_once() == "swapped"
    assert swaps == ["assistant on nlu-1"] and builder.serving == "assistant on nlu-1"
    status = r.status()
    assert (status["state"], status["model"], status["swaps"], status["last_outcome"]) == (
        "idle",
        "nlu-1",
        1,
        "swapped",
    )
    assert r.run_once() == "current" and builder.trained == 1  # nothing changed since: nothing trained


@pytest.mark.parametrize(
    ("builder", "outcome", "message"),
    [
        (Builder(train_error=MemoryError("out of memory")), "failed", "training failed (MemoryError: out of memory)"),
        (Builder(check_error="classifies 2 of 9 right"), "failed", "the new model failed its check"),
        (Builder(invalid=True), "invalid", "intents/nlu.yml:3: bad indentation"),
    ],
)
def test_the_serving_model_stays_when_anything_fails(builder: Builder, outcome: str, message: str) -> None:
    swaps: list[Any] = []
    r = refresher(builder, swaps)
    assert r.run_once() == outcome
    assert swaps == [] and builder.serving == "old"
    status = r.status()
    assert status["state"] == outcome and status["model"] == "nlu-old" and message in status["last_message"]
    assert "the serving model stays" in status["last_message"]
    assert builder.discarded == ([Path("/models/nlu-1")] if builder.check_error else [])


def test_requests_in_a_burst_train_once_in_the_background() -> None:
    swaps: list[Any] = []
    builder = Builder()
    r = refresher(builder, swaps)
    for _ in range(5):
        r.request("a file was saved")
    assert r.status()["state"] == "waiting"
    assert r.wait_idle(10)
    assert builder.trained == 1 and swaps == ["assistant on nlu-1"]
    r.close()


class VersionedBuilder(Builder):
    """The data has a version; a training takes the version of its start."""

    def __init__(self) -> None:
        super().__init__()
        self.version, self.served, self.training = 1, 0, 0

    def stale(self) -> bool:
        return self.version != self.served

    def train(self) -> Path:
        self.training = self.version
        return super().train()

    def swapped(self, assistant: Any) -> None:
        super().swapped(assistant)
        self.served = self.training


def test_a_change_during_training_is_trained_after_it() -> None:
    swaps: list[Any] = []
    builder = VersionedBuilder()
    builder.gate.clear()
    r = refresher(builder, swaps)
    r.request("first change")
    assert _eventually(lambda: r.status()["state"] == "training")
    builder.version = 2
    r.request("second change, while training on the first")
    builder.gate.set()
    assert r.wait_idle(10)
    assert builder.trained == 2 and builder.served == 2 and len(swaps) == 2
    r.close()


def test_closed_refresher_never_swaps() -> None:
    swaps: list[Any] = []
    r = refresher(Builder(), swaps)
    r.close()
    r.request("after shutdown")
    assert r.run_once() == "current" and swaps == []


def test_discard_model_points_current_back(tmp_path: Path) -> None:
    good, bad = tmp_path / "nlu-good", tmp_path / "nlu-bad"
    good.mkdir()
    bad.mkdir()
    (tmp_path / "current").write_text("nlu-bad")
    discard_model(tmp_path, bad, good)
    assert not bad.exists() and good.exists() and (tmp_path / "current").read_text() == "nlu-good"
    discard_model(tmp_path, good, good)  # the serving model is never discarded
    assert good.exists()


def _eventually(condition: Any, timeout: float = 5) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False
