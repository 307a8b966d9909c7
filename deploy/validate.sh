#!/usr/bin/env bash
# Validate the deploy files without a Docker engine or a cluster (none runs on our machines):
#   - docker-compose.yml against the Compose Specification's JSON Schema,
#   - deploy/k8s/*.yaml against the Kubernetes API schemas (kubernetes-validate --strict),
#   - the shell scripts compose and the database Job run parse as POSIX sh,
#   - copies that must not drift (the fluke-db-init and nats-auth ConfigMaps) and the sample catalogs,
#   - the hardening rules: images pinned by version (no :latest, no untagged image); compose
#     ports on 127.0.0.1, no secret or secret default in compose, each compose container
#     mounting only its own directory of the generated secrets; the old HS256 secret variable
#     gone; in Kubernetes a service container reads only its own database role, NATS user and
#     keyring (context-api and webhook-dispatcher never share one),
#     the schema owner's Secret only its `migrate` initContainer; a default-deny NetworkPolicy
#     and one of its own for every workload.
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

# ---- hardening rules: what the deploy files promise about credentials, images and the network
if "$PY" - <<'PY'
import glob, os, re, sys
import yaml

rc = 0
def ok(msg): print(f"ok: {msg}")
def bad(msg):
    global rc
    print(f"error: {msg}"); rc = 1

docs = [(f, d) for f in sorted(glob.glob("deploy/k8s/*.yaml"))
        for d in yaml.safe_load_all(open(f)) if d]
compose_text = open("docker-compose.yml").read()
compose = yaml.safe_load(compose_text)
services = compose.get("services") or {}
WORKLOADS = ("Deployment", "StatefulSet", "Job")
workloads = [(f, d) for f, d in docs if d["kind"] in WORKLOADS]

def containers(d, kinds=("initContainers", "containers")):
    spec = d["spec"]["template"]["spec"]
    return [(kind, c) for kind in kinds for c in spec.get(kind) or []]

