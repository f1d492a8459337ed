"""The embeds in headless Chromium, as a visitor of another site meets them: a host page served
from a second origin (http.server on 127.0.0.1; the live server is `localhost`, another site)
embeds the form by iframe and by script, with the README's snippets; submissions go through a
real Celery worker to the Wix sandbox."""

import http.server
import io
import threading
from dataclasses import dataclass, field

import pytest
from PIL import Image
from playwright.sync_api import expect

from inbox_intake.models import Submission
from tests.conftest import ROOT, wait_until

pytestmark = pytest.mark.e2e


@dataclass
class HostSite:
    """Another website: serves the HTML pages put in `pages` (path → HTML)."""

    origin: str
    pages: dict = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.origin + path


@pytest.fixture
def host_site():
    site = HostSite(origin="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            html = site.pages.get(self.path.split("?")[0])
            if html is None:
                self.send_error(404)
                return
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.origin = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def form_site(live_server, settings):
    """The Django site, with the cookie settings the README gives for cross-site iframes
    (Chromium accepts Secure cookies from http://localhost, a secure context)."""
    assert "//localhost:" in live_server.url, "the host site must be another origin"
    for cookie in ("CSRF", "SESSION"):
        setattr(settings, f"{cookie}_COOKIE_SAMESITE", "None")
        setattr(settings, f"{cookie}_COOKIE_SECURE", True)
        setattr(settings, f"{cookie}_COOKIE_PARTITIONED", True)
    return live_server.url


@pytest.fixture
def allowed_host_site(host_site, form_site, settings):
    settings.INBOX_INTAKE_ALLOWED_ORIGINS = [host_site.origin]
    return host_site


def iframe_page(form_site: str, src: str) -> str:
    return f"""<!doctype html><html lang="en"><head><title>Landing</title></head><body>
<h1>Our landing page</h1>
<iframe data-inbox-intake src="{form_site}{src}" title="Contact us" style="width:100%;height:120px;border:0"></iframe>
<script src="{form_site}/static/inbox_intake/iframe-parent.js" async></script>
</body></html>"""  # noqa: E501 (the README's snippet, on one line as it is pasted)


def script_page(form_site: str) -> str:
    return f"""<!doctype html><html lang="en"><head><title>Landing</title></head><body>
<h1>Our landing page</h1>
<div id="contact-form"></div>
<script src="{form_site}/intake/contact/embed.js" data-target="#contact-form" async></script>
</body></html>"""


def fill_in(form, email: str = "jane.doe@example.com") -> None:
    form.get_by_label("First name").fill("Jane")
    form.get_by_label("Last name").fill("Doe")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Message").fill("Hello from an embedded form <b>not bold</b>.")
    form.get_by_label("Subscribe to newsletter").check()


def sent_submission() -> Submission:
    def find():
        return Submission.objects.filter(status=Submission.Status.SENT).first()

    return wait_until(find, timeout=60, what="the submission to reach the sandbox")


def test_iframe_embed_submits_through_to_the_sandbox(
    page, allowed_host_site, form_site, celery_worker
):
    allowed_host_site.pages["/"] = iframe_page(form_site, "/intake/contact/embed/")
    page.goto(allowed_host_site.url("/"))
    frame = page.frame_locator("iframe[data-inbox-intake]")
    iframe = page.locator("iframe[data-inbox-intake]")

    expect(frame.get_by_label("First name")).to_be_visible()
    wait_until(lambda: iframe.bounding_box()["height"] > 400, what="the iframe to grow to its form")
    fill_in(frame)
    frame.get_by_role("button", name="Send").click()

    expect(frame.get_by_text("We received your message")).to_be_visible()
    submission = sent_submission()
    expect(frame.get_by_text(str(submission.reference))).to_be_visible()
    assert submission.data["message"] == "Hello from an embedded form <b>not bold</b>."
    assert submission.data["subscribe_newsletter"] is True
    wait_until(lambda: iframe.bounding_box()["height"] < 400, what="the iframe to shrink")


def test_script_embed_submits_through_to_the_sandbox(
    page, allowed_host_site, form_site, celery_worker
):
    allowed_host_site.pages["/"] = script_page(form_site)
    page.goto(allowed_host_site.url("/"))
    form = page.locator("#contact-form")

    fill_in(form)
    form.get_by_role("button", name="Send").click()

    submission = sent_submission()
    expect(page.get_by_role("status")).to_have_text(
        "Thank you! We received your message and will get back to you soon."
        f"Your reference: {submission.reference}"
    )
    assert submission.email == "jane.doe@example.com"
    assert submission.data["subscribe_newsletter"] is True


def test_script_embed_shows_field_errors_inline(page, allowed_host_site, form_site):
    allowed_host_site.pages["/"] = script_page(form_site)
    page.goto(allowed_host_site.url("/"))
    form = page.locator("#contact-form")

    fill_in(form, email="not-an-email")
    form.get_by_role("button", name="Send").click()

    email = form.get_by_label("Email")
    expect(email).to_have_attribute("aria-invalid", "true")
    error_id = email.get_attribute("aria-describedby")
    expect(page.locator(f"#{error_id}")).to_have_text("Enter a valid email address.")
    expect(email).to_be_focused()
    expect(form.get_by_label("First name")).not_to_have_attribute("aria-invalid", "true")
    assert not Submission.objects.exists()

    email.fill("jane@example.com")
    form.get_by_role("button", name="Send").click()

    expect(page.get_by_role("status")).to_contain_text("We received your message")
    assert Submission.objects.get().email == "jane@example.com"


def test_iframe_embed_sends_the_host_page_to_its_next_page(page, allowed_host_site, form_site):
    allowed_host_site.pages["/"] = iframe_page(
        form_site, f"/intake/contact/embed/?next={allowed_host_site.origin}/thanks"
    )
    allowed_host_site.pages["/thanks"] = "<!doctype html><title>Thanks</title><p>Landed."
    page.goto(allowed_host_site.url("/"))
    frame = page.frame_locator("iframe[data-inbox-intake]")

    fill_in(frame)
    frame.get_by_role("button", name="Send").click()

    page.wait_for_url(allowed_host_site.url("/thanks"))
    assert Submission.objects.get().status == Submission.Status.QUEUED


def test_a_site_not_allowed_cannot_frame_the_form(page, host_site, form_site):
    host_site.pages["/"] = iframe_page(form_site, "/intake/contact/embed/")
    page.goto(host_site.url("/"))

    (embedded,) = page.main_frame.child_frames
    assert not embedded.url.startswith(form_site), "the browser refused to load it"
    assert page.frame_locator("iframe").locator("input").count() == 0


def test_the_plain_form_page_cannot_be_framed_even_by_an_allowed_site(
    page, allowed_host_site, form_site
):
    allowed_host_site.pages["/"] = iframe_page(form_site, "/intake/contact/")
    page.goto(allowed_host_site.url("/"))

    assert page.frame_locator("iframe").locator("input").count() == 0


def test_a_site_not_allowed_cannot_use_the_script_embed(page, host_site, form_site):
    host_site.pages["/"] = script_page(form_site)
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.goto(host_site.url("/"))

    expect(page.locator("#contact-form")).to_have_text(
        "The form could not be loaded. Please try again later."
    )
    assert any("INBOX_INTAKE_ALLOWED_ORIGINS" in error for error in errors), errors


# --- Files, at a phone's width and a laptop's -----------------------------------------------------

WIDTHS = (390, 1280)
SCREENSHOTS = ROOT / "var" / "screenshots"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
#: A Windows executable's first bytes, named as a PDF.
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 44 + b"PE\x00\x00"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "teal").save(out, "PNG")
    return out.getvalue()


