#!/usr/bin/perl
# test/gen_observations.pl: a deterministic stream of observation versions
# and trace-level events, shaped like an observation-centric product's
# traffic (Langfuse's events table, Laminar's spans), written as a psql
# script that ingests it in COPY batches.
#
# Observations arrive as whole versions, as Langfuse's ingestion worker
# writes them: a create (start time, no end, no usage, an input), and for 30%
# of observations two or three updates, each a complete newer version (end
# time, output, usage and cost growing, sometimes level ERROR).  About 8
# observations per trace (1% of traces with 50-150), the first one the root
# (no parent), the others children of the root or of an earlier one.  Trace
# events (name, user, session, tags, a bookmark, scores) arrive on their
# own, into traces_null: a create, and for 40% of traces 1-2 more.  Rows of
# about 300 active traces are interleaved; 2% of the rows arrive late (up to
# 500 rows after their turn), so that an older version of an observation may
# arrive after a newer one.  20 projects with Zipf traffic; 60% of traces
# in a session of about 5 traces; payloads lognormal around 500 bytes.
#
# Usage: gen_observations.pl [--events N] [--seed S] [--batch B]
#                            [--now EPOCH] [--schema SCHEMA]
#                            [--split N,M,... --out PREFIX]
# N counts rows of both tables.  With --split it writes PREFIX-N-i.sql for
# each N instead of stdout: the stream divided among N clients by trace,
# each client's rows in stream order and in its own batches.
use strict;
use warnings;
use Getopt::Long;
use POSIX qw(strftime);

my ($events, $seed, $batch, $schema, $split, $prefix) = (10000, 42, 1000, 'public', '', '');
my $now = 1_767_225_600;    # 2026-01-01 00:00:00 UTC: fixed, so the stream is reproducible
GetOptions('events=i' => \$events, 'seed=i' => \$seed, 'batch=i' => \$batch, 'now=i' => \$now,
           'schema=s' => \$schema, 'split=s' => \$split, 'out=s' => \$prefix)
    or die "usage: $0 [--events N] [--seed S] [--batch B] [--now EPOCH] [--schema S] [--split N,... --out PREFIX]\n";
die "--split needs --out\n" if $split && !$prefix;
srand($seed);

my @OBS_COLS = qw(project_id id trace_id parent_observation_id type name start_time end_time level
                  model usage_details cost_details input output version event_ts);
my @TRACE_COLS = qw(project_id id start_time name user_id session_id environment tags bookmarked
                    score_ids event_ts);

my %zipf_cdf;
sub zipf {
    my ($n) = @_;
    my $cdf = $zipf_cdf{$n} //= do {
        my ($sum, @c) = (0);
        for my $k (1 .. $n) { $sum += 1 / $k; push @c, $sum }
        [ map { $_ / $sum } @c ];
    };
    my $u = rand();
    my ($lo, $hi) = (0, $n - 1);
    while ($lo < $hi) {
        my $mid = ($lo + $hi) >> 1;
        if ($cdf->[$mid] < $u) { $lo = $mid + 1 } else { $hi = $mid }
    }
    return $lo + 1;
}
sub ts { my ($t) = @_; return strftime('%Y-%m-%d %H:%M:%S', gmtime(int $t)) . sprintf('.%03d+00', ($t - int $t) * 1000) }
my @words = map { join '', map { ('a' .. 'z')[ int(rand(26)) ] } 1 .. 2 + int(rand(8)) } 1 .. 2000;
sub payload {
    return '' if rand() < 0.1;
    my $len = int(500 * exp(0.8 * sqrt(-2 * log(1 - rand())) * cos(6.283185307179586 * rand())));
    my $text = '';
    $text .= $words[ zipf(2000) - 1 ] . ' ' while length($text) < $len;
    return qq({"role":"user","content":"$text"});
}
sub copy_escape {
    my ($v) = @_;
    return '\N' unless defined $v;
    $v =~ s/\\/\\\\/g; $v =~ s/\t/\\t/g; $v =~ s/\n/\\n/g;
    return $v;
}

