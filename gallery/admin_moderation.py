"""The moderation queue in the admin: what needs review, and what moderators do.

Photos flagged by the moderation check are listed under "Needs review"
(a filter, and a count on the admin index). Moderators approve them (the
flag is cleared and stays cleared across Detect again), hide them with a
reason their owner sees, or show them again. Nothing is hidden without a
moderator, and every action is written to Django's admin log, shown on the
photo's change page.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from .models import Image, touch_galleries

REVIEW = "review"
# Read-only fields keep Django's plain text layout; a list there is indented oddly.
LINE_BREAK = mark_safe("<br>")


class ModerationFilter(admin.SimpleListFilter):
    title = "moderation"
    parameter_name = "moderation"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            (REVIEW, "Needs review"),
            (Image.Moderation.UNCHECKED, "Not checked"),
            (Image.Moderation.CLEAR, "Clear"),
            (Image.Moderation.APPROVED, "Approved"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Image]) -> QuerySet[Image]:
        value = self.value()
        if value == REVIEW:
            return queryset.filter(pk__in=Image.objects.needs_review().values("pk"))
        if value in Image.Moderation.values:
            return queryset.filter(moderation_status=value)
        return queryset


class HideForm(forms.Form):
    reason = forms.CharField(
        max_length=Image._meta.get_field("hidden_reason").max_length,
        help_text="The owner sees this on the photo.",
        widget=forms.TextInput(attrs={"size": 60, "autofocus": True}),
    )


class ImageModerationForm(forms.ModelForm):
    """The change page's form: a photo hidden by hand needs a reason too."""

    class Meta:
        model = Image
        fields = ("hidden", "hidden_reason")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("hidden") and not cleaned.get("hidden_reason", "").strip():
            self.add_error("hidden_reason", "Say why the photo is hidden; its owner sees this.")
        if not cleaned.get("hidden"):
            cleaned["hidden_reason"] = ""
        return cleaned


class ModerationAdmin(admin.ModelAdmin):
    """The moderation part of the image admin (actions, filter, history)."""

    form = ImageModerationForm
    moderation_actions = ("approve", "hide", "unhide")
    moderation_fields = (
        "moderation_status",
        "moderation_labels_list",
        "moderation_checked_at",
        "moderation_history",
    )

    @admin.display(description="Moderation", ordering="moderation_status")
    def moderation(self, obj: Image) -> str:
        top = max(obj.moderation_labels, key=lambda label: label["confidence"], default=None)
        if top is None:
            return obj.get_moderation_status_display()
        return format_html(
            "{} <small>({} {}%)</small>",
            obj.get_moderation_status_display(),
            top["name"],
            round(top["confidence"]),
        )

    @admin.display(description="Moderation labels")
    def moderation_labels_list(self, obj: Image) -> str:
        if not obj.moderation_labels:
            return "None" if obj.moderation_checked_at else "Not checked"
        return format_html_join(
            LINE_BREAK,
            "{} {}%{}",
            (
                (
                    label["name"],
                    round(label["confidence"], 1),
                    f" (under {label['parent']})" if label.get("parent") else "",
                )
                for label in obj.moderation_labels
            ),
        )

    @admin.display(description="Moderation history")
    def moderation_history(self, obj: Image) -> str:
        entries = (
            LogEntry.objects.filter(
                content_type=ContentType.objects.get_for_model(Image), object_id=str(obj.pk)
            )
            .select_related("user")
            .order_by("-action_time")[:50]
        )
        if not entries:
            return "No moderator has acted on this photo."
        return format_html_join(
            LINE_BREAK,
            "{}: {} by {}",
            (
                (
                    entry.action_time.strftime("%Y-%m-%d %H:%M UTC"),
                    entry.get_change_message(),
                    entry.user,
                )
                for entry in entries
            ),
        )

    @admin.action(
        description="Approve selected photos (clears the review flag)", permissions=["change"]
    )
    def approve(self, request: HttpRequest, queryset: QuerySet[Image]) -> None:
        images = list(queryset)
        Image.objects.filter(pk__in=[image.pk for image in images]).update(
            moderation_status=Image.Moderation.APPROVED
        )
        touch_galleries(*{image.owner_id for image in images})
        for image in images:
            self.log_change(request, image, "Approved: cleared the review flag.")
        self.message_user(request, f"Approved {len(images)} photo(s).")

    @admin.action(
        description="Hide selected photos from their owners, with a reason", permissions=["change"]
    )
    def hide(self, request: HttpRequest, queryset: QuerySet[Image]) -> TemplateResponse | None:
        form = HideForm(request.POST if "reason" in request.POST else None)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": "Hide photos from their owners",
                "opts": self.model._meta,
                "images": queryset,
                "form": form,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/gallery/image/hide.html", context)
        reason = form.cleaned_data["reason"].strip()
        images = list(queryset)
        for image in images:
            image.set_hidden(True, reason)
            self.log_change(request, image, f"Hidden from its owner: {reason}")
        self.message_user(request, f"Hid {len(images)} photo(s).")
        return None

    @admin.action(description="Show selected photos again", permissions=["change"])
    def unhide(self, request: HttpRequest, queryset: QuerySet[Image]) -> None:
        images = list(queryset.filter(hidden=True))
        for image in images:
            image.set_hidden(False)
            self.log_change(request, image, "Shown to its owner again.")
        self.message_user(request, f"Unhid {len(images)} photo(s).")
