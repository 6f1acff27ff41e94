"""Routing strategies between the task intents and the knowledge base, compared like for like.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/experiments/retrieval_routing.py [--no-cv] [--details]

Everything goes through the project's own code: the intents data and the `faq` examples come from
`bot.bootstrap` (`load_project`, `extra_training_examples`), the training set from
`bot.nlu.model.training_set`, the classifier is the shipped `EmbeddingIntentClassifier` with
`bootstrap.classifier_config` (fitted abstention threshold and margin, generic out-of-scope sentences),
trained as `train_nlu` trains it; the knowledge base is a `KnowledgeService` over knowledge/*.md with the
shipped scoring and thresholds (`resolve_thresholds`, i.e. answer 0.62 / suggest 0.30 unless the settings
override them). The whole knowledge base stays indexed: a customer paraphrases an existing entry.

Strategies (`route` below mirrors `DialogueEngine._free_turn` outside a form):
  A        shipped: classifier with a `faq` intent (every question/alternate); `faq` -> knowledge base
           (answer, "Did you mean" or "I don't know"); abstention -> knowledge base if it answers or
           suggests, else the two-stage fallback.
  B0       no `faq` intent, no gate: classifier on the task intents only; abstention -> as in A.
  B@ans    no `faq` intent; knowledge confidence >= answer threshold -> knowledge answer, else B0.
  B@sug    same gate at the suggest threshold (answer or "Did you mean"), else B0.
  C@ans    B@ans's gate first, then A (the `faq`-intent classifier).
  C@sug    B@sug's gate first, then A.

Held-out messages (none is a training phrasing; exact repeats are dropped and counted):
  knowledge  the `text` cases of knowledge/tests/*.yml (expected entry);
  in-scope   the cases of intents/tests/test_tasks.yml and test_smalltalk.yml with an intent, plus the first
             user turn of each conversation in intents/tests/conversations.yml that gives an intent;
  oos        the `abstain: true` cases (right = no intent run and no knowledge answer or suggestion).
xfail cases are kept: they are real messages.

Second view (skip with --no-cv): 5-fold cross-validation on the training examples. Intent examples
(out_of_scope included: held-out ones must be abstained on) are stratified, knowledge phrasings are split
by entry (GroupKFold), so a held-out phrasing's entry is unseen by the classifier. The knowledge base stays
fully indexed, so the gate is measured on intent examples only (a knowledge phrasing is indexed verbatim:
its gate confidence would be trivially high).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import GroupKFold, StratifiedKFold

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot import bootstrap  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.encoding import CachedEncoder, Encoded, Encoder, SentenceTransformerEncoder, encode_with_layers  # noqa: E402
from bot.faq.loader import load_knowledge  # noqa: E402
from bot.faq.responder import KnowledgeResult  # noqa: E402
from bot.faq.service import KnowledgeService  # noqa: E402
from bot.faq.thresholds import resolve_thresholds  # noqa: E402
from bot.intent_names import OUT_OF_SCOPE_LABELS  # noqa: E402
from bot.nlu.classifier import EmbeddingIntentClassifier, IntentPrediction  # noqa: E402
from bot.nlu.model import training_set  # noqa: E402
from bot.testing.cases import ConversationCase, MessageCase, case_files, load_case_file  # noqa: E402
from bot.types import FALLBACK_INTENT  # noqa: E402

CACHE = Path(tempfile.gettempdir()) / "supportbot-routing-cache.sqlite"
FAQ = bootstrap.FAQ_INTENT
FOLDS = 5
STRATEGIES = ("A", "B0", "B@ans", "B@sug", "C@ans", "C@sug")
DESCRIPTIONS = {
    "A": "shipped: faq intent + abstention -> KB",
    "B0": "no faq intent, abstention -> KB",
    "B@ans": "no faq intent, KB gate >= answer",
    "B@sug": "no faq intent, KB gate >= suggest",
    "C@ans": "KB gate >= answer, then A",
    "C@sug": "KB gate >= suggest, then A",
}


@dataclass(frozen=True)
class Outcome:
    route: str  # "kb" (a knowledge reply) | "intent" | "abstain" (two-stage fallback / out of scope)
    intent: str | None = None
    decision: str | None = None  # the knowledge decision when route == "kb"
    entries: tuple[str, ...] = ()  # answered entry (answer) or the "Did you mean" buttons (suggest)


@dataclass(frozen=True)
class Message:
    text: str
    kind: str  # "knowledge" | "in_scope" | "oos"
    expected: str | None  # entry id or intent
    source: str


def top_intent(prediction: IntentPrediction) -> str:
    """The intent `NluModel.to_parse` reports: nlu_fallback on abstention, else the top one."""
    return FALLBACK_INTENT if prediction.abstain else prediction.ranking[0][0]


def kb_outcome(kb: KnowledgeResult) -> Outcome:
    if kb.decision == "answer":
        return Outcome("kb", decision="answer", entries=(kb.hits[0].entry.id,))
    if kb.decision == "suggest":
        return Outcome("kb", decision="suggest", entries=tuple(h.entry.id for h in kb.hits[:3]))
    return Outcome("kb", decision="unknown")


def route(intent: str, kb: KnowledgeResult) -> Outcome:
    """`DialogueEngine._free_turn` for a message outside a form."""
    if intent == FALLBACK_INTENT:
        return kb_outcome(kb) if kb.decision in ("answer", "suggest") else Outcome("abstain")
    if intent == FAQ:
        return kb_outcome(kb)
    if intent in OUT_OF_SCOPE_LABELS:  # never predicted (out_of_scope examples are negatives); as the engine
        return kb_outcome(kb) if kb.decision == "answer" else Outcome("abstain")
    return Outcome("intent", intent=intent)


def strategies(intent_a: str, intent_b: str, kb: KnowledgeResult) -> dict[str, Outcome]:
    answer, suggest = kb.decision == "answer", kb.decision in ("answer", "suggest")
    return {
        "A": route(intent_a, kb),
        "B0": route(intent_b, kb),
        "B@ans": kb_outcome(kb) if answer else route(intent_b, kb),
        "B@sug": kb_outcome(kb) if suggest else route(intent_b, kb),
        "C@ans": kb_outcome(kb) if answer else route(intent_a, kb),
        "C@sug": kb_outcome(kb) if suggest else route(intent_a, kb),
    }


# -- data ------------------------------------------------------------------------------------------
def held_out_messages(settings: Settings, training_texts: Sequence[str]) -> tuple[list[Message], list[str]]:
    """The test messages, minus any that repeats a training phrasing (returned second)."""
    seen = {t.strip().lower() for t in training_texts}
    messages: list[Message] = []
    for folder in (settings.knowledge_path / "tests", settings.intents_path / "tests"):
        for path in case_files(folder):
            rel = path.relative_to(ROOT).as_posix()
            for case in load_case_file(path).cases:
                if isinstance(case, MessageCase):
                    step = case.step
                elif isinstance(case, ConversationCase) and case.steps:
                    step = case.steps[0]
                    if not step.expect.intent:
                        continue
                else:
                    continue
                e = step.expect
                if e.entry:
                    messages.append(Message(step.user, "knowledge", e.entry, rel))
                elif e.intent:
                    messages.append(Message(step.user, "in_scope", e.intent, rel))
                elif e.abstain:
                    messages.append(Message(step.user, "oos", None, rel))
    kept, dropped, texts = [], [], set()
    for m in messages:
        key = m.text.strip().lower()
        if key in seen:
            dropped.append(m.text)
        elif key not in texts:  # the same message twice (e.g. in two files) counts once
            texts.add(key)
            kept.append(m)
    return kept, dropped


def encode(settings: Settings, encoder: Encoder, texts: Sequence[str]) -> Encoded:
    """Embeddings and the classifier's layer features, from one pass (as `train_nlu` encodes)."""
    return encode_with_layers(encoder, list(texts), bootstrap.classifier_config(settings).layer_features)


