# French abbreviations ("juin", "juil.") tell June from July, which "jui"/"jul" hardly do.
DATE_FORMAT = "j N Y"  # 30 juin 2027
DATETIME_FORMAT = "j N Y H:i T"  # 30 juin 2027 14:05 UTC
SHORT_DATE_FORMAT = "j N Y"
SHORT_DATETIME_FORMAT = "j N Y H:i T"
