"""Communication Channels Media, emulated (media-upload.md §2.2, §3, §6): the upload URL, the upload
itself, download URLs, the storage quota, and the media items of a form message.

Wix's flow: POST /communication-channels-media/v1/upload-url names the file and its type and
answers an upload URL; the raw bytes are PUT there (no credentials: the token is in the URL) and
the answer is the file's descriptor, `{"file": {...}}`, with its id and URL for the message.

Here the upload URL is the sandbox's own, `<mount>/_upload/<token>`, on the host the caller used
(loopback in development and tests). A token is single-use (a second PUT is refused with 403, so
a client that retries must ask for a new URL, which works on Wix whatever it does) and expires
after WIX_SANDBOX_MEDIA_URL_TTL. The file id is assigned with the URL, as Wix's upload token names
the file already.

Where Wix is silent, the choice is a setting (conf.py, WIX_SANDBOX_MEDIA_*): the size limit, the
quota, READY or PENDING, MIME checks, the upload's error bodies, when INVALID_MEDIA_URL fires, and
whether the Inbox rewrites media URLs.
"""

import hashlib
import io
import mimetypes
import secrets
import uuid
from datetime import timedelta

from django.core import signing
from django.db.models import Sum
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from PIL import Image, UnidentifiedImageError

from .conf import sandbox_setting
from .errors import ApiError, application_error
from .models import SandboxMediaFile
from .validation import DOWNLOAD_URL_REQUEST, UPLOAD_URL_REQUEST, require_valid
from .wire import timestamp

INVALID_MEDIA_URL_MODES = ("never", "unknown_id", "not_uploaded")
UPLOAD_STATUSES = ("READY", "PENDING")
UPLOAD_ERROR_FORMATS = ("json", "html")
DOWNLOAD_SALT = "wix_sandbox.media.download"
OCTET_STREAM = "application/octet-stream"
READ_CHUNK = 64 * 1024

# The types the sandbox's Media Manager takes (UNSUPPORTED_FILE_FORMAT otherwise): media,
# documents and archives, as Wix's Media Manager lists them; never executables or web pages.
SUPPORTED_PREFIXES = ("image/", "video/", "audio/")
DOCUMENT_PREFIXES = (
    "application/vnd.openxmlformats-officedocument.",
    "application/vnd.oasis.opendocument.",
    "application/vnd.ms-",
)
DOCUMENT_TYPES = {
    "application/pdf",
    "application/msword",
    "application/rtf",
    "text/plain",
    "text/csv",
}
ARCHIVE_TYPES = {
    "application/zip",
    "application/x-zip-compressed",
    "application/vnd.rar",
    "application/x-rar-compressed",
    "application/x-7z-compressed",
    "application/gzip",
}
#: The images measured with Pillow (mediaType IMAGE, with width and height), by Pillow's format.
RASTER_FORMATS = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
    "image/bmp": "BMP",
    "image/tiff": "TIFF",
}
# Python's own table only (never the machine's /etc/mime.types), so every machine agrees.
KNOWN_TYPES = mimetypes.MimeTypes()


# --- The API ------------------------------------------------------------------------------------


def generate_upload_url(payload: dict, request) -> dict:
    require_valid(UPLOAD_URL_REQUEST, payload)
    mime_type, file_name = payload["mimeType"], payload.get("fileName") or ""
    if not is_supported(mime_type):
        raise application_error(
            400, "UNSUPPORTED_FILE_FORMAT", f"Files of type {mime_type} are not supported"
        )
    if sandbox_setting("WIX_SANDBOX_MEDIA_CHECK_MIME_TYPE") and not name_fits_type(
        file_name, mime_type
    ):
        raise application_error(
            400, "MIME_TYPE_MISMATCH", f"The file name {file_name} does not fit {mime_type}"
        )
    token = secrets.token_urlsafe(32)
    SandboxMediaFile.objects.create(
        id=_new_file_id(file_name, mime_type),
        upload_token_digest=_digest(token),
        upload_expires_at=timezone.now() + _url_lifetime(),
        file_name=file_name[:255],
        mime_type=mime_type,
    )
    return {"uploadUrl": request.build_absolute_uri(reverse("wix_sandbox:upload", args=[token]))}


