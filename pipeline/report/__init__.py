"""The run's files: `write` (report.csv, report.xlsx, summary.json, carried_over.csv) and `files`
(atomic writes; a big workbook written by a forked child).
"""
