"""One evaluation run: choose the data, embed once, train and predict, write every report.

Modes:
- project intents, held-out split (default) or `cross_validation` with `folds` (stratified);
- project intents for training, a `test` file for testing;
- external data: `train` + `test` files (+ `val`, where the classifier fits its thresholds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bot.config import Settings
from bot.encoding import Encoded, Encoder, encode_with_layers, layer_names_for
from bot.errors import ConfigError, TrainingDataError
from bot.evaluation import plots, reports
from bot.evaluation.crossval import (
    ClassifierFactory,
    CrossValidation,
    Embed,
    Labelled,
    cross_validate,
    fit,
    holdout_split,
    predict,
)
from bot.evaluation.datasets import has_out_of_scope, read_examples
from bot.evaluation.html import write_summary
from bot.evaluation.metrics import (
    Prediction,
    intent_errors,
    intent_report,
    oos_report,
    retrieval_metrics,
    top1_accuracy,
)


class EvaluationProgress(Protocol):
    def stage(self, name: str, total: int | None = None) -> None: ...

    def advance(self, n: int = 1) -> None: ...


class _Silent:
    def stage(self, name: str, total: int | None = None) -> None:
        return None

    def advance(self, n: int = 1) -> None:
        return None


@dataclass(frozen=True)
class EvaluationOptions:
    out: Path
    train: Path | None = None
    test: Path | None = None
    val: Path | None = None
    cross_validation: bool = False
    folds: int = 5
    test_fraction: float = 0.2
    seed: int = 0
    knowledge: bool = True
    errors: bool = True
    successes: bool = False
    plot: bool = True

    def check(self) -> None:
        if self.train is not None and self.test is None and not self.cross_validation:
            raise ConfigError("--train needs --test (or --cross-validation) — pass the file to test on")
        if self.val is not None and self.train is None:
            raise ConfigError("--val is only used with --train and --test — pass all three")
        if self.cross_validation and self.test is not None:
            raise ConfigError("--cross-validation tests on its own folds — leave out --test")
        if self.cross_validation and self.folds < 2:
            raise ConfigError(f"--folds must be at least 2 — got {self.folds}")


@dataclass
class EvaluationResult:
    title: str
    mode: str
    predictions: list[Prediction]
    report: dict[str, Any]
    oos: dict[str, Any] | None = None
    retrieval: dict[str, Any] | None = None
    crossval: CrossValidation | None = None
    files: list[Path] = field(default_factory=list)


class _Embedded:
    """Every distinct text encoded once (embeddings and layer features), looked up by text."""

    def __init__(self, encoder: Encoder, texts: Sequence[str], names: Sequence[str], progress: EvaluationProgress):
        unique = list(dict.fromkeys(texts))
        progress.stage("Embedding", len(unique))
        self.encoded = encode_with_layers(encoder, unique, names, progress=progress.advance)
        self.row = {t: i for i, t in enumerate(unique)}

    def labelled(self, texts: list[str], labels: list[str]) -> Labelled:
        part = self.encoded.rows([self.row[t] for t in texts])
        return Labelled(texts, labels, part.vectors, dict(part.layers))


@dataclass(frozen=True)
class _Texts:
    """Texts and their intents, row by row (empty when a file was not given)."""

    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> _Texts:
        examples = read_examples(path)
        return cls([e.text for e in examples], [e.intent for e in examples])


@dataclass(frozen=True)
class _Model:
    """A fresh classifier per training (`make`), and how texts outside the embedded set are encoded."""

    make: ClassifierFactory
    embed: Embed


def _project_examples(settings: Settings) -> tuple[list[str], list[str]]:
    from bot import bootstrap
    from bot.nlu.model import training_set

    project = bootstrap.load_project(settings)
    if project.errors:
        raise TrainingDataError(project.problems)
    return training_set(project.data, bootstrap.extra_training_examples(settings))


def _read_data(settings: Settings, options: EvaluationOptions) -> tuple[str, _Texts, _Texts, _Texts]:
    """(title, training, validation, test data): the files of the options, else the project's intents."""
    val = _Texts()
    if options.train is not None:
        train = _Texts.read(options.train)
        title = options.train.name
        if options.val is not None:
            val = _Texts.read(options.val)
    else:
        train = _Texts(*_project_examples(settings))
        title = str(settings.intents_dir)
    test = _Texts.read(options.test) if options.test is not None else _Texts()
    return title, train, val, test


