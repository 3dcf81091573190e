package PgTest;

# Helpers for suites that need PostgreSQL.  `make test` starts a throwaway
# cluster (sql/pg.sh) with a migrated template database and exports
#   TEST_PG_HOST    the cluster's directory (unix socket dir)
#   TEST_PG_PORT    its port
#   TEST_PG_DBNAME  the template (tracker_template)
# Without TEST_PG_HOST, `use PgTest;` skips the whole file, so load it
# before Test::Nginx::Socket (which plans the tests itself).
#
#   my $conn = PgTest::fresh_db();          # new database from the template
#   my $empty = PgTest::fresh_db('template0');
#   my @rows = PgTest::psql($conn, $sql);   # rows as tab-separated lines
#   my $ids = PgTest::add_torrents($conn, \&ih, name => [1, 100, 100]);
#   PgTest::stop_server(); PgTest::start_server();
#
# Databases made by fresh_db() are dropped when the test file ends.

use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use IPC::Run ();

my $top = abs_path(dirname(__FILE__) . '/..');
my @made;
my $seq = 0;

sub import {
    return if $ENV{TEST_PG_HOST};
    require Test::More;
    Test::More::plan(skip_all => 'no test PostgreSQL: TEST_PG_HOST is not '
        . 'set (`make test` starts one; or sql/pg.sh start DIR PORT and '
        . 'export TEST_PG_HOST=DIR TEST_PG_PORT=PORT '
        . 'TEST_PG_DBNAME=tracker_template)');
}

sub host     { return $ENV{TEST_PG_HOST} }
sub port     { return $ENV{TEST_PG_PORT} // 5432 }
sub template { return $ENV{TEST_PG_DBNAME} // 'tracker_template' }
sub user     { return $ENV{TEST_PG_USER} // 'postgres' }

# libpq keyword conninfo over the unix socket: no DNS, no TCP
sub conninfo {
    my $db = shift // template();
    return 'host=' . host() . ' port=' . port() . " dbname=$db user="
        . user();
}

# psql($conninfo, $sql): run $sql (any number of statements) in one
# session; returns the rows of every result as tab-separated lines (list
# context) or all of them joined by newlines (scalar context).  Dies with
# psql's message on any error.
sub psql {
    my ($conn, $sql) = @_;
    my ($out, $err) = ('', '');
    my @cmd = ('psql', '-X', '-q', '-A', '-t', '-F', "\t",
               '-v', 'ON_ERROR_STOP=1', '-d', $conn, '-f', '-');
    IPC::Run::run(\@cmd, \$sql, \$out, \$err)
        or die "psql failed: $err\nSQL: $sql\n";
    my @rows = grep { length } split /\n/, $out;
    return wantarray ? @rows : join("\n", @rows);
}

# a new database, copied from the migrated template (or the one named),
# dropped at END
sub fresh_db {
    my $from = shift // template();
    my $name = sprintf('t_%d_%d_%d', $$, time, ++$seq);
    psql(conninfo('postgres'), qq{CREATE DATABASE "$name" TEMPLATE "$from"});
    push @made, $name;
    return conninfo($name);
}

# add_torrents($conninfo, \&info_hash_of_name, name => [status, dl_percent,
# ul_percent, v2 hash or undef], ...): inserts the torrents (title = name),
# returns { name => id }
sub add_torrents {
    my ($conn, $ih, %t) = @_;
    my %id;
    for my $n (sort keys %t) {
        my ($status, $dl, $ul, $h2) = @{ $t{$n} };
        my $v2sql = $h2 ? "'\\x" . unpack('H*', $h2) . "'" : 'NULL';
        ($id{$n}) = psql($conn, "INSERT INTO torrents (info_hash,
            info_hash_v2, title, status, dl_percent, ul_percent)
            VALUES ('\\x" . unpack('H*', $ih->($n)) . "', $v2sql, '$n',
            $status, $dl, $ul) RETURNING id");
    }
    return \%id;
}

sub pg_sh {
    my @args = @_;
    my ($out, $err) = ('', '');
    IPC::Run::run(["$top/sql/pg.sh", @args], \undef, \$out, \$err)
        or die "sql/pg.sh @args failed: $out$err";
    return $out;
}

# stop and start the test cluster (tests of a database restart)
sub stop_server  { return pg_sh('stop', host()) }
sub start_server { return pg_sh('start', host(), port()) }

END {
    my $status = $?;
    if (@made && host()) {
        # the server may have been stopped by the test
        eval { start_server() } unless eval { pg_sh('status', host()); 1 };
        for my $db (@made) {
            eval {
                psql(conninfo('postgres'),
                     qq{DROP DATABASE IF EXISTS "$db" WITH (FORCE)});
            };
        }
    }
    $? = $status;
}

1;
