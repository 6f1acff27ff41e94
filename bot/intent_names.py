"""Intent names the engine, the NLU, the evaluation and the test runner give a meaning to, defined once.

A bot's own intents are data (the Rasa YAML); these few carry behaviour: the classifier's abstention
(`nlu_fallback`), the out-of-scope labels data sets use, the knowledge base's `faq` intent, the
form-filling replies, "stop" and "why?".
"""

from __future__ import annotations

FALLBACK = "nlu_fallback"
"""What the classifier says when it abstains (Rasa's FallbackClassifier)."""
OUT_OF_SCOPE = "out_of_scope"
OUT_OF_SCOPE_LABELS = frozenset({OUT_OF_SCOPE, "oos"})
"""Labels training and test data use for messages the bot should not handle (CLINC150 says `oos`)."""
ABSTENTIONS = frozenset({FALLBACK, *OUT_OF_SCOPE_LABELS})
"""An abstention or an out-of-scope label: the bot does not take the message as one of its intents."""
FAQ = "faq"
"""The knowledge base's intent: its questions and alternates are its training examples."""
INFORM = "inform"
AFFIRM = "affirm"
DENY = "deny"
FORM_FILLING = frozenset({INFORM, AFFIRM, DENY})
"""Answers to a form's question."""
STOP = "stop"
ASK_WHY = "ask_why"
GREET = "greet"
THANKS = "thanks"
GOODBYE = "goodbye"
PRODUCT_SEARCH = "product_search"
PRODUCT_AVAILABILITY = "product_availability"
PRODUCT_PAIRING = "product_pairing"
PRODUCT_COMPARE = "product_compare"
PRODUCT_REFINE = "product_refine"
PRODUCTS = frozenset({PRODUCT_SEARCH, PRODUCT_AVAILABILITY, PRODUCT_PAIRING, PRODUCT_COMPARE, PRODUCT_REFINE})
"""Shopping messages: answered from the catalogue (`bot.products`), not the knowledge base."""
