"""Tense: the protocol's future ("Patients will be randomized") into the report's past, keeping
subject-verb agreement."""

from __future__ import annotations

import re
from functools import cache

from documents.pipeline.language._data import _data, _word_set

_WILL_RE = re.compile(r"\b(will|shall|won['’]t|shan['’]t)\b", re.IGNORECASE)
_TOKEN_RE = re.compile(r"[A-Za-z][A-Za-z'’\-]*|\d+(?:[.,]\d+)*|[^\sA-Za-z\d]")


def has_future(sentence: str) -> bool:
    """True when the sentence still uses the future modal ("will", "shall", "won't") outside a
    quotation (quoted wording is cited as written)."""
    sentence = _QUOTED_RE.sub("", sentence)
    for m in _WILL_RE.finditer(sentence):
        before = sentence[: m.start()].split()
        if before and (
            before[-1].lower().strip(",;:") in _word_set("noun_will_predecessors")
            or before[-1].lower().endswith(("'s", "’s", "s'"))
        ):
            continue
        after = sentence[m.end() :].lstrip()
        if not after or not after[0].isalpha():
            continue
        nxt = re.match(r"[A-Za-z]+", after)
        if nxt and nxt.group(0).lower() in _word_set("not_verbs_after_will") - {"be"}:
            continue
        return True
    return False


def past_form(verb: str) -> str:
    """Simple past of a base-form verb ("receive" → "received", "undergo" → "underwent")."""
    low = verb.lower()
    irregular = _data()["irregular_past"]
    if low in irregular:
        return _match_case(verb, irregular[low])
    if low.endswith("e"):
        past = low + "d"
    elif re.search(r"[^aeiou]y$", low):
        past = low[:-1] + "ied"
    elif low in _word_set("double_final_consonant") or (
        low not in _word_set("no_double_final_consonant")
        and re.fullmatch(r"[^aeiou]*[aeiou][bdgklmnprt]", low)
    ):
        past = low + low[-1] + "ed"
    elif low.endswith("c"):
        past = low + "ked"
    else:
        past = low + "ed"
    return _match_case(verb, past)


def _match_case(original: str, new: str) -> str:
    if original.isupper() and len(original) > 1:
        return new.upper()
    if original[:1].isupper():
        return new[:1].upper() + new[1:]
    return new


def is_plural_word(word: str) -> bool | None:
    """Grammatical number of a noun or pronoun (True: plural); None when unknown."""
    return _is_plural_word(word)


def _is_plural_word(word: str) -> bool | None:
    """Grammatical number of a noun or pronoun; None when unknown."""
    raw = word.strip("()[],;:\"'“”‘’")
    low = raw.lower()
    if not low:
        return None
    if low in _word_set("plural_pronouns") or low in _word_set("plural_nouns"):
        return True
    if low in _word_set("singular_pronouns") or low in _word_set("singular_s_nouns"):
        return False
    if re.fullmatch(r"[A-Z0-9\-+]{2,}s", raw):  # AEs, SAEs, ECGs
        return True
    if raw.isupper():
        return False
    if re.search(r"(ss|us|is|ous)$", low):
        return False
    return low.endswith("s") and len(low) > 3


_DETERMINERS = frozenset(
    [
        "the",
        "a",
        "an",
        "this",
        "these",
        "those",
        "that",
        "each",
        "every",
        "all",
        "any",
        "some",
        "no",
        "its",
        "their",
        "our",
    ]
)


_CLAUSE_JOIN = re.compile(r"\b(?:and|but|or|yet|whereas|while)\s+", re.IGNORECASE)
_FINITE = re.compile(r"\b(?:was|were|is|are|had|has|did|does)\b", re.IGNORECASE)


# Pronouns that take one of a group ("each of", "either of", "neither of"): singular.
_DISTRIBUTIVES = frozenset(["each", "either", "neither"])


_PARENTHETICAL_START = re.compile(
    r"(?i)(whether|including|such as|e\.g\.|i\.e\.|which|who|whose|where|when|if|unless|except|"
    r"excluding|especially|particularly|regardless|irrespective|although|though|as appropriate|"
    r"as applicable|as needed|where applicable|if applicable|[a-z]+ed\b|"
    r"(?:section|table|appendix|attachment|figure|listing)s?\s*[A-Z]?[\d.]+)"
)


