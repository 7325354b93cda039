#!/usr/bin/env python3
"""Reliability probes for clawlocal (issue 21): bounded, loopback-only, self-stopping; one table at the end.

Each probe runs the real clawlocal binary in throwaway HOMEs (`--scope user`), against the Hub mock in hubmock.py
(a fake of the Hub's protocol) and, for the config fuzzing, judges every mutant with the JSON5 parser OpenClaw itself
uses (npm `json5`, on node). Run through scripts/reliability.sh, which builds the binary and finds node.

Every random choice comes from --seed; the counts scale with --scale; both are printed so a run can be repeated.
Exit status: 0 when every row meets its target, 1 otherwise.
"""

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf  # noqa: E402
from hubmock import HubMock  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASE_URL = "http://127.0.0.1:8765/v1"


class Sandbox:
    """A throwaway HOME with clawlocal's state and OpenClaw's folder under it."""

    def __init__(self, top, name, hub=None):
        self.dir = os.path.join(top, name)
        os.makedirs(os.path.join(self.dir, "home"), exist_ok=True)
        os.makedirs(os.path.join(self.dir, "oc"), exist_ok=True)
        self.hub = hub

    @property
    def state(self):
        return os.path.join(self.dir, "state")

    @property
    def cache(self):
        return os.path.join(self.dir, "hf")

    def env(self):
        env = {
            "HOME": os.path.join(self.dir, "home"),
            "PATH": "/usr/bin:/bin",  # no `openclaw` on PATH: the probes judge clawlocal alone
            "NO_COLOR": "1",
            "XDG_STATE_HOME": self.state,
            "OPENCLAW_STATE_DIR": os.path.join(self.dir, "oc"),
            "HF_HUB_CACHE": self.cache,
            "CLAWLOCAL_HUB_RETRIES": "1",
        }
        if self.hub:
            env["HF_ENDPOINT"] = self.hub.endpoint
        return env


class Run:
    def __init__(self, code, stdout, stderr, max_rss_kib, seconds, timed_out):
        self.code, self.stdout, self.stderr = code, stdout, stderr
        self.max_rss_kib, self.seconds, self.timed_out = max_rss_kib, seconds, timed_out

    @property
    def panicked(self):
        return self.code == 101 or "panicked" in self.stderr or (self.code is not None and self.code < 0)


