"""The JSON bodies the clinic endpoints accept, as OpenAPI schemas (for the document and for the
schemathesis fuzzing driven by it). The handlers check bodies field by field in
:mod:`inlet.accounts.validate`, answering in Tidepool's error format; these schemas say the same
constraints, from the same constants (types, sizes, units, roles, permissions).
"""

from __future__ import annotations

from inlet.accounts import clinics as c

CLINIC_TYPES = ("provider_practice", "healthcare_system", "veterinary_clinic", "other", "researcher")
CLINIC_SIZES = ("0-249", "250-499", "500-999", "1000+")
BG_UNITS = ("mg/dL", "mmol/L")
TEXT_FIELDS = ("address", "city", "postalCode", "state", "country", "website", "email")

_STR = {"type": "string", "minLength": 1}
_ROLES = {"type": "array", "minItems": 1, "items": {"type": "string", "enum": list(c.CLINICIAN_ROLES)}}
CLINIC_SCHEMA = {
    "type": "object",
    "properties": {
        "name": _STR,
        **dict.fromkeys(TEXT_FIELDS, _STR),
        "phoneNumbers": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "object", "properties": {"type": _STR, "number": _STR}, "required": ["number"]},
        },
        "clinicType": {"type": "string", "enum": list(CLINIC_TYPES)},
        "clinicSize": {"type": "string", "enum": list(CLINIC_SIZES)},
        "preferredBgUnits": {"type": "string", "enum": list(BG_UNITS)},
    },
}
CLINICIAN_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "email": {"type": "string"},
        "name": _STR,
        "roles": _ROLES,
    },
}
CLINICIAN_UPDATE_SCHEMA = {"type": "object", "properties": {"name": _STR, "roles": _ROLES}}
PERMISSIONS_SCHEMA = {
    "type": "object",
    "properties": {name: {"type": "object"} for name in c.PATIENT_PERMISSIONS},
    "additionalProperties": False,
}
PATIENT_SCHEMA = {
    "type": "object",
    "properties": {
        "fullName": _STR,
        "birthDate": {"type": "string", "format": "date"},
        "email": {"type": "string"},
        "mrn": _STR,
        "targetDevices": {"type": "array", "items": {"type": "string"}},
    },
}
NEW_PATIENT_SCHEMA = {**PATIENT_SCHEMA, "required": ["fullName", "birthDate"]}
SHARE_SCHEMA = {"type": "object", "properties": {"permissions": PERMISSIONS_SCHEMA}}
