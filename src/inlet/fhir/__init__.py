"""FHIR CGM (HL7 FHIR CGM IG 1.0.0, R4): bundles out, the submit operation in, the push to clinics."""