def upload(payload: dict, request) -> dict:
    """PUT <upload URL>?filename=…: the raw body becomes the file; answers its descriptor."""
    media_file = _file_to_upload(payload["token"])
    limit = sandbox_setting("WIX_SANDBOX_MEDIA_MAX_FILE_SIZE")
    content = read_body(request, limit)
    if content is None:
        raise application_error(
            400, "FILE_SIZE_OVER_LIMIT", f"The file is larger than {limit} bytes"
        )
    if not content:
        raise application_error(400, "ZERO_FILE_SIZE", "The file is empty")
    check_mime = sandbox_setting("WIX_SANDBOX_MEDIA_CHECK_MIME_TYPE")
    sent_type = request.content_type or media_file.mime_type
    if check_mime and sent_type not in (media_file.mime_type, OCTET_STREAM):
        raise application_error(
            400,
            "MIME_TYPE_MISMATCH",
            f"Content-Type {sent_type} is not {media_file.mime_type}, the type of the upload URL",
        )
    size = measure_image(content, media_file.mime_type)
    if size is None and check_mime and media_file.mime_type in RASTER_FORMATS:
        raise application_error(
            400, "MIME_TYPE_MISMATCH", f"The file is not an image of type {media_file.mime_type}"
        )
    quota, usage = storage_quota_bytes()
    if usage + len(content) > quota:
        raise application_error(
            400,
            "SITE_QUOTA_EXCEEDED",
            "The site's storage quota is used up",
            data={"quota": {"storage": str(quota)}},
        )
    media_file.file_name = media_file.file_name or payload.get("filename", "")[:255]
    media_file.width, media_file.height = size or (None, None)
    descriptor = _descriptor(media_file, content)
    uploaded = SandboxMediaFile.objects.filter(pk=media_file.pk, uploaded_at__isnull=True).update(
        content=content,
        size=len(content),
        file_name=media_file.file_name,
        media_type=descriptor["mediaType"],
        width=media_file.width,
        height=media_file.height,
        descriptor=descriptor,
        uploaded_at=timezone.now(),
    )
    if not uploaded:  # a concurrent PUT with the same token came first
        raise _upload_refused("The upload URL has been used already")
    return {"file": descriptor}


def storage_quota(payload: dict) -> dict:
    quota, usage = storage_quota_bytes()
    return {"totalQuota": str(quota), "totalUsage": str(usage)}


def generate_download_url(payload: dict, request) -> dict:
    require_valid(DOWNLOAD_URL_REQUEST, payload)
    media_file = SandboxMediaFile.objects.filter(
        pk=file_id(payload["fileId"]), uploaded_at__isnull=False
    ).first()
    if media_file is None:
        raise application_error(404, "FILE_NOT_FOUND", "File not found")
    path = download_path(media_file, payload.get("downloadFileName"))
    return {"downloadUrl": request.build_absolute_uri(path)}


def file_id(value: str) -> str:
    """A file id, given as one or as the file's Wix media URL (`wix:image://v1/<id>/<name>#…`),
    which the typings accept as well."""
    if value.startswith("wix:") and "//v1/" in value:
        return value.split("//v1/", 1)[1].split("/", 1)[0].split("#", 1)[0]
    return value


# --- Send Message's form media ------------------------------------------------------------------


def form_media(items: list[dict], request=None) -> list[dict]:
    """The form's media items as the Inbox answers them: read-only fields dropped, and per
    WIX_SANDBOX_MEDIA_REWRITE_URLS an uploaded file's url replaced by one of the Inbox's own with
    its urlExpiration. Raises INVALID_MEDIA_URL as WIX_SANDBOX_MEDIA_INVALID_URL says."""
    mode = sandbox_setting("WIX_SANDBOX_MEDIA_INVALID_URL")
    ids = [_media(item).get("id") for item in items]
    files = SandboxMediaFile.objects.filter(pk__in=[i for i in ids if i], uploaded_at__isnull=False)
    files_by_id = {media_file.id: media_file for media_file in files}
    documents = []
    for index, item in enumerate(items):
        kind = "image" if item.get("image") is not None else "file"
        media = {key: value for key, value in item[kind].items() if key != "urlExpiration"}
        media_file = files_by_id.get(media.get("id"))
        if problem := _invalid_media_url(mode, media, media_file):
            raise application_error(
                400, "INVALID_MEDIA_URL", f"message.content.form.media[{index}]: {problem}"
            )
        if media_file and sandbox_setting("WIX_SANDBOX_MEDIA_REWRITE_URLS"):
            path = download_path(media_file)
            media["url"] = request.build_absolute_uri(path) if request else path
            media["urlExpiration"] = timestamp(timezone.now() + _url_lifetime())
        documents.append({kind: media})
    return documents


