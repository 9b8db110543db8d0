#!/usr/bin/perl
# test/gen_events.pl: a deterministic stream of trace events shaped like an
# LLM-observability product's traffic, written as a psql script that
# ingests it in batches, alternating COPY and multi-row INSERT.
#
# Per trace: 1-5 trace rows (create, then updates bringing output, metadata,
# end time; 5% re-sent unchanged), observation rows (ids, usage and cost on
# about half), 0-3 score rows and, rarely, a bookmark/public row.  Rows of
# about 300 active traces are interleaved, 2% arrive out of order, some
# share an event_ts.  Payloads: 10% empty, most around 1 KB, some up to
# 128 KB and a few up to 1 MB, chat-like so that they compress.
#
# Usage: gen_events.pl [--events N] [--seed S] [--batch B] [--table T]
#                      [--raw TABLE]   (also record each event, numbered, in TABLE)
#                      [--max-payload BYTES]
#                      [--now EPOCH]   (end of the 35 days of start times; default fixed)
use strict;
use warnings;
use Getopt::Long;
use POSIX qw(floor strftime);

my ($events, $seed, $batch, $table, $raw, $max_payload) = (10000, 42, 1000, 'traces_null', '', 1 << 20);
my $now = 1_767_225_600;    # 2026-01-01 00:00:00 UTC: fixed, so the stream is reproducible
GetOptions('events=i' => \$events, 'seed=i' => \$seed, 'batch=i' => \$batch,
           'table=s' => \$table, 'raw=s' => \$raw, 'max-payload=i' => \$max_payload, 'now=i' => \$now)
    or die "usage: $0 [--events N] [--seed S] [--batch B] [--table T] [--raw TABLE]\n";
srand($seed);

my @COLS = qw(project_id id start_time end_time name metadata user_id session_id environment
              tags version release bookmarked public observation_ids score_ids cost_details
              usage_details input output created_at updated_at event_ts);
my @words = qw(the model answered user question context tokens assistant system prompt
               retrieval document summary result function call tool output json reasoning
               step plan cost latency error retry stream chunk message content role);

sub zipf { my ($n) = @_; return 1 + floor($n ** (rand() ** 1.6)) - 1 }
sub pick { return $_[rand @_] }
sub ts { my ($t) = @_; return strftime('%Y-%m-%d %H:%M:%S', gmtime(int $t)) . sprintf('.%03d+00', ($t - int $t) * 1000) }

sub payload {
    my $r = rand();
    return '' if $r < 0.10;
    my $len = $r < 0.80 ? int(exp(log(1200) + 0.8 * (rand() + rand() + rand() - 1.5) * 2))
            : $r < 0.98 ? 8192 + int(rand(120 * 1024))
            : 131072 + int(rand(900 * 1024));
    $len = $max_payload if $len > $max_payload;
    my $text = '';
    $text .= join(' ', map { pick(@words) } 1 .. 12) . ". " while length($text) < $len;
    return sprintf('{"messages":[{"role":"user","content":"%s"}]}', substr($text, 0, $len));
}