def spawn(argv, env, cwd, timeout):
    """Run a command and reap it with wait4, so its own peak RSS is known: (code, stdout, stderr, KiB, s, timed out)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        p = subprocess.Popen(argv, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > timeout:
                timed_out = True
                os.kill(p.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(p.pid, 0)
                break
            time.sleep(0.002)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return (p.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                usage.ru_maxrss, time.monotonic() - start, timed_out)


class Spawner:
    """A small helper process that starts every measured run. Linux keeps a process's peak RSS from before its exec
    in ru_maxrss, so a run forked from this driver (which holds the mock's files, ~100 MiB) would report the
    driver's size; forked from the helper (started first, ~10 MiB) it reports its own."""

    def __init__(self):
        self.p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--spawner"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)

    def run(self, argv, env, cwd, timeout):
        self.p.stdin.write(json.dumps([argv, env, cwd, timeout]) + "\n")
        self.p.stdin.flush()
        return json.loads(self.p.stdout.readline())

    def stop(self):
        self.p.stdin.close()
        self.p.wait()


def serve_spawner():
    for line in sys.stdin:
        print(json.dumps(spawn(*json.loads(line))), flush=True)


SPAWNER = None


def run(binary, box, args, timeout=60.0):
    argv = [binary, "--scope", "user", *args]
    got = SPAWNER.run(argv, box.env(), box.dir, timeout) if SPAWNER else spawn(argv, box.env(), box.dir, timeout)
    return Run(*got)


def patch_args(config, model="m"):
    return ["openclaw", "patch", "--config", config, "--base-url", BASE_URL, "--model-id", model,
            "--context-window", "32768"]


def write(path, data, mode=0o600):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def read(path):
    with open(path, "rb") as f:
        return f.read()


# ---------------------------------------------------------------------------------------------------------------
# The probes. Each returns rows: (probe, what ran, measured, target, met).


def concurrent_writers(binary, top, rng, n):
    """OpenClaw's own writer renames a new version in every ~20 ms while clawlocal patches: no key of it is lost."""
    box = Sandbox(top, "writers")
    config = os.path.join(box.dir, "oc", "openclaw.json")
    write(config, b'{\n  "gateway": { "mode": "local" }\n}\n')
    stop = threading.Event()
    written = [0]

    def writer():
        tmp = os.path.join(box.dir, "oc", ".writer.tmp")
        while not stop.is_set():
            try:
                doc = json.loads(read(config))
            except (ValueError, OSError):
                continue
            doc.setdefault("writer", {})[f"k{written[0]}"] = written[0]
            write(tmp, (json.dumps(doc, indent=2) + "\n").encode())
            os.rename(tmp, config)
            written[0] += 1
            time.sleep(0.020)

    t = threading.Thread(target=writer)
    t.start()
    ok = refused = panics = 0
    for i in range(n):
        r = run(binary, box, patch_args(config, rng.choice(["model-a", "model-b", "model-c"])))
        panics += r.panicked
        if r.code == 0:
            ok += 1
        else:
            refused += 1
    stop.set()
    t.join()
    doc = json.loads(read(config))
    lost = [k for k in range(written[0]) if f"k{k}" not in doc.get("writer", {})]
    ours = "clawlocal" in doc.get("models", {}).get("providers", {})
    return [("concurrent writers", f"{n} patches vs a 20 ms writer ({written[0]} writes; {ok} done, {refused} "
             "refused as changed)", f"{len(lost)} lost updates, {panics} panics", "0 lost, >= 150 patches",
             not lost and not panics and n >= 150 and ours)]


def concurrent_patches(binary, top, rng, rounds):
    """Two patches of different configs at once share one record file: both records survive, both unpatch."""
    box = Sandbox(top, "patches")
    configs = [os.path.join(box.dir, "oc", f"{name}.json") for name in ("one", "two")]
    originals = [b"{}\n", b'{\n  // mine\n  agents: { defaults: { model: "cloud/x" } },\n}\n']
    for c, text in zip(configs, originals):
        write(c, text)
    records = os.path.join(box.state, "clawlocal", "openclaw-patches.json")
    lost = failed = 0
    for r in range(rounds):
        env = box.env()
        procs = [subprocess.Popen([binary, "--scope", "user", *patch_args(c, f"m{r}-{rng.randrange(1000)}")],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for c in configs]
        for p in procs:
            _, err = p.communicate()
            failed += p.returncode != 0
        try:
            kept = len(json.loads(read(records)).get("patches", []))
        except (OSError, ValueError):
            kept = 0
        lost += 2 - min(kept, 2)
    left = 0
    for c, text in zip(configs, originals):
        u = run(binary, box, ["openclaw", "unpatch", "--config", c])
        after = read(c)
        left += u.code != 0 or b"clawlocal" in after or after != text
    return [("concurrent patches", f"{rounds} rounds of 2 patches at once, then unpatch both",
             f"{lost} lost records, {failed} failed runs, {left} configs not restored", "0 lost, >= 30 rounds",
             lost == 0 and failed == 0 and left == 0 and rounds >= 30)]


def kill_during_pull(binary, top, rng, kills, hub):
    """kill -9 at a random moment of a throttled download, again and again; then let one finish."""
    box = Sandbox(top, "kills", hub)
    data, _, _ = gguf.model(big_tensor_elems=6 << 20)  # ~24 MiB
    sha = hashlib.sha256(data).hexdigest()
    hub.add_repo("o/kill", [("big.gguf", data)])
    hub.throttle = 12 << 20  # ~2 s for the whole body
    blobs = os.path.join(box.cache, "models--o--kill", "blobs")
    wrong = refetched = 0
    partial_before = 0
    for _ in range(kills):
        mark = len(hub.log)
        p = subprocess.Popen([binary, "--scope", "user", "pull", "hf:o/kill/big.gguf"], env=box.env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 1.6))
        p.send_signal(signal.SIGKILL)
        p.wait()
        # Where this run started its body: bytes the last run had written and this one asked for again.
        ranges = [r for (m, path, r, _) in hub.log[mark:] if m == "GET" and path.startswith("/cdn/")]
        if ranges:
            start = int(ranges[0][6:].split("-")[0]) if ranges[0] and ranges[0].startswith("bytes=") else 0
            refetched += max(0, partial_before - start)
            if os.environ.get("PROBE_DEBUG"):
                print(f"    kill: partial before {partial_before}, next run asked {ranges[0]}")
        wrong += final_names_wrong(blobs, box.cache, sha)
        partial = os.path.join(blobs, f"{sha}.incomplete")
        partial_before = os.path.getsize(partial) if os.path.exists(partial) else 0
        if os.path.exists(os.path.join(blobs, sha)):
            os.remove(os.path.join(blobs, sha))  # done before the kill: start over so the next kill lands midway
            partial_before = 0
    hub.throttle = None
    done = run(binary, box, ["pull", "hf:o/kill/big.gguf"])
    good = done.code == 0 and os.path.exists(os.path.join(blobs, sha)) and file_sha(os.path.join(blobs, sha)) == sha
    wrong += final_names_wrong(blobs, box.cache, sha)
    return [("kill -9 during pull", f"{kills} kills of a {len(data) >> 20} MiB throttled download, then one run",
             f"{wrong} wrong final bytes, {refetched} bytes re-fetched, last run {'ok' if good else 'FAILED'}",
             "0 wrong, >= 20 kills", wrong == 0 and good and kills >= 20)]


def file_sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def final_names_wrong(blobs, cache, sha):
    """Files under a final name (a blob named by a sha256, a snapshot entry) whose bytes are not that sha256."""
    wrong = 0
    if os.path.isdir(blobs):
        for name in os.listdir(blobs):
            if re.fullmatch(r"[0-9a-f]{64}", name) and file_sha(os.path.join(blobs, name)) != name:
                wrong += 1
    for dirpath, _, files in os.walk(cache):
        if "/snapshots" in dirpath:
            for f in files:
                p = os.path.join(dirpath, f)
                if os.path.exists(p) and file_sha(p) != sha:
                    wrong += 1
    return wrong


def disk_full(binary, top, hub):
    """A 128 MiB disk: a 2 x 40 MiB split set that does not fit with what is there is refused before the first
    byte; one that fits until another writer fills the disk midway fails cleanly and keeps no wrong bytes."""
    mount = os.path.join(top, "small-disk")
    os.makedirs(mount)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128m", "tmpfs", mount], capture_output=True).returncode:
        return [("disk full", "a 128 MiB tmpfs", "skipped: cannot mount a tmpfs here (needs root)", "-", True)]
    rows = []
    try:
        shards = [gguf.model(big_tensor_elems=10 << 20, split=(i, 2))[0] for i in (1, 2)]  # 40 MiB each
        names = [f"m-0000{i}-of-00002.gguf" for i in (1, 2)]
        hub.add_repo("o/split", list(zip(names, shards)))
        box = Sandbox(mount, "box", hub)
        write(os.path.join(mount, "filler"), b"\0" * (60 << 20))
        mark = len(hub.log)
        r = run(binary, box, ["pull", f"hf:o/split/{names[0]}"])
        body = sum(sent for (m, path, _, sent) in hub.log[mark:] if m == "GET" and path.startswith("/cdn/"))
        left = leftovers(box.cache)
        named = "MiB" in r.stderr and ("space" in r.stderr or "room" in r.stderr)
        rows.append(("disk full: refused up front", "2 x 40 MiB shards, 68 MiB free",
                     f"exit {r.code}, {body} body bytes fetched, left: {', '.join(left) or 'nothing'}"
                     f"{'' if named else ' (message names no margin)'}",
                     "refused, 0 bytes, nothing left", r.code not in (0, None) and body == 0 and not left and named))
        os.remove(os.path.join(mount, "filler"))
        shutil.rmtree(box.dir)
        box = Sandbox(mount, "box", hub)
        hub.throttle = 40 << 20
        filler = threading.Timer(0.5, lambda: fill(os.path.join(mount, "filler")))
        filler.start()
        r = run(binary, box, ["pull", f"hf:o/split/{names[0]}"])
        filler.join()
        hub.throttle = None
        wrong = final_names_wrong(os.path.join(box.cache, "models--o--split", "blobs"), "/nonexistent", "")
        left = leftovers(box.cache)
        rows.append(("disk full: midway", "the same set, another writer fills the disk after 0.5 s",
                     f"exit {r.code}, {wrong} wrong final bytes, left: {', '.join(left) or 'nothing'}",
                     "fails, 0 wrong bytes", r.code not in (0, None) and wrong == 0 and not r.panicked))
    finally:
        hub.throttle = None
        subprocess.run(["umount", "-l", mount], capture_output=True)
    return rows


def fill(path):
    try:
        with open(path, "wb") as f:
            while True:
                f.write(b"\0" * (1 << 20))
    except OSError:
        pass


def leftovers(cache):
    """What a refused pull left in the cache: blobs, partials, locks (empty folders do not count)."""
    out = []
    for dirpath, _, files in os.walk(cache):
        for f in files:
            out.append(os.path.relpath(os.path.join(dirpath, f), cache))
    return sorted(out)


# Mutations of config text: each picks one edit; a mutant gets 1 to 3.
TOKENS = [",", "}", "{", "]", "[", ":", "'", '"', "//", "/*", "*/", "\n", "\ufeff", "\u0301", "NaN", "Infinity",
          "-0x1F", ".5", "+1", "null", "true", "\\u0041", "\\", "$", "_", "é", "\u2028", "\t", "`", "#", "1e999",
          '"models": {}', "agents: { defaults: { model: 'x/y' } },", "'a': [1,,2]", "{a:1,}", "a\u0301b: 1,"]


def mutate(text, rng):
    for _ in range(rng.randint(1, 3)):
        if not text:
            text = rng.choice(TOKENS)
            continue
        i = rng.randrange(len(text) + 1)
        op = rng.randrange(7)
        if op == 0:  # delete a run
            text = text[:i] + text[i + rng.randint(1, 8):]
        elif op == 1:  # insert a token
            text = text[:i] + rng.choice(TOKENS) + text[i:]
        elif op == 2:  # replace a character
            text = text[:i] + rng.choice(TOKENS)[:1] + text[i + 1:]
        elif op == 3:  # duplicate a line
            lines = text.split("\n")
            k = rng.randrange(len(lines))
            lines.insert(k, lines[k])
            text = "\n".join(lines)
        elif op == 4:  # swap two neighbours
            if i + 1 < len(text):
                text = text[:i] + text[i + 1] + text[i] + text[i + 2:]
        elif op == 5:  # truncate
            text = text[:i]
        else:  # a combining mark after an identifier character, or U+FEFF between tokens
            text = text[:i] + rng.choice(["\u0301", "\ufeff", "\u200d", "\u203f"]) + text[i:]
    return text


def config_seeds():
    out = []
    for folder in ("tests/fixtures/openclaw", "tests/fixtures/openclaw-corpus", "tests/fuzz/corpus/patch"):
        d = os.path.join(ROOT, folder)
        if os.path.isdir(d):
            for f in sorted(os.listdir(d)):
                if f.endswith((".json", ".json5")):
                    out.append(read(os.path.join(d, f)).decode("utf-8", errors="replace"))
    return out


def node_json5(node, json5_dir, paths):
    """For each file: True when npm json5 (OpenClaw's parser) parses it to an object or anything else."""
    script = ("const J=require(process.argv[1]);const fs=require('fs');"
              "const ps=JSON.parse(fs.readFileSync(0,'utf8'));"
              "process.stdout.write(JSON.stringify(ps.map(p=>{try{J.parse(fs.readFileSync(p,'utf8'));return true}"
              "catch(e){return false}})))")
    r = subprocess.run([node, "-e", script, json5_dir], input=json.dumps(paths).encode(), capture_output=True,
                       check=True)
    return json.loads(r.stdout)


SYNTAX = re.compile(r"fix the syntax|on line \d+ column \d+|Unexpected token|does not parse")


def config_mutation(binary, top, rng, n, node, json5_dir):
    box = Sandbox(top, "configs")
    seeds = config_seeds()
    folder = os.path.join(box.dir, "mutants")
    os.makedirs(folder)
    config = os.path.join(box.dir, "oc", "openclaw.json")
    mutants, outcomes = [], []
    panics = changed_on_refusal = refused = 0
    for i in range(n):
        text = mutate(rng.choice(seeds), rng)
        data = text.encode()
        path = os.path.join(folder, f"{i:05}.json5")
        write(path, data)
        write(config, data)
        shutil.rmtree(box.state, ignore_errors=True)
        r = run(binary, box, patch_args(config))
        after = read(config)
        panics += r.panicked
        if r.code != 0:
            refused += 1
            changed_on_refusal += after != data
        written = os.path.join(folder, f"{i:05}.out.json5")
        if r.code == 0 and after != data:
            write(written, after)
        mutants.append(path)
        outcomes.append((r, after != data, written if r.code == 0 and after != data else None))
    if node:
        accepted = node_json5(node, json5_dir, mutants)
        outs = [o[2] for o in outcomes if o[2]]
        out_ok = dict(zip(outs, node_json5(node, json5_dir, outs))) if outs else {}
        invalid = sum(1 for o in outcomes if o[2] and not out_ok[o[2]])
        false_refusals = [i for i, (o, ok) in enumerate(zip(outcomes, accepted))
                          if ok and o[0].code != 0 and SYNTAX.search(o[0].stderr)]
        judge = f"{len(false_refusals)} false refusals vs node json5"
        if false_refusals:
            sample = mutants[false_refusals[0]]
            print(f"  first false refusal: {sample}: {outcomes[false_refusals[0]][0].stderr.strip()[:300]}")
    else:
        invalid, false_refusals = "unjudged", None
        judge = "false refusals unjudged: no node to run OpenClaw's json5"
    met = panics == 0 and invalid == 0 and changed_on_refusal == 0 and n >= 1500 and (
        false_refusals is not None and len(false_refusals) <= 2)
    return [("config mutation fuzzing", f"{n} mutants of {len(seeds)} real configs ({refused} refused)",
             f"{panics} panics, {invalid} invalid writes, {changed_on_refusal} changed on refusal, {judge}",
             "0 / 0 / 0, <= 2 false refusals, >= 1500", met)]


def gguf_mutation(binary, top, rng, n, hub):
    box = Sandbox(top, "ggufs", hub)
    base, fields, data_offset = gguf.model(n_layer=4, vocab=4000)
    boundary = [0, 1, 255, 1 << 16, 1 << 28, 1 << 31, (1 << 32) - 1, 1 << 40, (1 << 63), (1 << 64) - 1]
    aims = list(fields.values())
    panics = hangs = 0
    max_rss = 0
    plan_ok = pull_ok = 0
    for i in range(n):
        m = bytearray(base)
        for _ in range(rng.randint(1, 3)):
            op = rng.randrange(4)
            if op == 0:  # a field the reader sizes things by
                at, width = rng.choice(aims), rng.choice([4, 8])
            elif op == 1:  # any aligned word in the header
                at, width = rng.randrange(0, data_offset - 8) & ~3, rng.choice([4, 8])
            elif op == 2:  # a random byte
                at, width = rng.randrange(data_offset), 1
            else:  # a bit flip
                at = rng.randrange(data_offset)
                m[at] ^= 1 << rng.randrange(8)
                continue
            v = rng.choice(boundary) if width > 1 else rng.randrange(256)
            m[at:at + width] = (v % (1 << (8 * width))).to_bytes(width, "little")
        repo = f"o/g{i}"
        hub.add_repo(repo, [("m.gguf", bytes(m))])
        for args in (["plan", "--profile", "vps-8gb", "--json", "--model", f"hf:{repo}/m.gguf"],
                     ["pull", f"hf:{repo}/m.gguf"]):
            r = run(binary, box, args, timeout=30)
            hangs += r.timed_out
            panics += r.panicked and not r.timed_out
            max_rss = max(max_rss, r.max_rss_kib)
            if r.code == 0:
                plan_ok += args[0] == "plan"
                pull_ok += args[0] == "pull"
        hub.repos.pop(repo)
        shutil.rmtree(box.cache, ignore_errors=True)
    mib = max_rss / 1024
    return [("GGUF header mutation", f"{n} mutants x (plan, pull): plan ok {plan_ok}, pull ok {pull_ok}",
             f"{panics} panics, {hangs} hangs, max RSS {mib:.1f} MiB", "0 / 0, <= 64 MiB, >= 300",
             panics == 0 and hangs == 0 and mib <= 64 and n >= 300)]


def deep_nesting(binary, top, depth):
    box = Sandbox(top, "deep")
    config = os.path.join(box.dir, "oc", "openclaw.json")
    text = ('{"a": ' + "[" * depth + "]" * depth + "}\n").encode()
    # A record first, so unpatch has something to undo and must read the file.
    write(config, b"{}\n")
    first = run(binary, box, patch_args(config))
    write(config, text)
    profile = os.path.join(box.dir, "deep.json5")
    write(profile, ("{memory: " + "[" * depth + "]" * depth + "}\n").encode())
    results = []
    for args in (patch_args(config), patch_args(config) + ["--dry-run"], ["openclaw", "unpatch", "--config", config],
                 ["plan", "--profile", profile]):
        r = run(binary, box, args)
        clean = r.code == 2 and "nested deeper than" in r.stderr and not r.panicked
        results.append(clean)
    unchanged = read(config) == text and first.code == 0
    return [("deep nesting", f"depth {depth:,}: patch, patch --dry-run, unpatch (with a record), a profile",
             f"{sum(results)}/{len(results)} refused cleanly (exit 2, named), config {'unchanged' if unchanged else 'CHANGED'}",
             "all refused, nothing written", all(results) and unchanged and depth >= 100_000)]


def fuzz_targets(cases):
    """The proptest fuzz targets (src/fuzz.rs) over their committed corpora, at more cases than `cargo test` runs."""
    env = dict(os.environ, PROPTEST_CASES=str(cases))
    r = subprocess.run(["cargo", "test", "--locked", "--lib", "fuzz::", "--", "--test-threads", "2"], cwd=ROOT,
                       env=env, capture_output=True, text=True)
    m = re.search(r"test result: \w+\. (\d+) passed; (\d+) failed", r.stdout)
    passed, failed = (int(m.group(1)), int(m.group(2))) if m else (0, -1)
    if failed:
        print(r.stdout[-3000:] + r.stderr[-2000:])
    return [("fuzz targets", f"patcher, GGUF reader, profile loader: {cases} cases each over tests/fuzz/corpus",
             f"{passed} targets passed, {failed} failed", "all pass", failed == 0 and passed >= 3)]


def main():
    global SPAWNER
    if sys.argv[1:] == ["--spawner"]:
        serve_spawner()
        return 0
    SPAWNER = Spawner()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="the clawlocal binary")
    ap.add_argument("--node", help="node, to judge configs with OpenClaw's json5")
    ap.add_argument("--json5", help="the npm json5 package folder")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every count (1.0 = the acceptance sizes)")
    ap.add_argument("--only", help="comma-separated probe names: writers,patches,kills,disk,configs,ggufs,deep,fuzz")
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.randrange(1 << 32)
    counts = {k: max(1, int(v * a.scale)) for k, v in
              {"writers": 150, "patches": 30, "kills": 20, "configs": 1500, "ggufs": 300, "fuzz": 5000}.items()}
    print(f"reliability probes: seed {seed}, scale {a.scale}, counts {counts}, binary {a.bin}")
    print(f"repeat with: scripts/reliability.sh --seed {seed} --scale {a.scale}")
    only = set(a.only.split(",")) if a.only else None
    hub = HubMock()
    rows = []
    top = tempfile.mkdtemp(prefix="clawlocal-reliability-")
    probes = [
        ("writers", lambda rng: concurrent_writers(a.bin, top, rng, counts["writers"])),
        ("patches", lambda rng: concurrent_patches(a.bin, top, rng, counts["patches"])),
        ("kills", lambda rng: kill_during_pull(a.bin, top, rng, counts["kills"], hub)),
        ("disk", lambda rng: disk_full(a.bin, top, hub)),
        ("configs", lambda rng: config_mutation(a.bin, top, rng, counts["configs"], a.node, a.json5)),
        ("ggufs", lambda rng: gguf_mutation(a.bin, top, rng, counts["ggufs"], hub)),
        ("deep", lambda rng: deep_nesting(a.bin, top, 100_000)),
        ("fuzz", lambda rng: fuzz_targets(counts["fuzz"])),
    ]
    try:
        for name, probe in probes:
            if only and name not in only:
                continue
            start = time.monotonic()
            # Each probe has its own stream from the seed, so running one alone repeats its part of a full run.
            got = probe(random.Random(f"{seed}-{name}"))
            print(f"  {name}: {time.monotonic() - start:.0f}s")
            rows.extend(got)
    finally:
        hub.stop()
        SPAWNER.stop()
        shutil.rmtree(top, ignore_errors=True)
    print()
    print("| probe | what ran | measured | target | met |")
    print("|---|---|---|---|---|")
    for probe, what, measured, target, met in rows:
        print(f"| {probe} | {what} | {measured} | {target} | {'yes' if met else '**no**'} |")
    print(f"\nseed {seed}; {sum(r[4] for r in rows)}/{len(rows)} rows met")
    return 0 if all(r[4] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
