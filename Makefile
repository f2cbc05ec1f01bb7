# The two commands of the quick start are `make demo` and `make test`; each sets itself up.
.PHONY: demo test fuzz fuzz-readers fuzz-limits unit integration lint lint-sql fix bench bench-mart bench-scale bench-history bench-partitions setup db-stop clean

VENV := .venv/bin

setup:
	@./scripts/bootstrap.sh

demo: setup  ## the main job end to end on the embedded warehouse
	$(VENV)/channel-dw demo

test: setup  ## lint, then every test (unit, DAG integrity, integration on a real PostgreSQL)
	@./scripts/ensure-compose.sh
	@./scripts/ensure-chromium.sh
	$(VENV)/ruff check .
	$(MAKE) --no-print-directory lint-sql
	$(VENV)/python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile --no-loadscope-reorder --durations=15

fuzz: fuzz-readers fuzz-limits  ## the long hostile-input run (not part of `make test`): both below

fuzz-limits: setup  ## the size and shape limits at full size (1 GB line, zip bomb...): outcome, seconds, peak RSS
	$(VENV)/python -m pytest -q -p no:cacheprovider -m fuzz -s tests/integration/test_input_limits.py

unit: setup
	$(VENV)/python -m pytest -q tests/unit tests/dags

integration: setup
	$(VENV)/python -m pytest -q tests/integration

fuzz-readers: setup  ## fuzz every reader: damaged files, and the columnar readers against the per-line ones, many more examples (HYPOTHESIS_PROFILE=fuzz)
	HYPOTHESIS_PROFILE=fuzz $(VENV)/python -m pytest -q -p no:cacheprovider -n 2 \
		--hypothesis-show-statistics tests/unit/test_fuzz_readers.py tests/integration/test_fuzz_loads.py \
		tests/unit/test_columnar_app.py tests/unit/test_columnar_sms.py

lint: setup lint-sql
	$(VENV)/ruff check . && $(VENV)/ruff format --check .

# The dbt models' SQL style (dbt_project/.sqlfluff). SQLFluff runs in uv's own tool environment:
# its pins (click) clash with Airflow's, so it stays out of the project's virtual env.
SQLFLUFF := $(VENV)/uvx --quiet --from 'sqlfluff==3.5.0' sqlfluff
lint-sql: setup
	cd dbt_project && ../$(SQLFLUFF) lint models tests

fix: setup
	$(VENV)/ruff check --fix . && $(VENV)/ruff format .

bench: setup  ## loader throughput vs raw COPY, and peak memory (README, "Benchmark")
	$(VENV)/python bench/bench_ingest.py

bench-mart: setup  ## dbt mart: full build of a month, then a one-day incremental build
	$(VENV)/python bench/bench_mart.py

bench-scale: setup  ## a month at province volume (10 M records): generate, ingest, dbt build, report; target <= 15 min
	$(VENV)/python bench/bench_scale.py

bench-history: setup  ## one incremental day on 12 months of history (200,000 customers) vs on one month, and its plan profile; 35-90 min
	$(VENV)/python bench/bench_history.py

bench-partitions: setup  ## a day's writes to the facts on 1 month, on 13, and on 13 in monthly partitions; 5-10 min
	$(VENV)/python bench/bench_partitions.py

db-stop: setup
	$(VENV)/channel-dw db stop

clean: setup  ## stop Superset, Airflow and the embedded PostgreSQL, then remove .dw
	-$(VENV)/channel-dw bi down
	-$(VENV)/channel-dw airflow down
	$(VENV)/channel-dw db stop
	rm -rf .dw
