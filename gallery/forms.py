from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile


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


class GalleryFilterForm(forms.Form):
    label = forms.CharField(max_length=128, required=False)
    min = forms.IntegerField(min_value=0, max_value=100, required=False)

    def clean_label(self) -> str:
        return str(self.cleaned_data["label"]).strip()


class ConfidenceForm(forms.Form):
    confidence = forms.IntegerField(min_value=0, max_value=100)
