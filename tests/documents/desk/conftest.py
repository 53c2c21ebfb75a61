"""The writer's desk (issue 13): a draft generated through the real API and a real RQ worker,
the same as the review cycle's tests use."""

from tests.documents.review.conftest import draft, sources  # noqa: F401  (fixtures)
