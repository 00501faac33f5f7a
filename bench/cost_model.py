#!/usr/bin/env python3
"""Requests and tokens clawprobe spends per day, derived from a schedule and budget.

    cost_model.py [--config clawprobe.toml] [--targets 1000] [--credentials 10]
                  [--providers 10] [--api openai-completions] [--credential-api STYLE]
                  [--tokens-per-probe 9] [--json]

Reads `[schedule]` and `[budget]` (the embedded defaults when --config is not given: they
are parsed from src/config/default.toml), counts how often each cron expression fires in a
UTC day, and multiplies:

    metadata requests/day   = targets x fires(metadata)                      (0 tokens)
    credential generation   = credentials x fires(credential_generation)
    model generation        = targets x fires(model_generation)

Tokens per generation probe depend on the API style (see TOKENS_PER_PROBE; the harness
also measures it on the fake provider). Budget caps then bound what is really sent; probes
over budget are skipped, not sent:

    per model       model_tokens_per_day (50): a probe goes out while tokens spent so far
                    plus its estimate fit; the estimate is the style's prompt + output cap
                    (STYLE_ESTIMATE, src/schedule/budget.rs `probe_tokens`) or the most
                    the model ever reported, whichever is larger
    per credential  credential_tokens_per_day (250), the same way, on the credential's
                    model with the cheapest style (--credential-api, default --api)
    per provider / global  requests and tokens per day

Also prints the cost of a LiteLLM-style health check for the same models: one completion
of LITELLM_OUTPUT tokens per model every 5 minutes, tokens/day = models x 288 x
(prompt + output). Pure arithmetic, no network, no third-party modules.
"""
import argparse
import json
import os
import sys

try:
    import tomllib  # Python 3.11+
except ImportError:  # pragma: no cover
    tomllib = None

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_TOML = os.path.join(HERE, "..", "src", "config", "default.toml")

# Input + output tokens of one generation probe as providers count them (prompt "hi", one
# user message, no system prompt; see src/probe/*.rs). Chat-style APIs bill ~7 framing
# tokens plus the message; output is capped at 1 token except where the API has a minimum.
TOKENS_PER_PROBE = {
    "openai-completions": (8, 1),   # max_tokens: 1
    "anthropic-messages": (8, 1),   # max_tokens: 1
    "google-generative-ai": (2, 1),  # maxOutputTokens: 1; Gemini counts no framing
    "ollama": (8, 1),               # num_predict: 1; local, free
    "openai-responses": (8, 16),    # max_output_tokens: 16 is the API's minimum (worst case)
}

# What the scheduler reserves for a probe before it reports usage: PROMPT_TOKENS (8) plus
# the output cap the prober asks for (src/schedule/budget.rs `probe_tokens`).
STYLE_ESTIMATE = {
    "openai-completions": 9,
    "anthropic-messages": 9,
    "google-generative-ai": 9,
    "ollama": 9,
    "openai-responses": 24,
}

# LiteLLM's background health check: a random one of "Hey how's it going?" / "What's 1 + 1?"
# as one user message (7 framing + ~6 tokens), every health_check_interval (300 s default).
LITELLM_PROMPT = 13
LITELLM_OUTPUT = 5
LITELLM_INTERVAL = 300


def parse_field(field, lo, hi):
    """Values a cron field matches: *, */n, a, a-b, a-b/n, lists of those."""
    out = set()
    for part in field.split(","):
        step = 1
        if "/" in part:
            part, s = part.split("/", 1)
            step = int(s)
        if part in ("*", "?"):
            a, b = lo, hi
        elif "-" in part:
            a, b = (int(x) for x in part.split("-", 1))
        else:
            a = int(part)
            b = hi if step > 1 else a
        out.update(range(a, b + 1, step))
    return out


