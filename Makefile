# ngx_tracker: build, run, test and benchmark.
#
#   make            build build/modules/ngx_http_tracker_module.so (and
#                   ngx_stream_tracker_module.so, the UDP tracker) against
#                   Debian's nginx-dev tree (loads into the stock nginx)
#   make NGINX_SRC=/path/to/nginx-1.x   build against an nginx source tree
#   make run        install what is missing, build, start PostgreSQL (demo
#                   data) and nginx on :8080 (HTTP) and :6969 (UDP);
#                   PORT=, UDP_PORT= change them; writes build/run/demo.env
#   make stop       stop both
#   make db         only the PostgreSQL cluster (build/pg, port 15432)
#   make db-stop    stop it
#   make migrate    apply new sql/NNN_*.sql to the running cluster
#   make test       install what is missing, build, run the whole suite
#                   (with its own PostgreSQL: build/pg-test, port 15433)
#   make bench      announce benchmark against `make run`'s nginx
#   make bench-udp  UDP benchmark beside opentracker (bench/udp.sh)
#   make fuzz       run the fuzz targets for a while (FUZZ_SECONDS)

SHELL        := /bin/bash
TOP          := $(CURDIR)
BUILD        := $(TOP)/build
NGINX        ?= /usr/sbin/nginx
DEBIAN_TREE  := /usr/share/nginx/src
NDK_SO       ?= /usr/lib/nginx/modules/ndk_http_module.so
NDK_INCS     ?= /usr/share/nginx-ndk/src/src /usr/share/nginx-ndk/src/objs

# Debian's conf_flags carry no compiler flags: these are `nginx -V`'s.
CC_OPT       := -g -O2 -fstack-protector-strong -Wformat \
                -Werror=format-security -fPIC -Wdate-time -D_FORTIFY_SOURCE=2
LD_OPT       := -Wl,-z,relro -Wl,-z,now -fPIC

ifeq ($(NGINX_SRC),)
NGX_TREE     := $(BUILD)/nginx-dev
NGX_OBJS     := $(NGX_TREE)/objs
else
NGX_TREE     := $(abspath $(NGINX_SRC))
NGX_OBJS     := $(BUILD)/objs-src
endif

