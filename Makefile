# trace_agg: PGXS build.  Sources are picked up by directory so that adding
# a C file, an extension script part or a regression test needs no edit here.

EXTENSION = trace_agg
EXTVERSION = 0.2
MODULE_big = trace_agg
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
DATA_built = trace_agg--$(EXTVERSION).sql
# Released scripts, frozen, and the update scripts between versions.
DATA = $(sort $(wildcard sql/versions/*.sql))
SHLIB_LINK += -lzstd
PG_CPPFLAGS += -Isrc -DTRACE_AGG_VERSION=\"$(EXTVERSION)\"

# The extension script is built from ordered parts in sql/ext/.
SCRIPT_PARTS = $(sort $(wildcard sql/ext/*.sql))

REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=. --load-extension=trace_agg
ISOLATION = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=trace_agg

EXTRA_CLEAN = results regression.diffs regression.out output_iso

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

trace_agg--$(EXTVERSION).sql: $(SCRIPT_PARTS)
	cat $^ > $@

# Debian's server is built without --enable-depend, so PGXS tracks no header
# dependency: an object built before a shared struct changed would be
# linked with the old layout.  Every object depends on every header.
$(OBJS): $(wildcard src/*.h)

# The benchmark and the ingest profile (test/bench/): make bench [EVENTS=N]
# (N events of each stream shape; TA_BENCH_SHAPES, TA_BENCH_CLIENTS and
# TA_BENCH_CLICKHOUSE=0 narrow it), make profile [EVENTS=N] (TA_BENCH_SHAPE=light
# profiles the light stream), make bench-derived [EVENTS=N] (the observation
# stream into the observation setup, its plain-SQL peer and the traces setup)
.PHONY: bench bench-derived profile matrix
bench:
	test/bench/run $(EVENTS)
bench-derived:
	test/bench/derived_run $(EVENTS)
profile:
	test/bench/profile $(EVENTS)

# The suite against the other PostgreSQL majors Debian serves (test/matrix).
matrix:
	test/matrix
