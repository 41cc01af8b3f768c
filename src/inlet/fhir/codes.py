"""The HL7 FHIR CGM IG's codes (hl7.fhir.uv.cgm 1.0.0, FHIR R4 4.0.1): LOINC, UCUM, profiles."""

from __future__ import annotations

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
IG = "http://hl7.org/fhir/uv/cgm"
RECEIVER_CAPABILITY = f"{IG}/CapabilityStatement/cgm-data-receiver"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

READING_MGDL = "99504-3"
READING_MMOLL = "105272-9"
READING_CODES = {READING_MGDL: "mg/dL", READING_MMOLL: "mmol/L"}
"""Sensor reading codes and the UCUM unit each carries."""

SUMMARY = "107931-8"
MEAN_MGDL = "97507-8"
MEAN_MMOLL = "105273-7"
TIMES_IN_RANGES = "106793-3"
GMI = "97506-0"
CV = "104638-2"
DAYS_OF_WEAR = "104636-6"
SENSOR_ACTIVE = "104637-4"
RANGE_COMPONENTS = {
    "veryLow": "104642-4",
    "low": "104641-6",
    "target": "97510-2",
    "high": "104640-8",
    "veryHigh": "104639-0",
}
"""Components of the times in ranges panel (the consensus ranges, see ``inlet.reports.glucose``)."""

DISPLAY = {
    READING_MGDL: "Glucose [Mass/volume] in Interstitial fluid",
    READING_MMOLL: "Glucose [Moles/volume] in Interstitial fluid",
    SUMMARY: "CGM summary panel",
    MEAN_MGDL: "Mean glucose [Mass/volume] in Interstitial fluid during reporting period",
    MEAN_MMOLL: "Mean glucose [Moles/volume] in Interstitial fluid during reporting period",
    TIMES_IN_RANGES: "Times in glucose ranges panel",
    GMI: "Glucose management indicator",
    CV: "Coefficient of variation of glucose",
    DAYS_OF_WEAR: "Days of sensor wear",
    SENSOR_ACTIVE: "Percent of time CGM active",
    "104642-4": "Time in very low range",
    "104641-6": "Time in low range",
    "97510-2": "Time in target range",
    "104640-8": "Time in high range",
    "104639-0": "Time in very high range",
}

SUMMARY_MEMBERS = (MEAN_MGDL, MEAN_MMOLL, TIMES_IN_RANGES, GMI, CV, DAYS_OF_WEAR, SENSOR_ACTIVE)
DATUM_SYSTEM = "urn:inlet:datum"
"""Identifier system of a sensor reading Inlet sends: the value is the cbg datum's id."""
DEVICE_SYSTEM = "urn:inlet:deviceId"
"""Identifier system of a Device Inlet sends: the value is the datums' ``deviceId``."""
USER_SYSTEM = "urn:inlet:user"


def concept(code: str) -> dict[str, object]:
    return {"coding": [{"system": LOINC, "code": code, "display": DISPLAY.get(code, code)}]}


def quantity(value: float, unit: str) -> dict[str, object]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}
