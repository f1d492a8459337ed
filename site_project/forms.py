"""The example site's own form, registered beside the app's contact form (INBOX_INTAKE_FORMS).

A quote request with every common Django field type, so that each is seen to become a readable row
in the Wix Inbox: a choice shows its label, several choices are joined, a date is written out; and
files, which reach the Inbox as the message's attachments.
"""

from django import forms

from inbox_intake.forms import IntakeForm, MultipleFileField


class QuoteRequestForm(IntakeForm):
    title = "Request a quote"
    intro = "Tell us about your project and we will send you a quote within two working days."
    thank_you = "We will send your quote within two working days."
    message_title = "Quote request"
    message_description = "A visitor asked for a quote through the website."
    preview_field = "details"

    name = forms.CharField(
        label="Your name", max_length=200, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    email = forms.EmailField(
        label="Email", max_length=320, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    service = forms.ChoiceField(
        label="Service",
        choices=[
            ("", "Choose one"),
            ("web", "Website design"),
            ("shop", "Online shop"),
            ("seo", "Search engine optimisation"),
        ],
    )
    features = forms.MultipleChoiceField(
        label="Features",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[
            ("booking", "Online booking"),
            ("blog", "Blog"),
            ("members", "Members area"),
            ("multilingual", "Several languages"),
        ],
    )
    start_date = forms.DateField(
        label="Preferred start date",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Leave empty if you are flexible.",
    )
    budget = forms.DecimalField(
        label="Budget (EUR)",
        required=False,
        min_value=0,
        max_digits=10,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01"}),
    )
    pages = forms.IntegerField(
        label="Number of pages", required=False, min_value=1, max_value=10_000
    )
    details = forms.CharField(
        label="Project details", max_length=20_000, widget=forms.Textarea(attrs={"rows": 8})
    )
    # Its help text, the accepted types and the limits, is written from the form's limits.
    drawings = MultipleFileField(label="Drawings or photos", required=False)
