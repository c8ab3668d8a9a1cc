from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, NamedTuple, overload

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone

from . import media, search
from .detection import PART_MODERATION, Detection, DetectionError, Instance, get_detector
from .detection import Label as DetectedLabel
from .links import image_url

if TYPE_CHECKING:
    from accounts.models import User

# A gallery card shows up to CARD_LABELS chips: the narrowest of the labels
# shown at the person's slider value.
CARD_LABELS = 3
CARD_MIN_CONFIDENCE = 50
ENGINE_NAMES = {"local": "the on-box engine", "rekognition": "Amazon Rekognition"}
# A broad label (Animal, Pet) gives way to a narrower one (Cat) found nearly as surely.
NARROWER_WINS_AT = 0.9


class ImageQuerySet(models.QuerySet["Image"]):
    def owned_by(self, user: User) -> ImageQuerySet:
        return self.filter(owner=user)

    def visible(self) -> ImageQuerySet:
        return self.filter(hidden=False)

    def needs_review(self) -> ImageQuerySet:
        """Flagged by the moderation check, neither approved nor hidden yet."""
        return self.filter(moderation_status=Image.Moderation.FLAGGED, hidden=False)

    def with_label(self, user: User, name: str, minimum: int = 0) -> ImageQuerySet:
        """The person's images found by ``name`` (a label, a synonym or a parent)."""
        clause = search.Clause(search.phrase(name), minimum)
        return self.search(user, search.Query((clause,)), minimum)

    def search(self, user: User, query: search.Query, default_minimum: int) -> ImageQuerySet:
        """The person's visible images that meet every clause of ``query``.

        One indexed semi-join per clause on (owner, term, confidence): the
        same few queries at a thousand photos as at a hundred thousand.
        """
        images = self.owned_by(user).visible()
        for clause, minimum in query.minimums(default_minimum):
            found = SearchTerm.objects.found(user, clause.term, minimum).values("image_id")
            images = images.exclude(pk__in=found) if clause.exclude else images.filter(pk__in=found)
        return images

    def neighbours(self, image: Image) -> tuple[Image | None, Image | None]:
        """The photos just newer and just older than ``image`` in gallery order."""
        at, pk = image.uploaded_at, image.pk
        newer = self.filter(Q(uploaded_at__gt=at) | Q(uploaded_at=at, pk__gt=pk))
        older = self.filter(Q(uploaded_at__lt=at) | Q(uploaded_at=at, pk__lt=pk))
        return (
            newer.order_by("uploaded_at", "pk").only("pk").first(),
            older.order_by("-uploaded_at", "-pk").only("pk").first(),
        )

    def outdated(self, engine: str, model_version: str | None) -> ImageQuerySet:
        """Labelled by another engine, or by another version of this one.

        ``model_version`` None: the engine cannot say its version before it
        answers (Rekognition), so only another engine's labels are outdated.
        """
        stale = ~Q(engine=engine)
        if model_version is not None:
            stale |= ~Q(model_version=model_version)
        return self.filter(Q(detected_at__isnull=False) & stale)

    def for_gallery(self) -> ImageQuerySet:
        """Newest first, as the gallery lists them."""
        return self.order_by("-uploaded_at", "-pk")


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

    # What this photo adds to its owner's LabelTally rows: {label name: shown percent}.
    tallied = models.JSONField(default=dict, blank=True, editable=False)

    hidden = models.BooleanField(default=False, help_text="Hidden by a moderator.")
    hidden_reason = models.CharField(max_length=255, blank=True)

    objects = ImageQuerySet.as_manager()
    # The chips of the image's gallery card, set by with_cards.
    cards: list[CardLabel]

    class Meta:
        ordering = ("-uploaded_at",)
        indexes = [
            models.Index(fields=["owner", "-uploaded_at"], name="image_owner_newest"),
            models.Index(fields=["moderation_status"], name="image_moderation_status"),
            # "Detect all photos without labels" counts and walks these.
            models.Index(fields=["owner", "detected_at"], name="image_owner_detected"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["owner", "sha256"], name="image_unique_per_owner")
        ]

    def __str__(self) -> str:
        return self.original_name

    def get_absolute_url(self) -> str:
        return image_url("gallery:detail", self.pk)

    @property
    def engine_name(self) -> str:
        """Who found the labels, in words for the person."""
        return ENGINE_NAMES.get(self.engine, "the label engine")

    @property
    def thumbnail_src(self) -> str:
        return media.thumbnail_src(self)

    def stored_names(self) -> list[str]:
        names = (self.original.name, self.thumbnail.name, media.display_copy_name(self))
        return [name for name in names if name]

    def corrected(self, rows: list[Label]) -> list[Label]:
        """The engine's label rows with this person's corrections applied."""
        corrections = dict(self.corrections.values_list("name", "action"))
        muted = set(
            MutedLabel.objects.filter(owner_id=self.owner_id).values_list("name", flat=True)
        )
        kept = [row for row in rows if corrections.get(row.name) != LabelCorrection.Action.ADDED]
        for row in kept:
            row.shown = row.name not in muted and row.name not in corrections
        added = [
            name for name, action in corrections.items() if action == LabelCorrection.Action.ADDED
        ]
        return kept + [person_label(self, name) for name in added]

    def remove_label(self, name: str) -> bool:
        """Hide a label from this photo for good (Detect again keeps it hidden)."""
        with transaction.atomic():
            changed = self.labels.filter(name=name, shown=True).update(shown=False)
            if not changed:
                return False
            self.corrections.update_or_create(
                name=name, defaults={"action": LabelCorrection.Action.REMOVED}
            )
            self.labels.filter(name=name, source=Label.Source.PERSON).delete()
            self.reindex()
        return True

    def add_label(self, name: str) -> Label:
        """A label the person says is there: confidence 100, source "you"."""
        with transaction.atomic():
            self.corrections.update_or_create(
                name=name, defaults={"action": LabelCorrection.Action.ADDED}
            )
            self.labels.filter(name=name).delete()
            label = person_label(self, name)
            label.save()
            self.reindex()
        return label

    def undo_correction(self, name: str) -> bool:
        """Take back a removal or an addition; the engine's answer shows again."""
        with transaction.atomic():
            correction = self.corrections.filter(name=name).first()
            if correction is None:
                return False
            correction.delete()
            if correction.action == LabelCorrection.Action.ADDED:
                self.labels.filter(name=name, source=Label.Source.PERSON).delete()
            elif not MutedLabel.objects.filter(owner_id=self.owner_id, name=name).exists():
                self.labels.filter(name=name).update(shown=True)
            self.reindex()
        return True

    def set_hidden(self, hidden: bool, reason: str = "") -> None:
        """Hide the photo from its owner's library (a moderator's call), or show it again."""
        self.hidden, self.hidden_reason = hidden, reason if hidden else ""
        with transaction.atomic():
            self.save(update_fields=["hidden", "hidden_reason"])
            self.reindex()

    def reindex(self) -> None:
        """Bring this photo's search terms, its share of the label tallies and its
        owner's cached gallery pages up to date.

        Called wherever what a photo shows or is found by changes: upload, new
        labels, corrections, visibility. A hidden photo is found by nothing and
        counted nowhere.
        """
        labels = [] if self.hidden else list(self.labels.shown())
        terms = (
            {}
            if self.hidden
            else search.photo_terms(labels, self.text, self.properties, self.original_name)
        )
        tallied = {label.name: label.percent for label in labels}
        with transaction.atomic():
            self.terms.all().delete()
            SearchTerm.objects.bulk_create(
                SearchTerm(
                    image=self,
                    owner_id=self.owner_id,
                    term=term,
                    confidence=confidence,
                    uploaded_at=self.uploaded_at,
                )
                for term, confidence in terms.items()
            )
            LabelTally.objects.shift(self.owner_id, self.tallied, tallied)
            self.tallied = tallied
            Image.objects.filter(pk=self.pk).update(tallied=tallied)
            touch_galleries(self.owner_id)

    def replace_labels(self, detection: Detection) -> list[Label]:
        """Store a detection, replacing any earlier one, in one transaction.

        The person's corrections outlive it: labels they removed or muted stay
        hidden, labels they added stay.
        """
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
            rows = self.corrected(rows)
            self.labels.all().delete()
            Label.objects.bulk_create(rows)
            self.engine = detection.engine
            self.model_version = detection.model_version
            self.detected_at = timezone.now()
            self.text = [line.as_dict() for line in detection.text]
            self.properties = detection.properties.as_dict() if detection.properties else {}
            self.incomplete = list(detection.incomplete)
            moderated = self.apply_moderation(detection)
            self.save(
                update_fields=[
                    "engine",
                    "model_version",
                    "detected_at",
                    "text",
                    "properties",
                    "incomplete",
                    *moderated,
                ]
            )
            self.reindex()
        return rows

    def apply_moderation(self, detection: Detection) -> list[str]:
        """Take the detection's moderation result; return the fields it changed.

        A moderator's approval stands across Detect again (the photo is the
        same). A check that failed leaves the photo "not checked" until its
        next Detect; with the check turned off the last result stays.
        """
        result = detection.moderation
        approved = self.moderation_status == Image.Moderation.APPROVED
        if result is None:
            if PART_MODERATION not in detection.incomplete:
                return []
            self.moderation_labels = []
            self.moderation_checked_at = None
            if not approved:
                self.moderation_status = Image.Moderation.UNCHECKED
        else:
            self.moderation_labels = [asdict(label) for label in result.labels]
            self.moderation_checked_at = timezone.now()
            if not approved:
                threshold = float(getattr(settings, "FINDLABELS_MODERATION_THRESHOLD", 80))
                flagged = result.top_confidence() >= threshold
                self.moderation_status = (
                    Image.Moderation.FLAGGED if flagged else Image.Moderation.CLEAR
                )
        return ["moderation_status", "moderation_labels", "moderation_checked_at"]


