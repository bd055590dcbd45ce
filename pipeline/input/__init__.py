"""Input files and folders -> LoadedFile (every cell as text, the row a person sees): `load` picks
the reader, `delimited` and `workbook` read, `header` finds the columns, `frame` is the row frame.
"""
