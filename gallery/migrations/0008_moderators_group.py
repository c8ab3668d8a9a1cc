"""The Moderators group: review photos in the admin, nothing more.

They view and change photos (approve, hide with a reason, unhide) and view
labels and their owners' corrections; they delete nothing and manage no accounts. A moderator is a staff
user (``is_staff``) in this group. Written out here, not imported, so that
this migration means the same thing whatever the code becomes later.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Moderators"
PERMISSIONS = ("view_image", "change_image", "view_label", "view_labelcorrection")


def add_moderators(apps: Any, schema_editor: Any) -> None:
    # On a fresh database the permissions are only made after all migrations
    # (post_migrate); make this app's now so the group can have them.
    gallery = apps.get_app_config("gallery")
    gallery.models_module = True
    create_permissions(gallery, apps=apps, verbosity=0, using=schema_editor.connection.alias)
    gallery.models_module = None

    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    group, _ = group_model.objects.using(schema_editor.connection.alias).get_or_create(name=GROUP)
    group.permissions.add(
        *permission_model.objects.using(schema_editor.connection.alias).filter(
            content_type__app_label="gallery", codename__in=PERMISSIONS
        )
    )


def remove_moderators(apps: Any, schema_editor: Any) -> None:
    group_model = apps.get_model("auth", "Group")
    group_model.objects.using(schema_editor.connection.alias).filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("gallery", "0007_label_corrections"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(add_moderators, remove_moderators)]
