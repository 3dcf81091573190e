# ngx_tracker: build, run, test and benchmark.
#
#   make            build build/modules/ngx_http_tracker_module.so (and
#                   ngx_stream_tracker_module.so, the UDP tracker) against
#                   Debian's nginx-dev tree (loads into the stock nginx)
#   make NGINX_SRC=/path/to/nginx-1.x   build against an nginx source tree
#   make run        install what is missing, build, start nginx on :8080
#                   (HTTP) and :6969 (UDP); PORT=, UDP_PORT= change them
#   make stop       stop it
#   make test       install what is missing, build, run the whole suite
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
                clang libclang-rt-14-dev

.PHONY: all deps run stop test bench bench-udp fuzz clean

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
run: deps $(MODULE) $(UDP_MODULE) stop
	@mkdir -p $(RUN)/modules $(RUN)/logs $(RUN)/tmp $(RUN)/conf
	ln -sf $(NDK_SO) $(RUN)/modules/ndk_http_module.so
	ln -sf $(MODULE) $(RUN)/modules/ngx_http_tracker_module.so
	ln -sf $(STREAM_SO) $(RUN)/modules/ngx_stream_module.so
	ln -sf $(UDP_MODULE) $(RUN)/modules/ngx_stream_tracker_module.so
	sed -e 's/127.0.0.1:8080/127.0.0.1:$(PORT)/' \
	    -e 's/127.0.0.1:6969/127.0.0.1:$(UDP_PORT)/' \
	    conf.example > $(RUN)/conf/nginx.conf
	$(NGINX) -p $(RUN)/ -c conf/nginx.conf -t -q
	$(NGINX) -p $(RUN)/ -c conf/nginx.conf
	@echo
	@echo "ngx_tracker is running (open mode)"
	@echo "  announce: http://127.0.0.1:$(PORT)/announce"
	@echo "  scrape:   http://127.0.0.1:$(PORT)/scrape"
	@echo "  UDP:      udp://127.0.0.1:$(UDP_PORT)/announce"
	@echo "  status:   http://127.0.0.1:$(PORT)/tracker_status"
	@echo "  logs:     $(RUN)/logs/"
	@echo "  stop it:  make stop"

stop:
	@if [ -f $(RUN)/logs/nginx.pid ]; then \
	    $(NGINX) -p $(RUN)/ -c conf/nginx.conf -s stop 2>/dev/null || \
	        kill $$(cat $(RUN)/logs/nginx.pid) 2>/dev/null || true; \
	    for i in $$(seq 50); do [ -f $(RUN)/logs/nginx.pid ] || break; \
	        sleep 0.1; done; \
	    echo "stopped"; \
	fi

# The suite runs under openresty's Test::Nginx when it is installed, else
# under the compatible runner in t/lib.  `make test TESTS=t/003-scrape.t`
# runs one file.
TESTS ?= -r t/
test: deps $(MODULE) $(UDP_MODULE)
	@inc=; perl -MTest::Nginx::Socket -e1 2>/dev/null || inc="-I t/lib"; \
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
