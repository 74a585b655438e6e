"""A finished session as a folder of plain files a web team can publish, and the check of one.

``live bundle SESSION_ID DIR`` writes:

* ``index.html`` and ``en.html``: the transcript, readable with no server, no network and
  no script (:mod:`live.archive_html`);
* ``transcript.json``: the transcript as ``/api/sessions/{id}/transcript`` serves it;
* ``chain.jsonl``: the hash chain (:mod:`live.chain`) with the public part of every event,
  as ``/api/sessions/{id}/chain`` serves it: a header line, then one line per event with
  its ``public`` text, its ``data`` text when that is what viewers were served (no
  ``public`` part), the digests of the parts left out, and its hash. Nothing private is
  in it: never the private part, never staff data that a ``public`` part stood in for;
* ``signing-key.pem``: the installation's public key (:mod:`live.signing`);
* ``photos/``: the studio's photos (图文直播, :mod:`live.photos`) the pages show, each as the
  JPEG served live, named as in the transcript's ``lines`` (``photos/{photo}.jpg``);
* ``manifest.json``: the session, the chain's head, the key, and the SHA-256 of each file
  above; ``manifest.sig``: the Ed25519 signature of ``manifest.json``'s exact bytes (64
  raw bytes, as ``openssl pkeyutl -rawin`` makes and checks them).

:func:`check` is ``live verify DIR``: the signature, every file's digest, no file the
manifest does not list, and the chain recomputed from ``chain.jsonl`` to the head the
manifest signs. The signature shows who made the folder only if the key is the
installation's: pass the key published at ``/api/signing-key`` (``--key``) to pin it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import archive, chain, signing
from .archive_html import PAGES, to_html
from .events import JSON, now_ms
from .state import ENDED, phase
from .store import Catalog, Chain, Log, Meta, Photos

KIND, VERSION = "live-bundle", 1
MANIFEST, SIGNATURE, KEY, CHAIN, TRANSCRIPT = (
    "manifest.json",
    "manifest.sig",
    "signing-key.pem",
    "chain.jsonl",
    "transcript.json",
)


PHOTOS = "photos"
"""The one folder in a bundle: the photos its pages show."""


class BundleStore(Catalog, Log, Chain, Meta, Photos, Protocol):
    """What a bundle is made from: the session's record and hashes, and the signing key."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def write(store: BundleStore, session_id: int, folder: Path, base: str = "") -> JSON:
    """Write the bundle of a finished session into the new or empty ``folder``; its manifest.

    Refusals are one-line exits (:class:`SystemExit`), before anything is written.
    """
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise SystemExit(f"{folder}: exists and is not an empty folder")
    if not folder.parent.is_dir():
        raise SystemExit(f"{folder}: the folder {folder.parent} does not exist")
    if await store.get_session(session_id) is None:
        raise SystemExit(f"no session {session_id}")
    record = await archive.load(store, session_id)
    if phase(record.state.info, now_ms()) not in ENDED:  # closed, or archived: after the window
        raise SystemExit(f"session {session_id} is not finished: a bundle is the record of a closed session")
    doc = archive.transcript(record)
    links = await store.read_links(session_id, limit=record.state.seq)
    key = await signing.private_key(store)
    public = signing.describe(key.public_key())
    made = now_ms()
    signed = {"key": public, "made_at_local": archive.local(made, record.tz, seconds=True)}
    files = {
        **{page: to_html(doc, lang, signed, base).encode() for lang, page in PAGES.items()},
        TRANSCRIPT: json.dumps(doc, ensure_ascii=False, indent=1).encode(),
        CHAIN: chain.public_chain(session_id, links).encode(),
        KEY: public["pem"].encode(),
    }
    for line in doc["lines"]:
        if line["kind"] == "photo":
            image = await store.get_photo(session_id, line["photo"])
            if image is None:
                raise SystemExit(
                    f"session {session_id}: the photo {line['file']} is missing from the database"
                )
            files[line["file"]] = image
    s = doc["session"]
    manifest = {
        "kind": KIND,
        "version": VERSION,
        "session": {
            "id": session_id,
            "programme": s["programme"],
            "episode": s["episode"],
            "title": s["title"],
        },
        "chain": {"spec": chain.SPEC, "events": len(links), "head": doc["chain"]["head"]},
        "made_at": made,
        "key": {k: public[k] for k in ("algorithm", "key_id", "public_key")},
        "files": {name: sha256(data) for name, data in files.items()},
    }
    text = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
    folder.mkdir(exist_ok=True)
    if any(name.startswith(f"{PHOTOS}/") for name in files):
        (folder / PHOTOS).mkdir()
    for name, data in {**files, MANIFEST: text, SIGNATURE: key.sign(text)}.items():
        (folder / name).write_bytes(data)
    return manifest


