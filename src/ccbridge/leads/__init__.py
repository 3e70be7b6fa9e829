"""Lead capture: signup forms with recorded consent, spam defence and a durable outbox.

A person fills in a form (hosted by ccbridge, embedded on another site, or a plain HTML
form posting to it). The submission — with the exact consent text they agreed to, when,
and from where — is committed together with its delivery record before the answer, and
a ``DeliveryWorker`` later hands it to CC's ``POST /contacts/sign_up_form``, retrying
through outages until CC has it. ``docs/lead-capture.md`` tells the whole story.
"""

from ccbridge.leads.capture import Accepted, LeadCapture, LeadSettings, RequestInfo, signup_body
from ccbridge.leads.delivery import DeliveryPolicy, DeliveryWorker, classify
from ccbridge.leads.export import evidence_for_email, list_submissions, submissions_csv
from ccbridge.leads.forms import (
    Form,
    FormDefinition,
    FormDefinitionError,
    FormField,
    FormNotFoundError,
    FormStore,
    parse_definition,
)
from ccbridge.leads.outbox import Claim, SignupOutbox
from ccbridge.leads.spam import CaptchaVerifier, Limit, RenderTokens, check_email
from ccbridge.leads.submissions import InputError
from ccbridge.leads.web import admin_routes, create_forms_app, public_routes

__all__ = [
    "Accepted",
    "CaptchaVerifier",
    "Claim",
    "DeliveryPolicy",
    "DeliveryWorker",
    "Form",
    "FormDefinition",
    "FormDefinitionError",
    "FormField",
    "FormNotFoundError",
    "FormStore",
    "InputError",
    "LeadCapture",
    "LeadSettings",
    "Limit",
    "RenderTokens",
    "RequestInfo",
    "SignupOutbox",
    "admin_routes",
    "check_email",
    "classify",
    "create_forms_app",
    "evidence_for_email",
    "list_submissions",
    "parse_definition",
    "public_routes",
    "signup_body",
    "submissions_csv",
]
