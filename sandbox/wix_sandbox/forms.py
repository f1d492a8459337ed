from django import forms

from . import faults

ENDPOINT_CHOICES = [(faults.ALL_ENDPOINTS, "* (every endpoint)")] + [
    (endpoint, endpoint) for endpoint in faults.ENDPOINTS
]


class NumberField(forms.FloatField):
    # Only parsed here: faults.validated_rules judges the value, as for the command and the JSON.
    widget = forms.NumberInput(attrs={"step": "any"})


class FaultRuleForm(forms.Form):
    """One rule to add on the fault page: a fault at a rate, with optional parameters. The
    parameters are labelled with their keys in the rules."""

    endpoint = forms.ChoiceField(choices=ENDPOINT_CHOICES)
    fault = forms.ChoiceField(choices=[(fault, fault) for fault in faults.FAULTS])
    rate = NumberField(initial=1, help_text="From 0 to 1. At 0, only the parameters apply.")
    latency_ms = NumberField(
        label="latency_ms", required=False, help_text="Milliseconds added to every answer."
    )
    retry_after = NumberField(
        label="retry_after",
        required=False,
        help_text="Seconds, sent in Retry-After by rate_limit_429 (default 1).",
    )
    hang_seconds = NumberField(
        label="hang_seconds",
        required=False,
        help_text="How long hang holds a request (default WIX_SANDBOX_HANG_SECONDS).",
    )

    def rule(self) -> dict:
        data = self.cleaned_data
        durations = {name: data[name] for name in faults.DURATIONS if data[name] is not None}
        return {data["fault"]: data["rate"], **durations}