my ($trace_seq, $session_seq) = (0, 0);
my %open_session;
sub new_trace {
    my $p = zipf(20);
    my $t = { project => "project-$p", id => sprintf('trace-%08d', ++$trace_seq),
              start => $now - rand(30 * 86400), clock => 0, todo => [] };
    $t->{clock} = $t->{start};
    if (rand() < 0.6) {
        my $s = $open_session{$p};
        $s = $open_session{$p} = [ sprintf('session-%d-%d', $p, ++$session_seq), 1 + int(rand(9)) ]
            if !$s || !$s->[1]--;
        $t->{session} = $s->[0];
    }
    $t->{user} = rand() < 0.8 ? "user-$p-" . zipf(2000) : undef;
    $t->{tags} = rand() < 0.3 ? '{' . join(',', map { "tag-" . zipf(20) } 1 .. 1 + int(rand(2))) . '}' : '{}';
    my $nobs = rand() < 0.01 ? 50 + int(rand(100)) : 1 + int(-7 * log(1 - rand()));
    my @rows = ([ 'trace', 'create' ]);
    for my $o (1 .. $nobs) {
        my $parent = $o == 1 ? undef : sprintf('obs-%s-%d', $t->{id}, 1 + int(rand($o - 1)));
        my $obs = { id => sprintf('obs-%s-%d', $t->{id}, $o), parent => $parent,
                    type => $o == 1 ? 'SPAN' : rand() < 0.5 ? 'GENERATION' : 'SPAN',
                    name => "step-" . zipf(30), versions => rand() < 0.3 ? 2 + int(rand(2)) : 0 };
        push @rows, [ 'obs', $obs, 0 ];
        push @rows, [ 'obs', $obs, $_ ] for 1 .. $obs->{versions};
    }
    push @rows, [ 'trace', 'update' ] for 1 .. (rand() < 0.4 ? 1 + int(rand(2)) : 0);
    # The trace's create comes first, each observation's versions in order;
    # the rest interleave at random.
    my @first = shift @rows;
    for (my $i = $#rows; $i > 0; $i--) { my $j = int(rand($i + 1)); @rows[$i, $j] = @rows[$j, $i] }
    my %next;
    my @ordered;
    my @pending = @rows;
    while (@pending) {
        my @later;
        for my $r (@pending) {
            if ($r->[0] eq 'obs' && $r->[2] != ($next{ $r->[1]{id} } // 0)) { push @later, $r; next }
            $next{ $r->[1]{id} }++ if $r->[0] eq 'obs';
            push @ordered, $r;
        }
        @pending = @later;
    }
    $t->{todo} = [ @first, @ordered ];
    return $t;
}

sub row_for {
    my ($t, $r) = @_;
    $t->{clock} += rand(3);
    if ($r->[0] eq 'trace') {
        my %e = (project_id => $t->{project}, id => $t->{id}, start_time => ts($t->{start}),
                 environment => 'production', tags => '{}', score_ids => '{}', event_ts => ts($t->{clock}));
        if ($r->[1] eq 'create') {
            @e{qw(name user_id session_id)} = ("trace-" . zipf(20), $t->{user}, $t->{session});
            $e{tags} = $t->{tags};
        } elsif (rand() < 0.5) {
            $e{score_ids} = sprintf('{score-%s-%d}', $t->{id}, int(rand(1e6)));
        } else {
            $e{bookmarked} = rand() < 0.8 ? 'true' : 'false';
            $e{tags} = '{reviewed}';
        }
        return [ 'traces_null', [ map { $e{$_} } @TRACE_COLS ] ];
    }
    my ($obs, $v) = @$r[1, 2];
    $obs->{start} //= $t->{clock};
    my $done = $v > 0;
    my ($in, $out) = $obs->{type} eq 'GENERATION' && $done ? (100 * $v + int(rand(3000)), 50 * $v + int(rand(1000))) : (0, 0);
    my %e = (project_id => $t->{project}, id => $obs->{id}, trace_id => $t->{id},
             parent_observation_id => $obs->{parent}, type => $obs->{type}, name => $obs->{name},
             start_time => ts($obs->{start}), end_time => $done ? ts($t->{clock}) : undef,
             level => $done && rand() < 0.03 ? 'ERROR' : 'DEFAULT',
             model => $obs->{type} eq 'GENERATION' ? 'model-' . zipf(5) : undef,
             usage_details => $in ? sprintf('{"input":%d,"output":%d,"total":%d}', $in, $out, $in + $out) : '{}',
             cost_details => $in ? sprintf('{"total":%.12f}', $in * 0.000003 + $out * 0.000015) : '{}',
             input => $obs->{input} //= payload(), output => $done ? payload() : '',
             version => ts($t->{clock}), event_ts => ts($t->{clock}));
    return [ 'observations_null', [ map { $e{$_} } @OBS_COLS ] ];
}

# Output: one sink per client, each with a pending batch per table.
my @sinks;
if ($split) {
    for my $n (split /,/, $split) {
        die "bad --split count: $n\n" unless $n =~ /^[1-9][0-9]*$/;
        push @sinks, [ $n, [ map {
            open(my $fh, '>', "$prefix-$n-$_.sql") or die "$prefix-$n-$_.sql: $!\n";
            { fh => $fh, rows => {} }
        } 0 .. $n - 1 ] ];
    }
} else {
    push @sinks, [ 1, [ { fh => \*STDOUT, rows => {} } ] ];
}
my %COLS_OF = (observations_null => \@OBS_COLS, traces_null => \@TRACE_COLS);
sub flush_table {
    my ($sink, $table) = @_;
    my $rows = $sink->{rows}{$table} or return;
    return unless @$rows;
    my $fh = $sink->{fh};
    print $fh "COPY $schema.$table (", join(', ', @{ $COLS_OF{$table} }), ") FROM STDIN;\n", @$rows, "\\.\n";
    $sink->{rows}{$table} = [];
}
sub emit {
    my ($no, $table, $cells) = @_;
    my $line = join("\t", map { copy_escape($_) } @$cells) . "\n";
    for my $s (@sinks) {
        my $sink = $s->[1][ $no % $s->[0] ];
        my $rows = $sink->{rows}{$table} //= [];
        push @$rows, $line;
        # A batch is 1,000 rows of the client's stream, cut per table.
        if (++$sink->{count} % $batch == 0) { flush_table($sink, $_) for sort keys %COLS_OF }
    }
}

my (@active, @late);
my $emitted = 0;
while ($emitted < $events) {
    push @active, new_trace() while @active < 300;
    my $i = int(rand(@active));
    my $t = $active[$i];
    my $r = shift @{ $t->{todo} };
    my ($table, $cells) = @{ row_for($t, $r) };
    splice(@active, $i, 1) unless @{ $t->{todo} };
    if (rand() < 0.02) {
        push @late, [ $emitted + 1 + int(rand(500)), $t->{id}, $table, $cells ];
    } else {
        emit(substr($t->{id}, 6) + 0, $table, $cells);
    }
    $emitted++;
    @late = sort { $a->[0] <=> $b->[0] } @late;
    while (@late && $late[0][0] <= $emitted) {
        my $l = shift @late;
        emit(substr($l->[1], 6) + 0, $l->[2], $l->[3]);
    }
}
emit(substr($_->[1], 6) + 0, $_->[2], $_->[3]) for @late;
for my $s (@sinks) { for my $sink (@{ $s->[1] }) { flush_table($sink, $_) for sort keys %COLS_OF } }
