"""How a medicine's name is written in Spanish, and how it sounds when heard, read back to its English name.

Both classification (a number after a medicine's name is a dose) and duplicate detection (two items
naming one medicine) meet "metformina", "levotiroxina", "amlodipino": the English name with a final
-a or -o, sometimes in place of a final -e. Each looks the candidates up in its own list of names.
Both also meet a name speech-to-text heard as words ("met a pro law", "pro graph"): its consonants,
in order, are the name's.
"""

from __future__ import annotations


def english_forms(word: str) -> tuple[str, ...]:
    """English spellings a Spanish medicine name may stand for ("glipizida" -> "glipizid", "glipizide");
    nothing for a word that is not shaped like one."""
    if len(word) < 7 or word[-1] not in "ao":
        return ()
    stem = word[:-1]
    return (stem, stem + "e")


_SOUNDS = (("ph", "f"), ("ck", "k"), ("c", "k"), ("q", "k"), ("x", "ks"), ("z", "s"))
_SILENT = str.maketrans("", "", "aeiouwhy")


def sound_skeleton(word: str) -> str:
    """A word's consonants as heard, in order, doubles collapsed: "prograph" and "prograf" are "prgrf",
    "metaprolaw" and "metoprolol" are "mtprl"."""
    for written, heard in _SOUNDS:
        word = word.replace(written, heard)
    bare = word.translate(_SILENT)
    return "".join(ch for k, ch in enumerate(bare) if k == 0 or bare[k - 1] != ch)
