# qa-platform-ops: the commands an operator and CI run.
# Everything runs as root on a Debian 12 machine (Ubuntu LTS through the same
# tasks). `make help` lists the targets.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
# ansible-runner, molecule and the collection modules find their tools on PATH.
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_FORCE_COLOR ?= false
export PY_COLORS ?= 0

# mypy checks the project's Python wherever it exists so far.
MYPY_PATHS = $(wildcard tui scripts tests bench collections/ansible_collections/qa/platform/plugins)
ROLES_WITH_SCENARIOS = $(patsubst roles/%/molecule/default/molecule.yml,%,$(wildcard roles/*/molecule/default/molecule.yml))

.PHONY: help
help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

.PHONY: venv
venv: ## Install the apt prerequisites and the Python environment in .venv.
	@scripts/bootstrap.sh

.PHONY: lab
lab: venv ## Start the local lab (idempotent).
	ansible-playbook playbooks/lab.yml

.PHONY: lab-down
lab-down: venv ## Remove the local lab and only what it created.
	ansible-playbook playbooks/lab_down.yml

.PHONY: site
site: venv ## Converge the platform: ansible-playbook site.yml.
	ansible-playbook site.yml

.PHONY: up
up: lab site ## Install everything, start the lab and converge the platform on it.
	@scripts/lab_summary.py

.PHONY: db-migrate
db-migrate: venv ## Create roles and databases and apply migrations: make db-migrate DSN=...
	$(BIN)/python scripts/db_migrate.py $(if $(DSN),--dsn-from-env)

.PHONY: vault
vault: venv ## Create an inventory's vault: make vault INVENTORY=... VAULT_PASSWORD_FILE=...
	$(BIN)/python scripts/make_vault.py --inventory "$(INVENTORY)" --vault-password-file "$(VAULT_PASSWORD_FILE)"

.PHONY: tui
tui: venv ## Open the TUI on the lab: qa-tui --inventory inventories/local.
	$(BIN)/qa-tui --inventory inventories/local

.PHONY: lint
lint: venv ## Run ruff, mypy, yamllint and ansible-lint.
	ruff check .
	ruff format --check .
	mypy $(MYPY_PATHS)
	yamllint --strict .
	ansible-lint

.PHONY: pytest
pytest: venv ## Run the pytest suite against the lab.
	pytest

# Scenarios without containers keep "prepared" in molecule's state between
# runs and would skip prepare, so each run starts from a reset.
.PHONY: molecule
molecule: venv ## Run every role's molecule scenario.
	@for role in $(ROLES_WITH_SCENARIOS); do \
		echo "molecule: role $$role"; \
		(cd roles/$$role && molecule reset >/dev/null && molecule test) || exit 1; \
	done

.PHONY: test
test: lab site lint pytest molecule ## Everything CI runs.

.PHONY: bench
bench: venv ## Run the full benchmark suite on the lab; rewrites docs/benchmarks.md.
	$(BIN)/python bench/run.py

.PHONY: bench-quick
bench-quick: venv ## Run the small benchmark suite (a few minutes) on the lab.
	$(BIN)/python bench/run.py --quick