def fires_per_day(expr):
    """How often a 6-field (sec min hour dom month dow) cron expression fires in one day.
    Day-of-month/month/weekday fields are assumed to match (true for the defaults)."""
    if not expr.strip():
        return 0
    f = expr.split()
    if len(f) < 6:
        raise SystemExit(f"cron expression `{expr}` needs 6 fields (sec min hour ...)")
    for i, name in ((3, "day"), (4, "month"), (5, "weekday")):
        if f[i] not in ("*", "?"):
            print(f"note: `{expr}`: {name} field `{f[i]}` ignored (assumed every {name})",
                  file=sys.stderr)
    secs = parse_field(f[0], 0, 59)
    mins = parse_field(f[1], 0, 59)
    hours = parse_field(f[2], 0, 23)
    return len(secs) * len(mins) * len(hours)


def load(path):
    if tomllib is None:
        raise SystemExit("python >= 3.11 (tomllib) is needed to read TOML")
    with open(DEFAULT_TOML, "rb") as f:
        cfg = tomllib.load(f)
    if path:
        with open(path, "rb") as f:
            user = tomllib.load(f)
        for section in ("schedule", "budget"):
            cfg.setdefault(section, {}).update(user.get(section, {}))
    return cfg


def admitted(cap, estimate, actual):
    """Probes a daily token cap admits (0 = no cap: None): the first needs `estimate` free,
    each later one max(estimate, actual) on top of `actual` per probe already spent."""
    if not cap:
        return None
    est = max(estimate, actual)
    if est > cap:
        return 0
    return 1 + int((cap - est) // max(actual, 1e-9))


def model(cfg, targets, credentials, providers, tokens_per_probe, api="openai-completions",
          credential_api=None, credential_tokens_per_probe=None):
    s, b = cfg["schedule"], cfg["budget"]
    credential_api = credential_api or api
    cred_tpp = credential_tokens_per_probe or tokens_per_probe
    f_meta = fires_per_day(s["metadata"])
    f_cred = fires_per_day(s["credential_generation"])
    f_model = fires_per_day(s["model_generation"])
    model_cap = b.get("model_tokens_per_day", 0)
    cred_cap = b.get("credential_tokens_per_day", 0)
    model_allows = admitted(model_cap, STYLE_ESTIMATE[api], tokens_per_probe)
    cred_allows = admitted(cred_cap, STYLE_ESTIMATE[credential_api], cred_tpp)
    per_model_req = f_model if model_allows is None else min(f_model, model_allows)
    per_cred_req = f_cred if cred_allows is None else min(f_cred, cred_allows)
    gen_req = credentials * per_cred_req + targets * per_model_req
    gen_tok = credentials * per_cred_req * cred_tpp + targets * per_model_req * tokens_per_probe
    # Budget: per provider then global, requests and tokens; targets and credentials are
    # assumed spread evenly over providers.
    per_provider_req = gen_req / providers
    avg_tpp = gen_tok / gen_req if gen_req else tokens_per_probe
    cap_req = min(per_provider_req, b["provider_requests_per_day"],
                  b["provider_tokens_per_day"] / avg_tpp) * providers
    cap_req = min(cap_req, b["global_requests_per_day"],
                  b["global_tokens_per_day"] / avg_tpp)
    return {
        "fires_per_day": {"metadata": f_meta, "credential_generation": f_cred,
                          "model_generation": f_model},
        "targets": targets, "credentials": credentials, "providers": providers,
        "tokens_per_generation_probe": tokens_per_probe,
        "api": api, "credential_api": credential_api,
        "tokens_per_credential_probe": cred_tpp,
        "caps": {"model_tokens_per_day": model_cap, "credential_tokens_per_day": cred_cap},
        "metadata_requests_per_day": targets * f_meta,
        "metadata_tokens_per_day": 0,
        "per_model": {"requests_per_day": per_model_req, "scheduled": f_model,
                      "tokens_per_day": per_model_req * tokens_per_probe},
        "per_credential": {"requests_per_day": per_cred_req, "scheduled": f_cred,
                           "tokens_per_day": per_cred_req * cred_tpp},
        # After the per-model and per-credential caps, before provider/global ones.
        "generation_requests_per_day_uncapped": gen_req,
        "generation_tokens_per_day_uncapped": gen_tok,
        "generation_requests_per_day_after_budget": int(cap_req),
        "generation_tokens_per_day_after_budget": int(cap_req * avg_tpp),
        "budget_binds": cap_req < gen_req,
        # min_key_spacing_seconds limits how many targets one credential can cover per
        # metadata cycle: the cycle is spread over spread_fraction of the interval.
        "metadata_cycle_seconds_per_credential":
            (targets / credentials) * s["min_key_spacing_seconds"],
        "metadata_spread_window_seconds": 86400 / max(f_meta, 1) * s["spread_fraction"],
        "max_targets_per_credential_per_metadata_cycle":
            int(86400 / max(f_meta, 1) * s["spread_fraction"] / max(s["min_key_spacing_seconds"], 1e-9)),
        "litellm": {
            "requests_per_model_per_day": 86400 // LITELLM_INTERVAL,
            "tokens_per_model_per_day": 86400 // LITELLM_INTERVAL * (LITELLM_PROMPT + LITELLM_OUTPUT),
            "tokens_per_day_all_models":
                targets * 86400 // LITELLM_INTERVAL * (LITELLM_PROMPT + LITELLM_OUTPUT),
        },
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config")
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--credentials", type=int, default=10)
    ap.add_argument("--providers", type=int, default=10)
    ap.add_argument("--tokens-per-probe", type=float, default=None,
                    help="input+output tokens of one generation probe (default: by --api)")
    ap.add_argument("--api", default="openai-completions", choices=sorted(TOKENS_PER_PROBE))
    ap.add_argument("--credential-api", default=None, choices=sorted(TOKENS_PER_PROBE),
                    help="style of the model each credential is probed on (default: --api; "
                         "the scheduler picks the cheapest style the credential has)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    cfg = load(args.config)
    tpp = args.tokens_per_probe or sum(TOKENS_PER_PROBE[args.api])
    cred_api = args.credential_api or args.api
    cred_tpp = args.tokens_per_probe or sum(TOKENS_PER_PROBE[cred_api])
    m = model(cfg, args.targets, args.credentials, args.providers, tpp, args.api, cred_api,
              cred_tpp)
    if args.json:
        print(json.dumps(m, indent=2))
        return
    print(f"schedule fires/day: {m['fires_per_day']}")
    print(f"{args.targets} targets, {args.credentials} credentials, {args.providers} providers, "
          f"{tpp:g} tokens per generation probe ({args.api})")
    print(f"metadata: {m['metadata_requests_per_day']} requests/day, 0 tokens")
    caps = m["caps"]
    print(f"per model:      {m['per_model']['requests_per_day']} of {m['per_model']['scheduled']} "
          f"scheduled generation requests/day, {m['per_model']['tokens_per_day']:g} tokens/day "
          f"(model_tokens_per_day = {caps['model_tokens_per_day']}; target <= 50)")
    print(f"per credential: {m['per_credential']['requests_per_day']} of "
          f"{m['per_credential']['scheduled']} scheduled generation requests/day on {cred_api}, "
          f"{m['per_credential']['tokens_per_day']:g} tokens/day "
          f"(credential_tokens_per_day = {caps['credential_tokens_per_day']}; target <= 250)")
    print(f"generation total: {m['generation_requests_per_day_uncapped']} requests/day uncapped, "
          f"{m['generation_requests_per_day_after_budget']} after budget "
          f"({'budget binds' if m['budget_binds'] else 'budget does not bind'})")
    print(f"LiteLLM-style (1 x {LITELLM_PROMPT}+{LITELLM_OUTPUT} tokens per model every "
          f"{LITELLM_INTERVAL}s): {m['litellm']['tokens_per_model_per_day']} tokens/model/day, "
          f"{m['litellm']['tokens_per_day_all_models']} tokens/day for {args.targets} models")


if __name__ == "__main__":
    main()
