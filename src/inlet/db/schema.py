"""The shared schema (SQLAlchemy Core). Alembic migrations create it; tests and code import it.

Times are BIGINT microseconds since the Unix epoch on both databases: compact, index-friendly and
free of driver-specific timestamp handling on the hot ingest path. JSON is JSONB on PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

Json = JSON().with_variant(JSONB(), "postgresql")
PrimaryKey = BigInteger().with_variant(Integer(), "sqlite")
Micros = BigInteger

data_sets = Table(
    "data_sets",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("created_user_id", String(64)),
    Column("data_set_type", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("deduplicator_name", String(128), nullable=False),
    Column("deduplicator_version", String(32), nullable=False),
    Column("device_id", Text),
    Column("client_name", Text),
    Column("created_time", Micros, nullable=False),
    Column("modified_time", Micros),
    Column("deleted_time", Micros),
    Column("doc", Json, nullable=False),
    # What the read path selects upload records by, so a read never loads every set of a person
    # (0009): the record's time (its ``time``, else its creation), its ``deviceModel``, and whether
    # it is a cloud CGM set (``client.name`` of a partner fetch).
    Column("time", Micros),
    Column("device_model", Text),
    Column("cloud", Boolean, nullable=False, server_default=false()),
    Index("ix_data_sets_user_created", "user_id", "created_time"),
    Index("ix_data_sets_user_time", "user_id", "time"),
    Index("ix_data_sets_user_cloud", "user_id", "cloud"),
    Index("ix_data_sets_user_device_model", "user_id", "device_model"),
)

device_data = Table(
    "device_data",
    metadata,
    Column("pk", PrimaryKey, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("data_set_id", String(64), nullable=False),
    Column("type", String(64), nullable=False),
    Column("sub_type", String(64)),
    Column("time", Micros, nullable=False),
    Column("device_id", Text),
    Column("origin_id", Text),
    Column("origin_time", Micros),
    Column("dedup_hash", String(64)),
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_time", Micros, nullable=False),
    Column("modified_time", Micros),
    Column("archived_time", Micros),
    Column("archived_data_set_id", String(64)),
    Column("deleted_time", Micros),
    Column("doc", Json, nullable=False),
    Index("ix_device_data_user_time", "user_id", "time"),
    Index("ix_device_data_user_type_time", "user_id", "type", "time"),
    Index("ix_device_data_user_set_type_time", "user_id", "data_set_id", "type", "time"),
    Index("ix_device_data_user_hash", "user_id", "dedup_hash"),
    Index("ix_device_data_user_set_origin", "user_id", "data_set_id", "origin_id"),
    Index("ix_device_data_user_id", "user_id", "id"),
)
"""Every index leads with ``user_id``. On PostgreSQL the table is ``PARTITION BY HASH (user_id)``
with ``INLET_PG_PARTITIONS`` partitions and the primary key ``(user_id, pk)`` (migration 0012), so
every statement that names the user touches one partition; SQLite keeps one table keyed by ``pk``."""

device_data_staged = Table(
    "device_data_staged",
    metadata,
    Column("pk", PrimaryKey, primary_key=True, autoincrement=True),
    *(Column(c.name, c.type, nullable=c.nullable) for c in device_data.c if c.name not in ("pk", "doc")),
    Column("doc", Text, nullable=False),
    Index("ix_device_data_staged_user_set_pk", "user_id", "data_set_id", "pk"),
)
"""On PostgreSQL, an open normal data set's rows, kept apart from ``device_data`` until the set
closes (migration 0021; SQLite, which updates rows in place, does not use it). Closing moves them
in one ``INSERT ... SELECT`` that writes them active, instead of rewriting every row of the set (an
UPDATE there is a new tuple and an entry in each of device_data's seven indexes). Only for
deduplicators whose ``add`` never looks at the set's own rows (``Deduplicator.stages_open_sets``).
Same columns as ``device_data``, but the document is the JSON text it arrived as (PostgreSQL parses
it into JSONB once, at the move) and the only index is the one the move reads by, in the order rows
were stored: each index more was a measurable part of an upload's time. On PostgreSQL the primary
key is ``(user_id, pk)``, as device_data's."""

DEVICE_DATA_INSERT_COLUMNS = (
    "id",
    "user_id",
    "data_set_id",
    "type",
    "sub_type",
    "time",
    "device_id",
    "origin_id",
    "origin_time",
    "dedup_hash",
    "active",
    "version",
    "created_time",
    "modified_time",
    "archived_time",
    "archived_data_set_id",
    "deleted_time",
    "doc",
)
"""Column order of the bulk-insert row tuples (everything but the surrogate key)."""

# ---- accounts (migration 0002) -------------------------------------------------------------------

users = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("username", String(256), nullable=True, unique=True),
    Column("password_hash", Text),
    Column("emails", Json, nullable=False),
    Column("roles", Json, nullable=False),
    Column("terms_accepted", Text),
    Column("email_verified", Boolean, nullable=False),
    Column("custodial", Boolean, nullable=False),
    Column("profile", Json),
    Column("created_time", Micros, nullable=False),
    Column("modified_time", Micros),
    Column("deleted_time", Micros),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(32), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("created_time", Micros, nullable=False),
    Column("expires_time", Micros, nullable=False),
    Index("ix_sessions_user", "user_id"),
)

