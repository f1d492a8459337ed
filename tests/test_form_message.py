from dataclasses import replace

import pytest

from inbox_intake.form_message import (
    FOLDED_LABEL,
    MAX_FIELD_LENGTH,
    MAX_FIELDS,
    MessageTooLarge,
    build_form_message,
    truncate,
    wix_length,
)

REFERENCE = "0b5f8a52-6a3e-4c5e-9a57-2f1f4f0d3c11"


def build(fields, **overrides):
    arguments = {
        "title": "Website contact form",
        "description": "Sent from the website",
        "fields": fields,
        "reference": REFERENCE,
        "preview_text": "Jane Doe: hello",
    }
    return build_form_message(**(arguments | overrides))


def numbered(count):
    return [(f"Field {n}", f"value {n}") for n in range(1, count + 1)]


def assert_within_wix_limits(message):
    assert 1 <= len(message.fields) <= MAX_FIELDS
    for name, value in message.fields:
        assert wix_length(name) <= MAX_FIELD_LENGTH
        assert wix_length(value) <= MAX_FIELD_LENGTH
    assert 1 <= wix_length(message.title) <= 256
    assert wix_length(message.preview_text) <= 256


def test_wire_shape_matches_the_seed_form_message():
    message = build([("First name", "Jane"), ("Email", "jane@example.com")])

    assert message.as_wix() == {
        "direction": "PARTICIPANT_TO_BUSINESS",
        "visibility": "BUSINESS",
        "content": {
            "previewText": "Jane Doe: hello",
            "form": {
                "title": "Website contact form",
                "description": "Sent from the website",
                "fields": [
                    {"name": "First name", "value": "Jane"},
                    {"name": "Email", "value": "jane@example.com"},
                    {"name": "Reference", "value": REFERENCE},
                ],
            },
        },
    }


def test_media_travel_in_the_form_only_when_there_are_some():
    pdf = {"file": {"id": "f1", "url": "https://x/f1", "filename": "a.pdf", "mimeType": "x"}}
    png = {
        "image": {"id": "i1", "url": "https://x/i1", "filename": "b.png", "width": 2, "height": 1}
    }
    message = build(numbered(1))

    assert "media" not in message.as_wix()["content"]["form"]
    with_media = replace(message, media=(pdf, png)).as_wix()["content"]["form"]
    assert with_media["media"] == [pdf, png]
    assert with_media["fields"][-1] == {"name": "Reference", "value": REFERENCE}


def test_empty_description_is_omitted_rather_than_sent_empty():
    form = build(numbered(1), description="  ").as_wix()["content"]["form"]

    assert "description" not in form


def test_empty_optional_fields_are_left_out():
    message = build([("Phone", ""), ("Message", "hi")])

    assert message.fields == [("Message", "hi"), ("Reference", REFERENCE)]


def test_fourteen_fields_plus_reference_fill_exactly_fifteen():
    message = build(numbered(14))

    assert message.fields == numbered(14) + [("Reference", REFERENCE)]


def test_fifteen_fields_fold_the_last_two_into_additional_fields():
    message = build(numbered(15))

    assert len(message.fields) == MAX_FIELDS
    assert message.fields[:13] == numbered(13)
    assert message.fields[13] == (FOLDED_LABEL, "Field 14: value 14\n\nField 15: value 15")
    assert message.fields[14] == ("Reference", REFERENCE)


def test_sixteen_fields_are_all_delivered_within_fifteen():
    message = build(numbered(16))

    assert_within_wix_limits(message)
    folded = dict(message.fields)[FOLDED_LABEL]
    assert folded == "Field 14: value 14\n\nField 15: value 15\n\nField 16: value 16"


def test_a_value_of_exactly_the_limit_is_kept_whole():
    message = build([("Message", "x" * 8192)])

    assert message.fields[0] == ("Message", "x" * 8192)


def test_a_value_one_over_the_limit_is_split_in_two_numbered_fields():
    message = build([("Message", "x" * 8193)])

    assert message.fields[:2] == [("Message (1/2)", "x" * 8192), ("Message (2/2)", "x")]
    assert_within_wix_limits(message)


def test_splitting_is_lossless_and_deterministic_for_long_text():
    text = "".join(chr(0x41 + n % 26) for n in range(30_000))

    first, second = build([("Message", text)]), build([("Message", text)])

    assert first == second
    assert "".join(value for _, value in first.fields[:-1]) == text
    assert_within_wix_limits(first)


def test_emoji_count_double_and_are_never_cut_in_half():
    text = "😀" * 4097  # 8,194 UTF-16 units

    message = build([("Message", text)])

    assert [name for name, _ in message.fields[:2]] == ["Message (1/2)", "Message (2/2)"]
    assert message.fields[0][1] == "😀" * 4096
    assert message.fields[1][1] == "😀"
    assert_within_wix_limits(message)


def test_non_ascii_text_passes_unchanged():
    message = build([("Nachricht", "Grüße aus Köln — naïve café ✓ 日本語")])

    assert message.fields[0] == ("Nachricht", "Grüße aus Köln — naïve café ✓ 日本語")


def test_long_title_and_preview_are_truncated_with_an_ellipsis():
    message = build(numbered(1), title="T" * 300, preview_text="P" * 300)

    assert message.title == "T" * 255 + "…"
    assert message.preview_text == "P" * 255 + "…"


def test_preview_text_is_one_line():
    message = build(numbered(1), preview_text="Jane:\nline one\n\nline two")

    assert message.preview_text == "Jane: line one line two"


def test_many_long_fields_fold_and_split_within_limits():
    fields = [(f"Field {n}", "y" * 5000) for n in range(20)]

    message = build(fields)

    assert_within_wix_limits(message)
    delivered = "".join(value for _, value in message.fields[:-1])
    assert delivered.count("y") == 20 * 5000


def test_more_text_than_a_message_can_hold_is_refused_clearly():
    with pytest.raises(MessageTooLarge, match="more than 14 fields"):
        build([("Message", "z" * (14 * 8192 + 1))])


def test_truncate_keeps_short_text():
    assert truncate("short", 10) == "short"