def _invalid_media_url(mode: str, media: dict, media_file: SandboxMediaFile | None) -> str:
    if mode == "never":
        return ""
    if media.get("id") and media_file is None:
        return f"no file with id {media['id']} in the Media Manager"
    if mode == "not_uploaded":
        if not media.get("id"):
            return "the item has no id of a file in the Media Manager"
        if media.get("url") and media["url"] != media_file.descriptor["url"]:
            return f"the url is not that of file {media_file.id}"
    return ""


def _media(item: dict) -> dict:
    return item.get("image") or item.get("file") or {}


# --- Downloads and the inbox page ---------------------------------------------------------------


def download_path(media_file: SandboxMediaFile, file_name: str | None = None) -> str:
    """The path of a download URL for the file, valid WIX_SANDBOX_MEDIA_URL_TTL."""
    token = signing.dumps(
        {"id": media_file.id, "name": file_name or media_file.file_name}, salt=DOWNLOAD_SALT
    )
    return reverse("wix_sandbox:download", args=[token])


def download(request, token: str) -> HttpResponse:
    """The bytes of a download URL. Only the images the sandbox measured are shown inline; any
    other file (an SVG, a text file that is really HTML) is an attachment, and nothing served
    here may run a script on the site's origin."""
    try:
        target = signing.loads(token, salt=DOWNLOAD_SALT, max_age=_url_lifetime().total_seconds())
    except signing.SignatureExpired:
        return HttpResponse("This download URL has expired.", status=410, content_type="text/plain")
    except signing.BadSignature:
        return HttpResponse("No such download URL.", status=404, content_type="text/plain")
    media_file = SandboxMediaFile.objects.filter(pk=target["id"], uploaded_at__isnull=False).first()
    if media_file is None:
        return HttpResponse("The file no longer exists.", status=404, content_type="text/plain")
    response = HttpResponse(bytes(media_file.content), content_type=media_file.mime_type)
    response.headers["Content-Disposition"] = content_disposition_header(
        media_file.width is None, target["name"] or media_file.id
    )
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def attachments(messages: list[dict]) -> dict[str, list[dict]]:
    """What the inbox page shows of each form message's media, by message id: name, type, size,
    and a download URL (an image's doubles as its thumbnail) when the file is the sandbox's."""
    items_by_message = {
        message["id"]: ((message.get("content") or {}).get("form") or {}).get("media") or []
        for message in messages
    }
    ids = {_media(item).get("id") for items in items_by_message.values() for item in items}
    files = SandboxMediaFile.objects.filter(pk__in=ids - {None}, uploaded_at__isnull=False).defer(
        "content"
    )
    files_by_id = {media_file.id: media_file for media_file in files}
    shown = {}
    for message_id, items in items_by_message.items():
        shown[message_id] = []
        for item in items:
            kind = "image" if item.get("image") is not None else "file"
            media = item[kind]
            media_file = files_by_id.get(media.get("id"))
            shown[message_id].append(
                {
                    "kind": kind,
                    "name": media.get("filename") or media.get("id") or media.get("url") or "",
                    "type": media.get("mimeType") or (media_file.mime_type if media_file else ""),
                    "width": media.get("width"),
                    "height": media.get("height"),
                    "size": media_file.size if media_file else None,
                    "href": download_path(media_file, media.get("filename")) if media_file else "",
                    "thumbnail": media_file is not None and media_file.width is not None,
                }
            )
    return shown


# --- Files --------------------------------------------------------------------------------------


def is_supported(mime_type: str) -> bool:
    return (
        mime_type.startswith(SUPPORTED_PREFIXES + DOCUMENT_PREFIXES)
        or mime_type in DOCUMENT_TYPES | ARCHIVE_TYPES
        or mime_type == OCTET_STREAM
    )


def name_fits_type(file_name: str, mime_type: str) -> bool:
    """False only when both the name's extension and the type are known and do not go together
    (cv.pdf as image/png): on Wix, MIME_TYPE_MISMATCH can only come from these two fields."""
    extension = KNOWN_TYPES.guess_extension(mime_type) and _extension(file_name)
    if not extension or mime_type == OCTET_STREAM:
        return True
    named_type, _encoding = KNOWN_TYPES.guess_type("x" + extension)
    return named_type is None or extension in KNOWN_TYPES.guess_all_extensions(mime_type)


def measure_image(content: bytes, mime_type: str) -> tuple[int, int] | None:
    """(width, height) of a raster image of the declared type, or None."""
    expected_format = RASTER_FORMATS.get(mime_type)
    if expected_format is None:
        return None
    try:
        with Image.open(io.BytesIO(content)) as image:
            return image.size if image.format == expected_format else None
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        return None


