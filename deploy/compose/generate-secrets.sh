#!/bin/sh
# docker-compose's `secrets` service (a one-shot that every other service waits for): generates the
# fleet's credentials once into the `secrets` volume and lays out one directory per container,
# holding only what that container needs, one file per environment variable (with-secrets.sh
# exports them at the container's start).
#
#   /secrets/generated/<NAME>   every generated value; written only when absent, kept across runs
#                               (the Postgres and NATS volumes depend on them)
#   /secrets/<container>/<VAR>  rewritten on every run from the values above: postgres, nats,
#                               <service> (its DATABASE_URL, NATS_PASSWORD, keys) and
#                               <service>-migrate (DATABASE_URL of its schema's owner, nothing else)
#   /secrets/operator.env       what a person needs (superuser, NATS heartbeat and admin
#                               passwords, the federation API key)
# Each role and NATS user gets its own password; nothing has a default. To rotate a value,
# delete /secrets/generated/<NAME> and follow the steps in docker-compose.yml's header.
set -eu
umask 077
root=/secrets
store=$root/generated
mkdir -p "$store"

hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
key32() { head -c 32 /dev/urandom | base64 | tr -d '\n'; }

# generate NAME VALUE: stores VALUE unless NAME already has one.
generate() {
  [ -s "$store/$1" ] && return 0
  printf '%s' "$2" >"$store/$1.tmp"
  mv "$store/$1.tmp" "$store/$1"
  echo "secrets: generated $1"
}
get() { cat "$store/$1"; }

# The keys of the fleet's schemas (FLUKE_DB_<KEY>_PASSWORD) and NATS users (FLUKE_NATS_<KEY>_PASSWORD),
# as set-passwords.sh and deploy/nats/auth.conf name them.
DB_KEYS="PM CONTEXT WEBHOOKS DEPLOY LOGS FEDERATION"
NATS_KEYS="PM CONTEXT WEBHOOKS FEDERATION DEPLOY LOGS HEARTBEAT ADMIN"

generate POSTGRES_PASSWORD "$(hex 24)"
for key in $DB_KEYS; do
  # Hex: they are embedded in DATABASE_URLs as they are.
  generate "FLUKE_DB_${key}_PASSWORD" "$(hex 24)"
  generate "FLUKE_DB_${key}_OWNER_PASSWORD" "$(hex 24)"
done
for key in $NATS_KEYS; do
  # nats-server parses the value: it must start with a letter.
  generate "FLUKE_NATS_${key}_PASSWORD" "p$(hex 18)"
done
generate PM_JWT_PRIVATE_KEYS "k1:$(key32)"
# A keyring per service that seals: a leak of one service's key opens nothing of another's.
generate FLUKE_ENCRYPTION_KEY "k1:$(key32)"
generate FLUKE_WEBHOOKS_ENCRYPTION_KEY "w1:$(key32)"
generate FLUKE_PM_ENCRYPTION_KEY "p1:$(key32)"
generate FEDERATION_API_KEY "$(hex 24)"

# put CONTAINER VAR VALUE
put() {
  mkdir -p "$root/$1"
  printf '%s' "$3" >"$root/$1/$2.tmp"
  mv "$root/$1/$2.tmp" "$root/$1/$2"
}
# seal CONTAINER UID: only the container's user may read its directory. postgres and nats read
# theirs as root, before their entrypoints drop privileges; the fleet's image runs as 10001.
seal() {
  chown -R "$2:$2" "$root/$1"
  chmod 700 "$root/$1"
  chmod 400 "$root/$1"/*
}
db_url() { echo "postgres://$1:$(get "$2")@postgres:5432/fluke"; }

put postgres POSTGRES_PASSWORD "$(get POSTGRES_PASSWORD)"
for key in $DB_KEYS; do
  put postgres "FLUKE_DB_${key}_PASSWORD" "$(get "FLUKE_DB_${key}_PASSWORD")"
  put postgres "FLUKE_DB_${key}_OWNER_PASSWORD" "$(get "FLUKE_DB_${key}_OWNER_PASSWORD")"
done
seal postgres 0

for key in $NATS_KEYS; do
  put nats "FLUKE_NATS_${key}_PASSWORD" "$(get "FLUKE_NATS_${key}_PASSWORD")"
done
seal nats 0

# service NAME KEY: the service's own database role and NATS user; its migrate gets the owner role.
service() {
  schema=$(echo "$2" | tr 'A-Z' 'a-z')
  put "$1" DATABASE_URL "$(db_url "fluke_$schema" "FLUKE_DB_$2_PASSWORD")"
  put "$1" NATS_PASSWORD "$(get "FLUKE_NATS_$2_PASSWORD")"
  put "$1-migrate" DATABASE_URL "$(db_url "fluke_${schema}_owner" "FLUKE_DB_$2_OWNER_PASSWORD")"
}
service project-manager PM
put project-manager PM_JWT_PRIVATE_KEYS "$(get PM_JWT_PRIVATE_KEYS)"
put project-manager FLUKE_ENCRYPTION_KEY "$(get FLUKE_PM_ENCRYPTION_KEY)"
service context-api CONTEXT
put context-api FLUKE_ENCRYPTION_KEY "$(get FLUKE_ENCRYPTION_KEY)"
service webhook-dispatcher WEBHOOKS
put webhook-dispatcher FLUKE_ENCRYPTION_KEY "$(get FLUKE_WEBHOOKS_ENCRYPTION_KEY)"
service federation FEDERATION
service deploy-tracker DEPLOY
service log-streamer LOGS
put federation FEDERATION_API_KEYS "$(get FEDERATION_API_KEY)"
for name in project-manager context-api webhook-dispatcher federation deploy-tracker log-streamer; do
  seal "$name" 10001
  seal "$name-migrate" 10001
done

cat >"$root/operator.env.tmp" <<ENV
POSTGRES_PASSWORD=$(get POSTGRES_PASSWORD)
FLUKE_NATS_HEARTBEAT_USER=heartbeat
FLUKE_NATS_HEARTBEAT_PASSWORD=$(get FLUKE_NATS_HEARTBEAT_PASSWORD)
FLUKE_NATS_ADMIN_USER=admin
FLUKE_NATS_ADMIN_PASSWORD=$(get FLUKE_NATS_ADMIN_PASSWORD)
FEDERATION_API_KEY=$(get FEDERATION_API_KEY)
ENV
mv "$root/operator.env.tmp" "$root/operator.env"
echo "secrets: ready in the secrets volume (docker compose run --rm --entrypoint cat secrets /secrets/operator.env)"
