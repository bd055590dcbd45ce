"""What each reason code and status means and what a person does about it, in words.

README.md's reason table ("What is checked") holds the same text, column for column; a test keeps the
two equal, so the workbook's "What to do next" says exactly what the README says. Backticks mark
names (`suggestion`, `--allowlist`) in the README; the workbook shows the text without them.
"""

from __future__ import annotations

import re

from pipeline.model import Reason, Status, Warn

# reason code -> (what it means, what to do)
REASONS: dict[str, tuple[str, str]] = {
    Reason.NAME_EMPTY: ("no name", "fill in the name"),
    Reason.NAME_TOO_LONG: (
        "over 15 characters",
        "use the `suggestion` (legal forms dropped, words abbreviated; see "
        "[Suggestions](#suggestions)) or shorten it yourself",
    ),
    Reason.NAME_BAD_CHARACTERS: (
        "only A-Z, 0-9, space and `- _ . , @ + & ' / \"` are allowed",
        "use the `suggestion` (accents removed) or take the characters out",
    ),
    Reason.NAME_NO_LETTER: ("a name needs a letter", "give a name with at least one letter"),
    Reason.NAME_IS_PHONE_NUMBER: (
        "a name must not be a phone number",
        "give the business's or person's name",
    ),
    Reason.NAME_PROFANITY: (
        "profanity, also spelled with digits (`SH1T`), spaced or dotted",
        "choose another name; a real name caught by mistake goes on your `--allowlist`",
    ),
    Reason.NAME_MISLEADING: (
        "impersonates an authority (`SEATTLE POLICE`, `IRS`, `MEDICARE`)",
        "choose a name that does not suggest a government, police or emergency service",
    ),
    Reason.NAME_POLITICAL: (
        "a political figure or place (`OBAMA, BARACK`, `THE WHITE HOUSE`)",
        "choose another name; a customer who shares the name goes on your `--allowlist`",
    ),
    Reason.NAME_BLOCKLISTED: (
        "matches your `--blocklist`",
        "choose another name, or take the term off your blocklist",
    ),
    Reason.NUMBER_MISSING: ("no number", "fill in the number"),
    Reason.NUMBER_INVALID: (
        "not a US number, an area code or exchange starting with 0/1, an extension, "
        "or digits Excel lost",
        "fix the cell: 10 digits, no extension; format the column as Text so Excel keeps them",
    ),
    Reason.NUMBER_TOLL_FREE: (
        "8XX numbers cannot carry CNAM storage",
        "leave toll-free numbers out; caller ID names are for local numbers",
    ),
    Reason.NUMBER_NOT_ON_ACCOUNT: (
        "your Flowroute account does not own the number",
        "check the number, or add it to the account (buy or port it) and run again",
    ),
    Reason.NUMBER_CONFLICT: (
        "the batch asks for two names for one number; each row names the others",
        "keep one name for the number and delete the other rows",
    ),
    Reason.FLOWROUTE_REJECTED: (
        "Flowroute's review rejected the name; the reason quotes Flowroute",
        "change the name as the reason says and run again",
    ),
    Reason.API_ERROR: (
        "the API failed after retries; the next run retries the row",
        "nothing unless it repeats; then read run.log and check Flowroute's status",
    ),
}

# The Needs attention sheet's other group: rows waiting for review longer than --stale-after.
STALE = Warn.PENDING_STALE.value
STALE_HELP = (
    "waiting for Flowroute's review longer than `--stale-after` days",
    "nothing yet; if it stays, ask Flowroute support about the record (`cnam_id`)",
)

# status -> what it means, for the Summary's counts.
STATUSES: dict[str, str] = {
    Status.ASSOCIATED: "done: the number carries this name",
    Status.ALREADY_SET: "done before: the number carried this name already",
    Status.PENDING_APPROVAL: "waiting for Flowroute's review; a later run finishes it",
    Status.PLANNED: "dry run: what a real run would do",
    Status.REJECTED: "needs a change: see What to do next",
    Status.FAILED: "API error after retries; the next run retries it",
    Status.DUPLICATE: "same number and name as an earlier row; nothing to do",
}


def plain(text: str) -> str:
    """README text as the workbook shows it: no backticks; a link to a README section becomes
    `Title in the README`."""
    return re.sub(r"\[([^\]]+)\]\(#[^)]*\)", r"\1 in the README", text.replace("`", ""))


def reason_help(code: str) -> tuple[str, str]:
    """(what it means, what to do) for a reason code (or pending_stale), without backticks;
    an unknown code gets ("", "")."""
    meaning, fix = STALE_HELP if code == STALE else REASONS.get(code, ("", ""))
    return plain(meaning), plain(fix)
