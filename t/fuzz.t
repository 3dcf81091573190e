#!/usr/bin/perl
# Runs the libFuzzer targets of t/fuzz/ (ASan + UBSan) for FUZZ_SECONDS each
# (default 15): the query parser, the bencode writer, the .torrent
# rewriter, the JSON body parser, the UDP datagram parser, the uploaded
# .torrent reader and the Gazelle token.  One TAP test per target; a crash,
# leak, sanitizer report or failed invariant fails it.

use strict;
use warnings;
use Test::More;
use Cwd qw(abs_path);
use File::Basename qw(dirname);

my $top = abs_path(dirname(__FILE__) . '/..');
my $secs = $ENV{FUZZ_SECONDS} // 15;

if (system('command -v clang >/dev/null 2>&1') != 0) {
    plan skip_all => 'clang not installed (make deps installs it)';
}

my $build = `make -s -C $top/t/fuzz all 2>&1`;
is($?, 0, 'fuzz targets build with -fsanitize=fuzzer,address,undefined')
    or diag $build;

for my $t (qw(fuzz_args fuzz_bencode fuzz_torrent fuzz_json fuzz_udp
               fuzz_upload fuzz_gazelle_token)) {
    my $out = `make -s -C $top/t/fuzz run FUZZ_SECONDS=$secs \\
               FUZZ_TARGETS=$t 2>&1`;
    my ($runs) = $out =~ /number_of_executed_units:\s*(\d+)/;
    ok(defined $runs && $runs > 1000 && $out !~ /ERROR|SUMMARY/,
       "$t: " . ($runs // 0) . " inputs in ${secs}s, no finding")
        or diag $out;
}

done_testing();
