"""The OpenAPI 3 document of the JSON endpoint, built from the registered forms, for integrators
(served at /intake/openapi.json) and for the schemathesis test that holds the endpoint to it."""

from django import forms
from django.urls import reverse

from . import protection
from .forms import registered_forms
from .uploads import is_multiple

#: The answers of POST /intake/<form>/ other than 201, as the README's table lists them.
REFUSALS = {
    "400": "The fields are not valid (errors under each field's name), or the body is malformed, "
    "nests too deeply, holds a lone UTF-16 surrogate, or the CAPTCHA is missing or wrong.",
    "403": "The Origin is not allowed (code origin_not_allowed). A form-encoded body sent "
    "without Accept: application/json is the HTML form's, and without its CSRF token it is "
    "refused with Django's page (text/html).",
    "413": "The body is over INBOX_INTAKE_MAX_REQUEST_BYTES (plus, for a form with file fields, "
    "its limit of all the files together) (code too_large).",
    "415": "Neither JSON, form-encoded nor multipart (code unsupported_media_type).",
    "429": "Rate-limited (code rate_limited); Retry-After says how many seconds to wait.",
    "503": "The CAPTCHA provider could not be asked (code captcha_unavailable).",
}
ERRORS_SCHEMA = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "object",
            "description": "Errors by field name; `__all__` for those of no field.",
            "additionalProperties": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["message", "code"],
                    "properties": {"message": {"type": "string"}, "code": {"type": "string"}},
                },
            },
        }
    },
}
ACCEPTED_SCHEMA = {
    "type": "object",
    "required": ["reference", "message", "redirect"],
    "properties": {
        "reference": {"type": "string", "format": "uuid"},
        "message": {"type": "string"},
        "redirect": {"type": "string", "nullable": True},
    },
}

#: The same URL serves the HTML form page, and answers browsers' CORS preflight.
FORM_PAGE = {
    "summary": "The form page (HTML), for people",
    "responses": {"200": {"description": "The form.", "content": {"text/html": {}}}},
}
PREFLIGHT = {
    "summary": "The CORS preflight: only allowed origins may post JSON",
    "responses": {
        "204": {"description": "The Origin is allowed."},
        "403": {"description": "No Origin, or one that is not allowed."},
    },
}


def openapi_document(server_url: str) -> dict:
    """The document for a site served at `server_url` (scheme://host)."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Inbox Intake",
            "version": "1",
            "description": "Form submissions, delivered to a Wix site's Inbox. Send a JSON object "
            "(or a form-encoded body) of the form's fields, or, for a form that takes files, a "
            "multipart/form-data body; see the README's 'The JSON endpoint'.",
        },
        "servers": [{"url": server_url}],
        "paths": {
            reverse("inbox_intake:form", args=[slug]): {
                "get": FORM_PAGE,
                "options": PREFLIGHT,
                "post": _operation(registered),
            }
            for slug, registered in registered_forms().items()
        },
    }


def _operation(registered) -> dict:
    fields = registered.form_class.base_fields
    file_fields = registered.form_class.file_fields()
    text_fields = {name: field for name, field in fields.items() if name not in file_fields}
    text_body = _body_schema(text_fields)
    content = {
        "application/json": {"schema": text_body},
        "application/x-www-form-urlencoded": {"schema": text_body},
    }
    if file_fields:
        limits = registered.file_limits
        multipart = _body_schema(
            fields, {name: _file_schema(fields[name], limits) for name in file_fields}
        )
        content["multipart/form-data"] = {
            "schema": multipart,
            "encoding": {
                name: {"contentType": ", ".join(limits.types_for(fields[name]))}
                for name in file_fields
            },
        }
        if any(fields[name].required for name in file_fields):
            # A required file cannot come in a body that has no files.
            content = {"multipart/form-data": content["multipart/form-data"]}
    error = {"application/json": {"schema": ERRORS_SCHEMA}}
    responses = {
        "201": {
            "description": "Accepted: it will be delivered to the Wix Inbox.",
            "content": {"application/json": {"schema": ACCEPTED_SCHEMA}},
        },
        **{status: {"description": text, "content": error} for status, text in REFUSALS.items()},
    }
    responses["403"]["content"] = {**error, "text/html": {}}
    responses["429"]["headers"] = {"Retry-After": {"schema": {"type": "integer", "minimum": 0}}}
    return {
        "operationId": f"submit_{registered.slug.replace('-', '_')}",
        "summary": registered.title,
        "parameters": [
            {
                "name": "Accept",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "enum": ["application/json"]},
            }
        ],
        "requestBody": {"required": True, "content": content},
        "responses": responses,
    }


def _body_schema(fields: dict, file_schemas: dict | None = None) -> dict:
    """The body's fields; `file_schemas`: those of the file fields, for a multipart body."""
    file_schemas = file_schemas or {}
    return {
        "type": "object",
        "properties": {
            **{
                name: file_schemas.get(name) or _field_schema(field)
                for name, field in fields.items()
            },
            protection.NEXT_FIELD: {
                "type": "string",
                "description": "Where to send the visitor next: this site or an allowed origin.",
            },
            protection.HONEYPOT_FIELD: {
                "type": "string",
                "description": "Leave it empty: only bots fill it in.",
            },
        },
        "required": [name for name, field in fields.items() if field.required],
    }


def _file_schema(field: forms.FileField, limits) -> dict:
    """A file field in a multipart body: the file's bytes (several parts of the same name for
    a field that takes several files)."""
    one_file = {"type": "string", "format": "binary"}
    schema = (
        {"type": "array", "items": one_file, "maxItems": limits.max_files}
        if is_multiple(field)
        else one_file
    )
    schema["description"] = (
        f"{limits.describe(field)} Types are told by the content, not by the name."
    )
    if field.label:
        schema["title"] = str(field.label)
    return schema


def _field_schema(field: forms.Field) -> dict:
    if isinstance(field, forms.BooleanField):
        schema = {"type": "boolean"}
    elif isinstance(field, forms.MultipleChoiceField):
        schema = {"type": "array", "items": {"type": "string", "enum": _choices(field)}}
    elif isinstance(field, forms.ChoiceField):
        schema = {"type": "string", "enum": _choices(field)}
    elif isinstance(field, forms.IntegerField):
        schema = _bounded({"type": "integer"}, field)
    elif isinstance(field, forms.DecimalField | forms.FloatField):
        schema = _bounded({"type": "number"}, field)
    elif isinstance(field, forms.DateField):
        schema = {"type": "string", "format": "date"}
    elif isinstance(field, forms.EmailField):
        schema = {"type": "string", "format": "email", "maxLength": field.max_length}
    else:
        schema = {"type": "string"}
        if getattr(field, "max_length", None):
            schema["maxLength"] = field.max_length
    if field.label:
        schema["title"] = str(field.label)
    if not field.required:
        schema["nullable"] = True
    return schema


def _choices(field) -> list[str]:
    return [str(key) for key, _ in field.choices if str(key) != ""]


def _bounded(schema: dict, field) -> dict:
    if field.min_value is not None:
        schema["minimum"] = field.min_value
    if field.max_value is not None:
        schema["maximum"] = field.max_value
    return schema