def _subject_is_plural(before: str) -> bool:
    """Guess whether the subject that ends ``before`` (the text before "will") is plural."""
    boundary_words = _word_set("subject_boundary_words")
    # Clause: after the last ; or : and after a subordinating word.
    clause = re.split(r"[;:]", before)[-1]
    toks = clause.split()
    # Relative clause right before the modal: "patients who will ..." → the noun before "who".
    if toks and toks[-1].lower() in {"who", "which", "that"}:
        toks = toks[:-1]
        antecedent = toks[-1].strip(",;()[]") if toks else ""
        if antecedent.isalpha() and antecedent.lower() not in _word_set("prepositions") | {
            "and",
            "or",
        }:
            return bool(_is_plural_word(antecedent))
        clause = " ".join(toks)
    else:
        for i in range(len(toks) - 1, -1, -1):
            word = toks[i].lower().strip(",")
            if word not in boundary_words or i == len(toks) - 1:
                continue
            after = " ".join(toks[i + 1 :])
            # "Patients who discontinue early will be ..." and "All events, whether reported by
            # the patient or noted by staff, will be ...": the subject is before the clause.
            if _is_relative_pronoun(toks, i) or after.rstrip().endswith(","):
                clause = " ".join(toks[:i])
            else:
                clause = after
            break
    # Drop parentheticals: "An electrocardiogram (ECG), and ..." → "An electrocardiogram, and ..."
    clause = re.sub(r"\([^()]*\)", " ", clause)
    clause = re.sub(r"\[[^\[\]]*\]", " ", clause)
    pieces = [p.strip() for p in clause.split(",") if p.strip()]
    # Parenthetical pieces ("All adverse events, whether reported by the patient or noted by
    # study personnel, will be") do not hold the subject.
    while len(pieces) > 1 and _PARENTHETICAL_START.match(pieces[-1]):
        pieces.pop()
    if not pieces:
        return False
    last = pieces[-1]
    if re.match(r"(?i)(and|as well as)\b", last) and len(pieces) > 1:
        return True
    # "Study treatment was dispensed at each visit and unused tablets will be returned": after
    # a clause with its own verb, the coordinator opens a clause with its own subject.
    for m in reversed(list(_CLAUSE_JOIN.finditer(last))):
        if _FINITE.search(last[: m.start()]) and last[m.end() :].strip():
            last = last[m.end() :]
            break
    tokens = last.split()
    # Strip adverbs that precede the modal: "The patients then will" (rare but cheap).
    adverbs = _word_set("adverbs")
    while tokens and tokens[-1].lower() in adverbs and len(tokens) > 1:
        tokens.pop()
    preps = _word_set("prepositions")
    head_part: list[str] = []
    for i, tok in enumerate(tokens):
        if i == 1 and tok.lower() == "of" and tokens[0].lower() in _DISTRIBUTIVES:
            # "Each of the patients": one of them, whatever the noun after "of".
            return False
        if i > 0 and tok.lower() in preps and tokens[i - 1].lower() not in _DETERMINERS:
            # "A total of 300 patients": the quantity's noun decides.
            if head_part and head_part[-1].lower() in _word_set("quantifier_heads"):
                art = head_part[0].lower() if len(head_part) > 1 else ""
                if (
                    head_part[-1].lower() in {"total", "majority", "minority", "variety"}
                    or art == "a"
                ):
                    head_part = tokens[i + 1 :]
                    continue
            break
        head_part.append(tok)
    # "All patients receiving xanomeline": the noun before a participle phrase.
    for k in range(1, len(head_part)):
        word, prev = head_part[k], head_part[k - 1].lower()
        if (
            re.fullmatch(r"[a-z]+(?:ing|ed)", word)
            and prev not in _DETERMINERS
            and _is_plural_word(prev) is not None
        ):
            head_part = head_part[:k]
            break
    # "patients enrolled in this study": the noun before a trailing participle.
    while (
        len(head_part) > 1
        and re.search(r"[a-z](ed|ing)$", head_part[-1])
        and not head_part[-1][:1].isupper()
    ):
        head_part.pop()
    if not head_part:
        return False
    if any(t.lower() in {"and", "&"} for t in head_part[1:]):
        return True
    verdict = _is_plural_word(head_part[-1])
    if verdict is None:
        return False
    return verdict


