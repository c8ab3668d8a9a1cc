from __future__ import annotations

from django.urls import path

from . import views

app_name = "gallery"

urlpatterns = [
    path("", views.index, name="index"),
    path("labels/", views.labels, name="labels"),
    path("search/suggest/", views.suggest, name="suggest"),
    path("upload/", views.upload, name="upload"),
    path("images/bulk/", views.bulk, name="bulk"),
    path("images/detect-missing/", views.detect_missing, name="detect_missing"),
    path("images/<uuid:image_id>/", views.detail, name="detail"),
    path("images/<uuid:image_id>/detect/", views.detect, name="detect"),
    path("images/<uuid:image_id>/delete/", views.delete, name="delete"),
    *(
        path(
            f"images/<uuid:image_id>/labels/{action}/",
            views.correct_label,
            {"action": action},
            name=f"{action}_label",
        )
        for action in ("remove", "add", "undo")
    ),
    path("labels/mute/", views.mute, {"action": "mute"}, name="mute"),
    path("labels/unmute/", views.mute, {"action": "unmute"}, name="unmute"),
    path("images/<uuid:image_id>/original", views.media, {"variant": "original"}, name="original"),
    path(
        "images/<uuid:image_id>/thumbnail", views.media, {"variant": "thumbnail"}, name="thumbnail"
    ),
    path("images/<uuid:image_id>/display", views.media, {"variant": "display"}, name="display"),
    path("preferences/confidence/", views.save_confidence, name="save_confidence"),
    path("media/<str:token>/", views.signed_media, name="signed_media"),
]
