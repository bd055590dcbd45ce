"""Statuses, reason codes, warnings and the report's columns: the vocabulary every stage shares."""

from __future__ import annotations

import enum


class Status(enum.StrEnum):
    """What happened to one input row (SPEC "Report")."""

    ASSOCIATED = "associated"
    ALREADY_SET = "already_set"
    PENDING_APPROVAL = "pending_approval"
    REJECTED = "rejected"
    FAILED = "failed"
    DUPLICATE = "duplicate"
    PLANNED = "planned"


class Reason(enum.StrEnum):
    """Why a row has its status (SPEC "Report", column reason_code)."""

    NAME_EMPTY = "name_empty"
    NAME_TOO_LONG = "name_too_long"
    NAME_NO_LETTER = "name_no_letter"
    NAME_IS_PHONE_NUMBER = "name_is_phone_number"
    NAME_BAD_CHARACTERS = "name_bad_characters"
    NAME_PROFANITY = "name_profanity"
    NAME_MISLEADING = "name_misleading"
    NAME_POLITICAL = "name_political"
    NAME_BLOCKLISTED = "name_blocklisted"
    NUMBER_MISSING = "number_missing"
    NUMBER_INVALID = "number_invalid"
    NUMBER_TOLL_FREE = "number_toll_free"
    NUMBER_NOT_ON_ACCOUNT = "number_not_on_account"
    NUMBER_CONFLICT = "number_conflict"
    FLOWROUTE_REJECTED = "flowroute_rejected"
    API_ERROR = "api_error"


class Warn(enum.StrEnum):
    """Non-blocking concerns (column `warnings`, joined with ';')."""

    NAME_ONE_LETTER = "name_one_letter"  # only one letter in the name
    NAME_EMBEDDED_TERM = (
        "name_embedded_term"  # a blocked term inside a longer word: a human should look
    )
    NAME_GENERIC = "name_generic"  # generic word or a city/state-only name
    NAME_SPECIAL_CHARACTERS = "name_special_characters"  # characters other networks may strip
    NUMBER_FROM_EXCEL_NUMBER = "number_from_excel_number"  # restored from a float/scientific form
    PENDING_STALE = "pending_stale"  # waiting for Flowroute's review longer than --stale-after days
    SUGGESTION_APPLIED = "suggestion_applied"  # --accept-suggestions: run with the suggestion


# Rejections a rewrite of the name fixes: their rows get a suggestion, suggested_fixes.csv lists
# them, and --accept-suggestions runs them with it.
FIXABLE_REASONS: frozenset[str] = frozenset(
    {Reason.NAME_TOO_LONG.value, Reason.NAME_BAD_CHARACTERS.value}
)

# The report's columns, in order (SPEC "Report"). Every stage that builds rows uses these names.
REPORT_COLUMNS: tuple[str, ...] = (
    "source_file",
    "source_row",
    "input_number",
    "input_name",
    "number",
    "name",
    "status",
    "reason_code",
    "reason",
    "cnam_id",
    "suggestion",
    "warnings",
)

# Statuses in the order the summary and the email list them.
STATUS_ORDER: tuple[Status, ...] = (
    Status.ASSOCIATED,
    Status.ALREADY_SET,
    Status.PENDING_APPROVAL,
    Status.PLANNED,
    Status.REJECTED,
    Status.FAILED,
    Status.DUPLICATE,
)
