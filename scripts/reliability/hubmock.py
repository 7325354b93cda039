"""A mock of the Hugging Face Hub for scripts/reliability.sh: a fake that speaks the protocol clawlocal uses (the
same one as tests/it/support/hubmock.rs, see ../shared/research on the Hub protocol).

`resolve` answers 302 to a CDN route with `X-Repo-Commit`, `X-Linked-Etag` (the file's sha256) and `X-Linked-Size`;
the CDN honours `Range` (206 + `Content-Range`, 416); the API answers `revision`, `tree`, `paths-info` and `refs`.
Bodies can be throttled (bytes per second) so a probe can kill a download midway. Loopback only.
"""

import hashlib
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class DiskFile:
    """A file served from disk: sliced like bytes, read only for the range asked."""

    def __init__(self, path):
        self.path = str(path)
        self.size = os.path.getsize(self.path)

    def __len__(self):
        return self.size

    def __getitem__(self, part):
        with open(self.path, "rb") as f:
            f.seek(part.start or 0)
            return f.read((part.stop if part.stop is not None else self.size) - (part.start or 0))


class HubMock:
    def __init__(self):
        self.repos = {}  # repo -> {"commit": str, "files": {name: (bytes, sha256)}}
        self.log = []  # [method, path, range header, body bytes sent]
        self.throttle = None  # bytes per second for CDN bodies, or None
        self.lock = threading.Lock()
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_HEAD(self):
                mock.handle(self, head=True)

            def do_GET(self):
                mock.handle(self, head=False)

            def do_POST(self):
                mock.handle(self, head=False)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a client killed midway (the kill -9 probe) resets its connection: expected

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def add_repo(self, repo, files):
        """`files`: (name, bytes), or (name, Path(...), sha256) for a file served from disk."""
        table = {}
        for f in files:
            if isinstance(f[1], (bytes, bytearray)):
                table[f[0]] = (bytes(f[1]), hashlib.sha256(f[1]).hexdigest())
            else:
                table[f[0]] = (DiskFile(f[1]), f[2])
        commit = hashlib.sha1(repo.encode() + "".join(sha for _, sha in table.values()).encode()).hexdigest()
        self.repos[repo] = {"commit": commit, "files": table}
        return commit

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def reply(self, h, status, headers=None, body=b"", head=False, throttle=None):
        h.send_response(status)
        headers = dict(headers or {})
        headers.setdefault("Content-Length", str(len(body)))
        for k, v in headers.items():
            h.send_header(k, v)
        h.end_headers()
        sent = 0
        if head:
            return 0
        try:
            step = 64 << 10
            for i in range(0, len(body), step):
                chunk = body[i : i + step]
                h.wfile.write(chunk)
                sent += len(chunk)
                if throttle:
                    time.sleep(len(chunk) / throttle)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return sent

    def error(self, h, status, code, message, head, extra=None):
        headers = {"X-Error-Code": code, "X-Error-Message": message, "Content-Type": "application/json"}
        headers.update(extra or {})
        body = json.dumps({"error": message}).encode()
        self.reply(h, status, headers, body, head)

    def handle(self, h, head):
        path = h.path.split("?")[0]
        length = int(h.headers.get("Content-Length") or 0)
        request_body = h.rfile.read(length) if length else b""
        rng = h.headers.get("Range")
        # Logged as it arrives (a killed client's request must not land after the next one's); its body bytes
        # are filled in when sent.
        entry = [h.command, path, rng, 0]
        with self.lock:
            self.log.append(entry)
        segs = path.strip("/").split("/")
        if segs[0] == "cdn" and len(segs) == 2:
            entry[3] = self.cdn(h, segs[1], rng, head)
        elif len(segs) >= 4 and segs[0] == "api" and segs[1] == "models":
            self.api(h, f"{segs[2]}/{segs[3]}", segs[4:], request_body, head)
        elif len(segs) >= 5 and segs[2] == "resolve":
            self.resolve(h, f"{segs[0]}/{segs[1]}", segs[3], "/".join(segs[4:]), head)
        else:
            self.error(h, 404, "EntryNotFound", "no such route", head)

    def api(self, h, repo_id, rest, request_body, head):
        repo = self.repos.get(repo_id)
        if repo is None:
            return self.error(h, 401, "RepoNotFound", "Repository not found", head)
        rev_ok = lambda r: r in ("main", repo["commit"])  # noqa: E731
        files = repo["files"]

        def entry(n, b, sha):
            return {"type": "file", "path": n, "oid": sha[:40], "size": len(b),
                    "lfs": {"oid": sha, "size": len(b), "pointerSize": 134}}

        kind = rest[0] if rest else None
        if kind in (None, "revision"):
            if len(rest) > 1 and not rev_ok(rest[1]):
                return self.error(h, 404, "RevisionNotFound", "Invalid rev id", head)
            siblings = [{"rfilename": n, "size": len(b), "blobId": sha[:40],
                         "lfs": {"sha256": sha, "size": len(b), "pointerSize": 134}} for n, (b, sha) in files.items()]
            doc = {"id": repo_id, "sha": repo["commit"], "private": False, "gated": False, "siblings": siblings}
        elif kind == "tree" and len(rest) > 1 and rev_ok(rest[1]):
            doc = [entry(n, b, sha) for n, (b, sha) in files.items()]
        elif kind == "paths-info" and len(rest) > 1 and rev_ok(rest[1]):
            try:
                asked = json.loads(request_body or b"{}").get("paths", [])
            except ValueError:
                asked = []
            doc = [entry(n, b, sha) for n, (b, sha) in files.items() if n in asked]
        elif kind == "refs":
            doc = {"branches": [{"name": "main", "ref": "refs/heads/main", "targetCommit": repo["commit"]}],
                   "tags": [], "converts": []}
        else:
            return self.error(h, 404, "RevisionNotFound", "Invalid rev id", head)
        self.reply(h, 200, {"Content-Type": "application/json"}, json.dumps(doc).encode(), head)

    def resolve(self, h, repo_id, rev, name, head):
        repo = self.repos.get(repo_id)
        if repo is None:
            return self.error(h, 401, "RepoNotFound", "Repository not found", head)
        if rev not in ("main", repo["commit"]):
            return self.error(h, 404, "RevisionNotFound", "Invalid rev id", head)
        if name not in repo["files"]:
            return self.error(h, 404, "EntryNotFound", f'{name} does not exist on "{rev}"', head,
                              {"X-Repo-Commit": repo["commit"]})
        body, sha = repo["files"][name]
        self.reply(h, 302, {
            "Location": f"{self.endpoint}/cdn/{sha}",
            "X-Repo-Commit": repo["commit"],
            "X-Linked-Etag": f'"{sha}"',
            "X-Linked-Size": str(len(body)),
            "ETag": f'"{sha[:40]}"',
        }, b"", head)

    def cdn(self, h, sha, rng, head):
        body = next((b for r in self.repos.values() for b, s in r["files"].values() if s == sha), None)
        if body is None:
            self.reply(h, 404, {}, b"", head)
            return 0
        total = len(body)
        headers = {"Accept-Ranges": "bytes", "ETag": f'"{sha}"', "Content-Type": "application/octet-stream"}
        status, start, end = 200, 0, total
        if rng and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            try:
                if a == "":
                    start, end = max(0, total - int(b)), total
                else:
                    start, end = int(a), (min(int(b) + 1, total) if b else total)
            except ValueError:
                start, end = 0, total
            if start >= total:
                self.reply(h, 416, {"Content-Range": f"bytes */{total}"}, b"", head)
                return 0
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{total}"
        return self.reply(h, status, headers, body[start:end], head, self.throttle)
