#!/usr/bin/env python3
"""Load harness: clawprobe serve (and blackbox_exporter) against a synthetic OpenClaw install.

    harness.py [--agents 200] [--models 5] [--providers 10] [--warmup 15] [--duration 30]
               [--scrapers 8] [--scrapes 400] [--blackbox] [--startup-only] [--out FILE]

Run it through bench/run.sh, which builds target/release/clawprobe first. One run measures:

- start-up: spawn -> /healthz 200 (plan built, serving) and -> /readyz 200 (first probe
  cycle done, or first_cycle_timeout_seconds), polled every 5 ms;
- steady-state RSS: VmRSS from /proc/<pid>/status sampled every second over the window
  (mean and max) and VmHWM (peak) at the end;
- CPU per probe: utime+stime from /proc/<pid>/stat over the window divided by the increase
  of sum(clawprobe_probes_total) over the same window;
- /metrics latency: `--scrapers` threads with keep-alive connections sending `--scrapes`
  GETs in total while probes run; p50/p90/p99/max, series count and body size;
- requests and tokens the fake provider saw in the window, by kind, and per day at the
  schedule's time scale (60x, see gen_install.py);
- with --blackbox: prometheus-blackbox-exporter probing the same agents x models endpoints
  (http_2xx against /v1/models/{id}) at the same rate, driven by a Prometheus-like
  scheduler in this script; its RSS and CPU per probe measured the same way.

Everything listens on 127.0.0.1 only. Prints a human summary and writes JSON to --out.
Standard library only.
"""
import argparse
import http.client
import json
import multiprocessing
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import gen_install  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    # Fields after the comm: state is rest[0]; utime is field 14 -> rest[11], stime rest[12].
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def proc_mem_kib(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[k] = int(v.split()[0])
    return out


def get(port, path, timeout=10.0):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def try_status(port, path):
    try:
        return get(port, path, timeout=1.0)[0]
    except OSError:
        return None


def metric_sum(text, name):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def series_count(text):
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    i = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[i]


def start_fake(workdir):
    port_file = os.path.join(workdir, "fake.port")
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "fake_provider.py"),
                          "--port-file", port_file],
                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "fake.log"), "w"))
    for _ in range(500):
        if os.path.exists(port_file):
            return p, int(open(port_file).read())
        if p.poll() is not None:
            raise SystemExit("fake provider exited; see fake.log")
        time.sleep(0.01)
    raise SystemExit("fake provider did not start")


def stop(p):
    if p and p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def fake_stats(port):
    return json.loads(get(port, "/_stats")[1])


def stats_delta(a, b):
    kinds = set(a["requests"]) | set(b["requests"])
    return {
        "seconds": b["now"] - a["now"],
        "requests": {k: b["requests"].get(k, 0) - a["requests"].get(k, 0) for k in sorted(kinds)},
        "tokens_in": b["tokens_in"] - a["tokens_in"],
        "tokens_out": b["tokens_out"] - a["tokens_out"],
    }


def _scrape_worker(port, n, out):
    """One scraper process: `n` GET /metrics on one keep-alive connection."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    mine, sizes, errors = [], [], 0
    for _ in range(n):
        t = time.perf_counter()
        try:
            c.request("GET", "/metrics")
            r = c.getresponse()
            body = r.read()
            ok = r.status == 200
        except (OSError, http.client.HTTPException):
            ok = False
            c.close()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        dt = time.perf_counter() - t
        if ok:
            mine.append(dt)
            sizes.append(len(body))
        else:
            errors += 1
    c.close()
    out.put((mine, max(sizes) if sizes else None, errors))


def scrape_latency(port, scrapers, total):
    """`scrapers` client processes (not threads: Python's GIL would serialise the clients
    and its wait would count as scrape latency), keep-alive connections, `total`
    GET /metrics in all."""
    per = [total // scrapers + (1 if i < total % scrapers else 0) for i in range(scrapers)]
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_scrape_worker, args=(port, n, out)) for n in per]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    wall = time.perf_counter() - t0
    lat = sorted(x for mine, _, _ in results for x in mine)
    sizes = [s for _, s, _ in results if s]
    errors = sum(e for _, _, e in results)
    ms = lambda v: None if v is None else round(v * 1000, 2)  # noqa: E731
    return {
        "scrapers": scrapers, "requests": len(lat), "errors": errors,
        "p50_ms": ms(pct(lat, 50)), "p90_ms": ms(pct(lat, 90)), "p99_ms": ms(pct(lat, 99)),
        "max_ms": ms(lat[-1] if lat else None),
        "throughput_rps": round(len(lat) / wall, 1) if wall else None,
        "body_bytes": max(sizes) if sizes else None,
    }


def single_scrape_latency(port, n=50, gap=0.0):
    """Sequential scrapes: latency without queueing behind other scrapers. With `gap`
    seconds between scrapes longer than clawprobe's 1 s body reuse, every scrape renders
    (a "cold" scrape, as a Prometheus scraping every 15 s sees it)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    lat = []
    for _ in range(n):
        if gap:
            time.sleep(gap)
        t = time.perf_counter()
        c.request("GET", "/metrics")
        r = c.getresponse()
        r.read()
        lat.append(time.perf_counter() - t)
    c.close()
    lat.sort()
    return {"requests": n, "p50_ms": round(pct(lat, 50) * 1000, 2),
            "p99_ms": round(pct(lat, 99) * 1000, 2)}


