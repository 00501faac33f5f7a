# Shared by scripts/gen-fixtures*.sh: installing a release's CLI and exporting the install
# it wrote as a test fixture. Source it; it defines functions only.

# openclaw_cli_path VERSION: installs that release (cached in ~/.cache/openclaw-cli-VERSION,
# with a Node it accepts) and prints its PATH entries. INSTALL_CLI overrides the installer;
# without one, the `openclaw` on PATH is used.
openclaw_cli_path() {
  local version=$1 installer=${INSTALL_CLI:-/work/shared/openclaw/install-cli.sh}
  if [ -f "$installer" ]; then
    OPENCLAW_CLI_CACHE=${OPENCLAW_CLI_CACHE:-$HOME/.cache/openclaw-cli-$version} \
      OPENCLAW_VERSION=$version bash "$installer" 2>/dev/null
  else
    dirname "$(command -v openclaw)"
  fi
}

# export_fixture STATE_DIR OUT HOME WORK CLI_ROOT REAL_HOME [PORT] [EXTRA_DIR]
# Copies STATE_DIR (and the files of EXTRA_DIR, e.g. the oracle outputs) to OUT and makes it a self-contained, host-independent fixture:
# - every SQLite database gets its WAL checkpointed into the COPY (the header stays in WAL
#   mode, as OpenClaw leaves it), 1 KiB pages + VACUUM, the plugin index row dropped; no
#   -wal/-shm files remain (uses Node's node:sqlite, the SQLite OpenClaw itself uses);
# - host paths become <HOME>, <WORK>, <CLI>, <REAL_HOME> in text files and text columns;
# - with PORT, the generation-time fake provider's 127.0.0.1:PORT becomes 127.0.0.1:9
#   (nothing listens there), so no fixture points at a port that may be in use later;
# - backups, locks, logs, caches, sessions and workspaces are dropped.
export_fixture() {
  local state=$1 out=$2 home=$3 work=$4 cli=$5 real_home=$6 port=${7:-} extra=${8:-}
  rm -rf "$out"
  mkdir -p "$out"
  cp -a "$state/." "$out/"
  [ -z "$extra" ] || cp -a "$extra/." "$out/"
  find "$out" \( -name '*-lock.sqlite' -o -name '*.generation-writer.sqlite' \) -delete
  node - "$out" "$home" "$work" "$cli" "$real_home" "$port" <<'JS'
const fs = require("node:fs"), path = require("node:path");
const [root, home, work, cli, realHome, port] = process.argv.slice(2);
const pairs = [[home, "<HOME>"], [work, "<WORK>"], [cli, "<CLI>"], [realHome, "<REAL_HOME>"]];
if (port) pairs.push([`127.0.0.1:${port}`, "127.0.0.1:9"]);
const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) =>
  e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]);
const dbs = walk(root).filter((f) => f.endsWith(".sqlite"));
if (dbs.length) {
  const { DatabaseSync } = require("node:sqlite");
  for (const p of dbs) {
    const db = new DatabaseSync(p);
    const tables = db.prepare("select name from sqlite_master where type='table' and name not like 'sqlite_%'").all().map((r) => r.name);
    if (tables.includes("config_machine_state"))
      db.exec("delete from config_machine_state where state_key = 'plugins.installedIndex'");
    for (const t of tables) {
      for (const { name: col } of db.prepare(`pragma table_info("${t}")`).all()) {
        for (const [oldv, newv] of pairs) {
          try {
            db.prepare(`update "${t}" set "${col}" = replace("${col}", ?, ?) where typeof("${col}") = 'text' and instr("${col}", ?) > 0`).run(oldv, newv, oldv);
          } catch (e) {
            // FTS shadow tables cannot be updated directly; they hold no paths here.
            if (!/may not be modified/.test(e.message)) console.error(`warning: cannot scrub ${p} ${t}.${col}: ${e.message}`);
          }
        }
      }
    }
    db.exec("pragma wal_checkpoint(TRUNCATE)");
    // Smaller pages shrink the ~300 mostly empty tables ~4x; then back to WAL like OpenClaw.
    db.exec("pragma journal_mode=DELETE");
    db.exec("pragma page_size=1024");
    db.exec("vacuum");
    db.exec("pragma journal_mode=WAL");
    db.close();
  }
}
for (const f of walk(root)) if (f.endsWith("-wal") || f.endsWith("-shm")) fs.rmSync(f);
JS
  find "$out" \( -name '*.bak' -o -name '*.bak.*' -o -name 'config-journal-fingerprint.key' -o -name '*.lock' \) -delete
  rm -rf "$out/workspace" "$out/logs" "$out/cache" "$out/tmp" "$out/plugin-skills" "$out/canvas" \
    "$out/media" "$out/credentials" "$out/identity" "$out/devices" 2>/dev/null || true
  find "$out" -type d \( -name sessions -o -name 'workspace*' \) -prune -exec rm -rf {} + 2>/dev/null || true
  local sed_args=(-e "s#$home#<HOME>#g" -e "s#$work#<WORK>#g" -e "s#$cli#<CLI>#g" -e "s#$real_home/#<REAL_HOME>/#g")
  [ -z "$port" ] || sed_args+=(-e "s#127\.0\.0\.1:$port#127.0.0.1:9#g")
  grep -rlI -e "$home" -e "$work" -e "$cli" -e "$real_home/" ${port:+-e "127.0.0.1:$port"} "$out" |
    while read -r f; do sed -i "${sed_args[@]}" "$f"; done
  # Fail loudly if a host path survived anywhere (binary files included).
  if grep -rla -e "$work" -e "$cli" -e "$real_home/" "$out"; then
    echo "host paths left in the fixture (files above)" >&2
    return 1
  fi
}
