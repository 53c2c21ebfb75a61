"""Portal routes of templates and style guides; included by documents/urls.py (namespace
``documents``), so their names read ``documents:template_list`` and so on."""

from django.urls import path

from templates_app import views_portal as views

urlpatterns = [
    path("templates/", views.template_list, name="template_list"),
    path("templates/<uuid:pk>/", views.template_detail, name="template_detail"),
    path("templates/<uuid:pk>/duplicate/", views.template_duplicate, name="template_duplicate"),
    path("style-guides/", views.style_guide_list, name="style_guide_list"),
    path("style-guides/new/", views.style_guide_create, name="style_guide_create"),
    path("style-guides/<uuid:pk>/", views.style_guide_detail, name="style_guide_detail"),
    path("style-guides/<uuid:pk>/edit/", views.style_guide_edit, name="style_guide_edit"),
]
