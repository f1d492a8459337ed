from django.urls import path, re_path

from . import views

app_name = "wix_sandbox"

urlpatterns = [
    path("", views.inbox_page, name="inbox"),
    path("faults/", views.fault_page, name="fault_page"),
    path("_faults", views.fault_rules, name="faults"),
    # The Wix API, at the paths of https://www.wixapis.com. Path parameters are named after the
    # payload fields they fill, which the SDK also repeats in the query string.
    path("contacts/v4/contacts", views.contact_collection, name="contacts"),
    path("contacts/v4/contacts/query", views.contact_query, name="contacts_query"),
    path("contacts/v4/contacts/<str:id>", views.contact_detail, name="contact"),
    path("inbox/v2/conversations", views.conversation_collection, name="conversations"),
    path(
        "inbox/v2/conversations/<str:conversationId>",
        views.conversation_detail,
        name="conversation",
    ),
    path("inbox/v2/messages", views.message_collection, name="messages"),
    path("oauth2/token", views.oauth_token, name="oauth_token"),
    path("communication-channels-media/v1/upload-url", views.upload_url, name="media_upload_url"),
    path(
        "communication-channels-media/v1/storage-quota",
        views.storage_quota,
        name="media_storage_quota",
    ),
    path(
        "communication-channels-media/v1/download-url",
        views.download_url,
        name="media_download_url",
    ),
    # Not Wix's API host but its upload and download servers, which the sandbox plays too: the
    # token in the path is all the authorisation they need.
    path("_upload/<str:token>", views.upload, name="upload"),
    path("_download/<str:token>", views.download, name="download"),
    re_path(r"^.+$", views.unknown_api_path, name="unknown_api_path"),
]
