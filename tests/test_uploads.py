"""Files sent with a form: each limit and type check (uploads.py), the form's file fields and their
limits per form, and how the files are stored (accept_submission), never served, and removed."""

import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.utils.datastructures import MultiValueDict
from PIL import Image

from inbox_intake import protection
from inbox_intake.forms import FormRegistryError, get_registered_form, registered_forms
from inbox_intake.models import Attachment, Submission
from inbox_intake.services import intake
from inbox_intake.services.staff_actions import REDACTED, purge_submissions
from inbox_intake.uploads import FileLimits, format_size, sniff

QUOTE = {"name": "Jane Doe", "email": "jane@example.com", "service": "web", "details": "A site."}
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
#: The start of a Windows executable (the MZ header pointing at its PE header).
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 44 + b"PE\x00\x00"


def image(kind="PNG", size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "teal").save(out, kind)
    return out.getvalue()


def upload(name: str, content: bytes, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type)


def quote_form(*files, registered=None, **data):
    registered = registered or get_registered_form("quote")
    return registered.form(QUOTE | data, MultiValueDict({"drawings": list(files)}))


def errors_of(form) -> list[dict]:
    assert not form.is_valid()
    return form.errors.get_json_data()["drawings"]


# --- The checks ----------------------------------------------------------------------------------


def test_a_pdf_and_an_image_pass_with_what_their_content_tells():
    form = quote_form(upload("plan.pdf", PDF), upload("photo.png", image(size=(40, 30))))

    assert form.is_valid(), form.errors
    assert [(f.original_name, f.content_type, f.size) for f in form.checked_files] == [
        ("plan.pdf", "application/pdf", len(PDF)),
        ("photo.png", "image/png", len(image(size=(40, 30)))),
    ]
    assert (form.checked_files[1].width, form.checked_files[1].height) == (40, 30)
    assert form.submitted_data()["drawings"] == ["plan.pdf", "photo.png"]


@pytest.mark.parametrize("kind", ["JPEG", "GIF", "WEBP"])
def test_each_image_type_allowed_by_default(kind):
    form = quote_form(upload(f"photo.{kind.lower()}", image(kind)))

    assert form.is_valid(), form.errors
    assert form.checked_files[0].content_type == f"image/{kind.lower()}"


def test_the_type_is_told_by_the_content_never_by_the_name_or_the_browser():
    form = quote_form(upload("drawing.pdf", image("PNG"), content_type="application/pdf"))

    assert form.is_valid(), form.errors
    assert form.checked_files[0].content_type == "image/png"


def test_an_executable_renamed_pdf_is_refused_saying_what_it_is():
    (error,) = errors_of(quote_form(upload("invoice.pdf", EXE, "application/pdf")))

    assert error["code"] == "file_type"
    assert error["message"] == (
        "“invoice.pdf” is application/vnd.microsoft.portable-executable (Windows Executable) by "
        "its content, which is not accepted here: send PDF, PNG, JPEG, GIF, WebP or plain text."
    )


def test_an_elf_binary_is_refused():
    (error,) = errors_of(quote_form(upload("notes.txt", b"\x7fELF\x02\x01\x01" + b"\x00" * 60)))

    assert error["code"] == "file_type"
    # puremagic names the ELF signature's formats: an AppImage is the one with a MIME type.
    assert "“notes.txt” is application/x-iso9660-appimage" in error["message"]


def test_html_is_not_plain_text():
    (error,) = errors_of(quote_form(upload("notes.txt", b"<!DOCTYPE html><html><script>")))

    assert error["code"] == "file_type"
    assert "text/html" in error["message"]


@pytest.mark.parametrize(
    "content",
    [b"Plain notes.\r\nLine two\tand a tab.\n", "Größe: 3 m².\n".encode(), b"\xef\xbb\xbfBOM"],
    ids=["ascii", "utf-8", "byte-order mark"],
)
def test_plain_text_is_utf8_without_control_characters(content):
    form = quote_form(upload("notes.txt", content))

    assert form.is_valid(), form.errors
    assert form.checked_files[0].content_type == "text/plain"


@pytest.mark.parametrize(
    "content",
    [b"caf\xe9 latin-1", b"text with a NUL \x00 inside", b"an escape \x1b[31m"],
    ids=["not utf-8", "NUL", "escape"],
)
def test_text_that_is_not_plain_is_of_a_type_that_could_not_be_told(content):
    (error,) = errors_of(quote_form(upload("notes.txt", content)))

    assert error["code"] == "file_type"
    assert "“notes.txt” is of a type that could not be told by its content" in error["message"]


