#!/usr/bin/env python3
"""Calibrate clawlocal's memory estimate against what llama-server really uses (issue 22).

For each real model shape (shapes.py) × quant × context: a random-weight GGUF of that shape (cached), served by the
Hub mock; `clawlocal init --service none --no-start` with it, then llama-server run with exactly the argv
`clawlocal serve --print` gives (plus `-lv 4`, so it logs its buffers); a prompt of ~200 tokens and a few generated
ones; then llama.cpp's own buffer lines and the process's VmHWM, against `clawlocal plan --json`'s estimate.
Prints one table (estimate ÷ measured per row, the worst) and writes it as markdown with --out.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "reliability"))
import shapes  # noqa: E402
from hubmock import HubMock  # noqa: E402

MIB = 1 << 20


def sha256_cached(path):
    side = path + ".sha256"
    if os.path.exists(side) and os.path.getmtime(side) >= os.path.getmtime(path):
        return open(side).read().strip()
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(8 << 20), b""):
            h.update(chunk)
    open(side, "w").write(h.hexdigest())
    return h.hexdigest()


def model_file(work, gguf_py, quantize, shape, quant):
    """The cached GGUF of `shape` at `quant` (F16 written by gguf-py, the rest by llama-quantize)."""
    f16 = os.path.join(work, f"{shape}-F16.gguf")
    if not os.path.exists(f16):
        print(f"  writing {shape} F16", flush=True)
        sys.path.insert(0, gguf_py)
        import gguf

        shapes.write(gguf, shape, f16 + ".tmp")
        os.rename(f16 + ".tmp", f16)
    out = os.path.join(work, f"{shape}-{quant}.gguf")
    if quant != "F16" and not os.path.exists(out):
        print(f"  quantizing {shape} to {quant}", flush=True)
        subprocess.run([quantize, f16, out + ".tmp", quant, str(os.cpu_count())], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.rename(out + ".tmp", out)
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BUFFER = re.compile(r"(\w+)[ _](model|KV|compute|output|REPACK model|RS) buffer size =\s+([\d.]+) MiB")


def buffers(log):
    """llama.cpp's own buffer lines, summed by kind: model (mapped file), repack, kv, compute, output."""
    out = {"model": 0.0, "repack": 0.0, "kv": 0.0, "compute": 0.0, "output": 0.0}
    for line in log.splitlines():
        m = re.search(r"(\S+) model buffer size =\s+([\d.]+) MiB", line)
        if m:
            out["repack" if "REPACK" in m.group(1) else "model"] += float(m.group(2))
            continue
        for kind, key in (("KV", "kv"), ("RS", "kv"), ("compute", "compute"), ("output", "output")):
            m = re.search(rf"\b{kind} buffer size =\s+([\d.]+) MiB", line)
            if m:
                out[key] += float(m.group(1))
    return out


def clawlocal(binary, env, *args, check=True):
    r = subprocess.run([binary, "--scope", "user", *args], env=env, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"clawlocal {' '.join(args)}: exit {r.returncode}\n{r.stderr}")
    return r


class Box:
    """A throwaway HOME whose HF cache already holds the model (hard-linked: init fetches nothing)."""

    def __init__(self, hub, work, gguf_py, quantize, shape, quant, profile_text):
        self.path = model_file(work, gguf_py, quantize, shape, quant)
        self.name = os.path.basename(self.path)
        repo = f"bench/{shape}-{quant.lower()}"
        sha = sha256_cached(self.path)
        hub.add_repo(repo, [(self.name, self.path, sha)])
        self.dir = tempfile.mkdtemp(prefix="run-", dir=work)
        cache = os.path.join(self.dir, "hf")
        blobs = os.path.join(cache, f"models--{repo.replace('/', '--')}", "blobs")
        os.makedirs(blobs)
        os.link(self.path, os.path.join(blobs, sha))
        self.port = free_port()
        self.profile = os.path.join(self.dir, "profile.json5")
        open(self.profile, "w").write(profile_text.replace("PORT", str(self.port)))
        self.env = {"HOME": os.path.join(self.dir, "home"), "PATH": "/usr/bin:/bin", "NO_COLOR": "1",
                    "XDG_STATE_HOME": os.path.join(self.dir, "state"),
                    "XDG_CONFIG_HOME": os.path.join(self.dir, "config"), "HF_HUB_CACHE": cache,
                    "HF_ENDPOINT": hub.endpoint, "CLAWLOCAL_HUB_RETRIES": "1"}
        os.makedirs(self.env["HOME"])
        self.spec = f"hf:{repo}/{self.name}"

    def estimate(self, binary, context):
        plan = json.loads(clawlocal(binary, self.env, "plan", "--json", "--profile", self.profile, "--model",
                                    self.spec, *context_args(context)).stdout)
        return plan["selection"]["estimate"]


