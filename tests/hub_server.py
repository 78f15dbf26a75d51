"""A Hugging Face Hub-compatible server on 127.0.0.1 for the publishing tests (test infrastructure).

It speaks the part of the Hub's HTTP API that `huggingface_hub`, `transformers` and `datasets` use
to create repositories, commit files and read them back: repo create, preupload, the git-LFS batch
API and its uploads, NDJSON commits, repo info, tree and paths-info listings, and `resolve`
downloads. Repositories live in memory.

Files are stored as the Hub stores them. A new repo starts with the Hub's default `.gitattributes`;
a file matching one of its `filter=lfs` patterns (parquet, safetensors, ...) or larger than 10 MiB is
an LFS file: preupload answers "lfs" (with the content's sha256 as `oid` when the path exists), the
content goes through the LFS batch API, the commit carries only its sha256, and listings give the
blob id of the LFS pointer as `oid` plus `lfs: {oid: sha256, size, pointerSize}`; downloads carry
the sha256 in `X-Linked-Etag`. Other files are regular git blobs, inline in the commit, listed with
their content's blob id. (The Hub also speaks Xet for LFS files; clients are run with
`HF_HUB_DISABLE_XET=1`, which makes `huggingface_hub` use the LFS protocol.)

Writes need `Authorization: Bearer <token>` with the server's token; anything else is refused with
401, as the Hub does. Every request is recorded in `requests` for the tests.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


# The `.gitattributes` the Hub puts in a new repo: these patterns, each `filter=lfs diff=lfs merge=lfs -text`
LFS_PATTERNS = (
    "*.7z *.arrow *.bin *.bz2 *.ckpt *.ftz *.gz *.h5 *.joblib *.lfs.* *.mlmodel *.model *.msgpack *.npy *.npz "
    "*.onnx *.ot *.parquet *.pb *.pickle *.pkl *.pt *.pth *.rar *.safetensors saved_model/**/* *.tar.* *.tar "
    "*.tflite *.tgz *.wasm *.xz *.zip *.zst *tfevents*"
).split()
DATASET_LFS_PATTERNS = (  # datasets add compressed data, audio, images and video
    "*.lz4 *.mds *.pcm *.sam *.raw *.aac *.flac *.mp3 *.ogg *.wav *.bmp *.gif *.png *.tiff *.jpg *.jpeg *.webp "
    "*.mp4 *.webm"
).split()
LFS_MIN_SIZE = 10 * 1024 * 1024  # larger files are LFS whatever their name


def gitattributes(kind: str) -> bytes:
    patterns = LFS_PATTERNS + (DATASET_LFS_PATTERNS if kind == "datasets" else [])
    return "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in patterns).encode()


def lfs_pointer(data: bytes) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{hashlib.sha256(data).hexdigest()}\nsize {len(data)}\n".encode()


@dataclass
class Repo:
    files: dict[str, bytes] = field(default_factory=dict)
    lfs: set[str] = field(default_factory=set)  # the paths stored as LFS files
    commits: list[str] = field(default_factory=list)
    private: bool = False

    @property
    def sha(self) -> str:
        return self.commits[-1] if self.commits else "0" * 40

    def is_lfs(self, path: str, size: int) -> bool:
        """Whether the Hub stores `path` with LFS: over 10 MiB, or matched by the repo's `.gitattributes`."""
        if size > LFS_MIN_SIZE:
            return True
        for line in self.files.get(".gitattributes", b"").decode().splitlines():
            pattern, *attrs = line.split() or [""]
            if "filter=lfs" in attrs and fnmatch.fnmatchcase(path if "/" in pattern else path.rsplit("/", 1)[-1],
                                                             pattern.replace("**/", "")):
                return True
        return False

    def oid(self, path: str) -> str:
        """What preupload answers for an existing path: sha256 of an LFS file, else the git blob id."""
        data = self.files[path]
        return hashlib.sha256(data).hexdigest() if path in self.lfs else git_blob_id(data)

    def entry(self, path: str) -> dict:
        data = self.files[path]
        if path not in self.lfs:
            return {"type": "file", "path": path, "size": len(data), "oid": git_blob_id(data)}
        pointer = lfs_pointer(data)
        return {"type": "file", "path": path, "size": len(data), "oid": git_blob_id(pointer),
                "lfs": {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": len(pointer)}}


_LFS_BATCH = re.compile(r"^/(?:(datasets)/)?([^/]+/[^/]+)\.git/info/lfs/objects/batch$")
_LFS_UPLOAD = re.compile(r"^/lfs-upload/([0-9a-f]{64})/([0-9a-f]+)$")
_API = re.compile(r"^/api/(models|datasets)/([^/]+/[^/]+)(?:/(preupload|commit|revision|tree|paths-info)/([^/]+)(?:/(.*))?)?$")
_RESOLVE = re.compile(r"^/(?:(datasets)/)?([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")


class HubServer:
    """`with HubServer(token) as hub:` serves on `hub.endpoint` until the block ends."""

    def __init__(self, token: str):
        self.token = token
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[tuple[str, str]] = []
        self.lfs_store: dict[str, bytes] = {}  # sha256 -> content, shared by all repos as on the Hub
        self._upload_keys: dict[str, str] = {}  # sha256 -> the key of its pre-signed upload URL
        self.lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.endpoint = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> "HubServer":
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def repo(self, repo_type: str, repo_id: str) -> Repo:
        return self.repos[(repo_type, repo_id)]

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet; requests are recorded instead
                pass

            # --- plumbing ---------------------------------------------------------------------
            def _send(self, status: int, body=b"", headers: dict | None = None, head: bool = False):
                if not isinstance(body, bytes):
                    body = json.dumps(body).encode()
                    headers = {"Content-Type": "application/json", **(headers or {})}
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def _error(self, status: int, code: str, message: str, head: bool = False):
                self._send(status, {"error": message}, {"X-Error-Code": code, "X-Error-Message": message}, head)

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                    return self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = []
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()
                self.rfile.readline()
                return b"".join(parts)

            def _authorized(self) -> bool:
                return self.headers.get("Authorization") == f"Bearer {hub.token}"

            def _repo(self, kind: str, repo_id: str, head: bool = False) -> Repo | None:
                repo = hub.repos.get((kind, repo_id))
                if repo is None or (repo.private and not self._authorized()):
                    self._error(404, "RepoNotFound", f"Repository {repo_id} not found", head)
                    return None
                return repo

            # --- routes -----------------------------------------------------------------------
            def do_POST(self):
                url = urlsplit(self.path)
                hub.requests.append(("POST", url.path))
                body = self._body()
                if url.path == "/api/validate-yaml":
                    return self._send(200, {"errors": [], "warnings": []})
                if not self._authorized():
                    return self._error(401, "Unauthorized", "Invalid credentials in Authorization header")
                batch = _LFS_BATCH.match(url.path)
                if batch:
                    repo = self._repo("datasets" if batch.group(1) else "models", unquote(batch.group(2)))
                    return None if repo is None else self._lfs_batch(json.loads(body))
                if url.path == "/api/repos/create":
                    req = json.loads(body)
                    kind = {"dataset": "datasets", None: "models", "model": "models"}[req.get("type")]
                    repo_id = f"{req['organization']}/{req['name']}" if req.get("organization") else req["name"]
                    prefix = "datasets/" if kind == "datasets" else ""
                    answer = {"url": f"{hub.endpoint}/{prefix}{repo_id}", "name": repo_id}
                    with hub.lock:
                        if (kind, repo_id) in hub.repos:  # the Hub answers 409 with the repo's url
                            return self._send(409, {**answer, "error": "You already created this repo"})
                        repo = hub.repos[(kind, repo_id)] = Repo(private=bool(req.get("private")))
                        repo.files[".gitattributes"] = gitattributes(kind)
                        repo.commits.append(hashlib.sha1(f"initial commit {kind}/{repo_id}".encode()).hexdigest())
                    return self._send(200, answer)
                m = _API.match(url.path)
                if not m or m.group(3) not in {"preupload", "commit", "paths-info"}:
                    return self._error(404, "EntryNotFound", f"no route {url.path}")
                kind, repo_id, action = m.group(1), unquote(m.group(2)), m.group(3)
                repo = self._repo(kind, repo_id)
                if repo is None:
                    return
                if action == "preupload":
                    files = json.loads(body)["files"]
                    return self._send(200, {"files": [
                        {"path": f["path"], "uploadMode": "lfs" if repo.is_lfs(f["path"], f["size"]) else "regular",
                         "shouldIgnore": False, **({"oid": repo.oid(f["path"])} if f["path"] in repo.files else {})}
                        for f in files]})
                if action == "paths-info":
                    form = parse_qs(body.decode()) if body[:1] != b"{" else json.loads(body)
                    paths = form.get("paths") or form.get("paths[]") or []
                    return self._send(200, [repo.entry(p) for p in paths if p in repo.files])
                return self._commit(repo, kind, repo_id, body)

            def _commit(self, repo: Repo, kind: str, repo_id: str, body: bytes):
                header, adds, deletes = {}, {}, []
                for line in body.decode().splitlines():
                    if not line.strip():
                        continue
                    item = json.loads(line)
                    if item["key"] == "header":
                        header = item["value"]
                    elif item["key"] == "file":
                        path, data = item["value"]["path"], base64.b64decode(item["value"]["content"])
                        if repo.is_lfs(path, len(data)):  # preupload said "lfs": the content must come that way
                            return self._error(400, "BadRequest", f"{path} must be uploaded with LFS")
                        adds[path] = data
                    elif item["key"] == "lfsFile":
                        path, oid = item["value"]["path"], item["value"]["oid"]
                        if oid not in hub.lfs_store:
                            return self._error(400, "BadRequest", f"{path}: LFS object {oid} was never uploaded")
                        adds[path] = hub.lfs_store[oid]
                    elif item["key"] == "deletedFile":
                        deletes.append(item["value"]["path"])
                    else:
                        return self._error(400, "BadRequest", f"unsupported commit operation {item['key']}")
                with hub.lock:
                    repo.files.update(adds)
                    for path in deletes:
                        repo.files.pop(path, None)
                    repo.lfs = {p for p in repo.files if repo.is_lfs(p, len(repo.files[p]))}
                    oid = hashlib.sha1(f"{repo.sha}{header.get('summary')}{sorted(adds)}{deletes}".encode()
                                       + b"".join(adds[p] for p in sorted(adds))).hexdigest()
                    repo.commits.append(oid)
                prefix = "datasets/" if kind == "datasets" else ""
                return self._send(200, {"commitUrl": f"{hub.endpoint}/{prefix}{repo_id}/commit/{oid}",
                                        "commitOid": oid, "pullRequestUrl": None})

            def _lfs_batch(self, req: dict):
                """Upload actions for the objects the store lacks, none for those it holds (the LFS batch API)."""
                objects = []
                for obj in req["objects"]:
                    answer = {"oid": obj["oid"], "size": obj["size"]}
                    if obj["oid"] not in hub.lfs_store:
                        key = hub._upload_keys.setdefault(obj["oid"], secrets.token_hex(8))
                        answer["actions"] = {"upload": {"href": f"{hub.endpoint}/lfs-upload/{obj['oid']}/{key}"}}
                    objects.append(answer)
                return self._send(200, {"transfer": "basic", "objects": objects})

            def do_PUT(self):
                """The pre-signed URL an LFS batch answer points to: no Authorization, the key is in the URL."""
                url = urlsplit(self.path)
                hub.requests.append(("PUT", url.path))
                data = self._body()
                m = _LFS_UPLOAD.match(url.path)
                if not m or hub._upload_keys.get(m.group(1)) != m.group(2):
                    return self._error(403, "Forbidden", "invalid upload URL")
                if hashlib.sha256(data).hexdigest() != m.group(1):
                    return self._error(400, "BadRequest", "content does not match its sha256")
                with hub.lock:
                    hub.lfs_store[m.group(1)] = data
                return self._send(200)

            def do_HEAD(self):
                self.do_GET(head=True)

            def do_GET(self, head: bool = False):
                url = urlsplit(self.path)
                hub.requests.append(("HEAD" if head else "GET", url.path))
                r = _RESOLVE.match(url.path)
                if r:
                    repo = self._repo("datasets" if r.group(1) else "models", unquote(r.group(2)), head)
                    if repo is None:
                        return
                    path = unquote(r.group(4))
                    if path not in repo.files:
                        return self._error(404, "EntryNotFound", f"{path} does not exist", head)
                    data, entry = repo.files[path], repo.entry(path)
                    linked = ({"X-Linked-Etag": f'"{entry["lfs"]["oid"]}"', "X-Linked-Size": str(len(data))}
                              if "lfs" in entry else {})
                    return self._send(200, data, {"X-Repo-Commit": repo.sha, "ETag": f'"{entry["oid"]}"', **linked,
                                                  "Content-Type": "application/octet-stream"}, head)
                m = _API.match(url.path)
                if not m or m.group(3) not in {None, "revision", "tree"}:
                    return self._error(404, "EntryNotFound", f"no route {url.path}", head)
                kind, repo_id = m.group(1), unquote(m.group(2))
                repo = self._repo(kind, repo_id, head)
                if repo is None:
                    return
                if m.group(3) == "tree":
                    folder = unquote(m.group(5) or "").strip("/")
                    recursive = parse_qs(url.query).get("recursive", ["false"])[0].lower() == "true"
                    entries = self._tree(repo, folder, recursive)
                    if entries is None:
                        return self._error(404, "EntryNotFound", f"{folder} does not exist", head)
                    return self._send(200, entries, head=head)
                return self._send(200, {
                    "id": repo_id, "sha": repo.sha, "private": repo.private, "disabled": False, "gated": False,
                    "siblings": [{"rfilename": p} for p in sorted(repo.files)],
                }, head=head)

            def _tree(self, repo: Repo, folder: str, recursive: bool):
                prefix = f"{folder}/" if folder else ""
                inside = [p for p in sorted(repo.files) if p.startswith(prefix)]
                if folder and not inside:
                    return None
                entries, dirs = [], set()
                for path in inside:
                    rest = path[len(prefix):].split("/")
                    for depth in range(1, len(rest)):
                        if recursive or depth == 1:
                            dirs.add(prefix + "/".join(rest[:depth]))
                    if recursive or len(rest) == 1:
                        entries.append(repo.entry(path))
                return [{"type": "directory", "path": d, "oid": git_blob_id(d.encode()), "size": 0}
                        for d in sorted(dirs)] + entries

        return Handler
