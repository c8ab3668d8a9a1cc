from __future__ import annotations

import math
import uuid
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.db.models import Count, F, Prefetch, QuerySet
from django.utils import timezone

from . import media
from .detection import Detection, DetectionError, Instance, get_detector
from .detection import Label as DetectedLabel
from .links import image_url

if TYPE_CHECKING:
    from accounts.models import User

# A gallery card shows up to CARD_LABELS chips, picked from the image's top
# CARD_CANDIDATES labels: the narrowest of those found at CARD_MIN_CONFIDENCE or more.
CARD_LABELS = 3
CARD_CANDIDATES = 8
CARD_MIN_CONFIDENCE = 50.0
# A broad label (Animal, Pet) gives way to a narrower one (Cat) found nearly as surely.
NARROWER_WINS_AT = 0.9


class ImageQuerySet(models.QuerySet["Image"]):
    def owned_by(self, user: User) -> ImageQuerySet:
        return self.filter(owner=user)

    def visible(self) -> ImageQuerySet:
        return self.filter(hidden=False)

    def with_label(self, name: str, min_confidence: float = 0) -> ImageQuerySet:
        # A join (not EXISTS per image) lets the database start from the few
        # matching labels in (name, confidence); one name per image, so no duplicates.
        return self.visible().filter(labels__name=name, labels__confidence__gte=min_confidence)

    def for_gallery(self) -> ImageQuerySet:
        """Newest first, with each image's top labels in one extra query."""
        labels = Label.objects.order_by("-confidence", "name").only(
            "image_id", "name", "confidence", "parents"
        )
        return self.order_by("-uploaded_at", "-pk").prefetch_related(
            Prefetch("labels", queryset=labels[:CARD_CANDIDATES], to_attr="ranked_labels")
        )

    def update(self, **kwargs: Any) -> int:
        """Bulk updates (moderation) also refresh the owners' cached gallery pages."""
        owners = set(self.values_list("owner_id", flat=True))
        count = super().update(**kwargs)
        touch_galleries(*owners)
        return count


def touch_galleries(*owner_ids: int) -> None:
    """Make the owners' cached gallery pages stale: their keys name the old version."""
    get_user_model().objects.filter(pk__in=owner_ids).update(
        gallery_version=F("gallery_version") + 1
    )


