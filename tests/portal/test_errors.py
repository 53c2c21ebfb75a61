"""portal.errors: one ServiceError shape, raised by services, answered by the API and the forms."""

from __future__ import annotations

from django import forms

from portal.api_errors import exception_handler
from portal.errors import (
    NON_FIELD,
    InvalidInput,
    Problems,
    ServiceError,
    TooManyRequests,
    add_to_form,
)


class ExampleForm(forms.Form):
    output_name = forms.CharField(required=False)
    source_files = forms.CharField(required=False)


def test_problems_collect_fields_and_one_sentence() -> None:
    problems = Problems()
    assert not problems
    problems.add("output_name", "this field is required.")
    problems.add("connector_data_id", "this field is required.", label="connector_data_id (key)")
    problems.add(NON_FIELD, "Nothing can be done today.")
    try:
        problems.raise_if_any()
    except InvalidInput as exc:
        error = exc
    assert error.errors == {
        "output_name": ["this field is required."],
        "connector_data_id": ["this field is required."],
        NON_FIELD: ["Nothing can be done today."],
    }
    assert str(error) == (
        "output_name: this field is required. connector_data_id (key): this field is required. "
        "Nothing can be done today."
    )


def test_the_api_answers_detail_code_errors_extra_and_headers() -> None:
    response = exception_handler(InvalidInput.about("output_name", "too long."), {})
    assert response.status_code == 400
    assert response.data == {
        "detail": "output_name: too long.",
        "code": "invalid",
        "errors": {"output_name": ["too long."]},
    }
    busy = exception_handler(TooManyRequests("Slow down.", retry_after=12), {})
    assert busy.status_code == 429 and busy["Retry-After"] == "12"
    assert busy.data["code"] == "too_many_requests" and busy.data["detail"] == "Slow down."


def test_a_form_gets_each_message_beside_its_field() -> None:
    form = ExampleForm({})
    assert form.is_valid()
    error = ServiceError(
        {"output_name": ["this field is required."], "file_paths": ["'x' is not yours."]}
    )
    add_to_form(form, error, fields={"file_paths": "source_files"})
    assert form.errors["output_name"] == ["This field is required."]
    assert form.errors["source_files"] == ["'x' is not yours."]
    # A message that stands as written (it names a file, not the field) is kept as it is.
    form = ExampleForm({})
    form.is_valid()
    add_to_form(
        form,
        InvalidInput.saying("notes.txt: not accepted.", field="file_content"),
        default="source_files",
    )
    assert form.errors["source_files"] == ["notes.txt: not accepted."]