def quote_script_page(form_site: str) -> str:
    return script_page(form_site).replace("/intake/contact/", "/intake/quote/")


def fill_in_quote(form, *files) -> None:
    form.get_by_label("Your name").fill("Jane Doe")
    form.get_by_label("Email").fill("jane.doe@example.com")
    form.get_by_label("Service").select_option("web")
    form.get_by_label("Project details").fill("A house on two floors; plans attached.")
    form.get_by_label("Drawings or photos").set_input_files(
        [
            {"name": name, "mimeType": "application/octet-stream", "buffer": data}
            for name, data in files
        ]
    )


def fits_the_window(page, frame=None) -> None:
    target = frame or page
    scroll_width, inner_width = target.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert scroll_width <= inner_width


def iframe_fits_its_form(page) -> bool:
    """Whether the host page has sized the iframe to the form in it (after each page load)."""
    (inner,) = page.main_frame.child_frames
    height = inner.evaluate("Math.ceil(document.documentElement.getBoundingClientRect().height)")
    return abs(page.locator("iframe").bounding_box()["height"] - height) <= 1


def screenshot(page, name: str) -> None:
    if page.main_frame.child_frames:
        wait_until(lambda: iframe_fits_its_form(page), what="the iframe to fit its form")
    # A window as tall as the page, rather than a full-page screenshot: in one of those,
    # Chromium leaves the parts of a frame outside the window unpainted.
    window = page.viewport_size
    page.set_viewport_size(
        {**window, "height": page.evaluate("document.documentElement.scrollHeight")}
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png")
    page.set_viewport_size(window)


def saved_with_files() -> Submission:
    return wait_until(
        lambda: Submission.objects.filter(form_name="quote").first(), what="the submission"
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_files_go_through_the_iframe_embed(page, allowed_host_site, form_site, width):
    page.set_viewport_size({"width": width, "height": 900})
    allowed_host_site.pages["/"] = iframe_page(form_site, "/intake/quote/embed/")
    page.goto(allowed_host_site.url("/"))
    frame = page.frame_locator("iframe[data-inbox-intake]")

    fill_in_quote(frame, ("setup.pdf", EXE))
    frame.get_by_role("button", name="Send").click()

    expect(frame.get_by_text("“setup.pdf” is application/vnd.microsoft")).to_be_visible()
    expect(frame.get_by_text("Your files were not kept: please choose them again.")).to_be_visible()
    fits_the_window(page)
    screenshot(page, f"embed-iframe-file-refused-{width}")
    assert not Submission.objects.exists()

    fill_in_quote(frame, ("plan.pdf", PDF), ("photo.png", png()))
    screenshot(page, f"embed-iframe-files-chosen-{width}")
    frame.get_by_role("button", name="Send").click()

    expect(frame.get_by_text("we will send your quote within two working days")).to_be_visible()
    submission = saved_with_files()
    assert submission.data["drawings"] == ["plan.pdf", "photo.png"]
    assert [(a.original_name, a.content_type, a.width) for a in submission.attachments.all()] == [
        ("plan.pdf", "application/pdf", None),
        ("photo.png", "image/png", 64),
    ]
    with submission.attachments.first().file.open("rb") as stored:
        assert stored.read() == PDF


@pytest.mark.parametrize("width", WIDTHS)
def test_files_go_through_the_script_embed(page, allowed_host_site, form_site, width):
    page.set_viewport_size({"width": width, "height": 900})
    allowed_host_site.pages["/"] = quote_script_page(form_site)
    page.goto(allowed_host_site.url("/"))
    form = page.locator("#contact-form")

    fill_in_quote(form, ("plan.pdf", PDF), ("setup.pdf", EXE))
    form.get_by_role("button", name="Send").click()

    drawings = form.get_by_label("Drawings or photos")
    expect(drawings).to_have_attribute("aria-invalid", "true")
    error_id = drawings.get_attribute("aria-describedby")
    expect(page.locator(f"#{error_id}")).to_contain_text("“setup.pdf” is application/vnd.microsoft")
    assert drawings.get_attribute("multiple") is not None
    assert drawings.get_attribute("accept").startswith("application/pdf,image/png")
    fits_the_window(page)
    screenshot(page, f"embed-script-file-refused-{width}")
    assert not Submission.objects.exists()

    fill_in_quote(form, ("plan.pdf", PDF), ("photo.png", png()))
    form.get_by_role("button", name="Send").click()

    submission = saved_with_files()
    expect(page.get_by_role("status")).to_contain_text(f"Your reference: {submission.reference}")
    screenshot(page, f"embed-script-files-sent-{width}")
    assert submission.data["drawings"] == ["plan.pdf", "photo.png"]
    assert [a.content_type for a in submission.attachments.all()] == [
        "application/pdf",
        "image/png",
    ]


def test_the_script_embed_refuses_a_file_too_large_before_sending_it(
    page, allowed_host_site, form_site, settings
):
    settings.INBOX_INTAKE_MAX_FILE_SIZE = 1024
    allowed_host_site.pages["/"] = quote_script_page(form_site)
    requests = []
    page.on("request", lambda request: request.method == "POST" and requests.append(request.url))
    page.goto(allowed_host_site.url("/"))
    form = page.locator("#contact-form")

    fill_in_quote(form, ("big.pdf", PDF + b"%" * 2048))
    form.get_by_role("button", name="Send").click()

    expect(form.get_by_text("“big.pdf” is 2.1 KB; a file may be at most 1 KB.")).to_be_visible()
    assert requests == [], "nothing was sent"