def run_evaluation(
    settings: Settings,
    encoder: Encoder,
    options: EvaluationOptions,
    progress: EvaluationProgress | None = None,
) -> EvaluationResult:
    from bot import bootstrap
    from bot.nlu.classifier import EmbeddingIntentClassifier

    options.check()
    progress = progress or _Silent()
    config = bootstrap.classifier_config(settings)
    names = layer_names_for(encoder, config.layer_features)

    def make() -> EmbeddingIntentClassifier:
        return EmbeddingIntentClassifier(config)

    def embed(texts: Sequence[str]) -> Encoded:
        return encode_with_layers(encoder, list(texts), names)

    title, train, val, test = _read_data(settings, options)
    embedded = _Embedded(encoder, [*train.texts, *val.texts, *test.texts], names, progress)
    pool = embedded.labelled(train.texts, train.labels)
    model = _Model(make, embed)
    crossval: CrossValidation | None = None
    if options.cross_validation:
        crossval = _cross_validate(model, pool, options, progress)
        mode = f"{options.folds}-fold cross-validation on {title}"
        predictions = crossval.predictions
    else:
        held_out = embedded.labelled(test.texts, test.labels) if options.test is not None else None
        validation = embedded.labelled(val.texts, val.labels) if val.texts else None
        mode, predictions = _train_and_test(model, pool, held_out, validation, options, title, progress)
    result = EvaluationResult(title, mode, predictions, intent_report(predictions), crossval=crossval)
    oos_label = has_out_of_scope([p.target for p in predictions])
    if oos_label is not None:
        result.oos = oos_report(predictions, oos_label)
    if options.knowledge and options.train is None:
        result.retrieval = knowledge_retrieval(settings, encoder, progress)
    write_all(options, result, progress)
    return result


def _cross_validate(
    model: _Model, pool: Labelled, options: EvaluationOptions, progress: EvaluationProgress
) -> CrossValidation:
    progress.stage("Cross-validation", options.folds)
    return cross_validate(
        model.make, pool, options.folds, embed=model.embed, seed=options.seed, on_fold=lambda _: progress.advance()
    )


def _train_and_test(
    model: _Model,
    pool: Labelled,
    test: Labelled | None,
    val: Labelled | None,
    options: EvaluationOptions,
    title: str,
    progress: EvaluationProgress,
) -> tuple[str, list[Prediction]]:
    """Train on `pool` (or its held-out split's training part) and predict the test part: (mode, predictions)."""
    if test is not None:
        train = pool
        mode = f"trained on {title}, tested on {options.test.name if options.test else 'test'}"
    else:
        train_idx, test_idx = holdout_split(pool.labels, options.test_fraction, options.seed)
        train, test = pool.subset(train_idx), pool.subset(test_idx)
        mode = f"held-out split of {title} ({options.test_fraction:.0%} test, seed {options.seed})"
    if val is not None:
        mode += f", thresholds fitted on {options.val.name if options.val else 'val'}"
    progress.stage("Training", None)
    classifier = fit(model.make, train, val=val, embed=model.embed)
    progress.stage("Predicting", None)
    return mode, predict(classifier, test)


# -- knowledge retrieval ---------------------------------------------------------------------------
def knowledge_cases(settings: Settings) -> list[tuple[str, str]]:
    """(text, expected entry id) of every YAML test case and conversation step with `entry:`."""
    from bot.testing.cases import ConversationCase, MessageCase, case_files, load_case_file

    pairs: list[tuple[str, str]] = []
    for folder in (settings.intents_path / "tests", settings.knowledge_path / "tests"):
        for path in case_files(folder):
            for case in load_case_file(path).cases:
                steps = [case.step] if isinstance(case, MessageCase) else list(case.steps)
                if isinstance(case, ConversationCase | MessageCase):
                    pairs.extend((s.user, s.expect.entry) for s in steps if s.expect.entry)
    return pairs


