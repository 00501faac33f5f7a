#!/usr/bin/env python3
"""Writes a synthetic OpenClaw install and a clawprobe config for the load harness.

    gen_install.py --dir DIR --agents 200 --models 5 --providers 10 --provider-port PORT
                   --listen 127.0.0.1:PORT [--schedule scaled|default]

Layout (see /work/shared/openclaw/FORMATS.md):
    DIR/state/openclaw.json   JSON5 (comments, unquoted keys, trailing commas):
                              models.providers.bench<p> (openai-completions on
                              http://127.0.0.1:PORT/v1, literal apiKey, listed models) and
                              agents.entries.agent<a> with a primary and models-1 fallbacks.
    DIR/clawprobe.toml        [openclaw] pointing at it, [server] listen, [schedule].

Every (agent, position) gets its own model, so there are agents x models unique targets,
spread round-robin over `providers` providers with one key each (one credential per
provider). The providers take ids of OpenClaw's catalog for which clawprobe's metadata probe
is `GET {baseUrl}/models/{id}` (PER_MODEL in src/probe/openai.rs), their baseUrl pointed at
the fake provider: other ids would make it fetch the whole model list once per target. The `scaled` schedule runs the default cadence 60x faster (metadata every 5 s
instead of 5 min, credential generation every minute instead of every hour, model
generation every 6 minutes instead of 6 hours) with min_key_spacing at 10 ms.
"""
import argparse
import os

# Catalog provider ids whose OpenAI-style metadata probe asks for one model (see
# src/probe/openai.rs PER_MODEL); at most this many providers (= credentials) per install.
PROVIDER_IDS = ["openai", "groq", "mistral", "xai", "cerebras", "moonshot", "litellm"]

SCHEDULES = {
    # 60x the defaults in src/config/default.toml.
    "scaled": {
        "metadata": "*/5 * * * * *",
        "credential_generation": "30 * * * * *",
        "model_generation": "45 */6 * * * *",
        # 2 s / 60 would be 33 ms, but then 143 targets per credential (1,000 targets on 7
        # keys) need 4.8 s per cycle, more than the 4 s spread window: cycles would overrun
        # and be skipped. The same is true unscaled (286 s > 240 s); see BENCHMARKS.md.
        "min_key_spacing_seconds": 0.01,
        "recheck_after_failure_seconds": 1.0,
    },
    "default": {},
}


def write(dirpath, agents, models, providers, provider_port, listen, schedule="scaled",
          first_cycle_timeout=60.0):
    if not 1 <= providers <= len(PROVIDER_IDS):
        raise SystemExit(f"--providers must be 1..{len(PROVIDER_IDS)}")
    state = os.path.join(dirpath, "state")
    os.makedirs(state, exist_ok=True)
    base = f"http://127.0.0.1:{provider_port}/v1"
    per_provider = {}
    chains = []
    for a in range(agents):
        refs = []
        for j in range(models):
            n = a * models + j
            p = n % providers
            m = f"m{n // providers}"
            per_provider.setdefault(p, []).append(m)
            refs.append(f"{PROVIDER_IDS[p]}/{m}")
        chains.append(refs)
    out = ["// Synthetic OpenClaw install written by bench/gen_install.py.", "{",
           "  models: {", "    providers: {"]
    for p in range(providers):
        out.append(f'      {PROVIDER_IDS[p]}: {{ baseUrl: "{base}", api: "openai-completions", '
                   f'apiKey: "sk-bench-{p:04d}-0123456789abcdef",')
        out.append("        models: [")
        out.extend(f'          {{ id: "{m}", name: "{m}" }},' for m in per_provider.get(p, []))
        out.append("        ],")
        out.append("      },")
    out += ["    },", "  },", "  agents: {", '    ownership: "explicit",',
            f'    defaults: {{ model: {{ primary: "{PROVIDER_IDS[0]}/m0" }} }},', "    entries: {"]
    for a, refs in enumerate(chains):
        fb = ", ".join(f'"{r}"' for r in refs[1:])
        out.append(f'      agent{a}: {{ model: {{ primary: "{refs[0]}", fallbacks: [{fb}] }} }},')
    out += ["    },", "  },", "}", ""]
    cfg_path = os.path.join(state, "openclaw.json")
    with open(cfg_path, "w") as f:
        f.write("\n".join(out))

    toml = [
        "[openclaw]",
        f'config_path = "{cfg_path}"',
        f'state_dir = "{state}"',
        "required = true",
        "",
        "[server]",
        f'listen = "{listen}"',
        f"first_cycle_timeout_seconds = {first_cycle_timeout}",
        "",
        "[schedule]",
    ]
    for k, v in SCHEDULES[schedule].items():
        toml.append(f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}")
    toml.append("")
    toml_path = os.path.join(dirpath, "clawprobe.toml")
    with open(toml_path, "w") as f:
        f.write("\n".join(toml))
    return toml_path, agents * models


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--agents", type=int, default=200)
    ap.add_argument("--models", type=int, default=5)
    ap.add_argument("--providers", type=int, default=len(PROVIDER_IDS))
    ap.add_argument("--provider-port", type=int, required=True)
    ap.add_argument("--listen", default="127.0.0.1:9847")
    ap.add_argument("--schedule", choices=sorted(SCHEDULES), default="scaled")
    args = ap.parse_args()
    path, n = write(args.dir, args.agents, args.models, args.providers, args.provider_port,
                    args.listen, args.schedule)
    print(f"{path}: {n} targets")


if __name__ == "__main__":
    main()