def sample_window(pid, duration, extra=None):
    """RSS every second for `duration` seconds; CPU seconds over the window."""
    cpu0 = proc_cpu_seconds(pid)
    t0 = time.monotonic()
    rss = []
    while time.monotonic() - t0 < duration:
        rss.append(proc_mem_kib(pid)["VmRSS"])
        if extra:
            extra()
        time.sleep(1.0)
    cpu1 = proc_cpu_seconds(pid)
    wall = time.monotonic() - t0
    mem = proc_mem_kib(pid)
    return {
        "seconds": round(wall, 1),
        "cpu_seconds": round(cpu1 - cpu0, 3),
        "cpu_percent_of_one_core": round(100 * (cpu1 - cpu0) / wall, 2),
        "rss_mean_kib": int(sum(rss) / len(rss)),
        "rss_max_kib": max(rss),
        "vmhwm_kib": mem["VmHWM"],
        "rss_anon_kib": mem.get("RssAnon"),
    }


def run_clawprobe(args, binary, workdir):
    os.makedirs(workdir, exist_ok=True)
    fake, fport = start_fake(workdir)
    port = free_port()
    cfg, targets = gen_install.write(os.path.join(workdir, "install"), args.agents, args.models,
                                     args.providers, fport, f"127.0.0.1:{port}",
                                     args.schedule, first_cycle_timeout=args.first_cycle_timeout)
    log = open(os.path.join(workdir, "clawprobe.log"), "w")
    res = {"agents": args.agents, "models": args.models, "targets": targets,
           "providers": args.providers, "schedule": args.schedule}
    t0 = time.monotonic()
    p = subprocess.Popen([binary, "--config", cfg, "--log.level", "warn", "serve"],
                         stdout=log, stderr=log)
    try:
        healthy = ready = None
        while time.monotonic() - t0 < args.ready_timeout:
            if p.poll() is not None:
                raise SystemExit(f"clawprobe exited with {p.returncode}; see {log.name}")
            if healthy is None and try_status(port, "/healthz") == 200:
                healthy = time.monotonic() - t0
            if healthy is not None and try_status(port, "/readyz") == 200:
                ready = time.monotonic() - t0
                break
            time.sleep(0.005)
        res["startup"] = {
            "to_healthz_s": None if healthy is None else round(healthy, 3),
            "to_readyz_s": None if ready is None else round(ready, 3),
            "rss_at_ready_kib": proc_mem_kib(p.pid)["VmRSS"],
        }
        if args.startup_only:
            return res
        # RSS of probing alone, before the first /metrics scrape allocates anything.
        time.sleep(args.warmup)
        res["rss_before_first_scrape_kib"] = proc_mem_kib(p.pid)["VmRSS"]
        text0 = get(port, "/metrics")[1].decode()
        res["rss_after_first_scrape_kib"] = proc_mem_kib(p.pid)["VmRSS"]
        f0 = fake_stats(fport)
        win = sample_window(p.pid, args.duration)
        text1 = get(port, "/metrics")[1].decode()
        f1 = fake_stats(fport)
        probes = metric_sum(text1, "clawprobe_probes_total") - metric_sum(text0, "clawprobe_probes_total")
        skipped = (metric_sum(text1, "clawprobe_probes_skipped_total")
                   - metric_sum(text0, "clawprobe_probes_skipped_total"))
        tokens = (metric_sum(text1, "clawprobe_probe_tokens_total")
                  - metric_sum(text0, "clawprobe_probe_tokens_total"))
        win["probes"] = int(probes)
        win["probes_skipped"] = int(skipped)
        win["probe_tokens"] = int(tokens)
        win["cpu_ms_per_probe"] = round(1000 * win["cpu_seconds"] / probes, 4) if probes else None
        win["fake_provider"] = stats_delta(f0, f1)
        res["steady"] = win
        res["series"] = series_count(text1)
        res["metrics_bytes"] = len(text1)
        # Scrape latency while probes keep running.
        cpu0 = proc_cpu_seconds(p.pid)
        res["scrape_sequential"] = single_scrape_latency(port)
        res["scrape_cold"] = single_scrape_latency(port, n=args.cold_scrapes, gap=1.2)
        res["scrape_concurrent"] = scrape_latency(port, args.scrapers, args.scrapes)
        res["scrape_cpu_seconds"] = round(proc_cpu_seconds(p.pid) - cpu0, 3)
        res["after_scrapes"] = proc_mem_kib(p.pid)
        return res
    finally:
        stop(p)
        stop(fake)
        log.close()