def fit_classifier(
    settings: Settings, encoder: Encoder, texts: Sequence[str], labels: Sequence[str], x: Encoded
) -> EmbeddingIntentClassifier:
    """As `bot.nlu.model.train_nlu` fits it."""
    classifier = EmbeddingIntentClassifier(bootstrap.classifier_config(settings))
    classifier.fit(
        x.vectors, list(texts), list(labels), layers=x.layers, embed=lambda more: encode(settings, encoder, more)
    )
    return classifier


def intents_of(classifier: EmbeddingIntentClassifier, x: Encoded, texts: Sequence[str]) -> list[str]:
    return [top_intent(p) for p in classifier.predict(x.vectors, list(texts), x.layers)]


# -- metrics ---------------------------------------------------------------------------------------
def share(hits: int, n: int) -> dict[str, float | int]:
    return {"n": hits, "of": n, "share": round(hits / n, 4) if n else 0.0}


def held_out_metrics(messages: Sequence[Message], outcomes: Sequence[Outcome]) -> dict[str, dict[str, float | int]]:
    pairs = list(zip(messages, outcomes, strict=True))
    know = [o for m, o in pairs if m.kind == "knowledge"]
    know_ok = [m.expected in o.entries[:1] and o.decision == "answer" for m, o in pairs if m.kind == "knowledge"]
    know_sug = [m.expected in o.entries and o.decision == "suggest" for m, o in pairs if m.kind == "knowledge"]
    ins = [(m, o) for m, o in pairs if m.kind == "in_scope"]
    oos = [o for m, o in pairs if m.kind == "oos"]
    return {
        "knowledge_answered_right": share(sum(know_ok), len(know)),
        "knowledge_right_in_did_you_mean": share(sum(know_sug), len(know)),
        "knowledge_answered_wrong": share(
            sum(o.decision == "answer" for o in know) - sum(know_ok),
            len(know),
        ),
        "knowledge_reached_kb": share(sum(o.route == "kb" for o in know), len(know)),
        "knowledge_to_task_intent": share(sum(o.route == "intent" for o in know), len(know)),
        "in_scope_right": share(sum(o.route == "intent" and o.intent == m.expected for m, o in ins), len(ins)),
        "in_scope_taken_by_kb": share(sum(o.route == "kb" for _, o in ins), len(ins)),
        "in_scope_kb_answer": share(sum(o.decision == "answer" for _, o in ins), len(ins)),
        "oos_abstained": share(sum(o.route == "abstain" or o.decision == "unknown" for o in oos), len(oos)),
    }