def context_args(context):
    """`--context N`; below OpenClaw's minimum of 16000 with the hidden flag that lets clawlocal plan and set up a
    context OpenClaw itself would refuse (calibration only)."""
    return ["--context", str(context)] + (["--below-openclaw-minimum"] if context < 16000 else [])


def measure(binary, engine, hub, work, gguf_py, quantize, shape, quant, context, profile_text):
    b = Box(hub, work, gguf_py, quantize, shape, quant, profile_text)
    box, path, port, env, spec, profile = b.dir, b.path, b.port, b.env, b.spec, b.profile
    try:
        estimate = b.estimate(binary, context)
        # Below 16000 init sets up all the same and exits 1: its doctor finds the context OpenClaw would refuse.
        r = clawlocal(binary, env, "init", "--yes", "--service", "none", "--no-start", "--profile", profile,
                      "--model", spec, *context_args(context), "--engine", engine, check=context >= 16000)
        if r.returncode != 0 and not (r.returncode == 1 and "below 16000" in r.stdout + r.stderr):
            raise RuntimeError(f"clawlocal init: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
        served = json.loads(clawlocal(binary, env, "serve", "--print", "--json").stdout)
        argv = [served["program"], *served["args"], "-lv", "4"]
        key_file = served["args"][served["args"].index("--api-key-file") + 1]
        key = open(key_file).read().strip()
        log_path = os.path.join(box, "engine.log")
        with open(log_path, "w") as log:
            p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env={"PATH": "/usr/bin:/bin"})
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                try:
                    urllib.request.urlopen(base + "/health", timeout=2)
                    break
                except OSError:
                    if p.poll() is not None:
                        raise RuntimeError(f"llama-server exited {p.returncode}:\n{open(log_path).read()[-3000:]}")
                    time.sleep(0.5)
            prompt = [300 + (i * 7919) % 100000 for i in range(200)]
            body = json.dumps({"prompt": prompt, "n_predict": 8, "cache_prompt": False}).encode()
            req = urllib.request.Request(base + "/completion", data=body, headers={
                "Content-Type": "application/json", "Authorization": f"Bearer {key}"})
            urllib.request.urlopen(req, timeout=600).read()
            hwm = int(re.search(r"VmHWM:\s+(\d+) kB", open(f"/proc/{p.pid}/status").read()).group(1)) * 1024
        finally:
            p.terminate()
            p.wait()
        b = buffers(open(log_path).read())
        return {"shape": shape, "quant": quant, "context": context, "file_mib": os.path.getsize(path) / MIB,
                "buffers": b, "measured_mib": hwm / MIB, "estimate_mib": estimate["total_bytes"] / MIB,
                "estimate": {k: v / MIB for k, v in estimate.items() if k.endswith("_bytes")},
                "mlock": "--load-mode" in argv or "--mlock" in argv}
    finally:
        shutil.rmtree(box, ignore_errors=True)


