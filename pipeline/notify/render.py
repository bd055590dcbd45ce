"""The email's content: summary and report frames -> display facts -> plain text and HTML bodies.

Kept apart from notify.py, which assembles the message, picks the attachment and speaks SMTP.
The HTML is written for mail clients, not browsers: table layout, inline styles only, no external
resources or scripts, system fonts, one column that fits a phone. Every value goes through
html.escape because names and file names are customer data.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.input.frame import TAKEN_BEFORE
from pipeline.model import STATUS_ORDER
from pipeline.summary import NEEDS_ATTENTION_SHEET, RunSummary

TOP_REASONS = 5  # reason codes listed, each with one example row
STALE_LISTED = 20  # stale rows listed; the rest are counted

_COLORS = {  # modest accents; the text itself carries the meaning
    "associated": "#1a7f37",
    "already_set": "#1a7f37",
    "pending_approval": "#9a6700",
    "planned": "#0969da",
    "rejected": "#cf222e",
    "failed": "#cf222e",
    "duplicate": "#59636e",
}
_FONT = "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;"
_TEXT, _MUTED, _LINE, _SOFT = "#1f2328", "#59636e", "#d8dee4", "#f6f8fa"
_CELL = f"padding:6px 8px;border-bottom:1px solid {_LINE};vertical-align:top;"


@dataclass(frozen=True)
class ReasonLine:
    """A reason code, how many rows carry it, and the first such row (display text) if known."""

    code: str
    count: int
    example: dict[str, str] | None = None


@dataclass(frozen=True)
class Facts:
    """Everything both bodies show, already turned into text by notify.build_message."""

    run_id: str
    dry_run: bool = False
    counts: list[tuple[str, int]] = field(default_factory=list)  # (status, rows), non-zero only
    reasons: list[ReasonLine] = field(default_factory=list)
    stale: list[dict[str, str]] = field(default_factory=list)  # the longest-waiting rows
    stale_total: int = 0
    stale_after: Any = None  # days, when the summary says
    facts: list[tuple[str, str]] = field(default_factory=list)  # (label, value) about the run
    attachment_note: str = ""
    run_dir: str = ""
    suggested_fixes: int = 0  # rows in the run folder's suggested_fixes.csv
    suggestions_applied: int = 0  # rows run with their suggestion (--accept-suggestions)
    needs_attention: int = 0  # rows on the workbook's Needs attention sheet

    @property
    def attention_note(self) -> str:
        """Where the rows a person must act on are: the workbook's Needs attention sheet."""
        if not self.needs_attention:
            return f'Nothing needs attention (report.xlsx, sheet "{NEEDS_ATTENTION_SHEET}").'
        return (
            f"{_rows(self.needs_attention)} {'needs' if self.needs_attention == 1 else 'need'} "
            f'attention: report.xlsx, sheet "{NEEDS_ATTENTION_SHEET}", lists them grouped by '
            "reason, with the fix for each reason on the Summary sheet."
        )

    def count(self, status: str) -> int:
        return dict(self.counts).get(status, 0)

    @property
    def total(self) -> int:
        return sum(n for _, n in self.counts)

    @property
    def notes(self) -> list[str]:
        """The sentences a reader needs first: what still needs a run, or nobody's attention."""
        out = []
        if self.dry_run:
            out.append(
                "Dry run: nothing was sent to Flowroute; planned rows show what a run would do."
            )
        if failed := self.count("failed"):
            out.append(
                f"{failed:,} rows failed (API errors after retries); the next run retries them."
            )
        if pending := self.count("pending_approval"):
            out.append(f"{pending:,} rows wait for Flowroute's review; a later run finishes them.")
        if rejected := self.count("rejected"):
            out.append(f"{rejected:,} rows were rejected; the reasons below say what to change.")
        if fixes := self.suggested_fixes:
            path = f"{self.run_dir}/suggested_fixes.csv" if self.run_dir else "suggested_fixes.csv"
            out.append(
                f"{_rows(fixes)} with a name too long or with characters caller ID cannot show "
                f"{'has' if fixes == 1 else 'have'} a suggested name in {path}: review it, "
                f"then run: cnam-batch run {path}"
            )
        if applied := self.suggestions_applied:
            out.append(
                f"{_rows(applied)} ran with the suggested name (--accept-suggestions; "
                "warning suggestion_applied, the name typed is in input_name)."
            )
        return out

    @property
    def stale_heading(self) -> str:
        limit = (
            f"{_days(self.stale_after)} days"
            if self.stale_after is not None
            else "the --stale-after limit"
        )
        return f"Pending approval longer than {limit}: {_rows(self.stale_total)}"

    @property
    def stale_more(self) -> str:
        more = self.stale_total - len(self.stale)
        if more <= 0:
            return ""
        return (
            f"... and {more:,} more in the report (status pending_approval, warning pending_stale)."
        )