# -- the two views ---------------------------------------------------------------------------------
def held_out_view(
    settings: Settings, encoder: Encoder, kb: KnowledgeService, details: bool
) -> tuple[dict[str, object], Callable[[np.ndarray, Sequence[str]], list[KnowledgeResult]]]:
    project = bootstrap.load_project(settings)
    a_texts, a_labels = training_set(project.data, bootstrap.extra_training_examples(settings))
    b_texts, b_labels = training_set(project.data, {})
    messages, dropped = held_out_messages(settings, a_texts)
    a_x = encode(settings, encoder, a_texts)
    b_x = a_x.rows(slice(0, len(b_texts)))  # training_set lists the intents' examples first, then the extra ones
    assert a_texts[: len(b_texts)] == b_texts
    started = time.perf_counter()
    clf_a = fit_classifier(settings, encoder, a_texts, a_labels, a_x)
    clf_b = fit_classifier(settings, encoder, b_texts, b_labels, b_x)
    fit_seconds = time.perf_counter() - started

    def ask(x: np.ndarray, texts: Sequence[str]) -> list[KnowledgeResult]:
        return [kb.respond(v, t, record=False) for v, t in zip(x, texts, strict=True)]

    texts = [m.text for m in messages]
    x = encode(settings, encoder, texts)
    results = ask(x.vectors, texts)
    per = [
        strategies(a, b, r)
        for a, b, r in zip(intents_of(clf_a, x, texts), intents_of(clf_b, x, texts), results, strict=True)
    ]
    out: dict[str, object] = {
        "messages": {k: sum(m.kind == k for m in messages) for k in ("knowledge", "in_scope", "oos")},
        "dropped_as_training_phrasings": dropped,
        "classifier_fit_seconds": round(fit_seconds, 1),
        "strategies": {s: held_out_metrics(messages, [p[s] for p in per]) for s in STRATEGIES},
    }
    if details:
        rows = []
        for m, p, r in zip(messages, per, results, strict=True):
            row = {"text": m.text, "kind": m.kind, "expected": m.expected, "kb_confidence": round(r.confidence, 3)}
            for s in STRATEGIES:
                o = p[s]
                row[s] = (
                    o.intent
                    if o.route == "intent"
                    else (f"kb:{o.decision}:{','.join(o.entries)}" if o.route == "kb" else "abstain")
                )
            rows.append(row)
        out["details"] = rows
    return out, ask


