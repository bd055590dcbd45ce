"""The run's files: `write` (report.csv, report.xlsx, summary.json, carried_over.csv), `files`
(atomic writes; a big report's CSV written in a second thread), and the workbook's sheets:
`workbook` (layout and colours), `summary_sheet` (the Summary in words), `attention` (the Needs
attention rows) and `guidance` (what each reason and status means and what to do); a big sheet's
rows are built by `sheetxml` and put into the file by `xlsxzip`.
"""
