"""Portal views: the dashboard, the new-document form, a document's page, and document sets.

Thin session-authenticated function views: parse input, call one service or selector, render.
Every read goes through the organization-scoped selectors (another organization's object is a
404); every write goes through ``documents.services``. Pages answer HTMX requests with a partial
(django-template-partials) and keep a plain link or form beside every ``hx-get``, so they work
without JavaScript. The document page polls its status partial every second while the job runs;
the partial answers HTTP 286 once the job has ended, which stops htmx polling.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HTMX_STOP_POLLING

from documents import selectors, services
from documents.downloads import document_download_response, download_params
from documents.exceptions import QueueUnavailable
from documents.forms import DashboardFilterForm, GenerateForm, RegenerateForm
from documents.models import GeneratedDocument
from documents.presenters import draft_preview, qc_items, qc_warnings, timeline
from documents.presenters_page import place_citations, section_states, status_texts
from documents.presenters_review import review_context
from portal.errors import Conflict, ServiceError, TooManyRequests, add_to_form
from portal.pages import member_required, paginate, query_without_page, render_page, section_tree
from portal.selectors import membership_of
from templates_app import selectors as template_selectors

# --- dashboard -----------------------------------------------------------------------------------


@require_GET
@member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    document_sets = list(selectors.document_sets_list_for_user(request.user))
    form = DashboardFilterForm(request.GET or None, document_sets=document_sets)
    status = document_set_id = None
    if form.is_bound and form.is_valid():
        status = form.cleaned_data["status"] or None
        document_set_id = form.cleaned_data["document_set"] or None
    documents = selectors.documents_list_for_user(
        request.user, status=status, document_set_id=document_set_id, newest_versions_only=True
    )
    page = paginate(request, documents)
    for doc in page.object_list:
        # "version 3 of 3": how many versions the document has (only regenerations need a look).
        doc.version_count = len(selectors.document_versions(doc)) if doc.previous_version_id else 1
    active = any(not d.is_terminal for d in page.object_list)
    context = {
        "nav_active": "dashboard",
        "form": form if form.is_bound else DashboardFilterForm(document_sets=document_sets),
        "page": page,
        "query": query_without_page(request),
        "filtered": bool(status or document_set_id),
        "active": active,
    }
    polling = bool(request.htmx and request.htmx.trigger == "document-results")
    # A poll swaps only the rows' status cells (out of band): focus stays where it is.
    context["poll"] = polling
    response = render_page(request, "documents/dashboard.html", context, partial="results")
    # The results poll themselves while a document runs; stop polling once none does.
    if polling and not active:
        response.status_code = HTMX_STOP_POLLING
    return response


# --- new document --------------------------------------------------------------------------------


def _file_groups(
    files: Iterable[Any], document_sets: Iterable[Any], ticked: set[str]
) -> list[dict[str, Any]]:
    """Uploaded files grouped by document set (sets in list order, unassigned files last)."""
    names = {s.id: s.name for s in document_sets}
    groups: dict[Any, list[dict[str, Any]]] = {}
    for f in files:
        latest = f.versions.all()[0] if f.versions.all() else None
        groups.setdefault(f.document_set_id, []).append(
            {
                "file_path": f.file_path,
                "name": f.name,
                "file_type": f.get_file_type_display(),
                "version": latest.version if latest else None,
                "size": latest.size if latest else None,
                "checked": f.file_path in ticked,
            }
        )
    ordered = [key for key in names if key in groups]
    if None in groups:
        ordered.append(None)
    return [{"name": names.get(key, "Not in a set yet"), "files": groups[key]} for key in ordered]


def _picker_context(
    request: HttpRequest, template: Any, selected: set[str] | None
) -> dict[str, Any]:
    sections = list(template.sections.all()) if template is not None else []
    if selected is not None and len(selected) >= len(sections):
        selected = None  # every box ticked: shown as "the whole template", folded
    return {
        "picker_template": template,
        "picker_tree": section_tree(sections),
        "picker_count": len(sections),
        # None means "the whole template": every box starts ticked.
        "picker_selected": selected,
    }


def _default_template(templates: Any) -> Any:
    chosen = next((t for t in templates if t.key == "ich-e3-csr"), None)
    return chosen or next(iter(templates), None)


# The service's field names (the API's) → the new-document form's fields.
FORM_FIELDS = {
    "document_type": "template",
    "file_paths": "source_files",
    "connector_data_id": "document_set",
    "workspace_name": "document_set",
    "template_id": "template",
    "output_name": "output_name",
    "style_guide_id": "style_guide",
    "selected_section_ids": "sections",
    "file_content": "source_files",
    "file_name": "source_files",
}


@require_http_methods(["GET", "POST"])
@member_required
def document_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    templates = template_selectors.templates_list_for_user(user)
    style_guides = template_selectors.style_guides_list_for_user(user)
    document_sets = list(selectors.document_sets_list_for_user(user))
    files = list(selectors.files_list_for_user(user, "documents"))
    form_kwargs = {
        "templates": templates,
        "style_guides": style_guides,
        "files": files,
        "document_sets": document_sets,
    }
    failed_document_id: str | None = None
    new_paths: list[str] = []
    kept_files: list[str] = []

    if request.method == "POST" and request.POST.get("show_sections"):
        # The no-JS way to load a template's sections: show the form again, nothing submitted.
        initial = _initial_from_query(request, templates, document_sets, data=request.POST)
        form = GenerateForm(initial=initial, **form_kwargs)
        template = initial.get("template")
        ticked = set(initial.get("existing_files", []))
        selected = None
    elif request.method == "POST":
        form = GenerateForm(request.POST, request.FILES, **form_kwargs)
        ticked = set(request.POST.getlist("existing_files"))
        if form.is_valid():
            document, new_paths, failed_document_id = _generate_from_form(request, form)
            if document is not None:
                messages.success(request, f"Request accepted: {document.file_name} is on its way.")
                return redirect("documents:document_detail", pk=document.pk)
        else:
            # Another field is wrong: keep the chosen files anyway (a browser cannot refill a
            # file input), so they are not chosen again.
            new_paths = _keep_uploads(request, form)
            kept_files = [p.rsplit("/", 1)[-1] for p in new_paths]
        if new_paths:
            # Accepted uploads stay stored: list them ticked so nothing has to be re-sent.
            files = list(selectors.files_list_for_user(user, "documents"))
            form.fields["existing_files"].choices = [(f.file_path, f.name) for f in files]
            ticked |= set(new_paths)
        template = form.cleaned_data.get("template")
        if template is None:
            template = template_selectors.template_resolve_for_user(
                user, request.POST.get("template", "")
            )
        selected = set(request.POST.getlist("sections"))
        if request.POST.get("sections_template") != str(getattr(template, "id", "")):
            selected = None
    else:
        initial = _initial_from_query(request, templates, document_sets)
        form = GenerateForm(initial=initial, **form_kwargs)
        template = initial.get("template")
        ticked = set(initial.get("existing_files", []))
        set_files = _set_file_paths(initial.get("document_set"), document_sets, files)
        ticked |= set_files
        selected = set(request.GET.getlist("sections")) or None

    context = {
        "nav_active": "new",
        "study_mismatch": _set_study_mismatch(form, document_sets),
        "form": form,
        "file_groups": _file_groups(files, document_sets, ticked),
        "document_sets": document_sets,
        "failed_document_id": failed_document_id,
        "kept_files": kept_files,
        **_picker_context(request, template, selected),
    }
    status = 400 if form.is_bound else 200
    return render_page(request, "documents/document_new.html", context, status=status)


def _initial_from_query(
    request: HttpRequest, templates: Any, document_sets: list[Any], data: Any = None
) -> dict[str, Any]:
    """Prefill from the query string (links from a set's page) or the no-JS "Show sections"."""
    query = request.GET if data is None else data
    template = None
    if query.get("template"):
        template = template_selectors.template_resolve_for_user(request.user, query["template"])
    template = template or _default_template(templates)
    initial: dict[str, Any] = {"template": template}
    set_value = query.get("document_set", "").strip()
    if set_value:
        match = next((s for s in document_sets if str(s.id) == set_value), None)
        initial["document_set"] = match.name if match else set_value
    for name in ("output_name", "instructions", "style_guide"):
        if query.get(name):
            initial[name] = query[name]
    if query.getlist("existing_files"):
        initial["existing_files"] = query.getlist("existing_files")
    return initial


def _set_file_paths(set_name: str | None, document_sets: list[Any], files: list[Any]) -> set[str]:
    if not set_name:
        return set()
    ids = {s.id for s in document_sets if s.name == set_name}
    return {f.file_path for f in files if f.document_set_id in ids}


def _set_study_mismatch(form: GenerateForm, document_sets: list[Any]) -> list[str]:
    """The warning that the chosen set's files name different studies (before generation)."""
    name = form.data.get("document_set") if form.is_bound else form.initial.get("document_set")
    chosen = next((s for s in document_sets if name and s.name == str(name).strip()), None)
    return selectors.study_mismatch(chosen) if chosen is not None else []


def _keep_uploads(request: HttpRequest, form: GenerateForm) -> list[str]:
    """Store the files of a form refused for another field; their paths (to tick them)."""
    if "source_files" in form.errors:
        return []
    paths = []
    for uploaded in form.cleaned_data.get("source_files") or []:
        try:
            version = services.file_upload(user=request.user, uploaded_file=uploaded)
        except ServiceError as exc:
            add_to_form(form, exc, fields=FORM_FIELDS, default="source_files")
            continue
        paths.append(version.source_file.file_path)
    return paths


def _generate_from_form(
    request: HttpRequest, form: GenerateForm
) -> tuple[GeneratedDocument | None, list[str], str | None]:
    """Upload, then request generation. Returns (document or None, new file paths, failed id)."""
    data = form.cleaned_data
    new_paths: list[str] = []
    upload_failed = False
    for uploaded in data["source_files"]:
        try:
            version = services.file_upload(user=request.user, uploaded_file=uploaded)
        except ServiceError as exc:
            add_to_form(form, exc, fields=FORM_FIELDS, default="source_files")
            upload_failed = True
            continue
        new_paths.append(version.source_file.file_path)
    if upload_failed:
        return None, new_paths, None

    template = data["template"]
    selected: list[str] | None = None
    if request.POST.get("sections_template") == str(template.id):
        selected = request.POST.getlist("sections")
        if not selected:
            form.add_error(
                None, "Tick at least one section, or use “Select all” to draft the whole template."
            )
            form.add_error("template", "No section of this template is ticked.")
            return None, new_paths, None
        if len(selected) >= template.sections.count():
            selected = None  # every section: the whole template, as if none were chosen

    set_key, set_name = form.document_set_identity()
    file_paths = list(dict.fromkeys([*new_paths, *data["existing_files"]]))
    try:
        document = services.generation_request(
            user=request.user,
            document_type=template.document_type or "CSR",
            file_paths=file_paths,
            document_set_key=set_key,
            document_set_name=set_name,
            template_ref=str(template.id),
            output_name=data["output_name"],
            selected_section_ids=selected,
            instructions=data["instructions"],
            style_guide_ref=str(data["style_guide"].id) if data["style_guide"] else None,
        )
    except QueueUnavailable as exc:
        form.add_error(None, exc.message)
        return None, new_paths, exc.task_id
    except TooManyRequests as exc:
        form.add_error(None, exc.message)
        return None, new_paths, None
    except ServiceError as exc:
        add_to_form(form, exc, fields=FORM_FIELDS)
        return None, new_paths, None
    return document, new_paths, None


@require_GET
@member_required
def section_picker(request: HttpRequest) -> HttpResponse:
    """The section tree of the chosen template (HTMX); without HTMX, the form with it."""
    template = template_selectors.template_resolve_for_user(
        request.user, request.GET.get("template", "")
    )
    if not request.htmx:
        url = reverse("documents:document_new")
        return redirect(f"{url}?{request.GET.urlencode()}" if request.GET else url)
    response = render(
        request, "documents/_section_picker.html", _picker_context(request, template, None)
    )
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- a document ----------------------------------------------------------------------------------


def _live_context(document: GeneratedDocument) -> dict[str, Any]:
    running = not document.is_terminal
    preview = place_citations(draft_preview(document.twin, stale=document.stale_sections))
    return {
        "document": document,
        **status_texts(document),
        "terminal": not running,
        "steps": timeline(document),
        "can_cancel": running and not document.cancel_requested,
        "complete": document.status == GeneratedDocument.Status.COMPLETE,
        "redline_available": document.status == GeneratedDocument.Status.COMPLETE
        and bool(document.previous_version_id and document.redline_key),
        "preview": preview,
        "navigator": section_states(preview),
        "qc": qc_items(document.qc) if document.status == GeneratedDocument.Status.COMPLETE else [],
        "number_mismatches": (document.qc or {}).get("number_mismatch_examples") or []
        if document.status == GeneratedDocument.Status.COMPLETE
        else [],
        "qc_warnings": (
            qc_warnings(document.qc) if document.status == GeneratedDocument.Status.COMPLETE else []
        ),
    }


@require_GET
@member_required
def document_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    document = selectors.document_get_for_user(request.user, pk)
    if request.htmx:
        return _status_response(request, document)
    return document_page(request, document)


def document_page(
    request: HttpRequest,
    document: GeneratedDocument,
    *,
    review_form: Any = None,
    section_state_error: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The document page (also shown again with a refused reviewed copy's form errors, or a
    refused "not applicable" beside that section's reason)."""
    context = {
        "state_error": section_state_error or {},
        "nav_active": "dashboard",
        **_live_context(document),
        "sources": selectors.document_sources(document),
        "versions": selectors.document_versions(document),
        # The review cycle's parts (documents/_review_*.html).
        **review_context(document, form=review_form),
    }
    response = render_page(request, "documents/document_detail.html", context, status=status)
    if not document.is_terminal:
        add_never_cache_headers(response)
    return response


def _status_response(request: HttpRequest, document: GeneratedDocument) -> HttpResponse:
    response = render(request, "documents/_status_poll.html", _live_context(document))
    add_never_cache_headers(response)
    patch_vary_headers(response, ["HX-Request"])
    if document.is_terminal:
        response.status_code = HTMX_STOP_POLLING
    return response


@require_GET
@member_required
def document_status(request: HttpRequest, pk: Any) -> HttpResponse:
    """The polled status partial: HTTP 286 (stop polling) once the job has ended."""
    document = selectors.document_get_for_user(request.user, pk)
    if not request.htmx:
        return redirect("documents:document_detail", pk=document.pk)
    return _status_response(request, document)


@require_POST
@member_required
def document_cancel(request: HttpRequest, pk: Any) -> HttpResponse:
    document = selectors.document_get_for_user(request.user, pk)
    if request.POST.get("confirmed") != "yes":
        # Cancel asks first: folio.js asks in a dialog and sends confirmed=yes; without
        # JavaScript this page asks.
        return render(request, "documents/cancel_confirm.html", {"document": document})
    try:
        row = services.generation_cancel(user=request.user, document=document)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        if row.status == GeneratedDocument.Status.CANCELLED:
            messages.info(request, "The generation was cancelled.")
        else:
            messages.info(request, "Cancellation requested; the job stops at its next step.")
    return redirect("documents:document_detail", pk=document.pk)


@require_POST
@member_required
def document_regenerate(request: HttpRequest, pk: Any) -> HttpResponse:
    document = selectors.document_get_for_user(request.user, pk)
    sections = (document.outline or {}).get("sections", [])
    choices = [(s["section_id"], f"{s.get('number', '')} {s.get('title', '')}") for s in sections]
    form = RegenerateForm(request.POST, section_choices=choices)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(reverse("documents:document_detail", args=[document.pk]) + "#regenerate")
    new = regenerate_or_redirect(
        request,
        document,
        "#regenerate",
        section_ids=form.cleaned_data["section_ids"],
        instructions=form.cleaned_data["instructions"],
    )
    if isinstance(new, HttpResponse):
        return new
    count = len(form.cleaned_data["section_ids"])
    messages.success(
        request, f"Writing {count} section{'s' if count != 1 else ''} again as a new version."
    )
    return redirect("documents:document_detail", pk=new.pk)


def regenerate_or_redirect(request: HttpRequest, document: Any, anchor: str, **options: Any) -> Any:
    """The new version, or the redirect that shows why it was refused: the queue's failed row,
    or the document page at ``anchor`` with the service's message."""
    try:
        return services.generation_regenerate(user=request.user, document=document, **options)
    except QueueUnavailable as exc:
        messages.error(request, exc.message)
        return redirect("documents:document_detail", pk=exc.task_id)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect(reverse("documents:document_detail", args=[document.pk]) + anchor)


@require_GET
@member_required
def document_download(request: HttpRequest, pk: Any) -> HttpResponse:
    """Streams the .docx of a complete document (the clean copy; ``?copy=review``,
    ``?part=qc``, ``?part=sources`` as in the API) and records the download."""
    document = selectors.document_get_for_user(request.user, pk)
    try:
        _redline, copy, part = download_params(request.GET)
    except ServiceError as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    try:
        return document_download_response(
            user=request.user, document=document, copy=copy, part=part
        )
    except Conflict:
        return not_ready(request, document)


def not_ready(request: HttpRequest, document: Any) -> HttpResponse:
    """409: the document has no output yet (a download asked too early)."""
    return render(
        request,
        "documents/not_ready.html",
        {"document": document, "nav_active": "dashboard"},
        status=409,
    )


# --- document sets -------------------------------------------------------------------------------


@require_GET
@member_required
def document_set_list(request: HttpRequest) -> HttpResponse:
    sets = selectors.document_sets_with_counts(request.user)
    context = {"nav_active": "sets", "page": paginate(request, sets), "query": ""}
    membership = membership_of(request.user)
    if membership is not None and membership.is_manager:
        context["storage"] = selectors.organization_storage_usage(membership.organization)
    return render_page(request, "documents/document_set_list.html", context, partial="results")


@require_GET
@member_required
def document_set_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    document_set = selectors.document_set_get_for_user(request.user, pk)
    documents = selectors.documents_list_for_user(request.user, document_set_id=str(pk))
    context = {
        "nav_active": "sets",
        "document_set": document_set,
        "page": paginate(request, documents),
        "query": "",
        "files": selectors.document_set_files(request.user, document_set),
        "study_mismatch": selectors.study_mismatch(document_set),
    }
    return render_page(request, "documents/document_set_detail.html", context, partial="results")