def person_label(image: Image, name: str) -> Label:
    """A label added by the person: sure, with the taxonomy's parents where it knows the name."""
    return Label(
        image=image,
        name=name,
        confidence=100.0,
        parents=list(known_parents(name)),
        source=Label.Source.PERSON,
    )


def known_parents(name: str) -> tuple[str, ...]:
    from .detection.taxonomy import Taxonomy

    taxonomy = Taxonomy.load()
    return taxonomy.parents(name) if name in taxonomy.label_names else ()


def unique_by_name(labels: list[DetectedLabel]) -> list[DetectedLabel]:
    """One label per name, the most confident (labels come sorted)."""
    kept: dict[str, DetectedLabel] = {}
    for label in labels:
        kept.setdefault(label.name, label)
    return list(kept.values())


class CardLabel(NamedTuple):
    name: str
    confidence: float
    parents: list[str]

    @property
    def percent(self) -> int:
        return search.shown_percent(self.confidence)


def with_cards(images: Iterable[Image], minimum: int) -> None:
    """Give each image its card chips (``image.cards``) at the slider value, in one query.

    Plain rows, not Label objects: a page of 24 cards reads a few hundred.
    """
    images = list(images)
    rows = (
        Label.objects.shown()
        .filter(image__in=images, confidence__gte=search.at_least(minimum))
        .order_by("-confidence", "name")
        .values_list("image_id", "name", "confidence", "parents")
    )
    ranked: dict[uuid.UUID, list[CardLabel]] = {image.pk: [] for image in images}
    for image_id, name, confidence, parents in rows:
        ranked[image_id].append(CardLabel(name, confidence, parents))
    for image in images:
        image.cards = narrowest_labels(ranked[image.pk], minimum)


