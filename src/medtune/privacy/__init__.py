"""PHI (protected health information) for medtune: find the HIPAA Safe Harbor identifiers in clinical text,
de-identify them, and gate training and evaluation on the result.

Modules, one job each: `spans` (the span and type list), `patterns` (regex recognizers with context words),
`dictionaries` (name and US place lookups from Faker and zipcodes), `exclusions` (eponyms, drug names),
`tokens`/`names`/`places` (dictionary and context logic), `scanner` (PhiScanner), `deid` (operators),
`io`/`batch`/`records`/`report` (files, scan records, owner-only reports), `gate` (clearance and waivers),
`evaluate` (span precision/recall/F2), `synth` (labelled synthetic notes), `ner` (optional NER back end),
`cli` (`medtune phi`). Imports are light: no torch anywhere here.
"""

# Before any submodule: choose the compiled or the pure-Python build of the scanner's hot modules.
from medtune.privacy import _native  # noqa: F401