class Image(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="images"
    )
    original = models.FileField(max_length=255)
    thumbnail = models.FileField(max_length=255)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=64)
    size_bytes = models.PositiveBigIntegerField()
    width = models.PositiveIntegerField(help_text="After EXIF orientation.")
    height = models.PositiveIntegerField(help_text="After EXIF orientation.")
    sha256 = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField(default=timezone.now)

    engine = models.CharField(max_length=32, blank=True)
    model_version = models.CharField(max_length=128, blank=True)
    detected_at = models.DateTimeField(null=True, blank=True)

    # What the last Detect found besides labels (see gallery.detection.types):
    # lines of text [{text, confidence, bounding_box}], and measured properties
    # {colors: [{name, hex, pixel_percent}], brightness, sharpness}.
    text = models.JSONField(default=list, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    # Parts of the last Detect that failed while its labels were kept ("text",
    # "moderation"); the detail page says so until the next Detect.
    incomplete = models.JSONField(default=list, blank=True)

    class Moderation(models.TextChoices):
        UNCHECKED = "unchecked", "Not checked"
        CLEAR = "clear", "Clear"
        FLAGGED = "flagged", "Needs review"
        APPROVED = "approved", "Approved"

    moderation_status = models.CharField(
        max_length=16, choices=Moderation.choices, default=Moderation.UNCHECKED
    )
    # [{name, confidence, parent}] as DetectModerationLabels gives them.
    moderation_labels = models.JSONField(default=list, blank=True)
    moderation_checked_at = models.DateTimeField(null=True, blank=True)

    hidden = models.BooleanField(default=False, help_text="Hidden by a moderator.")
    hidden_reason = models.CharField(max_length=255, blank=True)

    objects = ImageQuerySet.as_manager()

    class Meta:
        ordering = ("-uploaded_at",)
        indexes = [
            models.Index(fields=["owner", "-uploaded_at"], name="image_owner_newest"),
            models.Index(fields=["moderation_status"], name="image_moderation_status"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["owner", "sha256"], name="image_unique_per_owner")
        ]

    def __str__(self) -> str:
        return self.original_name

    def get_absolute_url(self) -> str:
        return image_url("gallery:detail", self.pk)

    @property
    def card_labels(self) -> list[Label]:
        """The card's chips; ``for_gallery`` prefetches the candidates in one query a page."""
        ranked = getattr(self, "ranked_labels", None)
        if ranked is None:
            ranked = list(self.labels.order_by("-confidence", "name")[:CARD_CANDIDATES])
        return narrowest_labels(ranked)

    @property
    def thumbnail_src(self) -> str:
        return media.thumbnail_src(self)

    def stored_names(self) -> list[str]:
        names = (self.original.name, self.thumbnail.name, media.display_copy_name(self))
        return [name for name in names if name]

    def replace_labels(self, detection: Detection) -> list[Label]:
        """Store a detection, replacing any earlier one, in one transaction."""
        rows = [
            Label(
                image=self,
                name=label.name,
                confidence=label.confidence,
                parents=list(label.parents),
                aliases=list(label.aliases),
                categories=list(label.categories),
                instances=[label_instance_as_json(i) for i in label.instances],
            )
            for label in unique_by_name(detection.sorted_labels())
        ]
        with transaction.atomic():
            self.labels.all().delete()
            Label.objects.bulk_create(rows)
            self.engine = detection.engine
            self.model_version = detection.model_version
            self.detected_at = timezone.now()
            self.text = [line.as_dict() for line in detection.text]
            self.properties = detection.properties.as_dict() if detection.properties else {}
            self.incomplete = list(detection.incomplete)
            self.save(
                update_fields=[
                    "engine",
                    "model_version",
                    "detected_at",
                    "text",
                    "properties",
                    "incomplete",
                ]
            )
        return rows


def unique_by_name(labels: list[DetectedLabel]) -> list[DetectedLabel]:
    """One label per name, the most confident (labels come sorted)."""
    kept: dict[str, DetectedLabel] = {}
    for label in labels:
        kept.setdefault(label.name, label)
    return list(kept.values())


def narrowest_labels(ranked: list[Label]) -> list[Label]:
    """What a card says: "Cat", not "Animal, Mammal, Pet", when Cat is about as sure.

    ``ranked`` comes most confident first. A label is left out when a narrower
    one (a label naming it as a parent) is found nearly as surely; labels under
    CARD_MIN_CONFIDENCE are left out too, unless nothing else is left.
    """
    sure = [label for label in ranked if label.confidence >= CARD_MIN_CONFIDENCE]
    confidence = {label.name: label.confidence for label in sure}
    broader = {
        parent
        for label in sure
        for parent in label.parents
        if label.confidence >= NARROWER_WINS_AT * confidence.get(parent, math.inf)
    }
    narrowest = [label for label in sure if label.name not in broader]
    return narrowest[:CARD_LABELS] or ranked[:1]


def label_instance_as_json(instance: Instance) -> dict[str, Any]:
    box = instance.bounding_box
    stored: dict[str, Any] = {
        "left": box.left,
        "top": box.top,
        "width": box.width,
        "height": box.height,
        "confidence": instance.confidence,
    }
    if instance.colors:
        stored["colors"] = list(instance.colors)
    return stored


class LabelQuerySet(models.QuerySet["Label"]):
    def owned_by(self, user: User) -> LabelQuerySet:
        return self.filter(image__owner=user, image__hidden=False)

    def counts(self, min_confidence: float = 0) -> QuerySet[Label, dict[str, Any]]:
        """Label names with how many images carry each, most common first."""
        return (
            self.filter(confidence__gte=min_confidence)
            .values("name")
            .annotate(images=Count("pk"))  # a name appears once per image
            .order_by("-images", "name")
        )


class Label(models.Model):
    # Indexed by label_image_confidence, which starts with image.
    image = models.ForeignKey(
        Image, on_delete=models.CASCADE, related_name="labels", db_index=False
    )
    name = models.CharField(max_length=128)
    confidence = models.FloatField()
    parents = models.JSONField(default=list, blank=True)
    aliases = models.JSONField(default=list, blank=True)
    categories = models.JSONField(default=list, blank=True)
    instances = models.JSONField(default=list, blank=True)

    objects = LabelQuerySet.as_manager()

    class Meta:
        ordering = ("-confidence",)
        indexes = [
            models.Index(fields=["name", "confidence"], name="label_name_confidence"),
            models.Index(fields=["image", "-confidence"], name="label_image_confidence"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["image", "name"], name="label_unique_per_image")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.confidence:.1f}%)"

    @property
    def percent(self) -> int:
        return int(self.confidence + 0.5)  # half up, as people round

    @property
    def boxes(self) -> list[dict[str, float]]:
        """The instances as CSS percentages of the displayed image."""
        sides = ("left", "top", "width", "height")
        return [{side: float(box[side]) * 100 for side in sides} for box in self.instances]


def detect_and_store(image: Image) -> list[Label]:
    """Run the configured engine on a stored image and keep what it finds.

    Raises DetectionError only, whatever went wrong, so callers have one
    thing to turn into a message.
    """
    detector = get_detector()
    # An engine that reads the storage itself (Rekognition with S3) skips the download.
    read_stored = getattr(detector, "detect_stored", None)
    detection = read_stored(image.original.name, image.size_bytes) if read_stored else None
    if detection is None:
        try:
            with image.original.open("rb") as stored:
                data = stored.read()
        except OSError as exc:
            raise DetectionError("The stored photo could not be read.", permanent=False) from exc
        detection = detector.detect(data, storage_name=image.original.name)
    return image.replace_labels(detection)