def test_a_signature_without_a_type_of_its_own_is_described_by_its_name():
    (error,) = errors_of(quote_form(upload("notes.txt", b"\xef\xbb\xbfNUL \x00")))

    assert "“notes.txt” is a file of another kind (UTF8 file) by its content" in error["message"]


def test_text_plain_is_refused_where_it_is_not_allowed(settings):
    settings.INBOX_INTAKE_ALLOWED_FILE_TYPES = ["application/pdf"]

    (error,) = errors_of(quote_form(upload("notes.txt", b"Just text.\n")))

    assert error["message"] == (
        "“notes.txt” is plain text (text/plain) by its content, which is not accepted here: "
        "send PDF."
    )


def test_an_image_that_does_not_decode_is_refused():
    broken = image("PNG")[:60] + b"\x00" * 200  # the signature and header, then no pixels

    (error,) = errors_of(quote_form(upload("photo.png", broken)))

    assert error == {
        "message": "“photo.png” starts like a PNG image but does not open as one.",
        "code": "invalid_image",
    }


def test_a_zero_byte_file_is_refused():
    (error,) = errors_of(quote_form(upload("empty.pdf", b"")))

    assert error == {"message": "“empty.pdf” is empty (0 bytes).", "code": "empty_file"}


def test_a_file_over_the_largest_size_is_refused_unread(settings):
    settings.INBOX_INTAKE_MAX_FILE_SIZE = 1024

    (error,) = errors_of(quote_form(upload("plan.pdf", PDF + b"%" * 1024)))

    assert error["code"] == "file_too_large"
    assert (
        error["message"]
        == f"“plan.pdf” is {format_size(len(PDF) + 1024)}; a file may be at most 1 KB."
    )


def test_the_16th_file_is_refused():
    files = [upload(f"page-{n}.pdf", PDF) for n in range(1, 17)]

    (error,) = errors_of(quote_form(*files))

    assert error == {
        "message": "At most 15 files can be sent with this form; “page-16.pdf” would be file "
        "number 16.",
        "code": "too_many_files",
    }


def test_15_files_pass():
    form = quote_form(*[upload(f"page-{n}.pdf", PDF) for n in range(1, 16)])

    assert form.is_valid(), form.errors
    assert len(form.checked_files) == 15


def test_files_over_the_total_are_refused(settings):
    settings.INBOX_INTAKE_MAX_TOTAL_FILE_SIZE = 2 * len(PDF) + 10

    (error,) = errors_of(quote_form(*[upload(f"{n}.pdf", PDF) for n in "abc"]))

    assert error["code"] == "files_too_large"
    assert error["message"].startswith(f"With “c.pdf” the files come to {3 * len(PDF)} bytes;")


def test_a_refused_file_takes_no_place_from_the_files_that_pass(settings):
    settings.INBOX_INTAKE_MAX_FILE_SIZE = 2 * len(PDF)
    settings.INBOX_INTAKE_MAX_TOTAL_FILE_SIZE = 2 * len(PDF) + 10

    errors = errors_of(quote_form(upload("big.pdf", PDF * 3), upload("small.pdf", PDF)))

    assert [error["code"] for error in errors] == ["file_too_large"]
    assert "“big.pdf”" in errors[0]["message"]


def test_several_refused_files_each_say_why():
    errors = errors_of(quote_form(upload("a.pdf", EXE), upload("b.pdf", PDF), upload("c.txt", b"")))

    assert [error["code"] for error in errors] == ["file_type", "empty_file"]


def test_a_form_refused_for_its_files_saves_nothing(post_quote):
    response = post_quote(drawings=[upload("setup.pdf", EXE)])

    assert response.status_code == 400
    assert not Submission.objects.exists()
    assert not Attachment.objects.exists()


def test_optional_file_field_left_empty():
    form = quote_form()

    assert form.is_valid(), form.errors
    assert form.submitted_data()["drawings"] == []


# --- Limits per form --------------------------------------------------------------------------


@pytest.fixture
def quote_limits(settings):
    """Register the quote form with limits of its own; return the RegisteredForm."""

    def register(**options):
        settings.INBOX_INTAKE_FORMS = {
            "contact": {"form": "inbox_intake.forms.ContactForm"},
            "quote": {"form": "site_project.forms.QuoteRequestForm", **options},
        }
        return get_registered_form("quote")

    return register


