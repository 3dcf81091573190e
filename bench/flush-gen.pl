#!/usr/bin/perl
# bench/flush-gen.pl - write one flush of a batch as SQL with literal arrays,
# for bench/flush.sh and t/020-schema.t.
#
#   flush-gen.pl BATCH_ID ROWS FIRST_PEER USERS TORRENTS [AT]
#   FLUSH_GEN_FOLD=1 [FLUSH_GEN_NEW=1] flush-gen.pl ...
#                                        (what the tracker sends)
#   FLUSH_GEN_TABLE=name flush-gen.pl ...
#
# By default: `SELECT tracker_apply_batch(...)`, one row per announce.
# With FLUSH_GEN_FOLD the batch is folded the way the tracker folds it (one
# row per (user, torrent) with the sums, one row per peer) and sent to
# tracker_apply_flush(); FLUSH_GEN_NEW says the peers are new to the
# tracker (their rows are written anew rather than updated).  With
# FLUSH_GEN_TABLE the arrays go into a temporary table of that name instead
# (parsed once), so that the function alone can be timed with
# SELECT tracker_apply_flush(b, a1, a2, ...) FROM name (columns b, a1 .. aN
# in argument order).
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

my @r;
for my $k (0 .. $rows - 1) {
    my $p = $first + $k;
    push @r, {
        u => $p % $users + 1, t => $p % $torrents + 1,
        peer => sprintf('%040x', $p),
        ip => sprintf('10.%d.%d.%d', ($p >> 16) & 255, ($p >> 8) & 255,
                      $p & 255),
        port => 1024 + $p % 60000, up => 16384 * ($k % 7),
        down => 16384 * ($k % 5), ut => $k % 2 ? 1800 : 0,
        dt => $k % 2 ? 0 : 1800, left => $k % 2 ? 0 : 1048576,
        ev => $k % 50 == 49 ? 1 : 0, se => 10 + $k % 3, le => 2,
        ts => $at + $k % 1800, seq => $k + 1,
    };
}

sub arr { return "'{" . join(',', @_) . "}'" }
sub col { my ($k, $rs, $fmt) = @_;
          return arr(map { $fmt ? sprintf($fmt, $_->{$k}) : $_->{$k} } @$rs) }

my (@types, @vals, $fn);

if ($ENV{FLUSH_GEN_FOLD}) {
    # one row per pair; the generator's peers are distinct, so one per row
    my (%pair, @pairs);
    for my $x (@r) {
        my $q = $pair{"$x->{u}/$x->{t}"} //= do {
            push @pairs, { u => $x->{u}, t => $x->{t}, n => 0, up => 0,
                           down => 0, ut => 0, dt => 0, first => $x->{ts},
                           last => $x->{ts}, done => 0 };
            $pairs[-1];
        };
        $q->{n}++;
        $q->{$_} += $x->{$_} for qw(up down ut dt);
        $q->{first} = $x->{ts} if $x->{ts} < $q->{first};
        $q->{last} = $x->{ts} if $x->{ts} > $q->{last};
        $q->{done} = $x->{ts} if $x->{ev} == 1 && !$q->{done};
        $q->{$_} = $x->{$_} for qw(se le seq);
    }
    # the tracker sends the peers in primary key order
    my @rs = sort { $a->{u} <=> $b->{u} || $a->{t} <=> $b->{t}
                    || $a->{peer} cmp $b->{peer} } @r;
    $fn = 'tracker_apply_flush';
    @types = qw(bigint[] bigint[] int[] bigint[] bigint[] bigint[] bigint[]
                bigint[] bigint[] bigint[] bigint[] bigint[] int[] int[]
                int[] bigint[] bigint[] bytea[] text[] int[] bigint[]
                bigint[] bigint[] bigint[] bigint[] int bigint[] bigint[]
                bytea[]);
    @vals = (col(u => \@pairs), col(t => \@pairs), col(n => \@pairs),
             col(up => \@pairs), col(down => \@pairs), col(up => \@pairs),
             col(down => \@pairs), col(ut => \@pairs), col(dt => \@pairs),
             col(first => \@pairs), col(last => \@pairs),
             col(done => \@pairs), col(se => \@pairs), col(le => \@pairs),
             col(seq => \@pairs),
             col(t => \@rs), col(u => \@rs), col(peer => \@rs, '"\\\\x%s"'),
             col(ip => \@rs), col(port => \@rs), col(up => \@rs),
             col(down => \@rs), col(left => \@rs), col(ts => \@rs),
             col(ts => \@rs), $ENV{FLUSH_GEN_NEW} ? scalar @rs : 0,
             "'{}'", "'{}'", "'{}'");
} else {
    $fn = 'tracker_apply_batch';
    @types = qw(bigint[] bigint[] text[] text[] int[] bigint[] bigint[]
                bigint[] bigint[] int[] int[] bigint[] smallint[] int[] int[]
                bigint[]);
    @vals = (col(u => \@r), col(t => \@r), col(peer => \@r, '"%s"'),
             col(ip => \@r, '"%s"'), col(port => \@r), col(up => \@r),
             col(down => \@r), col(up => \@r), col(down => \@r),
             col(ut => \@r), col(dt => \@r), col(left => \@r),
             col(ev => \@r), col(se => \@r), col(le => \@r), col(ts => \@r));
}

if (my $table = $ENV{FLUSH_GEN_TABLE}) {
    print "DROP TABLE IF EXISTS $table;\n",
        "CREATE TEMP TABLE $table AS SELECT ${batch}::bigint AS b,\n  ",
        join(",\n  ", map { "$vals[$_]::$types[$_] AS a" . ($_ + 1) }
                           0 .. $#vals),
        ";\n";
} else {
    print "SELECT $fn($batch, ",
        join(",\n  ", map { "$vals[$_]::$types[$_]" } 0 .. $#vals), ");\n";
}