def _is_relative_pronoun(toks: list[str], i: int) -> bool:
    """Whether toks[i] ("who", "which", "that") opens a relative clause on the noun before it."""
    word = toks[i].lower().strip(",")
    if word in {"who", "whom", "whose"}:
        return i > 0
    if word not in {"which", "that"} or i == 0:
        return False
    prev = toks[i - 1].lower().strip(",;:")
    if toks[i - 1].endswith(",") and word == "that":
        return False
    if prev in _word_set("complementizer_heads") or prev.endswith("ed"):
        return False
    return prev not in _word_set("prepositions")


def negated_modal(modal: str) -> bool:
    return modal.lower().startswith(("won", "shan"))


def _is_reported(before: str) -> bool:
    """Whether the modal sits in a "that"-clause after a word of expecting or supposing."""
    m = re.search(r"\b([A-Za-z]+)\s+that\s+[^,;:]*$", before)
    return bool(m) and m.group(1).lower() in _word_set("reported_future_heads")


def _is_participle(word: str) -> bool:
    low = word.lower()
    return low.endswith("ed") or low in _word_set("irregular_participles")


def to_past(sentence: str) -> str:
    """Convert the future tense of a protocol sentence into the past tense of a report.

    "Patients will be randomized" → "Patients were randomized"; "will receive" → "received";
    "will have completed" → "had completed"; "will not be" → "was not"/"were not"; "will not
    attend" → "did not attend"; "Two interim analyses are planned" → "... were planned"; "are to be
    worn" → "were to be worn". A "will" whose verb cannot be recognised is left as it is (and QC
    counts it) rather than guessed.
    """
    # Quoted wording (consent-form text, scale items) is cited as written: never converted.
    quoted: list[str] = []

    def hide(m: re.Match[str]) -> str:
        quoted.append(m.group(0))
        return f"\ue000{len(quoted) - 1}\ue001"

    masked = _QUOTED_RE.sub(hide, sentence)
    out, converted = _convert_future(masked)
    if converted:
        out = _backshift(out)
    out = _convert_present_passive(out)
    return re.sub("\ue000(\\d+)\ue001", lambda m: quoted[int(m.group(1))], out)


_QUOTED_RE = re.compile(r"“[^”]{12,}”|\"[^\"]{12,}\"")


_MODALS = frozenset(
    ("would", "could", "should", "may", "might", "must", "can", "will", "shall", "to")
)
_BACKSHIFT_RE = re.compile(r"\b(is|are|has|have)\b(\s+)(not\s+)?([A-Za-z]+)")
_RELATIVE_VERB_RE = re.compile(r"\b(who|that)\s+([a-z]+)\b")


def _backshift(text: str) -> str:
    """Sequence of tenses in a sentence whose main verb became past: "when 50% of the patients
    have completed" → "had completed", "if sample sizes are sufficient" → "were sufficient",
    "patients who meet the criteria" → "who met"."""
    text = re.sub(r"\bis/are\b", "was/were", text)

    def repl(m: re.Match[str]) -> str:
        verb, space, neg, nxt = m.group(1), m.group(2), m.group(3) or "", m.group(4)
        preceding = m.string[: m.start()].split()[-1:]
        if preceding and preceding[0].lower() in _MODALS | {"did", "do", "does", "not"}:
            return m.group(0)  # "would have represented", "did not have" stay
        past = ("was" if verb == "is" else "were") if verb in {"is", "are"} else "had"
        return f"{past}{space}{neg}{nxt}"

    text = _BACKSHIFT_RE.sub(repl, text)
    known = _word_set("coordinated_verbs") | frozenset(_data()["irregular_past"])

    def rel(m: re.Match[str]) -> str:
        verb = m.group(2)
        base = verb
        if verb not in known and verb.endswith("s") and verb[:-1] in known:
            base = verb[:-1]
        if base not in known or base in {"be", "have"}:
            return m.group(0)
        return f"{m.group(1)} {past_form(base)}"

    return _RELATIVE_VERB_RE.sub(rel, text)