def _where(row: dict[str, str]) -> str:
    return f"{row.get('source_file', '')} row {row.get('source_row', '')}".strip()


# ------------------------------------------------------------------------------------------ facts


def facts_from(
    summary: RunSummary,
    rows: pd.DataFrame | None,
    stale: pd.DataFrame | None,
    *,
    run_id: str,
    run_dir: Path,
    attachment_note: str = "",
) -> Facts:
    """Turn the summary and the report frames into display text, keeping only what the mail shows."""
    return Facts(
        run_id=run_id,
        dry_run=summary.dry_run,
        counts=_status_counts(summary.by_status),
        reasons=_top_reasons(summary.by_reason, rows),
        stale=_stale_rows(stale),
        stale_total=0 if stale is None else len(stale),
        stale_after=summary.stale_after,
        facts=_run_facts(summary),
        attachment_note=attachment_note,
        run_dir=str(run_dir),
        suggested_fixes=summary.suggested_fixes,
        suggestions_applied=summary.suggestions_applied,
        needs_attention=summary.needs_attention,
    )


def _status_counts(by_status: Mapping[str, int]) -> list[tuple[str, int]]:
    """Non-zero statuses in STATUS_ORDER, then any unknown key (so nothing is silently dropped)."""
    known = [s.value for s in STATUS_ORDER]
    order = known + sorted(k for k in by_status if k not in known)
    return [(k, int(by_status[k])) for k in order if int(by_status.get(k, 0) or 0)]


def _top_reasons(by_reason: Mapping[str, int], rows: pd.DataFrame | None) -> list[ReasonLine]:
    """The TOP_REASONS most frequent reason codes, each with the first row that carries it."""
    top = sorted(
        ((k, int(v)) for k, v in by_reason.items() if int(v or 0)), key=lambda kv: (-kv[1], kv[0])
    )
    top = top[:TOP_REASONS]
    examples: dict[str, dict[str, str]] = {}
    if top and rows is not None and len(rows) and "reason_code" in rows.columns:
        codes = rows["reason_code"].astype(str)
        first = codes[codes.isin([k for k, _ in top])].drop_duplicates().index
        for record in rows.loc[first].to_dict("records"):
            examples[str(record["reason_code"])] = {str(k): _text(v) for k, v in record.items()}
    return [ReasonLine(code, count, examples.get(code)) for code, count in top]


def _stale_rows(stale: pd.DataFrame | None) -> list[dict[str, str]]:
    """The STALE_LISTED longest-waiting rows, as display text."""
    if stale is None or not len(stale):
        return []
    frame = stale
    if "days_pending" in frame.columns:
        days = pd.to_numeric(frame["days_pending"], errors="coerce")
        frame = frame.assign(_days=days).sort_values("_days", ascending=False, kind="stable")
    out: list[dict[str, str]] = []
    for record in frame.head(STALE_LISTED).to_dict("records"):
        item = {str(k): _text(v) for k, v in record.items() if k != "_days"}
        item["pending_since"] = _since(record.get("pending_since"))
        item["days_pending"] = _days(record.get("days_pending"))
        out.append(item)
    return out


