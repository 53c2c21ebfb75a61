"""Webhooks: an organization's managers register URLs; Folio POSTs a signed JSON event to each when
a document reaches a terminal state (docs/api.md, "Webhooks"). Deliveries run as RQ jobs with
retries and back-off, each attempt logged; target URLs are checked at registration and again at
delivery (``urlcheck``). This app knows nothing of documents: ``documents/events.py`` builds the
event and hands it over."""