def _convert_future(sentence: str) -> tuple[str, bool]:
    """The sentence with "will + verb" in the past, and whether any past form was written."""
    adverbs = _word_set("adverbs")
    not_verbs = _word_set("not_verbs_after_will")
    noun_pre = _word_set("noun_will_predecessors")
    ly_verbs = _word_set("verbs_ending_ly")
    result = sentence
    converted = False
    guard = 0
    search_from = 0
    prev_plural: bool | None = None
    while guard < 20:
        guard += 1
        m = _WILL_RE.search(result, search_from)
        if not m:
            break
        modal = m.group(1)
        before = result[: m.start()]
        prev_tokens = before.split()
        if prev_tokens and (
            prev_tokens[-1].lower().strip(",;:") in noun_pre
            or prev_tokens[-1].lower().endswith(("'s", "’s", "s'"))
        ):
            search_from = m.end()
            continue
        if m.start() == 0 or not before.strip():
            # "Will ..." opening a sentence is a question or a noun; leave it.
            search_from = m.end()
            continue
        if prev_tokens and prev_tokens[-1].lower() in {"as", "nor", "so"}:
            # Inversion: "..., as will laboratory assessments" → "as were laboratory assessments".
            np_match = re.match(r"\s*([^,.;:()]+)", result[m.end() :])
            subject_words = np_match.group(1).split() if np_match else []
            if subject_words and not negated_modal(modal):
                plural = bool(_is_plural_word(subject_words[-1]))
                be = "were" if plural else "was"
                result = result[: m.start()] + be + result[m.end() :]
                converted = True
                search_from = m.start() + len(be)
                continue
        negated = modal.lower().startswith(("won", "shan"))
        rest = result[m.end() :]
        # Tokens after the modal: optional "not", adverbs, then the verb.
        tok_iter = list(re.finditer(r"\S+", rest))
        idx = 0
        pre_adverbs: list[str] = []
        if idx < len(tok_iter) and tok_iter[idx].group(0).lower() == "not":
            negated = True
            idx += 1
        while idx < len(tok_iter):
            w = tok_iter[idx].group(0)
            wl = w.lower()
            if wl in adverbs or (
                wl.endswith("ly") and wl.isalpha() and wl not in ly_verbs and len(wl) > 4
            ):
                if wl == "not":
                    negated = True
                else:
                    pre_adverbs.append(w)
                idx += 1
                continue
            if wl == "not":
                negated = True
                idx += 1
                continue
            break
        if idx >= len(tok_iter):
            search_from = m.end()
            continue
        verb_tok = tok_iter[idx]
        verb_raw = verb_tok.group(0)
        verb_core = re.match(r"[A-Za-z][a-z]*", verb_raw)
        if (
            not verb_core
            or verb_core.group(0) != verb_raw[: verb_core.end()]
            or not verb_raw[0].islower()
        ):
            search_from = m.end()
            continue
        verb = verb_core.group(0)
        tail_punct = verb_raw[len(verb) :]
        if verb.lower() in not_verbs or tail_punct[:1].isalpha():
            search_from = m.end()
            continue
        if prev_plural is not None and re.search(r"(?:,|\s)\s*(?:and|but|or|yet)\s+$", before):
            # "Lab data will not be summarised, but will be included": the second verb has
            # the first one's subject.
            plural = prev_plural
        else:
            plural = _subject_is_plural(before)
        prev_plural = plural
        adv = " ".join(pre_adverbs)
        vlow = verb.lower()
        if _is_reported(before) and not modal.lower().startswith(("won", "shan")):
            # "speculation that therapy will alleviate" → "would alleviate" (a future in the past).
            result = result[: m.start()] + "would" + result[m.end() :]
            search_from = m.start() + len("would")
            continue
        if vlow == "be":
            be = "were" if plural else "was"
            parts = [be]
            if negated:
                parts.append("not")
            if adv:
                parts.append(adv)
            replacement = " ".join(parts) + tail_punct
        elif vlow == "have":
            nxt = tok_iter[idx + 1].group(0) if idx + 1 < len(tok_iter) else ""
            if _is_participle(nxt.strip(",.;:")):
                parts = ["had"] + (["not"] if negated else []) + ([adv] if adv else [])
            elif negated:
                parts = ["did", "not"] + ([adv] if adv else []) + ["have"]
            else:
                parts = ([adv] if adv else []) + ["had"]
            replacement = " ".join(parts) + tail_punct
        elif negated:
            parts = ["did", "not"] + ([adv] if adv else []) + [verb]
            replacement = " ".join(parts) + tail_punct
        else:
            parts = ([adv] if adv else []) + [past_form(verb)]
            replacement = " ".join(parts) + tail_punct
        # Keep the modal's capitalisation if it started a clause after a parenthesis etc.
        start = m.start()
        end = m.end() + verb_tok.end()
        new_seg = replacement
        result = result[:start] + new_seg + result[end:]
        converted = True
        # Coordinated verbs without their own modal: "will undergo X and receive Y".
        if vlow != "have" and not negated:
            result = _convert_coordinated(result, start + len(new_seg), plural)
        search_from = start + len(new_seg)
    return result, converted