MODULE       := $(BUILD)/modules/ngx_http_tracker_module.so
# the UDP tracker: load after ngx_stream_module.so and MODULE
UDP_MODULE   := $(BUILD)/modules/ngx_stream_tracker_module.so
STREAM_SO    ?= /usr/lib/nginx/modules/ngx_stream_module.so
SOURCES      := config $(wildcard src/*.c src/*.h)
RUN          := $(BUILD)/run
PORT         ?= 8080
UDP_PORT     ?= 6969

export NGX_TREE NGX_OBJS

# Debian packages the build, run and tests need (see DESIGN.md).
DEB_PKGS     := nginx nginx-dev libnginx-mod-http-ndk libnginx-mod-http-ndk-dev \
                libnginx-mod-stream libyajl-dev libpq-dev libssl-dev gcc make \
                libtest-base-perl libtext-diff-perl libtest-longstring-perl \
                libwww-perl libhttp-message-perl libipc-run-perl liburi-perl \
                liblist-moreutils-perl python3 python3-libtorrent curl \
                clang libclang-rt-14-dev postgresql \
                libxml2-utils
# (pg_trgm and pgcrypto ship in Debian 12's postgresql-15 itself:
# postgresql-contrib is only a transitional name for it)

# PostgreSQL clusters (sql/pg.sh): development/demo and the suite's own.
PG_DIR       := $(BUILD)/pg
PG_PORT      ?= 15432
PG_TEST_DIR   = $(BUILD)/pg-test-$(PG_TEST_PORT)
# suites running side by side (distinct TEST_NGINX_PORT) get distinct ones
PG_TEST_PORT ?= $(if $(TEST_NGINX_PORT),$(shell echo $$(($(TEST_NGINX_PORT) + 7000))),15433)
PG_CONN       = host=$(PG_DIR) port=$(PG_PORT) dbname=tracker user=postgres

.PHONY: all deps run stop stop-nginx db db-stop migrate test bench bench-udp fuzz clean

all: $(MODULE) $(UDP_MODULE)

deps:
	@missing=$$(for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	      | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing Debian packages:" $$missing; \
	    sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	    $$sudo apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq \
	        --no-install-recommends $$missing >/dev/null || exit 1; \
	fi

# Configure once (again when `config` changes); module builds are incremental.
$(NGX_OBJS)/Makefile: config
	@mkdir -p $(BUILD)
ifeq ($(NGINX_SRC),)
	rm -rf $(NGX_TREE) && cp -r $(DEBIAN_TREE) $(NGX_TREE)
	cd $(NGX_TREE) && . ./conf_flags && NDK_INCS="$(NDK_INCS)" ./configure \
	    "$${NGX_CONF_FLAGS[@]}" --with-stream --add-dynamic-module=$(TOP) \
	    --with-cc-opt="$(CC_OPT)" --with-ld-opt="$(LD_OPT)" > $(BUILD)/configure.log
else
	cd $(NGX_TREE) && NDK_INCS="$(NDK_INCS)" ./configure --with-compat \
	    --with-stream --builddir=$(NGX_OBJS) --add-dynamic-module=$(TOP) \
	    --with-cc-opt="$(CC_OPT)" --with-ld-opt="$(LD_OPT)" > $(BUILD)/configure.log
endif

$(MODULE): $(NGX_OBJS)/Makefile $(SOURCES)
	$(MAKE) -s -C $(NGX_TREE) -f $(NGX_OBJS)/Makefile modules
	@mkdir -p $(dir $@)
	@# a new inode: a running nginx keeps its mapping of the old file
	cp $(NGX_OBJS)/ngx_http_tracker_module.so $@.tmp && mv -f $@.tmp $@

$(UDP_MODULE): $(MODULE)
	cp $(NGX_OBJS)/ngx_stream_tracker_module.so $@.tmp && mv -f $@.tmp $@

# A private prefix under build/run: modules/ holds links to the .so files,
# so conf.example's relative load_module lines work unchanged.
run: deps $(MODULE) $(UDP_MODULE) stop-nginx db
	@psql -X -q -v ON_ERROR_STOP=1 -d "$(PG_CONN)" -f sql/demo.sql
	@mkdir -p $(RUN)/modules $(RUN)/logs $(RUN)/tmp $(RUN)/conf
	ln -sf $(NDK_SO) $(RUN)/modules/ndk_http_module.so
	ln -sf $(MODULE) $(RUN)/modules/ngx_http_tracker_module.so
	ln -sf $(STREAM_SO) $(RUN)/modules/ngx_stream_module.so
	ln -sf $(UDP_MODULE) $(RUN)/modules/ngx_stream_tracker_module.so
	sed -e 's/127.0.0.1:8080/127.0.0.1:$(PORT)/' \
	    -e 's/127.0.0.1:6969/127.0.0.1:$(UDP_PORT)/' \
	    -e 's|host=/var/run/postgresql dbname=tracker|$(PG_CONN)|' \
	    conf.example > $(RUN)/conf/nginx.conf
	$(NGINX) -p $(RUN)/ -c conf/nginx.conf -t -q
	$(NGINX) -p $(RUN)/ -c conf/nginx.conf
	@# demo.sql's fixed keys; the passkey and ids are read back
	@{ echo "BASE_URL=http://127.0.0.1:$(PORT)"; \
	   echo "DEMO_API_KEY=86ca0245fa5dd60dc56398dfd6a5e0b21153937851a03421e4f93e02b887b236"; \
	   echo "DEMO_ADMIN_API_KEY=eeb2b79ed348545a60b8fd21f1f4e2bb8e27207a861681fbea69b11c3fc7aa60"; \
	   psql -X -At -d '$(PG_CONN)' -f sql/demo_env.sql; \
	   echo "DATABASE_URL='$(PG_CONN)'"; } > $(RUN)/demo.env
	@echo
	@echo "ngx_tracker is running, with PostgreSQL"
	@echo "  public announce:  http://127.0.0.1:$(PORT)/announce"
	@echo "  private announce: http://127.0.0.1:$(PORT)/announce/<passkey>"
	@echo "                    (the demo user's: http://127.0.0.1:$(PORT)/announce/$$(sed -n 's/^DEMO_PASSKEY=//p' $(RUN)/demo.env))"
	@echo "  scrape:   http://127.0.0.1:$(PORT)/scrape"
	@echo "  UDP:      udp://127.0.0.1:$(UDP_PORT)/announce"
	@echo "  API:      http://127.0.0.1:$(PORT)/api/v1/  (health: /api/v1/health)"
	@echo "  status:   http://127.0.0.1:$(PORT)/tracker_status"
	@echo "  logs:     $(RUN)/logs/"
	@echo "  demo:     $(RUN)/demo.env (source it):"
	@sed 's/^/    /' $(RUN)/demo.env
	@echo "  stop it:  make stop"

stop: stop-nginx db-stop

stop-nginx:
	@if [ -f $(RUN)/logs/nginx.pid ]; then \
	    $(NGINX) -p $(RUN)/ -c conf/nginx.conf -s stop 2>/dev/null || \
	        kill $$(cat $(RUN)/logs/nginx.pid) 2>/dev/null || true; \
	    for i in $$(seq 50); do [ -f $(RUN)/logs/nginx.pid ] || break; \
	        sleep 0.1; done; \
	    echo "stopped"; \
	fi

# The cluster is created on first use; pg.sh applies pending migrations on
# every start.
db: deps
	@sql/pg.sh start $(PG_DIR) $(PG_PORT)

db-stop:
	@sql/pg.sh stop $(PG_DIR)

migrate:
	@sql/migrate.sh "$(PG_CONN)"

# The suite runs under openresty's Test::Nginx when it is installed, else
# under the compatible runner in t/lib.  `make test TESTS=t/003-scrape.t`
# runs one file.
TESTS ?= -r t/
# The suite's PostgreSQL runs only while prove does (stopped on failure and
# on interrupt too); tracker_template is rebuilt from sql/ on every run.
test: deps $(MODULE) $(UDP_MODULE)
	@inc=; perl -MTest::Nginx::Socket -e1 2>/dev/null || inc="-I t/lib"; \
	trap 'sql/pg.sh stop $(PG_TEST_DIR) >/dev/null' EXIT; \
	sql/pg.sh start $(PG_TEST_DIR) $(PG_TEST_PORT) >/dev/null && \
	sql/pg.sh newdb $(PG_TEST_DIR) $(PG_TEST_PORT) tracker_template \
	    >/dev/null || exit 1; \
	TEST_PG_HOST=$(PG_TEST_DIR) TEST_PG_PORT=$(PG_TEST_PORT) \
	TEST_PG_DBNAME=tracker_template \
	TEST_NGINX_BINARY=$(NGINX) TEST_NGINX_SLEEP=0.005 \
	TEST_NGINX_LOAD_MODULES="$(NDK_SO) $(MODULE)" \
	TRACKER_TOP=$(TOP) \
	prove $$inc $(TESTS)

bench: $(MODULE)
	bench/announce.sh

bench-udp: $(MODULE) $(UDP_MODULE)
	bench/udp.sh

fuzz: $(NGX_OBJS)/Makefile
	$(MAKE) -C t/fuzz run

clean:
	rm -rf $(BUILD) t/servroot