def cross_validation_view(
    settings: Settings,
    encoder: Encoder,
    ask: Callable[[np.ndarray, Sequence[str]], list[KnowledgeResult]],
) -> dict[str, object]:
    project = bootstrap.load_project(settings)
    b_texts, b_labels = training_set(project.data, {})
    a_texts, a_labels = training_set(project.data, bootstrap.extra_training_examples(settings))
    f_texts = a_texts[len(b_texts) :]
    entry_of: dict[str, int] = {}
    for n, entry in enumerate(load_knowledge(settings.knowledge_path, settings.project_dir).entries):
        for p in entry.phrasings:
            entry_of.setdefault(p.strip().lower(), n)
    f_groups = [entry_of[t.strip().lower()] for t in f_texts]
    tx, fx = encode(settings, encoder, b_texts), encode(settings, encoder, f_texts)
    ty = np.asarray(b_labels)
    kb_t = ask(tx.vectors, b_texts)  # the whole knowledge base: intent examples are not in it
    folds_t = StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(tx.vectors, ty)
    folds_f = GroupKFold(FOLDS).split(fx.vectors, groups=f_groups)
    pred_a_t, pred_b_t = np.empty(len(ty), dtype=object), np.empty(len(ty), dtype=object)
    pred_a_f = np.empty(len(f_texts), dtype=object)
    for (tt, te), (ft, fe) in zip(folds_t, folds_f, strict=True):
        texts = [b_texts[i] for i in tt] + [f_texts[i] for i in ft]
        labels = [b_labels[i] for i in tt] + [FAQ] * len(ft)
        names = list(tx.layers)
        both = Encoded.stack([tx.rows(tt), fx.rows(ft)], names, tx.vectors.shape[1])
        clf_a = fit_classifier(settings, encoder, texts, labels, both)
        clf_b = fit_classifier(settings, encoder, [b_texts[i] for i in tt], [b_labels[i] for i in tt], tx.rows(tt))
        pred_a_t[te] = intents_of(clf_a, tx.rows(te), [b_texts[i] for i in te])
        pred_b_t[te] = intents_of(clf_b, tx.rows(te), [b_texts[i] for i in te])
        pred_a_f[fe] = intents_of(clf_a, fx.rows(fe), [f_texts[i] for i in fe])
    is_oos = np.isin(ty, list(OUT_OF_SCOPE_LABELS))
    per = [strategies(a, b, r) for a, b, r in zip(pred_a_t, pred_b_t, kb_t, strict=True)]
    n_in, n_oos = int((~is_oos).sum()), int(is_oos.sum())
    out: dict[str, object] = {
        "n_intent_examples": n_in,
        "n_out_of_scope_examples": n_oos,
        "n_knowledge_phrasings": len(f_texts),
        "faq_classifier_knowledge_to_faq": share(int((pred_a_f == FAQ).sum()), len(f_texts)),
        "faq_classifier_knowledge_to_faq_or_abstain": share(
            int(np.isin(pred_a_f, [FAQ, FALLBACK_INTENT]).sum()), len(f_texts)
        ),
    }
    strat: dict[str, dict[str, dict[str, float | int]]] = {}
    for s in STRATEGIES:
        outs = [p[s] for p in per]
        strat[s] = {
            "in_scope_right": share(
                sum(o.route == "intent" and o.intent == y for o, y, oo in zip(outs, ty, is_oos, strict=True) if not oo),
                n_in,
            ),
            "in_scope_taken_by_kb": share(
                sum(o.route == "kb" for o, oo in zip(outs, is_oos, strict=True) if not oo), n_in
            ),
            "oos_abstained": share(
                sum(
                    (o.route == "abstain" or o.decision == "unknown") for o, oo in zip(outs, is_oos, strict=True) if oo
                ),
                n_oos,
            ),
        }
    out["strategies"] = strat
    return out