def _convert_coordinated(text: str, pos: int, plural: bool) -> str:
    coordinated = _word_set("coordinated_verbs")
    clause_end = re.search(r"[.;:]|\bwill\b|\bshall\b", text[pos:])
    limit = pos + clause_end.start() if clause_end else len(text)
    segment = text[pos:limit]

    def repl(m: re.Match[str]) -> str:
        verb = m.group(2)
        if verb == "be":
            return f"{m.group(1)}{'were' if plural else 'was'}"
        if verb.lower() in coordinated:
            return f"{m.group(1)}{past_form(verb)}"
        return m.group(0)

    # "will be randomized, enroll, discontinue, or complete": the list's verbs are coordinated
    # too (only known verbs change, so ", stratified by region" or ", the sponsor" stay).
    new_segment = re.sub(
        r"(\b(?:and|or|and/or|then)\s+|,\s+(?:(?:and|or)\s+)?)([a-z]+)\b", repl, segment
    )
    return text[:pos] + new_segment + text[limit:]


_PRESENT_PASSIVE_RE = re.compile(
    r"(?<!/)\b(is|are)(?!/)(\s+(?:not\s+)?(?:[a-z]+ly\s+|also\s+|then\s+|only\s+)?)([a-z]+)\b"
)
_TO_BE_RE = re.compile(r"\b(is|are)(\s+to\s+be\b)")


def _convert_present_passive(text: str) -> str:
    verbs = _word_set("present_passive_verbs")

    def repl(m: re.Match[str]) -> str:
        if m.group(3) not in verbs:
            return m.group(0)
        past = "was" if m.group(1) == "is" else "were"
        return f"{past}{m.group(2)}{m.group(3)}"

    text = re.sub(
        r"\bis/are(\s+(?:[a-z]+ly\s+)?)([a-z]+)\b",
        lambda m: f"was/were{m.group(1)}{m.group(2)}" if m.group(2) in verbs else m.group(0),
        text,
    )
    text = _TO_BE_RE.sub(lambda m: ("was" if m.group(1) == "is" else "were") + m.group(2), text)
    return _PRESENT_PASSIVE_RE.sub(repl, text)


# ---------------------------------------------------------------- the present of study conduct

_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'’\-]*")
_NOT_SUBJECT_END = frozenset(
    {"to", "as", "not", "and", "or", "but", "nor", "than", "so", "if", "when", "while", "because"}
)
_RELATIVE = frozenset({"who", "which", "that"})


@cache
def _present_forms() -> dict[str, tuple[str, bool]]:
    """Present form → (base, singular form?) for the verbs of study conduct."""
    forms: dict[str, tuple[str, bool]] = {}
    both = _word_set("present_active_verbs")
    single = _word_set("present_active_verbs_singular_only")
    for base in both | single:
        if re.search(r"(s|sh|ch|x|z|o)$", base):
            third = base + "es"
        elif re.search(r"[^aeiou]y$", base):
            third = base[:-1] + "ies"
        else:
            third = base + "s"
        forms[third] = (base, True)
        if base in both:
            forms.setdefault(base, (base, False))
    return forms