def knowledge_retrieval(
    settings: Settings, encoder: Encoder, progress: EvaluationProgress, top_k: int = 10
) -> dict[str, Any] | None:
    pairs = knowledge_cases(settings)
    if not pairs or not settings.knowledge_path.is_dir():
        return None
    from bot.faq.service import KnowledgeService

    progress.stage("Knowledge retrieval", len(pairs))
    service = KnowledgeService(
        settings.knowledge_path, encoder, state_path=settings.state_path, root=settings.project_dir, recorder=None
    )
    responder = service.load().responder
    embeddings = encoder.encode([t for t, _ in pairs])
    ranks: list[int | None] = []
    misses: list[dict[str, Any]] = []
    for (text, expected), embedding in zip(pairs, embeddings, strict=True):
        hits = responder.rank(embedding, text, top_k)
        ids = [h.entry.id for h in hits]
        rank = ids.index(expected) + 1 if expected in ids else None
        ranks.append(rank)
        if rank != 1:
            misses.append({"text": text, "entry": expected, "rank": rank, "retrieved": [h.as_dict() for h in hits[:3]]})
        progress.advance()
    return {**retrieval_metrics(ranks), "misses": misses}


# -- writing ---------------------------------------------------------------------------------------
def headline(result: EvaluationResult) -> list[tuple[str, str]]:
    report = result.report
    oos_label = result.oos["oos_label"] if result.oos else None
    rows = [
        ("accuracy", f"{report['accuracy']:.3f}"),
        ("top-1 accuracy, abstention ignored", f"{top1_accuracy(result.predictions, oos_label):.3f}"),
        ("macro avg F1", f"{report['macro avg']['f1-score']:.3f}"),
        ("weighted avg F1", f"{report['weighted avg']['f1-score']:.3f}"),
    ]
    if result.oos:
        rows += [
            ("in-scope accuracy", f"{result.oos['in_scope_accuracy']:.3f}"),
            ("oos recall", f"{result.oos['oos_recall']:.3f}"),
            ("oos precision", f"{result.oos['oos_precision']:.3f}"),
            ("overall accuracy (oos as a class)", f"{result.oos['accuracy']:.3f}"),
        ]
    if result.retrieval:
        rows += [(f"knowledge {k}", f"{result.retrieval[k]:.3f}") for k in ("recall@1", "recall@3", "mrr")]
    return rows


def write_all(options: EvaluationOptions, result: EvaluationResult, progress: EvaluationProgress) -> None:
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    progress.stage("Writing reports", None)
    result.files.extend(
        reports.write_intent_reports(
            out, result.predictions, errors=options.errors, successes=options.successes
        ).values()
    )
    figures: list[str] = []
    if result.oos is not None:
        result.files.append(reports.write_json(out / reports.OOS_REPORT, result.oos))
    if result.retrieval is not None:
        result.files.append(reports.write_json(out / reports.RETRIEVAL_REPORT, result.retrieval))
    crossval_summary: dict[str, Any] | None = None
    if result.crossval is not None:
        cv = result.crossval
        crossval_summary = {
            "folds": cv.folds,
            "dropped": cv.dropped,
            "summary": cv.summary(),
            "train": cv.train,
            "test": cv.test,
            "metrics": list(cv.test),
        }
        result.files.append(reports.write_json(out / reports.CROSSVAL_REPORT, crossval_summary))
    if options.plot:
        progress.stage("Plotting", None)
        result.files.append(plots.confusion_matrix(result.predictions, out / plots.CONFUSION_MATRIX))
        result.files.append(plots.histogram(result.predictions, out / plots.HISTOGRAM))
        figures = [plots.CONFUSION_MATRIX, plots.HISTOGRAM]
        if result.oos is not None:
            result.files.append(
                plots.coverage_curve(result.oos["coverage_curve"], result.oos["operating_point"], out / plots.COVERAGE)
            )
            figures.append(plots.COVERAGE)
    retrieval = {k: v for k, v in (result.retrieval or {}).items() if k != "misses"} or None
    result.files.append(
        write_summary(
            out,
            title=result.title,
            mode=result.mode,
            headline=headline(result),
            report=result.report,
            errors=intent_errors(result.predictions),
            figures=figures,
            retrieval=retrieval,
            crossval=crossval_summary,
        )
    )