def secret_refs(c):
    """(variable or None, secret name, key or None) for every Secret a container reads."""
    refs = [(e["name"], e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
            for e in c.get("env") or [] if "secretKeyRef" in (e.get("valueFrom") or {})]
    refs += [(None, s["secretRef"]["name"], None) for s in c.get("envFrom") or [] if "secretRef" in s]
    return refs

# Images: a version tag or a digest, never :latest (which moves under a running fleet).
def image_problem(image):
    name = image.split("@", 1)[0]
    if "@sha256:" in image:
        return None
    tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else ""
    # compose interpolation: ${VAR:-default} is judged by its default; ${VAR} alone may be anything.
    m = re.fullmatch(r"\$\{(\w+)(?::?-([^}]*))?\}", tag)
    if m:
        tag = m.group(2) or ""
        if not tag:
            return f"tag ${{{m.group(1)}}} has no default"
    if not tag:
        return "no tag"
    if tag == "latest":
        return ":latest"
    return None

problems = [f"docker-compose.yml services/{n}: {svc['image']} ({p})" for n, svc in services.items()
            if "image" in svc and (p := image_problem(svc["image"]))]
problems += [f"services/{n}: no image" for n, svc in services.items() if "image" not in svc]
problems += [f"{f}: {d['metadata']['name']}/{c['name']}: {c['image']} ({p})" for f, d in workloads
             for _, c in containers(d) if (p := image_problem(c["image"]))]
if problems:
    bad("images must be pinned by version: " + "; ".join(problems))
else:
    n = len(services) + sum(len(containers(d)) for _, d in workloads)
    ok(f"images pinned by version, none :latest ({n} containers in compose and k8s)")

# compose: published ports on the loopback only.
def port_host(p):
    if isinstance(p, dict):
        return p.get("host_ip", "")
    parts = str(p).split(":")
    return parts[0] if len(parts) == 3 else ""
open_ports = [f"{n}: {p}" for n, svc in services.items() for p in svc.get("ports") or [] if port_host(p) != "127.0.0.1"]
if open_ports:
    bad("compose ports must be bound to 127.0.0.1 (\"127.0.0.1:8000:8000\"): " + ", ".join(open_ports))
else:
    ok("compose publishes ports on 127.0.0.1 only")

# compose: no secret in the file, not even as a default (it would be public). Credentials come
# from the generated secrets volume; a secret-looking variable may only be passed through as ${X}.
SECRETISH = re.compile(r"PASSWORD|SECRET|KEY|TOKEN", re.I)
found = [m.group(0) for m in re.finditer(r"\$\{(\w+)(:?[-=?+])([^}]*)\}", compose_text)
         if SECRETISH.search(m.group(1)) and m.group(2).endswith(("-", "=")) and m.group(3)]
for n, svc in services.items():
    env = svc.get("environment") or {}
    items = env.items() if isinstance(env, dict) else [tuple((e.split("=", 1) + [""])[:2]) for e in env]
    for k, v in items:
        if SECRETISH.search(k) and v not in (None, "") and not re.fullmatch(r"\$\{\w+\}", str(v)):
            found.append(f"services/{n}/environment/{k}")
if found:
    bad("compose has hard-coded secrets (generate them, see deploy/compose/generate-secrets.sh): " + ", ".join(found))
else:
    ok("compose has no hard-coded secrets or secret defaults")

# compose: a container mounts only its own directory of the secrets volume, so a service never
# sees its migration's owner credentials (<service>-migrate) nor anyone else's.
leaks = []
for n, svc in services.items():
    for v in svc.get("volumes") or []:
        src = v.split(":", 1)[0] if isinstance(v, str) else v.get("source", "")
        if src != "secrets" or n == "secrets":
            continue
        sub = (v.get("volume") or {}).get("subpath") if isinstance(v, dict) else None
        if sub != n:
            leaks.append(f"{n} mounts {'/' + sub if sub else 'the whole volume'}")
if leaks:
    bad("compose secrets volume: each container must mount only its own directory (volume.subpath: <service>): " + ", ".join(leaks))
else:
    ok("compose: each container mounts only its own secrets directory")

# The words of a removed setting must not come back.
gone = "FLUKE_JWT_" + "SECRET"
hits = sorted(f for f in ["docker-compose.yml"] + glob.glob("deploy/**/*", recursive=True)
              if os.path.isfile(f) and gone in open(f, errors="replace").read())
if hits:
    bad(f"{gone} no longer exists (tokens are Ed25519: PM_JWT_PRIVATE_KEYS, FLUKE_JWKS_URL) but appears in " + ", ".join(hits))
else:
    ok(f"{gone} appears nowhere in deploy/ or docker-compose.yml")

def configmap(name):
    return next((d for _, d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == name), None)

# The nats-auth ConfigMap carries a verbatim copy: Kubernetes must enforce what the tests run with.
auth_conf = open("deploy/nats/auth.conf").read()
if (configmap("nats-auth") or {}).get("data", {}).get("auth.conf") != auth_conf:
    bad("ConfigMap nats-auth (deploy/k8s/nats.yaml) differs from deploy/nats/auth.conf (copy it in verbatim)")
else:
    ok("ConfigMap nats-auth matches deploy/nats/auth.conf")

# Credentials in k8s: a service's own container sees its own role and NATS user only; the schema
# owner's Secret is read by its migrate initContainer alone, which runs `<service> migrate`.
nats_users = dict(re.findall(r'user:\s*"([^"]+)"\s*\n\s*password:\s*\$(\w+)', auth_conf))
ADMIN_ONLY = ("fluke-db-passwords", "fluke-postgres-admin")
issues = []
for f, d in workloads:
    name, kind = d["metadata"]["name"], d["kind"]
    if kind == "Job":
        continue
    cm_env = {}
    for _, c in containers(d, ("containers",)):
        for src in c.get("envFrom") or []:
            if "configMapRef" in src:
                cm_env.update((configmap(src["configMapRef"]["name"]) or {}).get("data", {}))
        for var, secret, key in secret_refs(c):
            if secret.endswith("-db-owner") or secret in ADMIN_ONLY or "OWNER" in (key or ""):
                issues.append(f"{name}/{c['name']} reads {secret}{'/' + key if key else ''}")
            if var == "NATS_PASSWORD" and name != "nats":
                want = nats_users.get(cm_env.get("NATS_USER", ""))
                if key != want:
                    issues.append(f"{name}/{c['name']}: NATS_PASSWORD is {key}, but NATS_USER "
                                  f"{cm_env.get('NATS_USER')!r} has {want} in auth.conf")
        env = {e["name"]: e for e in c.get("env") or []}
        if "DATABASE_URL" in env:
            migrate = [i for k, i in containers(d, ("initContainers",)) if i.get("args") == ["migrate"]]
            if not migrate:
                issues.append(f"{name}: no initContainer with args [\"migrate\"]")
            for i in migrate:
                owner = [s for v, s, _ in secret_refs(i) if v == "DATABASE_URL"]
                if owner != [f"{name}-db-owner"] or i["image"] != c["image"]:
                    issues.append(f"{name}/{i['name']}: must run {c['image']} with DATABASE_URL from {name}-db-owner")
# Keyrings are not shared: a leak of one service's key must open nothing of another's.
keyrings = {}
for f, d in workloads:
    for _, c in containers(d, ("containers",)):
        for var, secret, key in secret_refs(c):
            if var == "FLUKE_ENCRYPTION_KEY":
                keyrings.setdefault((secret, key), []).append(d["metadata"]["name"])
issues += [f"{' and '.join(names)} share the keyring {s}/{k}" for (s, k), names in keyrings.items() if len(names) > 1]
if issues:
    bad("k8s credentials: " + "; ".join(issues))
else:
    ok("k8s: service containers read their own role, NATS user and keyring only; owner Secrets only in migrate initContainers")

# NetworkPolicies: the namespace denies by default, and every workload has a policy that names it.
def selects(selector, labels):
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for e in selector.get("matchExpressions") or []:
        has, val = e["key"] in labels, labels.get(e["key"])
        if not {"In": has and val in e.get("values", []), "NotIn": not has or val not in e.get("values", []),
                "Exists": has, "DoesNotExist": not has}[e["operator"]]:
            return False
    return True
policies = [d for _, d in docs if d["kind"] == "NetworkPolicy"]
deny = [p for p in policies if p["spec"].get("podSelector") in ({}, None)
        and set(p["spec"].get("policyTypes") or []) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress") and not p["spec"].get("egress")]
# Its own: the policy picks the workload by its name label (shared policies pick by other labels).
NAME = "app.kubernetes.io/name"
uncovered = [f"{d['kind']}/{d['metadata']['name']}" for _, d in workloads
             if not any(NAME in ((p["spec"].get("podSelector") or {}).get("matchLabels") or {}) and
                        selects(p["spec"]["podSelector"], d["spec"]["template"]["metadata"].get("labels") or {})
                        for p in policies)]
if deny:
    ok(f"k8s NetworkPolicy {deny[0]['metadata']['name']} denies all traffic in namespace fluke by default")
else:
    bad("k8s: no default-deny NetworkPolicy (podSelector {}, policyTypes [Ingress, Egress], no rules)")
if uncovered:
    bad("k8s: no NetworkPolicy of its own (podSelector on app.kubernetes.io/name) selects " + ", ".join(uncovered))
else:
    ok(f"k8s: each of the {len(workloads)} workloads is selected by a NetworkPolicy of its own")
sys.exit(rc)
PY
then :; else failed=$((failed + 1)); fi

# ---- shell
for script in deploy/postgres/set-passwords.sh deploy/compose/*.sh; do
  if sh -n "$script" 2>&1; then
    ok "sh -n $script"
  else
    bad "sh -n $script"
  fi
done

if [ "$failed" -gt 0 ]; then
  echo "validate.sh: $failed check group(s) failed"
  exit 1
fi
echo "validate.sh: deploy files ok"
