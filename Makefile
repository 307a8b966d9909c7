# FlukeBase Fleet. On a fresh Debian machine, as root: `make run`, then `make test`.
.PHONY: run test bench build clean

## Bring the whole fleet up locally (Ctrl-C stops everything).
run:
	@deploy/local/run.sh

## Start a private Postgres and NATS, run every test against them, stop them.
test:
	@deploy/local/test.sh

## Throughput and latency figures (not tests).
bench:
	@bench/run.sh

build:
	@bash -c 'source deploy/local/lib.sh && fleet_install_deps' && swift build

clean:
	rm -rf .build .run .venv
