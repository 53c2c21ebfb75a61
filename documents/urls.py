"""Portal routes (server-rendered pages with HTMX partials)."""

from django.urls import path

from documents import views

app_name = "documents"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
]
