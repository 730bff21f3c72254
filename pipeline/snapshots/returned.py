"""A returned GPU session's folder, checked before anything in it is used: every name a plain name inside its
folder, every field the import reads present and of its type, every file listed with a matching sha256."""
from __future__ import annotations

import json
import re
from pathlib import Path

NUMBER = (int, float)
# session.json's fields that the import reads: (field, type); pieces' and resume entries' fields below
SESSION_FIELDS = (("profile", str), ("started", str), ("machine", dict), ("files", dict), ("seconds", NUMBER))
PIECE_STATUS = re.compile(r"done|cut|skipped|not started|failed( \(exit -?\d+\))?")  # as session.py writes them


class FoldError(RuntimeError):
    pass


def plain_name(name, what: str, source: Path) -> str:
    """``name`` if it is one plain path component (a piece or file named by a returned session), else refuse:
    such a name is joined into paths whose folders the import replaces, so ``/``, ``..`` or an empty name
    would reach outside results/<profile>/pieces/."""
    if (not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\\" in name or "\0" in name
            or name != name.strip()):
        raise FoldError(f"{source} names a {what} {name!r}: not a plain name inside its folder; not imported")
    return name


def verify(sdir: Path) -> dict:
    from pipeline.io import file_digests
    info_file = sdir / "session.json"
    if not info_file.is_file():
        raise FoldError(f"{info_file} is missing: give the folder the GPU session wrote ($OUT)")
    try:
        info = json.loads(info_file.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FoldError(f"{info_file} is not valid JSON ({e}): not imported") from None
    if not isinstance(info, dict) or not isinstance(info.get("pieces"), list):
        raise FoldError(f"{info_file} lists no pieces: not imported")
    for piece in info["pieces"]:
        plain_name(piece.get("name") if isinstance(piece, dict) else None, "piece", info_file)
    check_fields(info, info_file)
    files = info["files"]
    for name in files:
        plain_name(name, "file", info_file)
    extra = sorted(f.name for f in sdir.iterdir() if f.name not in files and f.name not in ("session.json",
                                                                                             "session.log"))
    if extra:
        raise FoldError(f"{sdir} holds files that session.json does not list ({', '.join(extra)}): not imported")
    parts = [p for e in info.get("resume", []) for p in e["parts"]]
    for name in [n for n in ("runs.json", "outputs.tar.gz") if (sdir / n).exists()] + parts:
        if name not in files:
            raise FoldError(f"{sdir / name} is not listed with a sha256 in session.json: not imported")
    for name in parts:
        if not re.fullmatch(r"resume\.tar\.\d\d", name):
            raise FoldError(f"session.json names a resume part {name!r}; expected resume.tar.NN")
    if any(not re.fullmatch(r"[0-9a-f]{64}", e["sha256"]) for e in info.get("resume", [])):
        raise FoldError("session.json holds a resume digest that is not a sha256")
    for name, sha in files.items():
        f = sdir / name
        if not f.is_file():
            raise FoldError(f"{f} is missing (session.json lists it)")
        if file_digests(f)["sha256"] != sha:
            raise FoldError(f"{f} does not match the sha256 in session.json: not imported")
    return info


def check_fields(info: dict, info_file: Path) -> None:
    """Refuse a session.json that lacks a field the import reads, or holds one of another type."""
    def need(ok: bool, what: str) -> None:
        if not ok:
            raise FoldError(f"{info_file} lacks a valid {what}: not imported")
    for field, kind in SESSION_FIELDS:
        need(isinstance(info.get(field), kind) and not isinstance(info.get(field), bool), field)
    need(all(isinstance(k, str) and isinstance(v, str) for k, v in info["files"].items()), "files (name: sha256)")
    for p in info["pieces"]:
        need(isinstance(p.get("status"), str) and bool(PIECE_STATUS.fullmatch(p["status"])),
             f"status of piece {p['name']} (done, cut, skipped, not started, failed (exit N))")
        need(p["status"] != "done" or isinstance(p.get("seconds"), NUMBER), f"seconds of piece {p['name']}")
        need(isinstance(p.get("why", ""), str), f"why of piece {p['name']}")
    resume = info.get("resume", [])
    need(isinstance(resume, list) and all(isinstance(e, dict) and isinstance(e.get("parts"), list) and
                                          all(isinstance(x, str) for x in e["parts"]) and
                                          isinstance(e.get("sha256"), str) for e in resume),
         "resume (entries with parts and sha256)")
