"""The `supportbot` command through a real subprocess, as a developer types it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def supportbot(
    *args: str, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "bot", *args]
    return subprocess.run(
        command, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=240, env={**os.environ, **(env or {})}
    )


def test_ask_json_ranks_order_status_first(repo_root: Path, real_serving: Any) -> None:
    done = supportbot("ask", "where is my parcel", "--json", cwd=repo_root)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) >= {"text", "intent", "entities", "intent_ranking", "replies"}
    assert data["intent"]["name"] == "order_status"
    assert data["intent_ranking"][0]["name"] == "order_status"
    assert all(set(r) >= {"text", "buttons"} for r in data["replies"])


def test_ask_stdin_prints_one_json_line_per_message(repo_root: Path, real_serving: Any) -> None:
    done = supportbot("ask", "-", cwd=repo_root, stdin="hello\nhow long does delivery to Germany take\n")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["intent"]["name"] for line in lines] == ["greet", "faq"]
    assert lines[1]["replies"][0]["sources"][0]["id"] == "delivery-time-germany"


def test_train_twice_does_nothing_the_second_time(repo_root: Path, real_serving: Any) -> None:
    done = supportbot("train", cwd=repo_root)
    assert done.returncode == 0, done.stderr
    assert "Up to date" in done.stdout


@pytest.fixture()
def project_copy(tmp_path: Path, repo_root: Path) -> Path:
    for name in ("intents", "knowledge"):
        shutil.copytree(repo_root / name, tmp_path / name, ignore=shutil.ignore_patterns("tests"))
    return tmp_path


def test_broken_yaml_fails_training_and_the_old_model_keeps_serving(project_copy: Path, real_serving: Any) -> None:
    env = {"SUPPORTBOT_PROJECT_DIR": str(project_copy), "SUPPORTBOT_STATE_DIR": str(project_copy / ".state")}
    assert supportbot("train", cwd=project_copy, env=env).returncode == 0
    nlu = project_copy / "intents" / "nlu" / "smalltalk.yml"
    lines = nlu.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.strip().startswith("- intent: greet"))
    lines.insert(index + 1, "  exemples: oops")
    nlu.write_text("\n".join(lines) + "\n")

    broken = supportbot("train", cwd=project_copy, env=env)
    assert broken.returncode == 1
    assert f"intents/nlu/smalltalk.yml:{index + 2}" in broken.stderr
    assert "unknown key 'exemples'" in broken.stderr

    still = supportbot("ask", "hello there", "--json", cwd=project_copy, env=env)
    assert still.returncode == 0, still.stderr
    assert json.loads(still.stdout)["intent"]["name"] == "greet"


def test_validate_reports_problems_with_file_and_line(project_copy: Path) -> None:
    env = {"SUPPORTBOT_PROJECT_DIR": str(project_copy), "SUPPORTBOT_STATE_DIR": str(project_copy / ".state")}
    assert supportbot("validate", cwd=project_copy, env=env).returncode == 0
    (project_copy / "intents" / "nlu" / "extra.yml").write_text('version: "3.1"\nnlu:\n- intent: greet\n')
    done = supportbot("validate", cwd=project_copy, env=env)
    assert done.returncode == 1
    assert "intents/nlu/extra.yml:3" in done.stderr
    assert "has no examples" in done.stderr