restricted_tokens = Table(
    "restricted_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(32), nullable=False),
    Column("paths", Json, nullable=False),  # path prefixes (Tidepool's ``paths``)
    # the HTTP methods it allows (migration 0009; rows from before it: GET only)
    Column("methods", Json, nullable=False, server_default=text("'[\"GET\"]'")),
    Column("created_time", Micros, nullable=False),
    Column("expires_time", Micros, nullable=False),
    Index("ix_restricted_tokens_user", "user_id"),
)

permissions = Table(
    "permissions",
    metadata,
    Column("granter_id", String(32), primary_key=True),
    Column("grantee_id", String(32), primary_key=True),
    Column("perms", Json, nullable=False),
    Column("created_time", Micros, nullable=False),
    Column("modified_time", Micros),
    Index("ix_permissions_grantee", "grantee_id"),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("pk", PrimaryKey, primary_key=True, autoincrement=True),
    Column("username", String(256), nullable=False),
    Column("address", String(64), nullable=False),
    Column("time", Micros, nullable=False),
    Index("ix_login_failures_user_address_time", "username", "address", "time"),
    Index("ix_login_failures_address_time", "address", "time"),  # the per-address rule (0009)
)

# ---- clinics and confirmations (migration 0003) ---------------------------------------------------
# A clinic's patients share their accounts with the clinic (``clinic_patients.permissions``); every
# clinician of the clinic then holds those permissions (``inlet.accounts.clinics.clinic_grants``).

clinics = Table(
    "clinics",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("name", Text, nullable=False),
    Column("share_code", String(14), nullable=False, unique=True),
    Column("doc", Json, nullable=False),  # the clinic's other fields, as clients name them
    Column("created_time", Micros, nullable=False),
    Column("updated_time", Micros, nullable=False),
)

