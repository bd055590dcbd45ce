"""The rules, pure functions over text: `normalize` (numbers, names), `validate` (NameRules) with
`wordlists`, `profanity` and `suggest`; `plan` (batch rules: duplicates, conflicts) and `rows`
(the rules applied to a whole row frame).
"""
