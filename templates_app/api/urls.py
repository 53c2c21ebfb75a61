"""Routes of the templates and style-guides API, mounted at /api/v1/ (docs/api.md, "Resources")."""

from django.urls import path

from templates_app.api import views

urlpatterns = [
    path("templates/", views.TemplateListApi.as_view(), name="template_list"),
    path("templates/import", views.TemplateImportApi.as_view(), name="template_import"),
    path("templates/<str:template_id>", views.TemplateDetailApi.as_view(), name="template_detail"),
    path(
        "templates/<str:template_id>/duplicate",
        views.TemplateDuplicateApi.as_view(),
        name="template_duplicate",
    ),
    path(
        "templates/<str:template_id>/sections",
        views.TemplateSectionAddApi.as_view(),
        name="template_section_add",
    ),
    path(
        "templates/<str:template_id>/sections/reorder",
        views.TemplateSectionsReorderApi.as_view(),
        name="template_sections_reorder",
    ),
    path(
        "templates/<str:template_id>/sections/<str:section_id>",
        views.TemplateSectionDetailApi.as_view(),
        name="template_section_detail",
    ),
    path(
        "templates/<str:template_id>/sections/<str:section_id>/rename",
        views.TemplateSectionRenameApi.as_view(),
        name="template_section_rename",
    ),
    path("style-guides/", views.StyleGuideListApi.as_view(), name="style_guide_list"),
    path(
        "style-guides/<str:style_guide_id>",
        views.StyleGuideDetailApi.as_view(),
        name="style_guide_detail",
    ),
]
