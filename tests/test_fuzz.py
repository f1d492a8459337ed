"""Property-based tests of the ways in: whatever is sent, no answer is a 5xx, every refusal says
which field or rule, and a refused request saves nothing.

Hypothesis (profile `intake` in conftest.py; FUZZ_EXAMPLES sets how many examples each test
runs) sends arbitrary JSON values and strings (lone surrogates, NUL, control and bidi characters,
very long, deeply nested), arbitrary field names and content types. Schemathesis holds the JSON
endpoint to its OpenAPI document (/intake/openapi.json).
"""

import json
from urllib.parse import urlencode

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import checks

from inbox_intake.form_message import form_message_for
from inbox_intake.forms import registered_forms
from inbox_intake.models import Submission
from inbox_intake.text import has_lone_surrogate

# Hundreds of examples each: the slower tier.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

FORMS = registered_forms()
VALID = {
    "contact": {
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "jane@example.com",
        "message": "Hello",
    },
    "quote": {"name": "Jane Doe", "email": "jane@example.com", "service": "web", "details": "Hi"},
}
FIELD_NAMES = sorted(
    {name for form in FORMS.values() for name in form.form_class.base_fields}
    | {"next", "homepage", "cf-turnstile-response", "__all__"}
)
#: Characters that broke things before, or could: lone surrogates, NUL, bidi overrides, format
#: characters, a byte-order mark, formula starts.
NASTY = ["\udfff", "\ud800", "\x00", "\u202e", "\u200b", "\ufeff", "\r\n", "=1+1", "𝟘", "\u0308"]

texts = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=50),  # surrogates included
    st.lists(st.sampled_from(NASTY) | st.text(max_size=5), max_size=8).map("".join),
    st.integers(1, 70_000).map(lambda n: "x" * n),  # over every field's length
)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | texts
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(texts, children, max_size=3),
    max_leaves=8,
)
field_names = st.sampled_from(FIELD_NAMES) | texts


@st.composite
def submissions(draw, values):
    """A form's valid data with some fields replaced, dropped or added."""
    slug = draw(st.sampled_from(sorted(FORMS)))
    data = dict(VALID[slug])
    for name, value in draw(st.dictionaries(field_names, values, max_size=4)).items():
        data[name] = value
    for name in draw(st.lists(st.sampled_from(sorted(data)), max_size=2)):
        data.pop(name, None)
    return slug, data


content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-16",
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=utf-7",
        "multipart/form-data; boundary=B",
        "text/plain",
        "",
    ]
) | st.text(max_size=30).filter(lambda text: "\n" not in text and "\r" not in text)


@pytest.fixture
def no_rate_limits(settings):
    """Hundreds of examples from one address: the limits would refuse all but the first few."""
    settings.INBOX_INTAKE_RATE_LIMIT_PER_IP = 0
    settings.INBOX_INTAKE_RATE_LIMIT_PER_FORM = 0


def encode_json(data, ascii_only: bool) -> bytes:
    # ASCII: a lone surrogate as the escape \udfff; otherwise as raw (invalid) UTF-8 bytes.
    return json.dumps(data, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def assert_says_which_field_or_rule(response):
    errors = response.json()["errors"]
    assert errors, "a refusal names a field or rule"
    for name, problems in errors.items():
        assert name, "an error is under a field's name or __all__"
        assert problems
        for problem in problems:
            assert problem["message"].strip()
            assert problem["code"].strip()


def assert_deliverable(submission: Submission):
    """Everything stored can be shown and sent: no character that UTF-8 cannot write."""
    stored = json.dumps(submission.data, ensure_ascii=False) + submission.name + submission.email
    assert not has_lone_surrogate(stored)
    json.dumps(form_message_for(submission).as_wix(), ensure_ascii=False).encode()


@pytest.mark.usefixtures("no_rate_limits")
@given(
    submission=submissions(json_values),
    ascii_only=st.booleans(),
    deep=st.none() | st.integers(2, 100_000),
    content_type=content_types,
    accept=st.sampled_from(["application/json", "*/*", ""]),
)
def test_the_json_endpoint_never_fails_and_saves_nothing_it_refuses(
    submission, ascii_only, deep, content_type, accept
):
    slug, data = submission
    body = ("[" * deep + "]" * deep).encode() if deep else encode_json(data, ascii_only)
    if content_type.startswith("application/x-www-form"):
        body = urlencode(
            {k: str(v) for k, v in data.items()}, encoding="utf-8", errors="surrogatepass"
        ).encode()
    before = Submission.objects.count()

    # generic(): post() would re-encode the body in the content type's charset.
    response = Client().generic(
        "POST",
        f"/intake/{slug}/",
        body,
        content_type=content_type,
        headers={"Accept": accept} if accept else {},
    )

    assert response.status_code < 500
    saved = Submission.objects.count() - before
    # 302: a form body without Accept: application/json is the HTML form's, which redirects.
    if response.status_code in (201, 302):
        assert saved == 1
        assert_deliverable(Submission.objects.latest("pk"))
        return
    assert saved == 0
    assert 400 <= response.status_code < 500
    if response["Content-Type"] == "application/json":
        assert_says_which_field_or_rule(response)
    else:  # not taken for JSON (a form body without Accept): the form page, or Django's 403
        assert response.content.strip()


@pytest.mark.usefixtures("no_rate_limits")
@given(submission=submissions(texts), embed=st.booleans())
def test_the_html_form_never_fails_and_saves_nothing_it_refuses(submission, embed):
    slug, data = submission
    body = urlencode(data, encoding="utf-8", errors="surrogatepass")
    before = Submission.objects.count()

    response = Client().post(
        f"/intake/{slug}/{'embed/' if embed else ''}",
        body,
        content_type="application/x-www-form-urlencoded",
        headers={"Accept": "text/html"},
    )

    assert response.status_code < 500
    saved = Submission.objects.count() - before
    if response.status_code == 302:
        assert saved == 1
        assert_deliverable(Submission.objects.latest("pk"))
        return
    assert saved == 0
    assert response.status_code in (400, 413)
    assert b"errorlist" in response.content, "the page says what to correct"


# --- Schemathesis: the JSON endpoint against its OpenAPI document ---------------------------------

schema = schemathesis.openapi.from_wsgi("/intake/openapi.json", get_wsgi_application())
#: No 5xx, and every answer as documented: its status, content type, headers and body. Not
#: "schema-valid data is accepted": the schema cannot say everything a form checks (a valid
#: phone number, a non-empty name), so such a request may rightly be a 400.
SCHEMA_CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.unsupported_method,
]


@pytest.fixture
def connection_kept_open():
    """Django's WSGI handler closes the database connection after each request, which would end
    the test's transaction; its test client keeps it open the same way."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.mark.usefixtures("no_rate_limits", "connection_kept_open")
@schema.parametrize()
def test_the_json_endpoint_answers_as_its_openapi_document_says(case):
    before = Submission.objects.count()

    response = case.call_and_validate(checks=SCHEMA_CHECKS)

    if response.status_code != 201:
        assert Submission.objects.count() == before