BLACKBOX_CONFIG = """modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      valid_status_codes: [200]
      headers:
        Authorization: Bearer sk-bench-0000-0123456789abcdef
"""


def run_blackbox(args, workdir, interval):
    os.makedirs(workdir, exist_ok=True)
    exe = shutil.which("prometheus-blackbox-exporter") or shutil.which("blackbox_exporter")
    if not exe:
        return {"error": "prometheus-blackbox-exporter not installed "
                         "(apt-get install prometheus-blackbox-exporter)"}
    fake, fport = start_fake(workdir)
    port = free_port()
    cfg = os.path.join(workdir, "blackbox.yml")
    with open(cfg, "w") as f:
        f.write(BLACKBOX_CONFIG)
    log = open(os.path.join(workdir, "blackbox.log"), "w")
    t0 = time.monotonic()
    p = subprocess.Popen([exe, f"--config.file={cfg}", f"--web.listen-address=127.0.0.1:{port}"],
                         stdout=log, stderr=log)
    n = args.agents * args.models
    urls = [f"http://127.0.0.1:{fport}/v1/models/m{i}" for i in range(n)]
    res = {"targets": n, "interval_s": interval, "binary": exe}
    try:
        while try_status(port, "/-/healthy") != 200:
            if p.poll() is not None or time.monotonic() - t0 > 30:
                raise SystemExit(f"blackbox_exporter did not start; see {log.name}")
            time.sleep(0.005)
        res["to_healthy_s"] = round(time.monotonic() - t0, 3)
        res["rss_idle_kib"] = proc_mem_kib(p.pid)["VmRSS"]
        # A Prometheus-like driver: every target once per interval, spread evenly, each
        # /probe on a fresh connection as Prometheus scrapes do; enough workers that the
        # driver never falls behind at this rate.
        stop_at = [None]
        done = {"ok": 0, "fail": 0}
        lock = threading.Lock()
        q = queue.Queue()

        def producer():
            start = time.monotonic()
            k = 0
            while stop_at[0] is None or time.monotonic() < stop_at[0]:
                due = start + k * interval / n
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                q.put(urls[k % n])
                k += 1
            for _ in range(args.blackbox_workers):
                q.put(None)

        def worker():
            while True:
                u = q.get()
                if u is None:
                    return
                try:
                    st, body = get(port, f"/probe?module=http_2xx&target={u}")
                    ok = st == 200 and b"\nprobe_success 1" in body
                except OSError:
                    ok = False
                with lock:
                    done["ok" if ok else "fail"] += 1

        workers = [threading.Thread(target=worker, daemon=True) for _ in range(args.blackbox_workers)]
        for w in workers:
            w.start()
        prod = threading.Thread(target=producer, daemon=True)
        stop_at[0] = time.monotonic() + args.warmup + args.duration + 1
        prod.start()
        time.sleep(args.warmup)
        with lock:
            ok0, fail0 = done["ok"], done["fail"]
        f0 = fake_stats(fport)
        win = sample_window(p.pid, args.duration)
        with lock:
            ok1, fail1 = done["ok"], done["fail"]
        f1 = fake_stats(fport)
        probes = (ok1 - ok0) + (fail1 - fail0)
        win["probes"] = probes
        win["probes_failed"] = fail1 - fail0
        win["cpu_ms_per_probe"] = round(1000 * win["cpu_seconds"] / probes, 4) if probes else None
        win["fake_provider"] = stats_delta(f0, f1)
        res["steady"] = win
        prod.join(timeout=args.duration + 10)
        for w in workers:
            w.join(timeout=10)
        return res
    finally:
        stop(p)
        stop(fake)
        log.close()


