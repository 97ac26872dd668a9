# credgap — every target creates and uses its own virtual environment in .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
CATALOGUE := nodekit/locale/zh_CN/LC_MESSAGES/credgap
# Set CREDGAP_TEST_PG_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres) to run the
# database tests against PostgreSQL as well; .ci/run does.

.PHONY: all venv demo test test-sqlite test-pg lint bench bench-full bench-web i18n openapi mutate clean dist lock

all: test

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,postgresql]'
	touch $(STAMP)

venv: $(STAMP) $(CATALOGUE).mo

demo: venv
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

test: test-sqlite test-pg

test-sqlite: venv
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

test-pg: venv
	@if [ -n "$$CREDGAP_TEST_PG_URL" ]; then \
	  echo "== database tests on PostgreSQL"; \
	  $(BIN)/pytest -n 2 -m db --db=postgresql $(PYTEST_ARGS); \
	else \
	  echo "== CREDGAP_TEST_PG_URL not set: PostgreSQL run skipped (.ci/run sets it)"; \
	fi

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: venv
	$(BIN)/python -m bench.run

bench-full: venv
	$(BIN)/python -m bench.run --full

# Mutation testing of the verify path and the disclosure rules ([tool.mutmut] in pyproject.toml):
# about an hour on 2 cores, reruns only what changed; not part of CI. docs/SECURITY.md, "Mutation
# testing", records the survivors and why each is killed or equivalent.
mutate: venv
	nice -n 10 $(BIN)/mutmut run --max-children 2
	$(BIN)/mutmut results > mutants/survivors.txt || true
	@echo "== surviving mutants: $$(grep -c ': survived' mutants/survivors.txt) (mutants/survivors.txt; mutmut show NAME)"

clean:
	rm -rf $(VENV) demo-run .pytest_cache .mypy_cache .ruff_cache mutants dist

# The offline installation bundle (docs/OPERATIONS.md, "Installing offline"): credgap's wheel, a
# wheelhouse/ of every runtime dependency pinned by requirements/runtime.lock, install.sh and SHA256SUMS.
# Built on a connected machine of the target's kind; tests/deploy/test_offline_install.py installs it
# into a fresh venv with the network cut off.
dist: venv
	$(BIN)/python scripts/make_dist.py --out dist

# requirements/runtime.lock: the runtime pins with their hashes, at the versions of constraints.txt
# (after a change of dependencies in pyproject.toml: update constraints.txt, then `make lock`)
lock: venv
	$(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --extra postgresql \
	  -c constraints.txt --no-emit-index-url --no-emit-find-links -o requirements/runtime.lock pyproject.toml

# The zh-CN catalogues (docs/adr/0016-operator-language.md): the operators' (CLI messages and help,
# click's messages, the demo) and the platform's (its templates and code; the platform falls back to
# the operators' one). Extract the message ids, merge them into each .po (translate the new ones
# there), compile the .mo files the package ships (tests/unit/nodekit/test_i18n.py and
# tests/web/test_i18n.py check both).
i18n: venv
	$(BIN)/python scripts/i18n.py build/credgap.pot
	$(BIN)/pybabel update -i build/credgap.pot -D credgap -d nodekit/locale -l zh_CN --ignore-obsolete --no-wrap --ignore-pot-creation-date
	$(BIN)/pybabel compile -D credgap -d nodekit/locale -l zh_CN --statistics
	$(BIN)/pybabel extract -F public_node/web/babel.cfg -k N_ -k WebError:3 --no-location -o build/messages.pot .
	$(BIN)/pybabel update -i build/messages.pot -d public_node/web/locale -l zh_CN --ignore-obsolete --no-wrap --ignore-pot-creation-date
	$(BIN)/pybabel compile -d public_node/web/locale -l zh_CN --statistics

# the .mo is committed (a fresh clone and a wheel work without Babel); `make venv` recompiles it when
# the .po is newer, e.g. after a merge that touched both
$(CATALOGUE).mo: $(CATALOGUE).po $(STAMP)
	$(BIN)/pybabel compile -D credgap -d nodekit/locale -l zh_CN

# docs/openapi.json from the app's routes (tests/web/test_api.py keeps them equal)
openapi: venv
	$(BIN)/python scripts/openapi.py docs/openapi.json

# The platform under load beside Datasette (kept out of CI: 1M records take ~10 min to load);
# BENCH_WEB_ARGS="--records 20000 --duration 5" for a small check of the whole run
bench-web: venv
	@command -v wrk >/dev/null || (apt-get install -y -qq --no-install-recommends wrk >/dev/null)
	$(BIN)/python -m bench.web $(BENCH_WEB_ARGS)
