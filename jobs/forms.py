"""Console forms for the job controls whose buttons carry options."""

from django import forms

from jobs.models import RecoveryType


class StopForm(forms.Form):
    force = forms.BooleanField(
        required=False, help_text="Stop at once: slices in hand go back to pending instead of finishing."
    )


class RecoverForm(forms.Form):
    cleanup_type = forms.ChoiceField(
        required=False,
        choices=[("", "as configured (default)"), *RecoveryType.choices],
        help_text="Which slices of the last execution to run again.",
    )


class WorkersForm(forms.Form):
    change = forms.ChoiceField(choices=[("add", "add"), ("remove", "remove"), ("total", "set total to")])
    number = forms.IntegerField(min_value=1, max_value=10_000)