def test_a_form_overrides_the_limits_it_names_and_keeps_the_others(quote_limits, settings):
    settings.INBOX_INTAKE_MAX_TOTAL_FILE_SIZE = 12345
    registered = quote_limits(max_files=2, allowed_file_types=["application/pdf"])

    assert registered.file_limits == FileLimits(
        max_file_size=10 * 1024 * 1024,
        max_total_file_size=12345,
        max_files=2,
        allowed_file_types=("application/pdf",),
    )
    files = [upload(f"{n}.pdf", PDF) for n in "abc"]
    (error,) = errors_of(quote_form(*files, registered=registered))
    assert error["code"] == "too_many_files"
    (error,) = errors_of(quote_form(upload("a.png", image()), registered=registered))
    assert error["message"].endswith("which is not accepted here: send PDF.")


def test_the_form_tells_its_limits_beside_the_field(quote_limits):
    registered = quote_limits(max_file_size=2 * 1024 * 1024, allowed_file_types=["image/png"])

    field = registered.form()["drawings"]

    assert 'accept="image/png"' in str(field)
    assert "multiple" in str(field)
    assert field.help_text == "PNG; up to 15 files, 2 MB each, 25 MB in all."


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"max_files": 16}, "max_files is 16, but a Wix form message carries at most 15 files."),
        ({"max_file_size": "10MB"}, "max_file_size must be a whole number above 0, not '10MB'."),
        ({"max_total_file_size": 0}, "max_total_file_size must be a whole number above 0"),
        ({"allowed_file_types": "application/pdf"}, "must be a non-empty list of MIME types"),
        ({"allowed_file_types": ["PDF"]}, "'PDF' is not a lower-case MIME type"),
    ],
)
def test_a_forms_own_limit_that_cannot_work_is_a_registry_error(quote_limits, options, problem):
    with pytest.raises(FormRegistryError) as error:
        quote_limits(**options)

    assert str(error.value).startswith("'quote': ")
    assert problem in str(error.value)


def test_the_limit_options_are_known_options(quote_limits):
    with pytest.raises(FormRegistryError) as error:
        quote_limits(max_file=1)

    assert "max_file_size, max_total_file_size, max_files, allowed_file_types" in str(error.value)


def test_the_schema_describes_file_fields(quote_limits):
    registered = quote_limits(max_files=3)

    (drawings,) = [spec for spec in registered.field_schema() if spec["name"] == "drawings"]

    assert drawings == {
        "name": "drawings",
        "label": "Drawings or photos",
        "type": "file",
        "required": False,
        "multiple": True,
        "accept": [
            "application/pdf",
            "image/png",
            "image/jpeg",
            "image/gif",
            "image/webp",
            "text/plain",
        ],
        "max_file_size": 10 * 1024 * 1024,
        "max_total_file_size": 25 * 1024 * 1024,
        "max_files": 3,
        "help_text": "PDF, PNG, JPEG, GIF, WebP or plain text; up to 3 files, 10 MB each, "
        "25 MB in all.",
    }


def test_an_image_field_takes_only_the_allowed_image_types():
    from django import forms

    from inbox_intake.forms import IntakeForm

    class PhotoForm(IntakeForm):
        email = forms.EmailField()
        photo = forms.ImageField()

    form = PhotoForm({"email": "a@example.com"}, {"photo": upload("p.pdf", PDF)})

    assert not form.is_valid()
    assert form["photo"].field.widget.attrs["accept"] == "image/png,image/jpeg,image/gif,image/webp"
    assert form.fields["photo"].help_text == "PNG, JPEG, GIF or WebP; at most 10 MB."


def test_sniffing_leaves_the_file_ready_to_be_read_again():
    file = upload("plan.pdf", PDF)

    assert sniff(file, ["application/pdf"]) == ("application/pdf", "PDF (application/pdf)")
    assert file.read() == PDF


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 bytes"), (1023, "1023 bytes"), (1024, "1 KB"), (1536, "1.5 KB"), (25 << 20, "25 MB")],
)
def test_sizes_read_as_people_read_them(size, text):
    assert format_size(size) == text


# --- Storage -------------------------------------------------------------------------------------


@pytest.fixture
def post_quote(client, django_capture_on_commit_callbacks, db):
    """POST the quote form page with files (a list per field name); return the response."""

    def post(**files):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/intake/quote/", {**QUOTE, **files})

    return post


@pytest.fixture
def stored(post_quote):
    """A quote submission saved with a PDF and a PNG, through the form page."""
    response = post_quote(drawings=[upload("plan.pdf", PDF), upload("photo.png", image())])
    assert response.status_code == 302, response.content.decode()
    return Submission.objects.get()


def files_in(storage) -> set[str]:
    root = Path(storage.location)
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


