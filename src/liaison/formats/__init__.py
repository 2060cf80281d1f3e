"""Date formats of the interface (settings.FORMAT_MODULE_PATH), one module per language.

Day, abbreviated month, year — "30 Jun 2027" — reads the same to every member State, where
"06/30/2027" and "30/06/2027" do not. Times are 24-hour, with their zone: "30 Jun 2027 14:05 UTC".
Templates use the named formats: `|date` (DATE_FORMAT) and `|date:"DATETIME_FORMAT"`.
"""
