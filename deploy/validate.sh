#!/usr/bin/env bash
# Validate the deploy files without a Docker engine or a cluster (none runs on our machines):
#   - docker-compose.yml against the Compose Specification's JSON Schema,
#   - deploy/k8s/*.yaml against the Kubernetes API schemas (kubernetes-validate --strict),
#   - deploy/postgres/set-passwords.sh parses as POSIX sh,
#   - copies that must not drift (the fluke-db-init ConfigMap) and the sample catalogs.
# Prints one `ok:` / `error:` line per check and exits non-zero if any failed.
#
# Usage: deploy/validate.sh   (from anywhere; `make test` runs it before the Swift tests)
# Env:   COMPOSE_SPEC_SCHEMA  schema path (default: ../shared/schemas/compose-spec.json)
#        K8S_VERSIONS         Kubernetes versions to validate against (default below)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv"
PY="$VENV/bin/python"
# The wheel ships the API schemas of Kubernetes 1.25-1.37, so pinning it makes the k8s
# check offline and repeatable.
KV_VERSION="1.37.0"
# The oldest cluster we support and the newest the pinned package knows: manifests must
# be valid on both (catches fields that are too new as well as removed ones).
K8S_VERSIONS="${K8S_VERSIONS:-1.30.0 1.37.0}"
COMPOSE_SPEC_SCHEMA="${COMPOSE_SPEC_SCHEMA:-$ROOT/../shared/schemas/compose-spec.json}"

failed=0
ok()  { echo "ok: $*"; }
bad() { echo "error: $*"; failed=$((failed + 1)); }
die() { echo "validate.sh: $*" >&2; exit 2; }

# ---- tools: a venv in .venv, reused; the network is touched only when something is missing
make_venv() {
  rm -rf "$VENV"
  command -v python3 >/dev/null || die "python3 not found"
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    # Debian's python3 ships venv without ensurepip; python3-venv adds it.
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
      die "python3 cannot create venvs; install python3-venv"
    fi
    echo "validate.sh: installing python3-venv" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  fi
  python3 -m venv "$VENV"
}

deps_present() {
  KV_VERSION="$KV_VERSION" "$PY" - 2>/dev/null <<'PY'
import importlib.metadata as md, os
import jsonschema, referencing, yaml, kubernetes_validate  # noqa: F401
assert md.version("kubernetes-validate") == os.environ["KV_VERSION"]
PY
}

install_deps() {
  echo "validate.sh: installing jsonschema, pyyaml, kubernetes-validate==$KV_VERSION into .venv" >&2
  "$PY" -m pip install -q --disable-pip-version-check --no-input \
    "jsonschema>=4.18" pyyaml "kubernetes-validate==$KV_VERSION" \
    || die "pip install failed (offline?); the checks need these packages in .venv"
}

# A venv whose interpreter went away (python upgraded or removed) is useless: start over.
if ! { [ -x "$PY" ] && "$PY" -c '' 2>/dev/null; }; then make_venv; fi
if ! deps_present; then
  install_deps
  if ! deps_present; then
    # pip believes the packages are there but they don't import: the venv is damaged.
    echo "validate.sh: .venv is damaged; recreating it" >&2
    make_venv
    install_deps
    deps_present || die "packages installed but not importable from .venv"
  fi
fi

# ---- compose
if [ -f "$COMPOSE_SPEC_SCHEMA" ]; then
  if COMPOSE_SPEC_SCHEMA="$COMPOSE_SPEC_SCHEMA" "$PY" - <<'PY'
import json, os, sys
import yaml
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for

schema_path = os.environ["COMPOSE_SPEC_SCHEMA"]
with open(schema_path) as f:
    schema = json.load(f)
# Pick the validator for the draft the spec declares. It names draft-07 by its https://
# URI, which jsonschema only knows by the http:// one (with or without a trailing '#').
declared = schema.get("$schema", "")
cls = validator_for({"$schema": declared.replace("https://", "http://", 1).rstrip("#")}, default=None)
if cls is None:
    sys.exit(f"error: compose: {schema_path} declares an unknown $schema {declared!r}")
cls.check_schema(schema)

with open("docker-compose.yml") as f:
    doc = yaml.safe_load(f)  # resolves the <<: merge keys as Compose does
