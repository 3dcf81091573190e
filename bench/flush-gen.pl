#!/usr/bin/perl
# bench/flush-gen.pl - write one `SELECT tracker_apply_batch(...)` statement
# with literal arrays, the way the tracker's flusher sends a batch (text
# array parameters), for bench/flush.sh and t/020-schema.t.
#
#   flush-gen.pl BATCH_ID ROWS FIRST_PEER USERS TORRENTS [AT]
#   FLUSH_GEN_TABLE=name flush-gen.pl ...
#
# With FLUSH_GEN_TABLE the arrays go into a temporary table of that name
# instead (parsed once), so the function alone can be timed with
# SELECT tracker_apply_batch(b, u, t, peer, ...) FROM name.
#
# Row k announces peer FIRST_PEER+k of user (peer % USERS) + 1 on torrent
# (peer % TORRENTS) + 1 (users and torrents are expected to have ids
# 1..USERS and 1..TORRENTS); every 50th row is a completed event.
use strict;
use warnings;

my ($batch, $rows, $first, $users, $torrents, $at) = @ARGV;
die "usage: $0 BATCH_ID ROWS FIRST_PEER USERS TORRENTS [AT]\n"
    unless defined $torrents;
$at //= 1764000000;

my (@u, @t, @peer, @ip, @port, @up, @down, @ut, @dt, @left, @ev, @se, @le,
    @ts);
for my $k (0 .. $rows - 1) {
    my $p = $first + $k;
    push @u, $p % $users + 1;
    push @t, $p % $torrents + 1;
    push @peer, sprintf('"%040x"', $p);
    push @ip, sprintf('"10.%d.%d.%d"', ($p >> 16) & 255, ($p >> 8) & 255,
                      $p & 255);
    push @port, 1024 + $p % 60000;
    push @up, 16384 * ($k % 7);
    push @down, 16384 * ($k % 5);
    push @ut, $k % 2 ? 1800 : 0;
    push @dt, $k % 2 ? 0 : 1800;
    push @left, $k % 2 ? 0 : 1048576;
    push @ev, $k % 50 == 49 ? 1 : 0;
    push @se, 10 + $k % 3;
    push @le, 2;
    push @ts, $at + $k % 1800;
}

sub arr { return "'{" . join(',', @_) . "}'" }

my @types = qw(bigint[] bigint[] text[] text[] int[] bigint[] bigint[]
               bigint[] bigint[] int[] int[] bigint[] smallint[] int[] int[]
               bigint[]);
my @names = qw(u t peer ip port up down raw_up raw_down up_time down_time
               lft ev se le ts);
my @vals = (arr(@u), arr(@t), arr(@peer), arr(@ip), arr(@port), arr(@up),
            arr(@down), arr(@up), arr(@down), arr(@ut), arr(@dt),
            arr(@left), arr(@ev), arr(@se), arr(@le), arr(@ts));

if (my $table = $ENV{FLUSH_GEN_TABLE}) {
    print "DROP TABLE IF EXISTS $table;\n",
        "CREATE TEMP TABLE $table AS SELECT ${batch}::bigint AS b,\n  ",
        join(",\n  ", map { "$vals[$_]::$types[$_] AS $names[$_]" }
                           0 .. $#vals),
        ";\n";
} else {
    print "SELECT tracker_apply_batch($batch, ", join(",\n  ", @vals),
        ");\n";
}