def media_type(media_file: SandboxMediaFile) -> str:
    mime_type = media_file.mime_type
    if media_file.width is not None:
        return "IMAGE"
    if mime_type == "image/svg+xml":
        return "VECTOR"
    if mime_type.startswith(("video/", "audio/")):
        return mime_type.split("/")[0].upper()
    if mime_type in DOCUMENT_TYPES or mime_type.startswith(DOCUMENT_PREFIXES):
        return "DOCUMENT"
    if mime_type in ARCHIVE_TYPES:
        return "ARCHIVE"
    return "OTHER"


def storage_quota_bytes() -> tuple[int, int]:
    """(the quota, the bytes the uploaded files take)."""
    usage = SandboxMediaFile.objects.aggregate(usage=Sum("size"))["usage"] or 0
    return sandbox_setting("WIX_SANDBOX_MEDIA_STORAGE_QUOTA"), usage


def read_body(request, limit: int) -> bytes | None:
    """The request body, or None when it is longer than `limit`. Past the limit the rest is read
    and dropped (never kept), so that the client still hears the answer."""
    chunks, size = [], 0
    while chunk := request.read(READ_CHUNK):
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
    return b"".join(chunks) if size <= limit else None


def _file_to_upload(token: str) -> SandboxMediaFile:
    media_file = SandboxMediaFile.objects.filter(upload_token_digest=_digest(token)).first()
    if media_file is None:
        raise _upload_refused("Unknown upload URL")
    if media_file.is_uploaded:
        raise _upload_refused("The upload URL has been used already")
    if media_file.upload_expires_at <= timezone.now():
        raise _upload_refused("The upload URL has expired")
    return media_file


def _upload_refused(description: str) -> ApiError:
    return application_error(403, "PERMISSION_DENIED", description, message="Permission denied")


def _descriptor(media_file: SandboxMediaFile, content: bytes) -> dict:
    """The file as the upload answers it (REST names; media-upload.md §2.2, §2.4)."""
    kind = media_type(media_file)
    url = _wix_url(media_file.id, kind)
    size = str(len(content))
    name = media_file.file_name or media_file.id
    now = timestamp(timezone.now())
    descriptor = {
        "id": media_file.id,
        "displayName": name,
        "url": url,
        "parentFolderId": "media-root",
        "hash": hashlib.md5(content, usedforsecurity=False).hexdigest(),
        "sizeInBytes": size,
        "private": False,
        "mediaType": kind,
        "operationStatus": sandbox_setting("WIX_SANDBOX_MEDIA_UPLOAD_STATUS"),
        "labels": [],
        "createdDate": now,
        "updatedDate": now,
    }
    if kind == "IMAGE":
        image = {"id": media_file.id, "url": url, "height": media_file.height}
        image |= {"width": media_file.width, "filename": name, "sizeInBytes": size}
        descriptor["media"] = {"image": {"image": image, "faces": []}}
        descriptor["thumbnailUrl"] = url
    elif kind == "DOCUMENT":
        descriptor["media"] = {"document": {"id": media_file.id, "url": url, "filename": name}}
    elif kind == "ARCHIVE":
        archive = {"id": media_file.id, "url": url, "filename": name, "sizeInBytes": size}
        descriptor["media"] = {"archive": archive}
    return descriptor


def _new_file_id(file_name: str, mime_type: str) -> str:
    """Shaped like Wix's: `<site prefix>_<32 hex>`, with `~mv2` before an image's extension."""
    extension = _extension(file_name) or KNOWN_TYPES.guess_extension(mime_type) or ""
    marker = "~mv2" if mime_type in RASTER_FORMATS else ""
    return f"{_site_prefix()}_{uuid.uuid4().hex}{marker}{extension}"


def _wix_url(file_id: str, kind: str) -> str:
    if kind == "IMAGE":
        return f"https://static.wixstatic.com/media/{file_id}"
    return f"https://{_site_prefix()}.usrfiles.com/ugd/{file_id}"


def _site_prefix() -> str:
    site_id = sandbox_setting("WIX_SANDBOX_SITE_ID")
    return hashlib.sha256(site_id.encode()).hexdigest()[:6]


def _extension(file_name: str) -> str:
    stem, dot, extension = file_name.rpartition(".")
    return f".{extension.lower()}" if dot and stem and extension.isalnum() else ""


def _url_lifetime() -> timedelta:
    return timedelta(seconds=sandbox_setting("WIX_SANDBOX_MEDIA_URL_TTL"))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
