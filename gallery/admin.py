from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from .admin_moderation import ModerationAdmin, ModerationFilter
from .detection import DetectionError
from .models import Image, Label, LabelCorrection, MutedLabel, detect_and_store


class LabelInline(admin.TabularInline):
    model = Label
    fields = ("name", "confidence", "parents", "source", "shown")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-confidence",)

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class CorrectionInline(admin.TabularInline):
    """What the owner said of the engine's labels: moderators see it, never change it."""

    model = LabelCorrection
    fields = ("name", "action", "made_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "Corrections by the owner"

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(MutedLabel)
class MutedLabelAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "muted_at")
    search_fields = ("name", "owner__email")
    list_select_related = ("owner",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class HasLabelsFilter(admin.SimpleListFilter):
    title = "has labels"
    parameter_name = "has_labels"

    def lookups(self, request: HttpRequest, model_admin: object) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Image]) -> QuerySet[Image]:
        has = Exists(Label.objects.filter(image=OuterRef("pk")))
        if self.value() == "yes":
            return queryset.filter(has)
        if self.value() == "no":
            return queryset.exclude(has)
        return queryset


@admin.register(Image)
class ImageAdmin(ModerationAdmin):
    list_display = (
        "preview",
        "original_name",
        "moderation",
        "owner",
        "uploaded_at",
        "engine",
        "hidden",
    )
    list_filter = (ModerationFilter, "hidden", HasLabelsFilter, "engine", "uploaded_at")
    search_fields = ("owner__email", "labels__name", "original_name")
    list_select_related = ("owner",)
    readonly_fields = (
        "large_preview",
        "owner",
        "original_name",
        "content_type",
        "size_bytes",
        "width",
        "height",
        "sha256",
        "uploaded_at",
        "engine",
        "model_version",
        "detected_at",
        *ModerationAdmin.moderation_fields,
    )
    fields = ("large_preview", "hidden", "hidden_reason", *readonly_fields[1:])
    inlines = (LabelInline, CorrectionInline)
    # Django's own "delete selected" stays: deleting fires post_delete, which removes files.
    actions = (*ModerationAdmin.moderation_actions, "redetect")
    date_hierarchy = "uploaded_at"

    class Media:
        # Styles from a file: the Content-Security-Policy allows no inline ones.
        css = {"all": ("css/admin.css",)}

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Photos come only through the upload, which checks the file and stores it.
        return False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Image], search_term: str
    ) -> tuple[QuerySet[Image], bool]:
        results, _ = super().get_search_results(request, queryset, search_term)
        # Searching across labels joins many rows per image; distinct keeps one.
        return results.distinct(), False

    @admin.display(description="Photo")
    def preview(self, obj: Image) -> str:
        url = reverse("gallery:thumbnail", args=[obj.pk])
        return format_html('<img src="{}" alt="" class="photo-preview">', url)

    @admin.display(description="Photo")
    def large_preview(self, obj: Image) -> str:
        url = reverse("gallery:thumbnail", args=[obj.pk])
        return format_html('<img src="{}" alt="" class="photo-large">', url)

    def save_model(self, request: HttpRequest, obj: Image, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if "hidden" in form.changed_data:
            obj.reindex()  # a hidden photo is found by nothing

    @admin.action(description="Run label detection again")
    def redetect(self, request: HttpRequest, queryset: QuerySet[Image]) -> None:
        done = 0
        for image in queryset:
            try:
                detect_and_store(image)
            except DetectionError as exc:
                self.message_user(request, f"{image}: {exc}", level=messages.ERROR)
            else:
                done += 1
        self.message_user(request, f"Detected labels again for {done} photo(s).")
