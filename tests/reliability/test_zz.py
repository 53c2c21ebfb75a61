import pytest, logging
from django.db import connection
from django.test.utils import CaptureQueriesContext

@pytest.mark.django_db
def test_x(member, api_client, submit, django_capture_on_commit_callbacks, clean_queue, tiny_source, caplog):
    path = tiny_source(member)
    with django_capture_on_commit_callbacks(execute=True):
        t = submit(member, [path]).json()["task_id"]
    c = api_client(member)
    c.get(f"/api/v1/documents/status/{t}")
    with CaptureQueriesContext(connection) as q:
        r = c.get(f"/api/v1/documents/status/{t}")
    print(r.status_code, len(q.captured_queries))
    for x in q.captured_queries: print(x["sql"][:150])
    caplog.set_level(logging.INFO)
    r = c.get("/api/v1/files/signed/eyJrIjoiYSJ9:1tSecretTokenValue:abcdefsig")
    print(r.status_code, repr(caplog.text[-300:]))
    print(logging.getLogger().handlers, [h.filters for h in logging.getLogger().handlers])
