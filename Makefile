# Sluice developer entry points. Plain make syntax: works with GNU make and
# any POSIX make. `make test` is what CI runs (.ci/run).

CARGO = cargo

.PHONY: all setup build test lint fmt demo bench

all: build

# Install missing system packages (PostgreSQL, MariaDB, openssl, bench peers).
setup:
	@bash scripts/setup.sh

build:
	$(CARGO) build --release --workspace

# cargo test, not nextest: the tests of one binary share one private
# PostgreSQL server per process (sluice-testkit), which nextest's
# process-per-test model would multiply.
test: setup
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

# The ERP/CRM/OA example (examples/erp-crm-oa): a CRM and a web shop on
# MariaDB, an ERP and an OA system on PostgreSQL, and a reporting database,
# joined up by one sluice.toml on private servers while a generator writes
# for DEMO_SECONDS (default 20); every rule is checked at the end
# (examples/demo.rs). Exits non-zero if one fails.
demo: setup
	$(CARGO) build --release --bin sluice --example demo
	SLUICE_BIN=target/release/sluice target/release/examples/demo

# End-to-end benchmarks beside PostgreSQL's native logical replication
# (benches/pg_to_pg.rs), MariaDB's primary -> replica replication
# (benches/mysql.rs) and the initial-copy tools pgloader, pg_dump | psql and
# pgcopydb (benches/snapshot.rs); print the Markdown tables for
# docs/BENCHMARKS.md. Then the per-row cost of mapping (benches/mapping.rs,
# benches/expr.rs, criterion).
bench: setup
	$(CARGO) bench --bench mapping
	$(CARGO) bench --bench expr
	$(CARGO) bench --bench pg_to_pg
	$(CARGO) bench --bench mysql
	$(CARGO) bench --bench snapshot
