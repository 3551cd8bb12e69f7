"""Rule packs: the practice's dispatch rules as validated, versioned data."""

from careroute.rules.loader import LoadedPack, PackError, load_pack, load_pack_text

__all__ = ["LoadedPack", "PackError", "load_pack", "load_pack_text"]
