"""Input cleaning shared by the services: each function returns the clean value or raises
``TemplateValidationError`` naming the field."""

from __future__ import annotations

import uuid
from typing import Any

from templates_app.models import Rule
from templates_app.services.errors import TemplateValidationError
from templates_app.services.numbering import parse_section_name

MAX_LEVEL = 9
TENSES = ("past", "source")


def _text(value: Any, field: str, *, max_length: int | None = None, default: str = "") -> str:
    if value is None:
        return default
    if not isinstance(value, str):
        raise TemplateValidationError.about(field, "must be text.")
    value = value.strip()
    if max_length is not None and len(value) > max_length:
        raise TemplateValidationError.about(field, f"must be at most {max_length} characters.")
    return value


def _required_text(value: Any, field: str, *, max_length: int) -> str:
    text = _text(value, field, max_length=max_length)
    if not text:
        raise TemplateValidationError.about(field, "this field is required.")
    return text


def _level(value: Any, field: str, default: int | None = 1) -> int:
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TemplateValidationError.about(field, f"must be an integer from 1 to {MAX_LEVEL}.")
    try:
        level = int(value)
    except ValueError as exc:
        raise TemplateValidationError.about(
            field, f"must be an integer from 1 to {MAX_LEVEL}."
        ) from exc
    if not 1 <= level <= MAX_LEVEL:
        raise TemplateValidationError.about(field, f"must be an integer from 1 to {MAX_LEVEL}.")
    return level


def _order_index(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TemplateValidationError.about(field, "must be a non-negative integer.")
    try:
        index = int(value)
    except ValueError as exc:
        raise TemplateValidationError.about(field, "must be a non-negative integer.") from exc
    if index < 0:
        raise TemplateValidationError.about(field, "must be a non-negative integer.")
    return index


def _dict(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TemplateValidationError.about(field, "must be an object.")
    return value


def _tense(value: Any, field: str = "tense") -> str:
    if value not in TENSES:
        raise TemplateValidationError.about(field, f"must be one of {', '.join(TENSES)}.")
    return value


def _clean_rules(value: Any, field: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TemplateValidationError.about(field, "must be a list.")
    rules = []
    for j, raw in enumerate(value):
        where = f"{field}[{j}]"
        if not isinstance(raw, dict):
            raise TemplateValidationError.about(where, "must be an object.")
        rule_type = raw.get("rule_type") or Rule.RuleType.EXTRACTION
        if rule_type not in Rule.RuleType.values:
            raise TemplateValidationError.about(
                f"{where}.rule_type", f"must be one of {', '.join(Rule.RuleType.values)}."
            )
        parameters = raw.get("parameters", raw.get("rule_parameters"))
        rules.append(
            {
                "rule_type": rule_type,
                "description": _text(raw.get("description"), f"{where}.description"),
                "parameters": _dict(parameters, f"{where}.parameters"),
                "styles": _dict(raw.get("styles"), f"{where}.styles"),
            }
        )
    return rules


def _clean_section(raw: Any, field: str) -> dict[str, Any]:
    """One section of a create/import payload: ``section_name`` (number and title together) or
    ``number`` + ``title``; ``template_instructions`` or ``instructions``."""
    if not isinstance(raw, dict):
        raise TemplateValidationError.about(field, "must be an object.")
    if raw.get("section_name") not in (None, ""):
        number, title = parse_section_name(raw["section_name"], field=f"{field}.section_name")
        if raw.get("number") not in (None, ""):
            number = _text(raw["number"], f"{field}.number", max_length=40).rstrip(".")
    else:
        title = _text(raw.get("title"), f"{field}.title", max_length=400)
        if not title:
            raise TemplateValidationError.about(f"{field}.section_name", "this field is required.")
        number = _text(raw.get("number"), f"{field}.number", max_length=40).rstrip(".")
    instructions = raw.get("template_instructions", raw.get("instructions"))
    return {
        "number": number,
        "title": title,
        "level": _level(raw.get("level"), f"{field}.level"),
        "order_index": _order_index(raw.get("order_index"), f"{field}.order_index"),
        "synopsis": _text(raw.get("synopsis"), f"{field}.synopsis"),
        "instructions": _text(instructions, f"{field}.template_instructions"),
        "template_text": _text(raw.get("template_text"), f"{field}.template_text"),
        "hints": _dict(raw.get("hints"), f"{field}.hints"),
        "rules": _clean_rules(raw.get("rules"), f"{field}.rules"),
    }


def _default_tense(document_type: str) -> str:
    return "past" if document_type.strip().upper() in {"CSR", "CLINICAL STUDY REPORT"} else "source"


def _as_uuid_text(value: Any) -> str | None:
    try:
        return str(uuid.UUID(str(value).strip()))
    except (TypeError, ValueError, AttributeError):
        return None


def _clean_preferred_terms(value: Any) -> dict[str, list[str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TemplateValidationError.about(
            "preferred_terms", 'must be an object {"preferred term": ["variant", ...]}.'
        )
    out: dict[str, list[str]] = {}
    for term, variants in value.items():
        term_text = str(term).strip()
        if not term_text:
            raise TemplateValidationError.about("preferred_terms", "a term is empty.")
        if isinstance(variants, str):
            variants = [variants]
        if not isinstance(variants, list) or not all(isinstance(v, str) for v in variants):
            raise TemplateValidationError.about(
                f"preferred_terms.{term_text}", "must be a list of variant spellings."
            )
        out[term_text] = [v.strip() for v in variants if v.strip()]
    return out


def _clean_abbreviations(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TemplateValidationError.about(
            "abbreviations", 'must be an object {"AE": "adverse event"}.'
        )
    out: dict[str, str] = {}
    for abbr, definition in value.items():
        abbr_text = str(abbr).strip()
        if not abbr_text:
            raise TemplateValidationError.about("abbreviations", "an abbreviation is empty.")
        if not isinstance(definition, str) or not definition.strip():
            raise TemplateValidationError.about(
                f"abbreviations.{abbr_text}", "must be a definition."
            )
        out[abbr_text] = definition.strip()
    return out


def _clean_banned(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TemplateValidationError.about("banned_phrases", "must be a list of phrases.")
    return [v.strip() for v in value if v.strip()]