errors = sorted(cls(schema).iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
for e in errors:
    e = best_match([e])  # for oneOf/anyOf, the most specific failure rather than "not valid under any"
    path = "/".join(map(str, e.absolute_path)) or "(top level)"
    print(f"error: compose {path}: {e.message}")

# What the schema cannot know: the local files compose mounts and builds from must exist.
for name, svc in (doc.get("services") or {}).items():
    build = svc.get("build")
    if isinstance(build, dict):
        df = os.path.join(build.get("context", "."), build.get("dockerfile", "Dockerfile"))
        if not os.path.isfile(df):
            errors.append(df)
            print(f"error: compose services/{name}/build: no such dockerfile {df}")
    for vol in svc.get("volumes") or []:
        src = vol.split(":", 1)[0] if isinstance(vol, str) else vol.get("source", "")
        if src.startswith(("./", "../", "/")) and not os.path.exists(src):
            errors.append(src)
            print(f"error: compose services/{name}/volumes: no such file {src}")

if errors:
    sys.exit(1)
print(f"ok: compose ({len(doc['services'])} services, {cls.__name__} schema)")
PY
  then :; else failed=$((failed + 1)); fi
else
  echo "skipped: compose schema not found at $COMPOSE_SPEC_SCHEMA (set COMPOSE_SPEC_SCHEMA)"
fi

# ---- kubernetes
k_flags=()
for v in $K8S_VERSIONS; do k_flags+=(-k "$v"); done
shopt -s nullglob
manifests=(deploy/k8s/*.yaml)
[ ${#manifests[@]} -gt 0 ] || bad "k8s: no manifests in deploy/k8s/"
for f in "${manifests[@]}"; do
  rc=0
  out="$("$VENV/bin/kubernetes-validate" --strict "${k_flags[@]}" "$f" 2>&1)" || rc=$?
  n_info="$(grep -c '^INFO' <<<"$out" || true)"
  # A kind it has no schema for is only a WARN with exit 0 there; here it fails, as does a
  # file with no resources at all.
  if [ "$n_info" -eq 0 ] && [ "$rc" -eq 0 ] && [ -z "$out" ]; then
    bad "k8s $f: no resources in it"
  elif [ "$rc" -ne 0 ] || grep -qv '^INFO' <<<"$out" || [ "$n_info" -eq 0 ]; then
    bad "k8s $f"
    grep -v '^INFO' <<<"$out" | sed 's/^/  /'
  else
    ok "k8s $f ($((n_info * 2 / ${#k_flags[@]})) resources; k8s ${K8S_VERSIONS// /, })"
  fi
done

# ---- cross-file consistency: what neither schema can see
if "$PY" - <<'PY'
import glob, re, sys, uuid
import yaml

rc = 0
def ok(msg): print(f"ok: {msg}")
def bad(msg):
    global rc
    print(f"error: {msg}"); rc = 1

docs = [(f, d) for f in sorted(glob.glob("deploy/k8s/*.yaml"))
        for d in yaml.safe_load_all(open(f)) if d]

stray = [f"{f}: {d['kind']}/{d['metadata']['name']}" for f, d in docs
         if d["kind"] != "Namespace" and d["metadata"].get("namespace") != "fluke"]
if stray:
    bad("k8s resources outside namespace fluke: " + ", ".join(stray))
else:
    ok(f"k8s namespace fluke ({len(docs)} resources)")

def configmap(name):
    return next((d for _, d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == name), None)

# The db-init ConfigMap carries verbatim copies: the Job must run what compose runs.
cm = configmap("fluke-db-init")
drift = [k for k in ("init.sql", "set-passwords.sh")
         if cm is None or cm.get("data", {}).get(k) != open(f"deploy/postgres/{k}").read()]
if drift:
    bad("ConfigMap fluke-db-init (deploy/k8s/postgres-init.yaml) differs from deploy/postgres/: "
        + ", ".join(drift) + " (copy the files in verbatim)")
else:
    ok("ConfigMap fluke-db-init matches deploy/postgres/init.sql and set-passwords.sh")

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
def check_catalog(label, text):
    try:
        projects = (yaml.safe_load(text) or {}).get("projects")
        assert isinstance(projects, list) and projects, "no projects list"
        slugs = [p["slug"] for p in projects]
        for p in projects:
            assert SLUG.match(p["slug"]), f"bad slug {p['slug']!r}"
            assert p.get("name"), f"{p['slug']}: no name"
            if "project_id" in p:
                uuid.UUID(str(p["project_id"]))
        dup = {s for s in slugs if slugs.count(s) > 1}
        assert not dup, f"duplicate slugs {sorted(dup)}"
    except Exception as e:
        bad(f"catalog {label}: {e}")
    else:
        ok(f"catalog {label} ({len(projects)} projects)")

for f in sorted(glob.glob("deploy/catalog/*.yaml")):
    check_catalog(f, open(f).read())
cm = configmap("federation-catalog")
check_catalog("ConfigMap federation-catalog", (cm or {}).get("data", {}).get("federation.yaml", ""))
sys.exit(rc)
PY
then :; else failed=$((failed + 1)); fi

# ---- shell
if sh -n deploy/postgres/set-passwords.sh 2>&1; then
  ok "sh -n deploy/postgres/set-passwords.sh"
else
  bad "sh -n deploy/postgres/set-passwords.sh"
fi

if [ "$failed" -gt 0 ]; then
  echo "validate.sh: $failed check group(s) failed"
  exit 1
fi
echo "validate.sh: deploy files ok"
