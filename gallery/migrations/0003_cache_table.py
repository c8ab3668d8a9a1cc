from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps: Any, schema_editor: Any) -> None:
    # The shared cache (rate limits, rendered pages) lives in the database, so
    # `migrate` alone prepares everything; createcachetable skips what exists.
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("gallery", "0002_label_unique_per_image")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
