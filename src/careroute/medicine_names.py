"""How a medicine's name is written in Spanish, read back to its English name.

Both classification (a number after a medicine's name is a dose) and duplicate detection (two items
naming one medicine) meet "metformina", "levotiroxina", "amlodipino": the English name with a final
-a or -o, sometimes in place of a final -e. Each looks the candidates up in its own list of names.
"""

from __future__ import annotations


def english_forms(word: str) -> tuple[str, ...]:
    """English spellings a Spanish medicine name may stand for ("glipizida" -> "glipizid", "glipizide");
    nothing for a word that is not shaped like one."""
    if len(word) < 7 or word[-1] not in "ao":
        return ()
    stem = word[:-1]
    return (stem, stem + "e")
