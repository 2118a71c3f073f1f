"""Skill names made comparable: one normalised form per skill, so a resume's and a vacancy's skills can be matched.

The rule (`normalise_skill`), in order:

1. Unicode NFKC, lower case, «ё» -> «е»;
2. Cyrillic letters that look like Latin ones (а, с, е, о, р, х, у, к, м, т, н, в) become Latin inside a word
   that also holds Latin letters («Рython» typed with a Cyrillic Р -> "python"); «1С» / «1c» -> "1c";
3. spaces collapsed, a trailing parenthesis dropped ("Kubernetes (k8s)" -> "kubernetes"), and punctuation other
   than + # . / - trimmed from both ends ("Python," -> "python");
4. a trailing ".js" / "js" on a known library is dropped ("React.js", "ReactJS" -> "react");
5. the spelling variants of `ALIASES` map to one name ("postgres", "postgre sql" -> "postgresql").

>>> [normalise_skill(s) for s in ["PostgreSQL", " Postgres ", "Рython,", "ReactJS", "k8s", "1С", "MS SQL"]]
['postgresql', 'postgresql', 'python', 'react', 'kubernetes', '1c', 'ms sql server']
>>> normalise_skill("  ") is None
True
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

ALIASES: dict[str, str] = {
    "postgres": "postgresql", "postgre sql": "postgresql", "postgre": "postgresql", "pgsql": "postgresql", "psql": "postgresql",
    "js": "javascript", "java script": "javascript", "ecmascript": "javascript", "ts": "typescript",
    "k8s": "kubernetes", "kube": "kubernetes",
    "golang": "go", "go lang": "go",
    "c sharp": "c#", "csharp": "c#", ".net": ".net", "dotnet": ".net", "net core": ".net core", "asp.net core": "asp.net core",
    "mssql": "ms sql server", "ms sql": "ms sql server", "sql server": "ms sql server", "microsoft sql server": "ms sql server",
    "node": "node.js", "nodejs": "node.js",
    "py": "python", "python3": "python", "python 3": "python",
    "mongo": "mongodb", "mongo db": "mongodb",
    "elastic": "elasticsearch", "elastic search": "elasticsearch",
    "gitlab ci": "gitlab ci/cd", "gitlab-ci": "gitlab ci/cd",
    "ci cd": "ci/cd", "ci-cd": "ci/cd",
    "ms excel": "excel", "microsoft excel": "excel", "эксель": "excel",
    "1с:предприятие": "1c", "1c:предприятие": "1c", "1с предприятие": "1c", "1c предприятие": "1c",
}
"""Spelling variants -> the one name they normalise to (after steps 1-4)."""

JS_LIBRARIES = ("react", "vue", "angular", "next", "nuxt", "express", "ember", "backbone", "three", "d3")
"""Libraries whose ".js" / "js" suffix is dropped (node.js keeps it: "node" alone is ambiguous)."""

_CYR_TO_LAT = str.maketrans("асеорхукмтнв", "aceopxykmthb")
_LATIN = re.compile(r"[a-z]")
_CYRILLIC = re.compile(r"[а-я]")
_WORD = re.compile(r"\w+")
_EDGE = re.compile(r"^[^\w+#./-]+|[^\w+#./-]+$")
_PAREN = re.compile(r"\s*\([^)]*\)?$")
_JS = re.compile(r"^(" + "|".join(JS_LIBRARIES) + r")(?:\.?js)$")


def _fix_mixed_script(word: str) -> str:
    return word.translate(_CYR_TO_LAT) if _LATIN.search(word) and _CYRILLIC.search(word) else word


def normalise_skill(text: str) -> str | None:
    """The normalised form of a skill name (module docstring), None for a name with no letters or digits."""
    s = unicodedata.normalize("NFKC", str(text)).lower().replace("ё", "е")
    s = _WORD.sub(lambda m: _fix_mixed_script(m.group(0)), s)
    s = re.sub(r"(?<!\w)1с(?!\w)", "1c", s)
    s = " ".join(s.split())
    s = _PAREN.sub("", s) or s
    s = _EDGE.sub("", s)
    if not any(ch.isalnum() for ch in s):
        return None
    s = _JS.sub(r"\1", s)
    return ALIASES.get(s, s)


SKILL_TYPE = re.compile(r"skill|knowledge", re.IGNORECASE)
"""Entity types that name a skill (SKILL, Skill, KNOWLEDGE, ...)."""


def skill_rows(entities: pd.DataFrame) -> pd.DataFrame:
    """The entities that are skills (module docstring), with a normalised name."""
    types = entities["type"].astype(str)
    skill = types.str.contains(SKILL_TYPE)
    rows = entities[skill] if skill.any() else entities
    return rows[rows["norm"].notna()]
