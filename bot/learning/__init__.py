"""Learning as it goes, with staff approval: signals → groups → suggestions → a person accepts → files change.

    signals.py        what went wrong, per customer message, read after the fact from the stores
    sources.py        the stores read: conversation events, the unanswered log, feedback
    clustering.py     similar messages grouped (scikit-learn agglomerative clustering on embeddings)
    suggestions.py    each group's best change: alternate phrasing, new entry, intent example, or ignore
    store.py          suggestions, decisions and the audit in the bot's database
    markdown_edits.py, yaml_edits.py, changes.py
                      the accepted change written into the file a person would edit (minimal diff)
    learner.py        the whole loop, with the checks that keep hand edits and decisions safe
    retrain.py, serving.py
                      background retraining and the model swap of a running server
    wiring.py, cli.py the learner from settings; `supportbot learn …`

Nothing is learned without a person's approval. See docs/learning.md.
"""

from bot.learning.errors import (
    FileChanged,
    LearningError,
    SuggestionDecided,
    SuggestionNotApplicable,
    SuggestionNotFound,
)

__all__ = ["FileChanged", "LearningError", "SuggestionDecided", "SuggestionNotApplicable", "SuggestionNotFound"]