clinicians = Table(
    "clinicians",
    metadata,
    Column("clinic_id", String(24), ForeignKey("clinics.id"), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id"), primary_key=True),
    Column("email", Text),
    Column("name", Text),
    Column("roles", Json, nullable=False),
    Column("created_time", Micros, nullable=False),
    Column("updated_time", Micros, nullable=False),
    Index("ix_clinicians_user", "user_id"),
)

clinic_patients = Table(
    "clinic_patients",
    metadata,
    Column("clinic_id", String(24), ForeignKey("clinics.id"), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id"), primary_key=True),
    Column("doc", Json, nullable=False),  # fullName, birthDate, email, mrn, targetDevices
    Column("permissions", Json, nullable=False),  # what the patient grants the clinic
    Column("created_time", Micros, nullable=False),
    Column("updated_time", Micros, nullable=False),
    Index("ix_clinic_patients_user", "user_id"),
)

confirmations = Table(
    "confirmations",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("type", String(32), nullable=False),  # signup_confirmation
    Column("status", String(16), nullable=False),  # pending, completed, canceled
    Column("user_id", String(32), nullable=False),
    Column("email", Text, nullable=False),
    Column("creator_id", String(32)),
    Column("clinic_id", String(24)),
    Column("created_time", Micros, nullable=False),
    Column("modified_time", Micros),
    Column("sent_time", Micros),  # when the email went out; NULL: not delivered yet
    Index("ix_confirmations_user_type", "user_id", "type"),
)

# ---- invitations, password resets, settings (migration 0016_confirm_requests) -----------------------
# Keys are stored only as SHA-256 digests (``key_hash``); see ``inlet.accounts.invitations``.

confirm_requests = Table(
    "confirm_requests",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("type", String(32), nullable=False),  # careteam_invitation, clinician_invitation, ...
    Column("status", String(16), nullable=False),  # pending, completed, canceled, declined
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("email", Text, nullable=False),  # lower-cased
    Column("creator_id", String(32)),
    Column("invitee_id", String(32)),
    Column("clinic_id", String(24)),
    Column("context", Json),
    Column("requester_address", String(64)),
    Column("created_time", Micros, nullable=False),
    Column("modified_time", Micros),
    Column("expires_time", Micros, nullable=False),
    Index("ix_confirm_requests_email_type", "email", "type"),
    Index("ix_confirm_requests_creator_id_type", "creator_id", "type"),
    Index("ix_confirm_requests_clinic_id", "clinic_id"),
    Index("ix_confirm_requests_requester_address_created_time", "requester_address", "created_time"),
)

user_settings = Table(
    "user_settings",
    metadata,
    Column("user_id", String(32), primary_key=True),
    Column("doc", Json, nullable=False),  # /metadata/:userId/settings
    Column("modified_time", Micros, nullable=False),
)

# ---- partners (migration 0005) --------------------------------------------------------------------
# One provider session, data source and sync task per (user, partner). Provider sessions hold the
# partner's tokens only as Fernet ciphertext (``inlet.partners.vault``); OAuth states are stored as
# digests, with their PKCE verifier encrypted.

provider_sessions = Table(
    "provider_sessions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), nullable=False),
    Column("provider_type", String(16), nullable=False),  # oauth
    Column("provider_name", String(64), nullable=False),
    Column("external_id", Text),
    Column("token", Text, nullable=False),  # Fernet ciphertext of the token response (JSON)
    Column("scope", Text),
    Column("expires_time", Micros),  # when the access token expires, if the partner said
    Column("created_time", Micros, nullable=False),
    Column("modified_time", Micros),
    Column("refresh_owner", String(64)),  # a worker refreshing the token now (migration 0008)
    Column("refresh_until", Micros),  # ... until then at most
    UniqueConstraint("user_id", "provider_name"),
)

data_sources = Table(
    "data_sources",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), nullable=False),
    Column("provider_type", String(16), nullable=False),
    Column("provider_name", String(64), nullable=False),
    Column("provider_session_id", String(32)),
    Column("provider_external_id", Text),
    Column("state", String(16), nullable=False),  # connected, disconnected, error
    Column("error", Json),  # {code, title, detail, ...} of the last failure
    Column("data_set_id", String(64)),
    Column("earliest_data_time", Micros),
    Column("latest_data_time", Micros),
    Column("last_import_time", Micros),
    Column("created_time", Micros, nullable=False),
    Column("modified_time", Micros),
    Column("revision", Integer, nullable=False),
    Column("sync_state", Json),  # watermarks per stream, device hashes, counters (migration 0008)
    UniqueConstraint("user_id", "provider_name"),
)