def pct(metric: dict[str, float | int]) -> str:
    return f"{100 * float(metric['share']):.1f} % ({metric['n']}/{metric['of']})"


def print_tables(held: dict[str, object], cv: dict[str, object] | None) -> None:
    hs = held["strategies"]
    assert isinstance(hs, dict)
    print(
        "Held-out test messages:",
        held["messages"],
        "dropped (training phrasings):",
        held["dropped_as_training_phrasings"],
    )
    cols = [
        ("knowledge_answered_right", "KB q: right answer"),
        ("knowledge_right_in_did_you_mean", "KB q: right in Did you mean"),
        ("knowledge_reached_kb", "KB q: reached KB"),
        ("in_scope_right", "task/smalltalk: right intent"),
        ("in_scope_taken_by_kb", "task/smalltalk: taken by KB"),
        ("oos_abstained", "oos: abstained"),
    ]
    _print_table(cols, {f"{s} ({DESCRIPTIONS[s]})": hs[s] for s in STRATEGIES})
    if cv is None:
        return
    cs = cv["strategies"]
    assert isinstance(cs, dict)
    print(
        f"\n{FOLDS}-fold CV on training examples: faq classifier sends knowledge phrasings of unseen entries to "
        f"faq {pct(cv['faq_classifier_knowledge_to_faq'])}, to faq or abstention "
        f"{pct(cv['faq_classifier_knowledge_to_faq_or_abstain'])}"
    )
    cols = [
        ("in_scope_right", "intent examples: right intent"),
        ("in_scope_taken_by_kb", "intent examples: taken by KB"),
        ("oos_abstained", "out_of_scope examples: abstained"),
    ]
    _print_table(cols, {s: cs[s] for s in STRATEGIES})


def _print_table(cols: list[tuple[str, str]], rows: dict[str, Any]) -> None:
    """A Markdown table: one row per strategy, one column per (key, title)."""
    print("| strategy | " + " | ".join(title for _, title in cols) + " |")
    print("| --- " * (len(cols) + 1) + "|")
    for name, figures in rows.items():
        print(f"| {name} | " + " | ".join(pct(figures[key]) for key, _ in cols) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-cv", action="store_true", help="skip the cross-validation view (2-4 minutes)")
    ap.add_argument("--details", action="store_true", help="list every held-out message's route per strategy")
    args = ap.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as state:
        settings = Settings(project_dir=ROOT, state_dir=Path(state), embedding_cache=CACHE)
        encoder = CachedEncoder(SentenceTransformerEncoder(settings.model_path, threads=1), CACHE)
        thresholds = resolve_thresholds(settings.kb_answer_threshold, settings.kb_suggest_threshold)
        kb = KnowledgeService(settings.knowledge_path, encoder, root=ROOT, thresholds=thresholds, recorder=None)
        kb.load()
        held, ask = held_out_view(settings, encoder, kb, args.details)
        held["seconds"] = round(time.perf_counter() - started, 1)
        cv = None if args.no_cv else cross_validation_view(settings, encoder, ask)
    print_tables(held, cv)
    result = {
        "thresholds": {"answer": thresholds.answer, "suggest": thresholds.suggest},
        "entries": len(kb.snapshot.entries),
        "held_out": held,
        "cross_validation": cv,
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