def table(rows):
    """One prompt leaves the prompt cache empty and makes no checkpoint: the estimate is compared without those
    terms (the growth `--cache-ram` and `--ctx-checkpoints` bound, shown beside it; tests/it/e2e.rs drives ten
    conversations into it)."""
    out = ["| model shape | quant | ctx | file MiB | llama's buffers MiB (model + repack / KV / compute) | "
           "measured VmHWM MiB | estimate MiB (+ prompt cache and checkpoints) | estimate ÷ measured | within ±10% or 64 MiB |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        b = r["buffers"]
        # The growth: prompt cache and context checkpoints, empty after one prompt.
        cache = r["estimate"].get("prompt_cache_bytes", 0) + r["estimate"].get("checkpoint_bytes", 0)
        r["estimate_mib"] = r["estimate"]["total_bytes"] - cache
        ratio = r["estimate_mib"] / r["measured_mib"]
        ok = abs(r["estimate_mib"] - r["measured_mib"]) <= max(0.10 * r["measured_mib"], 64)
        r["ok"] = ok
        out.append(f"| {r['shape']} | {r['quant']} | {r['context']} | {r['file_mib']:.0f} | "
                   f"{b['model']:.0f} + {b['repack']:.0f} / {b['kv']:.0f} / {b['compute']:.1f} | "
                   f"{r['measured_mib']:.0f}{' (mlock)' if r['mlock'] else ''} | {r['estimate_mib']:.0f} (+ {cache:.0f}) | "
                   f"{ratio:.3f} | {'yes' if ok else '**no**'} |")
    worst = max(rows, key=lambda r: abs(r["estimate_mib"] / r["measured_mib"] - 1))
    out.append("")
    out.append(f"worst: {worst['shape']} {worst['quant']} ctx {worst['context']}: estimate ÷ measured = "
               f"{worst['estimate_mib'] / worst['measured_mib']:.3f}; {sum(r['ok'] for r in rows)}/{len(rows)} rows "
               "within ±10% or 64 MiB")
    return "\n".join(out)


PROFILE = """// A box with room for every row: the estimate, not the budget, is what is measured.
{ description: "bench-estimate", memory: "MEMORY", reserve: "1GiB", cores: CORES, disk: "500GiB", port: PORT }
"""

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--engine", required=True, help="llama-server")
    ap.add_argument("--quantize", required=True, help="llama-quantize")
    ap.add_argument("--gguf-py", required=True, help="llama.cpp's gguf-py folder")
    ap.add_argument("--work", required=True, help="a cache folder for the generated models")
    ap.add_argument("--shapes", default=",".join(shapes.SHAPES))
    ap.add_argument("--quants", default="Q4_K_M,Q8_0")
    ap.add_argument("--contexts", default="4096,16384,24576,32768")
    ap.add_argument("--memory", default="20GiB", help="the profile's memory (decides mlock, as on a real box)")
    ap.add_argument("--measured", help="rows.json of an earlier run: recompute only the estimates")
    ap.add_argument("--out", help="write the table (markdown) and the rows (json beside it) here")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    profile = PROFILE.replace("MEMORY", args.memory).replace("CORES", str(os.cpu_count()))
    hub = HubMock()
    rows = []
    try:
        if args.measured:
            # The engine's side is the same for a given shape, quant, context and argv: take it from a run before
            # and only ask this build for its estimate.
            for row in json.load(open(args.measured)):
                b = Box(hub, args.work, args.gguf_py, args.quantize, row["shape"], row["quant"], profile)
                try:
                    e = b.estimate(args.bin, row["context"])
                finally:
                    shutil.rmtree(b.dir, ignore_errors=True)
                row["estimate_mib"] = e["total_bytes"] / MIB
                row["estimate"] = {k: v / MIB for k, v in e.items() if k.endswith("_bytes")}
                rows.append(row)
        for shape in [] if args.measured else args.shapes.split(","):
            for quant in args.quants.split(","):
                for context in map(int, args.contexts.split(",")):
                    print(f"{shape} {quant} ctx {context}", flush=True)
                    row = measure(args.bin, args.engine, hub, args.work, args.gguf_py, args.quantize, shape, quant,
                                  context, profile)
                    print(f"  measured {row['measured_mib']:.0f} MiB, estimate {row['estimate_mib']:.0f} MiB, "
                          f"buffers {row['buffers']}", flush=True)
                    rows.append(row)
    finally:
        hub.stop()
    text = table(rows)
    print()
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
        with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
            json.dump(rows, f, indent=1)
    sys.exit(0 if all(r["ok"] for r in rows) else 1)
