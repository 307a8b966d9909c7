#!/bin/sh
# docker-compose's entrypoint wrapper: exports every file of FLUKE_SECRETS_DIR (default
# /run/fluke-secrets) as an environment variable named after the file, then execs its arguments:
#   entrypoint: ["/bin/sh", "/fluke/with-secrets.sh", "/usr/local/bin/service"]
#
# Why: compose generates the fleet's credentials at run time (the `secrets` service, see
# generate-secrets.sh) into a volume, but env_file and ${VAR} are read by the docker CLI on the
# host before any container runs, so they cannot carry them. Each container mounts only its
# own directory of that volume (a volume subpath), so it sees exactly its own credentials, and
# the images stay unchanged: Kubernetes runs the same service image with env from Secrets.
set -eu
dir=${FLUKE_SECRETS_DIR:-/run/fluke-secrets}
if [ ! -d "$dir" ]; then
  echo "with-secrets: no directory $dir (has the secrets service run?)" >&2
  exit 1
fi
for file in "$dir"/*; do
  [ -f "$file" ] || continue
  name=${file##*/}
  case $name in
    "" | [0-9]* | *[!A-Za-z0-9_]*)
      echo "with-secrets: skipping $file: not a variable name" >&2
      continue
      ;;
  esac
  value=$(cat "$file")
  export "$name=$value"
done
exec "$@"
