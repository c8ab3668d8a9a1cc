"""Index the photos stored before the search index existed."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.db import migrations


def build_index(apps: Any, schema_editor: Any) -> None:
    from gallery.search import photo_terms, shown_percent

    image_model = apps.get_model("gallery", "Image")
    term_model = apps.get_model("gallery", "SearchTerm")
    tally_model = apps.get_model("gallery", "LabelTally")
    tallies: Counter[tuple[int, str, int]] = Counter()
    for image in image_model.objects.filter(hidden=False).iterator(chunk_size=500):
        labels = list(image.labels.all())
        terms = photo_terms(labels, image.text, image.properties, image.original_name)
        term_model.objects.bulk_create(
            term_model(
                image=image,
                owner_id=image.owner_id,
                term=term,
                confidence=confidence,
                uploaded_at=image.uploaded_at,
            )
            for term, confidence in terms.items()
        )
        image.tallied = {label.name: shown_percent(label.confidence) for label in labels}
        image.save(update_fields=["tallied"])
        tallies.update((image.owner_id, name, pct) for name, pct in image.tallied.items())
    tally_model.objects.bulk_create(
        tally_model(owner_id=owner, name=name, folded=name.casefold(), percent=pct, images=n)
        for (owner, name, pct), n in tallies.items()
    )


class Migration(migrations.Migration):
    dependencies = [("gallery", "0005_search_index")]

    operations = [migrations.RunPython(build_index, migrations.RunPython.noop)]