def narrowest_labels(
    ranked: Sequence[CardLabel] | Sequence[Label], minimum: int = CARD_MIN_CONFIDENCE
) -> list[Any]:
    """What a card says: "Cat", not "Animal, Mammal, Pet", when Cat is about as sure.

    ``ranked`` comes most confident first. Only labels shown at ``minimum``
    percent or more (the person's slider) are candidates; a label is left out
    when a narrower one (a label naming it as a parent) is found nearly as surely.
    """
    sure = [label for label in ranked if label.confidence >= search.at_least(minimum)]
    confidence = {label.name: label.confidence for label in sure}
    broader = {
        parent
        for label in sure
        for parent in label.parents
        if label.confidence >= NARROWER_WINS_AT * confidence.get(parent, math.inf)
    }
    return [label for label in sure if label.name not in broader][:CARD_LABELS]


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

    def shown(self) -> LabelQuerySet:
        """What the person sees: without the labels they removed or muted."""
        return self.filter(shown=True)

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

    class Source(models.TextChoices):
        ENGINE = "engine", "the engine"
        PERSON = "you", "you"

    source = models.CharField(max_length=8, choices=Source.choices, default=Source.ENGINE)
    # False when the person removed it from this photo or muted its name:
    # corrections win over the engine everywhere.
    shown = models.BooleanField(default=True)

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
        return search.shown_percent(self.confidence)

    @property
    def boxes(self) -> list[dict[str, float]]:
        """The instances as CSS percentages of the displayed image."""
        sides = ("left", "top", "width", "height")
        return [{side: float(box[side]) * 100 for side in sides} for box in self.instances]