def summary(res):
    lines = []
    c = res.get("clawprobe")
    if c:
        lines.append(f"clawprobe: {c['agents']} agents x {c['models']} models = {c['targets']} targets, "
                     f"{c['providers']} providers, schedule {c['schedule']}")
        s = c["startup"]
        lines.append(f"  start-up: /healthz {s['to_healthz_s']} s, /readyz {s['to_readyz_s']} s, "
                     f"RSS at ready {s['rss_at_ready_kib'] / 1024:.1f} MiB")
        if "rss_before_first_scrape_kib" in c:
            lines.append(f"  RSS after warm-up, before any scrape {c['rss_before_first_scrape_kib'] / 1024:.1f} MiB, "
                         f"after the first scrape {c['rss_after_first_scrape_kib'] / 1024:.1f} MiB")
        if "steady" in c:
            w = c["steady"]
            lines.append(f"  steady {w['seconds']} s: RSS mean {w['rss_mean_kib'] / 1024:.1f} MiB, "
                         f"max {w['rss_max_kib'] / 1024:.1f} MiB, HWM {w['vmhwm_kib'] / 1024:.1f} MiB; "
                         f"CPU {w['cpu_seconds']} s ({w['cpu_percent_of_one_core']}% of a core)")
            lines.append(f"  probes {w['probes']} (skipped {w['probes_skipped']}), "
                         f"CPU per probe {w['cpu_ms_per_probe']} ms, tokens {w['probe_tokens']}; "
                         f"fake provider saw {w['fake_provider']['requests']}, "
                         f"tokens in/out {w['fake_provider']['tokens_in']}/{w['fake_provider']['tokens_out']}")
            sc, ss, sk = c["scrape_concurrent"], c["scrape_sequential"], c["scrape_cold"]
            lines.append(f"  /metrics: {c['series']} series, {c['metrics_bytes']} bytes; cold (1.2 s apart) "
                         f"p50 {sk['p50_ms']} ms p99 {sk['p99_ms']} ms; back-to-back "
                         f"p50 {ss['p50_ms']} ms p99 {ss['p99_ms']} ms; {sc['scrapers']} concurrent x "
                         f"{sc['requests']}: p50 {sc['p50_ms']} p90 {sc['p90_ms']} p99 {sc['p99_ms']} "
                         f"max {sc['max_ms']} ms ({sc['errors']} errors, {sc['throughput_rps']} req/s); "
                         f"RSS after scrapes {c['after_scrapes']['VmRSS'] / 1024:.1f} MiB, "
                         f"HWM {c['after_scrapes']['VmHWM'] / 1024:.1f} MiB")
    b = res.get("blackbox")
    if b:
        if "error" in b:
            lines.append(f"blackbox_exporter: {b['error']}")
        else:
            w = b["steady"]
            lines.append(f"blackbox_exporter: {b['targets']} targets every {b['interval_s']} s; "
                         f"healthy in {b['to_healthy_s']} s, idle RSS {b['rss_idle_kib'] / 1024:.1f} MiB")
            lines.append(f"  steady {w['seconds']} s: RSS mean {w['rss_mean_kib'] / 1024:.1f} MiB, "
                         f"max {w['rss_max_kib'] / 1024:.1f} MiB, HWM {w['vmhwm_kib'] / 1024:.1f} MiB; "
                         f"CPU {w['cpu_seconds']} s; probes {w['probes']} ({w['probes_failed']} failed), "
                         f"CPU per probe {w['cpu_ms_per_probe']} ms")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "clawprobe"))
    ap.add_argument("--agents", type=int, default=200)
    ap.add_argument("--models", type=int, default=5)
    ap.add_argument("--providers", type=int, default=len(gen_install.PROVIDER_IDS))
    ap.add_argument("--schedule", default="scaled", choices=sorted(gen_install.SCHEDULES))
    ap.add_argument("--first-cycle-timeout", type=float, default=60.0)
    ap.add_argument("--ready-timeout", type=float, default=90.0)
    ap.add_argument("--warmup", type=float, default=15.0)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--scrapers", type=int, default=8)
    ap.add_argument("--scrapes", type=int, default=400)
    ap.add_argument("--cold-scrapes", type=int, default=20,
                    help="sequential scrapes 1.2 s apart (each one renders)")
    ap.add_argument("--startup-only", action="store_true")
    ap.add_argument("--no-clawprobe", action="store_true")
    ap.add_argument("--blackbox", action="store_true")
    ap.add_argument("--blackbox-interval", type=float, default=5.0,
                    help="seconds between probes of one target (clawprobe's scaled metadata)")
    ap.add_argument("--blackbox-workers", type=int, default=32)
    ap.add_argument("--out", help="write the JSON result here")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, install)")
    args = ap.parse_args()

    workdir = tempfile.mkdtemp(prefix="clawprobe-bench-")
    res = {"started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "loadavg_at_start": open("/proc/loadavg").read().split()[:3]}
    try:
        if not args.no_clawprobe:
            if not os.access(args.binary, os.X_OK):
                raise SystemExit(f"{args.binary} not found; run `cargo build --release` "
                                 "(bench/run.sh does)")
            res["clawprobe"] = run_clawprobe(args, args.binary, os.path.join(workdir, "c"))
        if args.blackbox:
            res["blackbox"] = run_blackbox(args, os.path.join(workdir, "b"), args.blackbox_interval)
    finally:
        res["loadavg_at_end"] = open("/proc/loadavg").read().split()[:3]
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(summary(res))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(res, f, indent=2)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