def _subject_before(words: list[re.Match[str]], k: int, text: str) -> str | None:
    """The word that ends the subject before words[k] (adverbs skipped), or None when what
    precedes is not a subject (a preposition, "to", a modal, a determiner, punctuation)."""
    j = k - 1
    adverbs = _word_set("adverbs")
    while j >= 0 and (words[j].group(0).lower() in adverbs or words[j].group(0).endswith("ly")):
        j -= 1
    if j < 0:
        return None
    between = text[words[j].end() : words[k].start()]
    if re.search(r"[,;:.(\[]", between.replace(")", "")) or "(" in between:
        return None  # "..., continues" / "(see Section 5) includes": no clear subject
    word = words[j].group(0)
    low = word.lower()
    if (
        low in _DETERMINERS - _RELATIVE
        or low in _word_set("prepositions")
        or low in _NOT_SUBJECT_END
        or low in _MODALS
        or low in {"do", "does", "did", "is", "are", "was", "were", "be", "been", "has", "have"}
    ):
        return None
    return word


def present_to_past(sentence: str) -> str:
    """The present tense of a protocol's description of study conduct in the report's past:
    "The trial comprises a screening period" → "comprised", "All patients attend a visit" →
    "attended", "Patients who do not receive" → "who did not receive".

    Only the verbs of ``present_active_verbs`` are changed (a curated list of verbs that are
    not nouns or adjectives: "receive", "undergo", "continue", ...), and only after a word that
    can end their subject, agreeing with it (a base form needs a plural subject or a relative
    pronoun, or follows a noun that ends a longer plural subject); general statements with
    other verbs ("NSCLC accounts for", "is defined as") stay as written. Callers apply it to
    sections that describe the conduct of the study, not to background sections whose present
    tense states facts.
    """
    quoted: list[str] = []

    def hide(m: re.Match[str]) -> str:
        quoted.append(m.group(0))
        return f"\ue000{len(quoted) - 1}\ue001"

    text = _QUOTED_RE.sub(hide, sentence)
    forms = _present_forms()
    words = list(_WORD_RE.finditer(text))
    edits: list[tuple[int, int, str]] = []
    for k, m in enumerate(words):
        word = m.group(0)
        low = word.lower()
        if low in {"do", "does"} and k + 1 < len(words) and words[k + 1].group(0) == "not":
            if _subject_before(words, k, text) is not None:
                edits.append((m.start(), m.end(), _match_case(word, "did")))
            continue
        hit = forms.get(low)
        if hit is None or (word[:1].isupper() and k > 0):
            continue
        base, singular = hit
        subject = _subject_before(words, k, text)
        if subject is None:
            # "which takes the models above and adds the term": a verb coordinated with one
            # just put in the past, in the same clause, goes with it.
            if edits and k > 0 and words[k - 1].group(0).lower() in {"and", "or"}:
                between = text[edits[-1][1] : m.start()]
                if not re.search(r"[.;:]", between):
                    edits.append((m.start(), m.end(), _match_case(word, past_form(base))))
            continue
        sub_low = subject.lower()
        if sub_low in _RELATIVE:
            pass  # "patients who receive", "a visit that includes"
        elif singular:
            if _is_plural_word(subject) and not subject.isupper():
                continue  # "the sites continues" does not occur; "data includes" is rare
        elif sub_low in _word_set("singular_pronouns") or sub_low in {"i", "let", "help"}:
            continue
        # A base form after any other noun ends a plural subject: "Patients who discontinued
        # trial treatment continue tumour assessments" (these verbs are never nouns).
        edits.append((m.start(), m.end(), _match_case(word, past_form(base))))
    for start, end, new in reversed(edits):
        text = text[:start] + new + text[end:]
    design = _DESIGN_COPULA.sub(lambda m: f"{m.group(1)} was {m.group(2)}", text)
    if edits or design != text:
        text = _backshift(design)  # "who have received" → "who had received"
    return re.sub("\ue000(\\d+)\ue001", lambda m: quoted[int(m.group(1))], text)


# "This is a Phase 3, randomised ... trial" / "The study is an open-label ...": the design
# statement of a protocol, in the report's past.
_DESIGN_COPULA = re.compile(r"^(This|The (?:trial|study)) is (an?\b)")