class LabelCorrection(models.Model):
    """A person's word on one label of one photo; it outlives Detect again."""

    class Action(models.TextChoices):
        REMOVED = "removed", "Removed"
        ADDED = "added", "Added"

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="corrections")
    name = models.CharField(max_length=128)
    action = models.CharField(max_length=8, choices=Action.choices)
    made_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["image", "name"], name="correction_unique_per_image")
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.name}"


# Rekognition's LabelExclusionFilters takes at most 100 names.
MAX_MUTED = 100


class MutedLabelQuerySet(models.QuerySet["MutedLabel"]):
    def names(self, owner_id: int) -> list[str]:
        return list(self.filter(owner_id=owner_id).order_by("name").values_list("name", flat=True))


class MutedLabel(models.Model):
    """ "Never show me X": one person's label name, hidden on every photo of theirs."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="muted_labels"
    )
    name = models.CharField(max_length=128)
    muted_at = models.DateTimeField(auto_now_add=True)

    objects = MutedLabelQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="muted_unique")]

    def __str__(self) -> str:
        return self.name


def mute_label(owner: User, name: str) -> bool:
    """Hide ``name`` (the label itself, not its children) on all the person's photos.

    False when the person already mutes MAX_MUTED names.
    """
    with transaction.atomic():
        if MutedLabel.objects.filter(owner=owner).count() >= MAX_MUTED:
            return False
        _, created = MutedLabel.objects.get_or_create(owner=owner, name=name)
        if created:
            labels = Label.objects.filter(image__owner=owner, name=name)
            labels.update(shown=False)
            reindex_images_with(labels)
    return True


def unmute_label(owner: User, name: str) -> None:
    """Show ``name`` again wherever the engine found it and the person did not remove it."""
    with transaction.atomic():
        if not MutedLabel.objects.filter(owner=owner, name=name).delete()[0]:
            return
        removed = LabelCorrection.objects.filter(image__owner=owner, name=name).values("image_id")
        labels = Label.objects.filter(image__owner=owner, name=name)
        labels.exclude(image_id__in=removed).update(shown=True)
        reindex_images_with(labels)


def reindex_images_with(labels: LabelQuerySet) -> None:
    """Reindex the photos holding these labels (each refreshes its owner's gallery)."""
    for image in Image.objects.filter(pk__in=labels.values("image_id")).iterator(chunk_size=500):
        image.reindex()


class SearchTermQuerySet(models.QuerySet["SearchTerm"]):
    def found(self, user: User, term: str, minimum: int) -> SearchTermQuerySet:
        """The person's index rows for ``term`` shown at ``minimum`` percent or more."""
        return self.filter(owner=user, term=term, confidence__gte=search.at_least(minimum))


class SearchTerm(models.Model):
    """The search index: one row per photo and term, with the confidence it is found at.

    Terms are folded words and phrases (see :mod:`gallery.search`): label
    names, their words, synonyms and parents, words of the photo's text,
    colours ("red", "red car") and file-name words.
    """

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="terms")
    # The owner again, so a query starts from one person's slice of the index.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    term = models.CharField(max_length=search.MAX_TERM)
    confidence = models.FloatField()
    # The photo's upload time again: a search's page is read in gallery order
    # from the index alone, and counted without visiting the photos.
    uploaded_at = models.DateTimeField()

    objects = SearchTermQuerySet.as_manager()

    class Meta:
        indexes = [
            # Covers a clause's lookup: no visit to the table itself.
            models.Index(fields=["owner", "term", "confidence", "image"], name="searchterm_lookup"),
            # Covers a search's first clause, in gallery order.
            models.Index(
                fields=["owner", "term", "-uploaded_at", "confidence", "image"],
                name="searchterm_newest",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["image", "term"], name="searchterm_unique_per_image")
        ]

    def __str__(self) -> str:
        return f"{self.term} ({self.confidence:.1f}%)"