sync_tasks = Table(
    "sync_tasks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("data_source_id", String(32), ForeignKey("data_sources.id"), nullable=False, unique=True),
    Column("user_id", String(32), nullable=False),
    Column("provider_name", String(64), nullable=False),
    Column("next_run_time", Micros, nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_expires_time", Micros),
    Column("lease_generation", Integer, nullable=False),  # fences completion by a stale lease holder
    Column("failure_count", Integer, nullable=False),
    Column("last_run_time", Micros),
    Column("last_success_time", Micros),
    Column("last_error", Json),
    Column("created_time", Micros, nullable=False),
    Column("modified_time", Micros),
    Column("effective_interval", Json),  # {minMinutes, maxMinutes} last scheduled with (migration 0008)
    UniqueConstraint("user_id", "provider_name"),
    Index("ix_sync_tasks_due", "next_run_time", "id"),  # the claim's order (0024_sync_tasks_due)
)

oauth_states = Table(
    "oauth_states",
    metadata,
    Column("id", String(64), primary_key=True),  # SHA-256 of the state's nonce
    Column("user_id", String(32), nullable=False),
    Column("provider_name", String(64), nullable=False),
    Column("code_verifier", Text),  # PKCE verifier, Fernet ciphertext
    Column("restricted_token_hash", String(64)),  # the token that started the flow, deleted on success
    Column("created_time", Micros, nullable=False),
    Column("expires_time", Micros, nullable=False),
    Column("used_time", Micros),
    Index("ix_oauth_states_expires_time", "expires_time"),
)

# ---- outbox (migration 0006) ----------------------------------------------------------------------
# Every email Inlet sends or queues (``inlet.notify``). ``sent_time`` NULL: queued (no SMTP configured,
# or delivery failed; ``attempts`` and ``last_error`` say so), retried by ``Notifier.deliver_pending``.

outbox = Table(
    "outbox",
    metadata,
    Column("id", PrimaryKey, primary_key=True, autoincrement=True),
    Column("to", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("link", Text),
    Column("created_time", Micros, nullable=False),
    Column("sent_time", Micros),  # when an SMTP server accepted it; NULL: queued
    Column("attempts", Integer, nullable=False),  # SMTP delivery attempts so far
    Column("last_error", Text),  # the last attempt's failure (never a credential)
    # body and link are Fernet ciphertext under the token keys (migration 0009; inlet.notify)
    Column("sealed", Boolean, nullable=False, server_default=false()),
    Index("ix_outbox_sent_time_id", "sent_time", "id"),
)

# ---- connection requests (migration 0007) -----------------------------------------------------------
# A clinician asked a patient, by email, to connect a partner account (``inlet.partners.requests``):
# one row per clinic, patient and partner; a resend updates it, the 7-day reminder marks it.

connection_requests = Table(
    "connection_requests",
    metadata,
    Column("id", PrimaryKey, primary_key=True, autoincrement=True),
    Column("clinic_id", String(24), nullable=False),
    Column("user_id", String(32), nullable=False),  # the patient
    Column("provider_name", String(64), nullable=False),
    Column("created_time", Micros, nullable=False),  # the first request
    Column("last_sent_time", Micros, nullable=False),  # the latest email with a link (request or resend)
    Column("expires_time", Micros, nullable=False),  # when that link's restricted token expires
    Column("reminder_sent_time", Micros),  # the 7-day reminder went out; a resend clears it
    Column("created_user_id", String(32)),  # the clinician who asked last (NULL: a service)
    UniqueConstraint("clinic_id", "user_id", "provider_name"),
    Index("ix_connection_requests_reminder", "reminder_sent_time", "last_sent_time"),
)

# ---- sync engine (migration 0008) -------------------------------------------------------------------
# The partner's request budget for the current hour, shared by every worker, and its circuit breaker.

partner_budgets = Table(
    "partner_budgets",
    metadata,
    Column("provider_name", String(64), primary_key=True),
    Column("window_start", Micros, nullable=False),  # the start of the hour the count is for
    Column("used", Integer, nullable=False),  # requests granted in that hour
    Column("blocked_until", Micros),  # a 429 answered: no requests to the partner before this
    Column("block_reason", Text),
    Column("modified_time", Micros),
)

# Partner responses a sync took data from, as received (``body``), with the records it skipped.
partner_payloads = Table(
    "partner_payloads",
    metadata,
    Column("id", PrimaryKey, primary_key=True, autoincrement=True),
    Column("data_source_id", String(32), nullable=False),
    Column("user_id", String(32), nullable=False),
    Column("provider_name", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("fetched_time", Micros, nullable=False),
    Column("record_count", Integer, nullable=False),
    Column("skipped", Json),  # [{recordId, reason}] of the records left out
    Column("body", Json, nullable=False),
    Index("ix_partner_payloads_fetched_time", "fetched_time"),
    Index("ix_partner_payloads_data_source_id", "data_source_id"),
)

# ---- summaries (migration 0015_summaries) ---------------------------------------------------------
# A person's cgm, bgm and con summaries (``inlet.summaries``): the platform document, when it went
# outdated and from which data time on; the hourly buckets it is computed from (60 days back from the
# newest data); and one row per (person, kind, period) with every clinic field and its delta as a
# column, so the clinic patient list filters and sorts in the database.

summaries = Table(
    "summaries",
    metadata,
    Column("user_id", String(32), primary_key=True),
    Column("type", String(8), primary_key=True),  # cgm, bgm, con
    Column("outdated_since", Micros),  # NULL: current
    Column("outdated_reasons", Json),
    Column("outdated_from", Micros),  # the earliest data time changed since the last computation
    Column("last_updated", Micros),
    Column("last_updated_reasons", Json),
    Column("last_upload", Micros),
    Column("first_data", Micros),
    Column("last_data", Micros),  # NULL: no data (the API answers 404)
    Column("bucket_start", Micros),  # the first hour the stored buckets cover
    Column("doc", Json),  # the platform summary's periods
    # cgm/bgm: every period in the clinic's flat names, serialized JSON (0023_clinic_periods)
    Column("clinic_periods", Text),
    Index("ix_summaries_outdated_since", "outdated_since"),
)

summary_buckets = Table(
    "summary_buckets",
    metadata,
    Column("user_id", String(32), primary_key=True),
    Column("type", String(8), primary_key=True),  # cgm, bgm
    Column("hour", Micros, primary_key=True),
    Column("doc", Json, nullable=False),
)

SUMMARY_FIELDS = (
    *(
        f"timeIn{r}{s}"
        for r in ("VeryLow", "Low", "AnyLow", "Target", "High", "VeryHigh", "ExtremeHigh", "AnyHigh")
        for s in ("Percent", "Minutes", "Records")
    ),
    "timeCGMUsePercent",
    "timeCGMUseMinutes",
    "timeCGMUseRecords",
    "totalRecords",
    "averageGlucoseMmol",
    "glucoseManagementIndicator",
    "averageDailyRecords",
    "standardDeviation",
    "coefficientOfVariation",
    "hoursWithData",
    "daysWithData",
    "min",
    "max",
)
"""The clinic's flat summary fields; each is a column of ``summary_periods``, and so is its delta."""

summary_periods = Table(
    "summary_periods",
    metadata,
    Column("user_id", String(32), primary_key=True),
    Column("type", String(8), primary_key=True),  # cgm, bgm
    Column("period", String(4), primary_key=True),  # 1d, 7d, 14d, 30d
    Column("last_data", Micros, nullable=False),
    *(Column(name, Float) for field in SUMMARY_FIELDS for name in (field, f"{field}Delta")),
    Index("ix_summary_periods_type_period_user", "type", "period", "user_id"),
)

clinic_patient_tags = Table(
    "clinic_patient_tags",
    metadata,
    Column("clinic_id", String(24), primary_key=True),
    Column("user_id", String(32), primary_key=True),
    Column("tag_id", String(24), primary_key=True),
    Index("ix_clinic_patient_tags_clinic_tag", "clinic_id", "tag_id"),
)

clinic_tags = Table(
    "clinic_tags",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("clinic_id", String(24), nullable=False),
    Column("name", Text, nullable=False),
    Column("created_time", Micros, nullable=False),
    UniqueConstraint("clinic_id", "name"),
)

clinic_reviews = Table(
    "clinic_reviews",
    metadata,
    Column("id", PrimaryKey, primary_key=True, autoincrement=True),
    Column("clinic_id", String(24), nullable=False),
    Column("user_id", String(32), nullable=False),  # the patient
    Column("clinician_id", String(32), nullable=False),
    Column("time", Micros, nullable=False),
    Index("ix_clinic_reviews_clinic_user_time", "clinic_id", "user_id", "time"),
)


# ---- FHIR push (migration 0017_fhir_push) -----------------------------------------------------------

fhir_endpoint_tokens = Table(
    "fhir_endpoint_tokens",
    metadata,
    Column("endpoint", String(64), primary_key=True),  # a name in INLET_FHIR_ENDPOINTS
    Column("token_ciphertext", Text, nullable=False),  # the bearer token, Fernet (partners.vault)
    Column("modified_time", Micros, nullable=False),
)

fhir_push_tasks = Table(
    "fhir_push_tasks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("endpoint", String(64), nullable=False),
    Column("user_id", String(32), nullable=False),
    Column("next_run_time", Micros, nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_expires_time", Micros),
    Column("lease_generation", Integer, nullable=False),
    Column("failure_count", Integer, nullable=False),
    Column("pushed_until", Micros),  # the end of the last window the endpoint accepted
    Column("last_run_time", Micros),
    Column("last_success_time", Micros),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("created_time", Micros, nullable=False),
    UniqueConstraint("endpoint", "user_id"),
    Index("ix_fhir_push_tasks_next_run_time", "next_run_time"),
)


# ---- Nightscout sites (migration 0018_nightscout) ----------------------------------------------------
# One site per person. The API secret and access tokens are stored only as keyed digests (HMAC under a
# key derived from the token keys) of what clients send: the SHA-1 and the SHA-512 hex of the secret, a
# token and its SHA-1. A client's SHA-1 is as good as the secret, so it is never stored as is.

nightscout_sites = Table(
    "nightscout_sites",
    metadata,
    Column("site_id", String(32), primary_key=True),
    Column("user_id", String(64), nullable=False, unique=True),
    Column("enabled", Boolean, nullable=False),
    Column("secret_digests", Json, nullable=False),  # [HMAC(sha1 hex), HMAC(sha512 hex)]
    Column("created_time", Micros, nullable=False),
    Column("modified_time", Micros, nullable=False),
)

nightscout_tokens = Table(
    "nightscout_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("site_id", String(32), nullable=False),
    Column("name", String(64), nullable=False),
    Column("roles", Json, nullable=False),
    Column("digest", String(64), nullable=False, unique=True),  # HMAC of the token
    Column("sha1_digest", String(64), nullable=False, unique=True),  # HMAC of its SHA-1 hex
    Column("created_time", Micros, nullable=False),
    Index("ix_nightscout_tokens_site_id", "site_id"),
)

# Records no data model type fits (devicestatus, notes, announcements, unknown eventTypes, profiles
# as sent), kept as the client sent them and served back unchanged.
nightscout_documents = Table(
    "nightscout_documents",
    metadata,
    Column("pk", PrimaryKey, primary_key=True, autoincrement=True),
    Column("site_id", String(32), nullable=False),
    Column("collection", String(32), nullable=False),
    Column("ns_id", String(100), nullable=False),
    Column("time", Micros, nullable=False),  # the record's instant (date / created_at / startDate)
    Column("doc", Json, nullable=False),
    Column("valid", Boolean, nullable=False),
    Column("created_time", Micros, nullable=False),
    Column("modified_time", Micros, nullable=False),
    UniqueConstraint("site_id", "collection", "ns_id"),
    Index("ix_nightscout_documents_site_collection_time", "site_id", "collection", "time"),
    Index("ix_nightscout_documents_site_modified", "site_id", "modified_time"),
)

# Failed credentials per site and client address (the throttle: 5 in 15 minutes).
nightscout_failures = Table(
    "nightscout_failures",
    metadata,
    Column("pk", PrimaryKey, primary_key=True, autoincrement=True),
    Column("site_id", String(32), nullable=False),
    Column("address", String(64), nullable=False),
    Column("time", Micros, nullable=False),
    Index("ix_nightscout_failures_site_address_time", "site_id", "address", "time"),
)
