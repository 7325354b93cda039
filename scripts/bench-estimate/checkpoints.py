"""Context checkpoints of a sliding-window model, measured (issue 22): the gemma-3-1b shape served with clawlocal's
argv (its `--ctx-checkpoints N` from the estimate) and with llama-server's default (32 per slot), each driven
through one conversation of `--turns` growing prompts (every turn appends to the last, as OpenClaw's agent does;
llama-server reuses the cached prefix and checkpoints near each prompt's end). Prints the process's VmHWM after
load and after the last turn, the checkpoints the engine logged, and clawlocal's estimate with its growth terms.

usage: (through scripts/bench-estimate.sh's venv) python checkpoints.py --bin … --engine … --quantize … --gguf-py …
       --work … [--shape gemma-3-1b] [--quant Q4_K_M] [--context 16384] [--turns 10]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import run  # noqa: E402
from hubmock import HubMock  # noqa: E402  (a fake speaking the Hub's protocol, as run.py uses it)

MIB = 1 << 20


def hwm(pid):
    return int(re.search(r"VmHWM:\s+(\d+) kB", open(f"/proc/{pid}/status").read()).group(1)) * 1024


def converse(argv, port, key, turns, log_path):
    with open(log_path, "w") as log:
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env={"PATH": "/usr/bin:/bin"})
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 600
        while True:
            try:
                urllib.request.urlopen(base + "/health", timeout=2)
                break
            except OSError:
                if p.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"llama-server did not come up:\n{open(log_path).read()[-3000:]}")
                time.sleep(0.5)
        loaded = hwm(p.pid)
        prompt = [300 + (i * 7919) % 100000 for i in range(1200)]
        for turn in range(turns):
            prompt += [400 + (turn * 104729 + i * 31) % 90000 for i in range(160)]
            body = json.dumps({"prompt": prompt, "n_predict": 4, "cache_prompt": True}).encode()
            req = urllib.request.Request(base + "/completion", data=body, headers={
                "Content-Type": "application/json", "Authorization": f"Bearer {key}"})
            urllib.request.urlopen(req, timeout=900).read()
            print(f"    turn {turn + 1}: {len(prompt)} tokens, VmHWM {hwm(p.pid) / MIB:.0f} MiB", flush=True)
        return loaded, hwm(p.pid)
    finally:
        p.terminate()
        p.wait()


def main():
    ap = argparse.ArgumentParser()
    for flag in ("--bin", "--engine", "--quantize", "--gguf-py", "--work"):
        ap.add_argument(flag, required=True)
    ap.add_argument("--shape", default="gemma-3-1b")
    ap.add_argument("--quant", default="Q4_K_M")
    ap.add_argument("--context", type=int, default=16384)
    ap.add_argument("--turns", type=int, default=10)
    args = ap.parse_args()
    hub = HubMock()
    profile = run.PROFILE.replace("MEMORY", "20GiB").replace("CORES", str(os.cpu_count()))
    try:
        measure(hub, args, profile)
    finally:
        hub.stop()


def measure(hub, args, profile):
    b = run.Box(hub, args.work, args.gguf_py, args.quantize, args.shape, args.quant, profile)
    e = b.estimate(args.bin, args.context)
    run.clawlocal(args.bin, b.env, "init", "--yes", "--service", "none", "--no-start", "--profile", b.profile,
                  "--model", b.spec, "--context", str(args.context), "--engine", args.engine)
    served = json.loads(run.clawlocal(args.bin, b.env, "serve", "--print", "--json").stdout)
    argv = [served["program"], *served["args"], "-lv", "4"]
    key = open(served["args"][served["args"].index("--api-key-file") + 1]).read().strip()
    i = argv.index("--ctx-checkpoints")
    ours = argv[i + 1]
    # The prompt cache is the other growth term; off in both runs so the difference is the checkpoints alone.
    j = argv.index("--cache-ram")
    argv[j + 1] = "0"
    at_load = e["total_bytes"] - e["prompt_cache_bytes"] - e["checkpoint_bytes"]
    print(f"{args.shape} {args.quant} ctx {args.context}: estimate at load {at_load / MIB:.0f} MiB; "
          f"checkpoints {e['checkpoints']} × {e['checkpoint_each_bytes'] / MIB:.1f} MiB = "
          f"{e['checkpoint_bytes'] / MIB:.0f} MiB", flush=True)
    rows = []
    for label, n in (("clawlocal", ours), ("llama-server default", "32")):
        argv[i + 1] = n
        print(f"  --ctx-checkpoints {n} ({label})", flush=True)
        log_path = os.path.join(b.dir, f"engine-{n}.log")
        loaded, peak = converse(argv, b.port, key, args.turns, log_path)
        made = len(re.findall(r"created context checkpoint", open(log_path).read()))
        rows.append((label, n, loaded, peak, made))
    print("\n| run | --ctx-checkpoints | VmHWM loaded MiB | VmHWM after turns MiB | growth MiB | checkpoints made |"
          " estimate at load + checkpoints MiB | within |")
    print("|---|---|---|---|---|---|---|---|")
    for label, n, loaded, peak, made in rows:
        bound = (at_load + e["checkpoint_bytes"]) / MIB
        print(f"| {label} | {n} | {loaded / MIB:.0f} | {peak / MIB:.0f} | {(peak - loaded) / MIB:.0f} | {made} | "
              f"{bound:.0f} | {'yes' if peak / MIB <= bound else '**no**'} |")


if __name__ == "__main__":
    threading.stack_size(8 << 20)
    main()