def check(folder: Path, pinned: Ed25519PublicKey | None = None) -> tuple[JSON, list[str]]:
    """``live verify DIR``: what the bundle says (its manifest) and its problems, one line each.

    ``pinned`` is the key it must be signed with; without it, the key the bundle encloses.
    """
    try:
        text = (folder / MANIFEST).read_bytes()
        manifest = json.loads(text)
        files, signed_head = dict(manifest["files"]), manifest["chain"]["head"]
        named_key = manifest["key"]["key_id"]
    except OSError as exc:
        return {}, [f"{MANIFEST}: {exc.strerror}"]
    except (ValueError, KeyError, TypeError) as exc:
        return {}, [f"{MANIFEST}: not a {KIND} manifest ({exc!r})"]
    key, problems = _signed(folder, text, pinned)
    if key is not None and named_key != signing.key_id(key):
        problems.append(f"{MANIFEST}: names key {named_key}, not {signing.key_id(key)}")
    problems += _files(folder, files)
    try:
        head, found = chain.check_public(json_lines=(folder / CHAIN).read_text(), name=CHAIN)
    except (OSError, UnicodeDecodeError) as exc:
        head, found = {}, [f"{CHAIN}: cannot be read ({exc})"]
    problems += found
    if head.get("checked_head") and head["checked_head"] != signed_head:
        problems.append(f"{CHAIN}: ends at head {head['checked_head']}, the manifest signs {signed_head}")
    return {**manifest, "key_id": None if key is None else signing.key_id(key)}, problems


def _signed(
    folder: Path, text: bytes, pinned: Ed25519PublicKey | None
) -> tuple[Ed25519PublicKey | None, list[str]]:
    """The key the manifest is checked with, and what is wrong with the key or the signature."""
    problems = []
    try:
        enclosed: Ed25519PublicKey | None = signing.load_public((folder / KEY).read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        enclosed = None
        problems.append(f"{KEY}: not a public key ({exc})")
    key = pinned or enclosed
    if pinned is not None and enclosed is not None and signing.raw(enclosed) != signing.raw(pinned):
        problems.append(
            f"{KEY}: key {signing.key_id(enclosed)}, not the key given ({signing.key_id(pinned)})"
        )
    try:
        signature = (folder / SIGNATURE).read_bytes()
    except OSError as exc:
        return key, [*problems, f"{SIGNATURE}: {exc.strerror}"]
    if key is not None and not signing.verifies(key, signature, text):
        problems.append(f"{SIGNATURE}: not a signature of {MANIFEST} by key {signing.key_id(key)}")
    return key, problems


def _files(folder: Path, files: dict[str, str]) -> list[str]:
    """Each listed file present (in the folder itself, or its ``photos/``) with its digest, and
    nothing else there."""
    problems = []
    places = (folder, folder / PHOTOS)
    for name, expected in files.items():
        path = folder / name
        if path.parent not in places or ".." in Path(name).parts or not path.is_file():
            problems.append(f"{name}: missing")
        elif (found := sha256(path.read_bytes())) != expected:
            problems.append(f"{name}: SHA-256 expected {expected}, found {found}")
    found_names = [p.name for p in folder.iterdir() if p.name != PHOTOS or not p.is_dir()]
    if (folder / PHOTOS).is_dir():
        found_names += [f"{PHOTOS}/{p.name}" for p in (folder / PHOTOS).iterdir()]
    for name in sorted(found_names):
        if name not in (*files, MANIFEST, SIGNATURE):
            problems.append(f"{name}: not in the manifest")
    return problems
