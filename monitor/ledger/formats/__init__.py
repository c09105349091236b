"""Readers for bank statement formats (camt, MT940/942, BAI2, OFX) and the detection of a file's
format; each yields the canonical staged rows."""