sub copy_escape {
    my ($v) = @_;
    return '\N' unless defined $v;
    $v =~ s/\\/\\\\/g; $v =~ s/\t/\\t/g; $v =~ s/\n/\\n/g; $v =~ s/\r/\\r/g;
    return $v;
}
sub sql_literal { my ($v) = @_; return 'NULL' unless defined $v; $v =~ s/'/''/g; return "'$v'" }

my $trace_seq = 0;
sub new_trace {
    my $p = zipf(20);
    my $t = { project => "project-$p", id => sprintf('trace-%08d', ++$trace_seq),
              start => $now - rand(35 * 86400), env => pick(('production') x 35, ('staging') x 10, ('development') x 4, 'qa') };
    $t->{name} = "trace-name-" . zipf(20);
    $t->{user} = rand() < 0.7 ? "user-" . zipf(5000) : undef;
    $t->{session} = rand() < 0.5 ? "session-$p-" . int(rand($trace_seq / 5 + 1)) : undef;
    $t->{tags} = rand() < 0.3 ? [ map { "tag-" . zipf(20) } 1 .. 1 + int(rand(3)) ] : [];
    ($t->{release}, $t->{version}) = rand() < 0.4 ? ("release-" . int(rand(5)), "v" . int(rand(9))) : (undef, undef);
    $t->{clock} = $t->{start};
    my @rows;
    my $ntrace = 1 + int(rand(5));
    my $nobs = int(-8 * log(1 - rand())); $nobs = 300 if $nobs > 300;
    push @rows, ('trace') x $ntrace, ('obs') x $nobs, ('score') x int(rand(4));
    push @rows, 'ui' if rand() < 0.005;
    $t->{todo} = [ 'create', @rows[1 .. $#rows] ];
    $t->{obs} = 0;
    return $t;
}

sub event_for {
    my ($t, $kind) = @_;
    $t->{clock} += rand() < 0.1 ? 0 : rand(5);
    my %e = (project_id => $t->{project}, id => $t->{id}, start_time => ts($t->{start}),
             environment => $t->{env}, metadata => '{}', tags => '{}', observation_ids => '{}',
             score_ids => '{}', cost_details => '{}', usage_details => '{}', input => '', output => '',
             created_at => ts($t->{start}), updated_at => ts($t->{clock}), event_ts => ts($t->{clock}));
    if ($kind eq 'create' || $kind eq 'trace') {
        @e{qw(name user_id session_id version release)} = @$t{qw(name user session version release)};
        $e{tags} = '{' . join(',', @{ $t->{tags} }) . '}';
        $e{metadata} = sprintf('{"source":"sdk","region":"%s"}', pick(qw(eu us ap)));
        $e{input} = payload() if $kind eq 'create';
        $e{output} = payload() if $kind eq 'trace';
        $e{end_time} = ts($t->{clock}) if $kind eq 'trace';
    } elsif ($kind eq 'obs') {
        $e{observation_ids} = sprintf('{obs-%s-%d}', $t->{id}, ++$t->{obs});
        if (rand() < 0.47) {
            my ($in, $out) = (int(rand(4000)), int(rand(1500)));
            $e{usage_details} = sprintf('{"input":%d,"output":%d,"total":%d}', $in, $out, $in + $out);
            $e{cost_details} = sprintf('{"input":%.12f,"output":%.12f,"total":%.12f}',
                                       $in * 0.000003, $out * 0.000015, $in * 0.000003 + $out * 0.000015);
        }
    } elsif ($kind eq 'score') {
        $e{score_ids} = sprintf('{score-%s-%d}', $t->{id}, int(rand(1e6)));
    } else {
        ($e{bookmarked}, $e{public}) = (rand() < 0.8 ? 'true' : 'false', rand() < 0.5 ? 'true' : undef);
    }
    return \%e;
}

my (@active, @out, @delayed);
my ($seq, $nbatch) = (0, 0);
sub flush_batch {
    return unless @out;
    $nbatch++;
    my @cols = $raw ? ('seq', @COLS) : @COLS;
    my $dest = $raw || $table;
    @out = map { [++$seq, @$_] } @out if $raw;
    if ($raw || $nbatch % 2) {
        print "COPY $dest (", join(', ', @cols), ") FROM STDIN;\n";
        print join("\t", map { copy_escape($_) } @$_), "\n" for @out;
        print "\\.\n";
    } else {
        print "INSERT INTO $dest (", join(', ', @cols), ") VALUES\n",
              join(",\n", map { '(' . join(', ', map { sql_literal($_) } @$_) . ')' } @out), ";\n";
    }
    @out = ();
}
sub emit { push @out, $_[0]; flush_batch() if @out >= $batch }

# 2% of events arrive late, up to 500 events after their time.
for (my $n = 0; $n < $events; $n++) {
    push @active, new_trace() while @active < 300;
    my $i = int(rand(@active));
    my $t = $active[$i];
    my $kind = shift @{ $t->{todo} };
    my $e = event_for($t, $kind);
    my @row = map { $e->{$_} } @COLS;
    splice(@active, $i, 1) unless @{ $t->{todo} };
    if (rand() < 0.02) { push @delayed, [$n + 1 + int(rand(500)), \@row] } else { emit(\@row) }
    if ($kind eq 'trace' && rand() < 0.05 && $n + 1 < $events) { emit([@row]); $n++ }
    while (@delayed && $delayed[0][0] <= $n) { emit((shift @delayed)->[1]) }
    @delayed = sort { $a->[0] <=> $b->[0] } @delayed;
}
emit($_->[1]) for @delayed;
flush_batch();
