"""Sentence-level tools of the grounded writer, one topic per module.

Everything here transforms *source* sentences; nothing invents content.

- ``text``: letters-and-digits normalisation (how citations are compared), whitespace clean-up,
  words, numbers, and repair of words that PDF extraction split;
- ``sentences``: splitting paragraphs into sentences without cutting one in the middle;
- ``tense``: the protocol's future tense into the report's past, with subject-verb agreement;
- ``terms``: a style guide's preferred terms and phrase search;
- ``abbreviations``: definitions found in the sources, uses and first-use expansion.

Word lists (irregular verbs, adverbs, singular nouns ending in "s", ...) live in
``data/language.json`` so they can grow without code changes.
"""

from documents.pipeline.language.abbreviations import (
    ABBREVIATION_RE,
    AbbreviationDefinition,
    abbreviations_used,
    expand_first_use,
    find_definitions,
    is_defined_at,
    looks_like_abbreviation,
    parse_abbreviation_entry,
    parse_abbreviation_run,
    plain_case,
)
from documents.pipeline.language.sentences import (
    sentences,
    split_sentences,
)
from documents.pipeline.language.tense import (
    has_future,
    is_plural_word,
    negated_modal,
    past_form,
    present_to_past,
    to_past,
)
from documents.pipeline.language.terms import (
    apply_preferred_terms,
    find_phrases,
)
from documents.pipeline.language.text import (
    STOPWORDS,
    PositionMap,
    alnum_with_map,
    clean_text,
    content_tokens,
    normalize_alnum,
    numbers_in,
    repair_split_words,
    vocabulary_of,
    words,
)

__all__ = [
    "ABBREVIATION_RE",
    "STOPWORDS",
    "AbbreviationDefinition",
    "PositionMap",
    "abbreviations_used",
    "alnum_with_map",
    "apply_preferred_terms",
    "clean_text",
    "content_tokens",
    "expand_first_use",
    "find_definitions",
    "find_phrases",
    "has_future",
    "is_defined_at",
    "is_plural_word",
    "looks_like_abbreviation",
    "negated_modal",
    "normalize_alnum",
    "numbers_in",
    "parse_abbreviation_entry",
    "parse_abbreviation_run",
    "past_form",
    "plain_case",
    "present_to_past",
    "repair_split_words",
    "sentences",
    "split_sentences",
    "to_past",
    "vocabulary_of",
    "words",
]
