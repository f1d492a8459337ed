"""A file-system storage for the visitors' files that gives them no URL.

Django's FileSystemStorage falls back to MEDIA_URL when its `base_url` is None, so a file kept there
always has an address, served to anyone wherever MEDIA_URL is. Attachments never are: staff download
them through the admin, which checks their permission, and the worker reads them to upload them.
"""

from django.core.files.storage import FileSystemStorage


class PrivateFileSystemStorage(FileSystemStorage):
    """FileSystemStorage whose files have no URL (`url()` raises, as for a storage without one)."""

    def url(self, name):
        raise ValueError("This file is not accessible via a URL: attachments are never served.")