class SearchResults:
    """A search's photos in gallery order, for a Paginator, from the index alone.

    Counting and slicing read the index rows of the first word the person
    asked for (hidden photos have none), so neither visits the photos; only
    the page's 24 photos are fetched.
    """

    def __init__(self, terms: QuerySet[SearchTerm]) -> None:
        self.terms = terms

    @classmethod
    def of(cls, user: User, query: search.Query, default_minimum: int) -> SearchResults | None:
        """The results of ``query``, or None when no word asks for something (only "-dog")."""
        clauses = query.minimums(default_minimum)
        wanted = [(clause, minimum) for clause, minimum in clauses if not clause.exclude]
        if not wanted:
            return None
        first, minimum = wanted[0]
        terms = SearchTerm.objects.found(user, first.term, minimum)
        for clause, minimum in clauses:
            if clause is first:
                continue
            found = SearchTerm.objects.found(user, clause.term, minimum).values("image_id")
            terms = (
                terms.exclude(image_id__in=found)
                if clause.exclude
                else terms.filter(image_id__in=found)
            )
        return cls(terms)

    def count(self) -> int:
        return self.terms.count()

    def neighbours(self, image: Image) -> tuple[Image | None, Image | None]:
        """The results just newer and just older than ``image``, in gallery order."""
        at, pk = image.uploaded_at, image.pk
        rows = self.terms.values_list("image_id", flat=True)
        newer = rows.filter(Q(uploaded_at__gt=at) | Q(uploaded_at=at, image_id__gt=pk))
        older = rows.filter(Q(uploaded_at__lt=at) | Q(uploaded_at=at, image_id__lt=pk))
        found = [
            newer.order_by("uploaded_at", "image_id").first(),
            older.order_by("-uploaded_at", "-image_id").first(),
        ]
        photos = Image.objects.in_bulk([pk for pk in found if pk is not None])
        return photos.get(found[0]), photos.get(found[1])

    def __len__(self) -> int:
        return self.count()

    def __iter__(self) -> Iterator[Image]:
        return iter(self[:])

    @overload
    def __getitem__(self, index: int) -> Image: ...

    @overload
    def __getitem__(self, index: slice) -> list[Image]: ...

    def __getitem__(self, index: int | slice) -> Image | list[Image]:
        window = index if isinstance(index, slice) else slice(index, index + 1)
        ordered = self.terms.order_by("-uploaded_at", "-image_id")
        ids = list(ordered.values_list("image_id", flat=True)[window])
        found = Image.objects.in_bulk(ids)
        photos = [found[pk] for pk in ids if pk in found]
        return photos if isinstance(index, slice) else photos[0]