def _since(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def _rows(n: int) -> str:
    return f"{n:,} row" if n == 1 else f"{n:,} rows"


def _days(value: Any) -> str:
    try:
        days = float(value)
    except (TypeError, ValueError):
        return _text(value)
    return f"{days:.0f}" if days == int(days) else f"{days:.1f}"


def _text(value: Any) -> str:
    """A cell as one line of text ("" for missing); control characters would break the layout."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return " ".join(str(value).split()) if isinstance(value, str) else str(value)


def _run_facts(summary: RunSummary) -> list[tuple[str, str]]:
    facts: list[tuple[str, str]] = [("Rows read", f"{summary.rows_total:,}")]
    why = summary.inputs_skipped_reasons
    taken = [f for f in summary.inputs_skipped if why.get(f) == TAKEN_BEFORE]
    other = [
        f"{f} ({why[f]})"
        for f in summary.inputs_skipped
        if why.get(f, TAKEN_BEFORE) != TAKEN_BEFORE
    ]
    for names, label in (
        (summary.inputs, "Inputs"),
        (taken, "Skipped (already processed)"),
        (other, "Skipped (not read)"),
        ([f"{i.file} ({i.reason})" for i in summary.inputs_not_moved], "Not moved"),
    ):
        if names:
            facts.append((label, _name_list(names)))
    facts.append(("Carried over from earlier runs", _rows(summary.carried_over)))
    api = summary.api
    parts = [
        f"{api.requests:,} requests",
        f"{api.creates:,} creates",
        f"{api.associations:,} associations",
        f"{api.retries:,} retries",
        f"{api.rate_limited:,} rate-limited",
    ]
    facts.append(("API", ", ".join(parts)))
    return facts


def _name_list(names: Iterable[str], limit: int = 10) -> str:
    shown = [_text(name) for name in names]
    more = f" and {len(shown) - limit:,} more" if len(shown) > limit else ""
    return ", ".join(shown[:limit]) + more


# ------------------------------------------------------------------------------------------ plain


def _heading(title: str) -> list[str]:
    return [title, "-" * len(title)]


def plain(f: Facts) -> str:
    lines = [f"cnam-batch run {f.run_id}", "", f.attention_note, ""]
    if f.notes:
        lines += [*f.notes, ""]
    width = max([len(s) for s, _ in f.counts] + [len("total")]) + 2
    lines += _heading("Rows by status")
    lines += [f"  {status:<{width}}{n:>10,}" for status, n in f.counts]
    lines += [f"  {'total':<{width}}{f.total:>10,}", ""]
    if f.reasons:
        lines += _heading("Most frequent reasons")
        for r in f.reasons:
            lines.append(f"  {r.code}: {_rows(r.count)}")
            if r.example:
                ex = r.example
                lines.append(f'    e.g. {_where(ex)}: "{ex.get("input_name", "")}"')
                lines.append(f"    {ex.get('reason', '')}")
                if ex.get("suggestion"):
                    lines.append(f"    Suggestion: {ex['suggestion']}")
        lines.append("")
    if f.stale:
        lines += _heading(f.stale_heading)
        for row in f.stale:
            lines.append(
                f"  {_where(row)} | {row.get('number', '')} | {row.get('name', '')} | "
                f"since {row['pending_since']} | {row['days_pending']} days"
            )
        if f.stale_more:
            lines.append(f"  {f.stale_more}")
        lines.append("")
    if f.facts:
        lines += _heading("Run")
        lines += [f"  {label}: {value}" for label, value in f.facts]
        lines.append("")
    lines += [*_heading("Report"), f"  {f.attachment_note}", f"  On disk: {f.run_dir}", ""]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- html


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _section(title: str, body: str) -> str:
    return (
        f'<tr><td style="padding:18px 20px 0;">'
        f'<h2 style="margin:0 0 8px;font-size:15px;font-weight:600;color:{_TEXT};">{_e(title)}</h2>'
        f"{body}</td></tr>\n"
    )


def _table(rows: Iterable[str], header: str = "") -> str:
    return (
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        f'style="border-collapse:collapse;font-size:14px;">\n{header}{"".join(rows)}</table>'
    )


def _counts_html(f: Facts) -> str:
    rows = []
    for status, n in f.counts:
        color = _COLORS.get(status, _MUTED)
        rows.append(
            f'<tr><td style="{_CELL}"><span style="color:{color};">&#9679;</span>&nbsp; '
            f"{_e(status)}</td>"
            f'<td align="right" style="{_CELL}text-align:right;">{n:,}</td></tr>\n'
        )
    rows.append(
        f'<tr><td style="padding:6px 8px;font-weight:600;">total</td>'
        f'<td align="right" style="padding:6px 8px;text-align:right;font-weight:600;">{f.total:,}'
        "</td></tr>\n"
    )
    return _table(rows)


def _reasons_html(f: Facts) -> str:
    blocks = []
    for r in f.reasons:
        example = ""
        if r.example:
            ex = r.example
            suggestion = (
                f'<div style="margin-top:4px;">Suggestion: <strong style="color:#1a7f37;">'
                f"{_e(ex['suggestion'])}</strong></div>"
                if ex.get("suggestion")
                else ""
            )
            example = (
                f'<div style="margin-top:6px;padding:8px 10px;background:{_SOFT};'
                f'border-left:3px solid {_LINE};font-size:13px;">'
                f'<div style="color:{_MUTED};">e.g. {_e(_where(ex))}</div>'
                f'<div style="margin-top:2px;font-weight:600;">{_e(ex.get("input_name", ""))}</div>'
                f'<div style="margin-top:2px;">{_e(ex.get("reason", ""))}</div>{suggestion}</div>'
            )
        blocks.append(
            f'<tr><td style="{_CELL}padding-bottom:10px;">'
            f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0">'
            f'<tr><td style="font-weight:600;">{_e(r.code)}</td>'
            f'<td align="right" style="text-align:right;white-space:nowrap;">{_rows(r.count)}</td>'
            "</tr>"
            f"</table>{example}</td></tr>\n"
        )
    return _table(blocks)


def _stale_html(f: Facts) -> str:
    """Two columns (what / how long) so that the table fits a phone without sideways scrolling."""
    head = f"padding:6px 8px;background:{_SOFT};border-bottom:1px solid {_LINE};font-size:12px;"
    header = (
        f'<tr><th align="left" style="{head}text-align:left;color:{_MUTED};font-weight:600;">'
        f'Name, number, row</th><th align="right" style="{head}text-align:right;color:{_MUTED};'
        'font-weight:600;">Waiting</th></tr>\n'
    )
    small = f"font-size:12px;color:{_MUTED};"
    rows = [
        f'<tr><td style="{_CELL}"><strong>{_e(row.get("name", ""))}</strong>'
        f'<div style="{small}">{_e(row.get("number", ""))} &middot; {_e(_where(row))}</div></td>'
        f'<td align="right" style="{_CELL}text-align:right;">'
        f"<strong>{_e(row['days_pending'])}&nbsp;days</strong>"
        f'<div style="{small}">since {_e(row["pending_since"])}</div></td></tr>\n'
        for row in f.stale
    ]
    more = f'<p style="margin:8px 0 0;{small}">{_e(f.stale_more)}</p>' if f.stale_more else ""
    return _table(rows, header) + more


def _facts_html(f: Facts) -> str:
    rows = [
        f'<tr><td style="{_CELL}color:{_MUTED};width:38%;">{_e(label)}</td>'
        f'<td style="{_CELL}word-break:break-word;">{_e(value)}</td></tr>\n'
        for label, value in f.facts
    ]
    return _table(rows)


def _attention_html(f: Facts) -> str:
    """The pointer to the Needs attention sheet, as a callout (red edge when rows wait on a person)."""
    edge = _COLORS["rejected"] if f.needs_attention else _COLORS["associated"]
    return (
        f'<p style="margin:0 0 10px;padding:8px 10px;background:{_SOFT};'
        f'border-left:3px solid {edge};">{_e(f.attention_note)}</p>'
    )


def html_body(f: Facts) -> str:
    notes = _attention_html(f) + "".join(f'<p style="margin:0 0 6px;">{_e(n)}</p>' for n in f.notes)
    sections = [_section("Rows by status", _counts_html(f))]
    if f.reasons:
        sections.append(_section("Most frequent reasons", _reasons_html(f)))
    if f.stale:
        sections.append(_section(f.stale_heading, _stale_html(f)))
    if f.facts:
        sections.append(_section("Run", _facts_html(f)))
    report = (
        f'<p style="margin:0 0 6px;">{_e(f.attachment_note)}</p>'
        f'<p style="margin:0;">On disk: <span style="font-family:Menlo,Consolas,monospace;'
        f'font-size:13px;color:{_MUTED};word-break:break-all;">{_e(f.run_dir)}</span></p>'
    )
    sections.append(_section("Report", report))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>cnam-batch run {_e(f.run_id)}</title></head>\n"
        f'<body style="margin:0;padding:0;background:#f3f4f6;">\n'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        'style="background:#f3f4f6;">\n<tr><td align="center" style="padding:16px 8px;">\n'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        f'style="max-width:640px;background:#ffffff;border:1px solid {_LINE};border-radius:6px;'
        f'{_FONT}color:{_TEXT};font-size:14px;line-height:1.45;text-align:left;">\n'
        f'<tr><td style="padding:20px 20px 0;">'
        f'<div style="font-size:12px;color:{_MUTED};letter-spacing:0.04em;">CNAM-BATCH REPORT</div>'
        f'<h1 style="margin:4px 0 10px;font-size:20px;font-weight:600;">Run {_e(f.run_id)}</h1>'
        f"{notes}</td></tr>\n"
        + "".join(sections)
        + f'<tr><td style="padding:18px 20px 20px;font-size:12px;color:{_MUTED};">'
        "Sent by cnam-batch when the run ended. The report has one line per input row.</td></tr>\n"
        "</table>\n</td></tr></table>\n</body></html>\n"
    )
