from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from . import search


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        files = data if isinstance(data, list | tuple) else [data]
        return [f for f in files if f]


ACCEPT = "image/jpeg,image/png,image/webp,image/heic,.heic,.heif"


class UploadForm(forms.Form):
    images = MultipleFileField(
        # Browsers often know no type for HEIC files, hence the extensions.
        widget=MultipleFileInput(attrs={"accept": ACCEPT}),
        required=False,
    )

    def clean_images(self) -> list[UploadedFile]:
        files: list[UploadedFile] = self.cleaned_data["images"]
        if not files:
            raise forms.ValidationError("Choose at least one photo to upload.")
        return files


WHOLE_PERCENT = "Enter a whole number from 0 to 100."


class GalleryFilterForm(forms.Form):
    """What the gallery shows: a search (``q``), or one label (``label``) at a minimum."""

    q = forms.CharField(max_length=500, required=False, strip=True)
    label = forms.CharField(max_length=128, required=False, strip=True)
    min = forms.IntegerField(
        min_value=0,
        max_value=100,
        required=False,
        error_messages={
            "invalid": WHOLE_PERCENT,
            "min_value": WHOLE_PERCENT,
            "max_value": WHOLE_PERCENT,
        },
    )

    def query(self) -> search.Query:
        """The search the form asks for; ``label`` is a one-label search."""
        self.is_valid()  # a bad minimum still leaves the label and words to search for
        data = self.cleaned_data
        label = data.get("label", "")
        if label:
            return search.Query((search.Clause(search.phrase(label), data.get("min")),))
        return search.parse(data.get("q", ""))


class ConfidenceForm(forms.Form):
    confidence = forms.IntegerField(min_value=0, max_value=100)


class LabelNameForm(forms.Form):
    name = forms.CharField(
        max_length=64,
        strip=True,
        error_messages={
            "required": "Type the label's name.",
            "max_length": "A label name has at most 64 characters.",
        },
    )

    def clean_name(self) -> str:
        """The name as the engines spell it when it is one of theirs ("dog" -> "Dog")."""
        from .detection.taxonomy import Taxonomy

        typed = " ".join(str(self.cleaned_data["name"]).split())
        if not search.words(typed):
            raise forms.ValidationError("A label name needs at least one letter or digit.")
        known = {name.casefold(): name for name in Taxonomy.load().label_names}
        return known.get(typed.casefold(), typed[:1].upper() + typed[1:])


# A page shows 24 photos; a bulk action never takes more than a few pages' worth.
MAX_BULK = 100


class PhotoSelectionField(forms.Field):
    """The ids of the selected photos (checkboxes named ``ids``)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[uuid.UUID]:
        values = [v for v in (value or []) if v]
        if not values:
            raise forms.ValidationError("Select at least one photo first.")
        if len(values) > MAX_BULK:
            raise forms.ValidationError(f"Select at most {MAX_BULK} photos at a time.")
        try:
            return [uuid.UUID(str(v)) for v in values]
        except ValueError:
            raise forms.ValidationError("That selection is not valid; reload the page.") from None


class BulkForm(forms.Form):
    """An action on several of the person's photos at once."""

    ids = PhotoSelectionField()
    action = forms.ChoiceField(
        choices=[
            ("delete", "Delete"),
            ("detect", "Detect again"),
            ("add", "Add a label"),
            ("remove", "Remove a label"),
        ],
        error_messages={"invalid_choice": "Choose what to do with the selected photos."},
    )
    name = forms.CharField(max_length=64, required=False, strip=True)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") in ("add", "remove"):
            names = LabelNameForm({"name": data.get("name", "")})
            if not names.is_valid():
                self.add_error("name", names.errors["name"])
            else:
                data["name"] = names.cleaned_data["name"]
        return data