def test_files_are_stored_with_the_submission_under_unguessable_names(stored, attachment_storage):
    pdf, png = stored.attachments.all()

    assert stored.data["drawings"] == ["plan.pdf", "photo.png"]
    assert [(a.field_name, a.position, a.original_name) for a in (pdf, png)] == [
        ("drawings", 0, "plan.pdf"),
        ("drawings", 1, "photo.png"),
    ]
    assert (pdf.content_type, pdf.size, pdf.width, pdf.is_image) == (
        "application/pdf",
        len(PDF),
        None,
        False,
    )
    assert (png.content_type, png.width, png.height, png.is_image) == ("image/png", 40, 30, True)
    assert not pdf.is_uploaded
    for attachment in (pdf, png):
        # 32 random hex digits: nothing of the visitor's name, nothing to guess.
        assert len(attachment.file.name.removeprefix("inbox_intake/")) == 32
        assert "plan" not in attachment.file.name and "." not in attachment.file.name
    assert files_in(attachment_storage) == {pdf.file.name, png.file.name}
    with pdf.file.open("rb") as file:
        assert file.read() == PDF


def test_stored_files_have_no_url_and_are_not_under_any_served_folder(
    stored, attachment_storage, settings
):
    attachment = stored.attachments.first()

    with pytest.raises(ValueError, match="not accessible via a URL"):
        attachment.file.url  # noqa: B018 (reading it is what fails)
    path = Path(attachment.file.path)
    for served in (settings.STATIC_ROOT, settings.MEDIA_ROOT):
        if served:
            assert not path.is_relative_to(Path(served).resolve())
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_the_rows_name_the_fields_files_for_the_inbox(stored):
    form_class = registered_forms()["quote"].form_class

    rows = dict(form_class.wix_fields(stored.data))

    assert rows["Drawings or photos"] == "plan.pdf, photo.png"


def test_a_failed_save_leaves_no_file_behind(attachment_storage, monkeypatch, db):
    form = quote_form(upload("plan.pdf", PDF), upload("photo.png", image()))
    assert form.is_valid()

    def fail(*args, **kwargs):
        raise IntegrityError("the database refused the attachments")

    monkeypatch.setattr(Attachment.objects, "bulk_create", fail)
    with pytest.raises(IntegrityError):
        intake.accept_submission(
            form_name="quote", data=form.submitted_data(), files=form.checked_files
        )

    assert not Submission.objects.exists()
    assert files_in(attachment_storage) == set()


def test_spam_keeps_the_names_of_its_files_but_not_the_files(post_quote, attachment_storage):
    response = post_quote(
        drawings=[upload("plan.pdf", PDF)], **{protection.HONEYPOT_FIELD: "http://spam.example"}
    )

    assert response.status_code == 302
    spam = Submission.objects.get()
    assert spam.status == Submission.Status.SPAM
    assert spam.data["drawings"] == ["plan.pdf"]
    assert not spam.attachments.exists()
    assert files_in(attachment_storage) == set()


@pytest.fixture
def old_submission(stored):
    Submission.objects.filter(pk=stored.pk).update(
        status=Submission.Status.SENT, created_at=stored.created_at - timedelta(days=100)
    )
    return stored


def test_purge_deletes_the_files(
    old_submission, attachment_storage, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        list(purge_submissions(older_than=timedelta(days=90), anonymise=False))

    assert not Submission.objects.exists()
    assert not Attachment.objects.exists()
    assert files_in(attachment_storage) == set()


def test_anonymise_deletes_the_attachments_and_their_files(
    old_submission, attachment_storage, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        list(purge_submissions(older_than=timedelta(days=90), anonymise=True))

    old_submission.refresh_from_db()
    assert old_submission.data["drawings"] == REDACTED
    assert not old_submission.attachments.exists()
    assert files_in(attachment_storage) == set()


def test_deleting_a_submission_removes_its_files_only_once_committed(
    stored, attachment_storage, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        Submission.objects.filter(pk=stored.pk).delete()  # the cascade, as the admin's delete

    assert len(files_in(attachment_storage)) == 2, "not before the commit"
    for callback in callbacks:
        callback()
    assert files_in(attachment_storage) == set()


def test_a_rolled_back_deletion_keeps_the_files(stored, attachment_storage):
    with pytest.raises(RuntimeError), transaction.atomic():
        Submission.objects.get(pk=stored.pk).delete()
        raise RuntimeError("rolled back")

    assert stored.attachments.count() == 2
    assert len(files_in(attachment_storage)) == 2