def gallery_photos(user: User, query: search.Query, minimum: int) -> SearchResults | ImageQuerySet:
    """What the gallery (and the API's list) shows: the person's photos or a search's."""
    if not query:
        return Image.objects.owned_by(user).for_gallery()
    results = SearchResults.of(user, query, minimum)
    if results is None:  # only words to leave out: start from every photo
        return Image.objects.search(user, query, minimum).for_gallery()
    return results


class LabelTallyQuerySet(models.QuerySet["LabelTally"]):
    def shift(self, owner_id: int, old: dict[str, int], new: dict[str, int]) -> None:
        """Move one photo's counts from its ``old`` labels to its ``new`` ones."""
        changes = Counter({(name, percent): 1 for name, percent in new.items()})
        changes.subtract({(name, percent): 1 for name, percent in old.items()})
        for (name, percent), change in changes.items():
            if change == 0:
                continue
            rows = self.filter(owner_id=owner_id, name=name, percent=percent)
            if not rows.update(images=F("images") + change) and change > 0:
                _, created = self.get_or_create(
                    owner_id=owner_id,
                    name=name,
                    percent=percent,
                    defaults={"images": change, "folded": name.casefold()},
                )
                if not created:  # another request made the row in between
                    rows.update(images=F("images") + change)

    def counts(self, owner_id: int, minimum: int) -> QuerySet[LabelTally, dict[str, Any]]:
        """Label names with how many photos show each at ``minimum`` percent or more."""
        return (
            self.filter(owner_id=owner_id, percent__gte=minimum, images__gt=0)
            .values("name")
            .annotate(count=Sum("images"))
            .order_by("-count", "name")
        )

    def suggestions(
        self, owner_id: int, prefix: str, minimum: int, limit: int = 8
    ) -> list[dict[str, Any]]:
        """Labels whose name starts with ``prefix``, most photos first (an index range)."""
        folded = prefix.casefold()
        upper = folded + "\U0010ffff"
        rows = (
            self.filter(owner_id=owner_id, percent__gte=minimum, images__gt=0)
            .filter(folded__gte=folded, folded__lt=upper)
            .values("name")
            .annotate(count=Sum("images"))
            .order_by("-count", "name")[:limit]
        )
        return list(rows)


class LabelTally(models.Model):
    """How many of a person's photos show a label at each shown percent.

    Kept in step by Image.reindex, so /labels/ and suggestions read a few
    hundred rows instead of counting a million labels.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    name = models.CharField(max_length=128)
    folded = models.CharField(max_length=128, editable=False)
    percent = models.PositiveSmallIntegerField()
    images = models.IntegerField(default=0)

    objects = LabelTallyQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "name", "percent"], name="labeltally_unique")
        ]
        indexes = [
            # Both cover their query: /labels/ groups by name, suggestions range on folded.
            models.Index(fields=["owner", "name", "percent", "images"], name="labeltally_counts"),
            models.Index(
                fields=["owner", "folded", "percent", "images", "name"], name="labeltally_prefix"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} at {self.percent}%: {self.images}"


def detect_and_store(image: Image) -> list[Label]:
    """Run the configured engine on a stored image and keep what it finds.

    Raises DetectionError only, whatever went wrong, so callers have one
    thing to turn into a message.
    """
    detector = get_detector()
    muted = MutedLabel.objects.names(image.owner_id)
    # An engine that reads the storage itself (Rekognition with S3) skips the download.
    read_stored = getattr(detector, "detect_stored", None)
    detection = (
        read_stored(image.original.name, image.size_bytes, exclude=muted) if read_stored else None
    )
    if detection is None:
        try:
            with image.original.open("rb") as stored:
                data = stored.read()
        except OSError as exc:
            raise DetectionError("The stored photo could not be read.", permanent=False) from exc
        detection = detector.detect(data, storage_name=image.original.name, exclude=muted)
    return image.replace_labels(detection)
