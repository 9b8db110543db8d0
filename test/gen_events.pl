#!/usr/bin/perl
# test/gen_events.pl: a deterministic stream of trace events shaped like an
# LLM-observability product's traffic, written as a psql script that
# ingests it in batches, alternating COPY and multi-row INSERT.
#
# Traces: 20 projects with Zipf-skewed traffic; environment production 70%,
# staging 20%, development 8%, qa 2%; 20 trace names per project (Zipf);
# 70% with a user (5,000 per project, Zipf); 50% in a session (about 5
# traces per session on average, a few sessions with hundreds); 30% with
# 1-3 tags of 20; release and version on 40%.  Start times over the 35 days
# before --now; a session's traces start within an hour of each other.
#
# Per trace: 1-5 trace rows (create with input, updates with output and end
# time; on 10% of traces with updates the updates rewrite a metadata key
# with another value; 5% of trace rows re-sent unchanged), observation rows
# (mean about 8, 1% of traces with 100-400; 47% carry usage and cost), 0-3
# score rows and, on 0.5% of traces, a bookmark/public row.  Rows of about
# 300 active traces are interleaved, 2% arrive out of order (up to 500
# events late), 10% share their trace's previous event_ts.  Payloads: 10%
# empty, 70% lognormal around 1.2 KB, 18% 8-128 KB, 2% 128 KB-1 MB (capped
# by --max-payload), chat-like JSON that zstd compresses about 5 times.
#
# That is the heavy shape (--shape heavy, the default).  The light shape
# (--shape light) is lighter traffic: about 7 events per trace (1-3 trace
# rows, about 3.5 observations, 0.2% of traces with 50-150, 0-2 scores),
# every event with an input and an output, each 10% empty and otherwise
# lognormal with a mean of about 1.1 KB (median 600 bytes) and a tail cut at
# 256 KB, the same 2% late events, and every batch a COPY.
#
# Usage: gen_events.pl [--events N] [--seed S] [--batch B] [--table T]
#                      [--shape heavy|light]
#                      [--raw TABLE]   (also record each event, numbered, in TABLE)
#                      [--max-payload BYTES]
#                      [--now EPOCH]   (end of the 35 days of start times; default fixed)
#                      [--split N,M,... --out PREFIX [--tsv]]
#
# With --split, instead of writing the stream to stdout, it writes for each
# N the files PREFIX-N-0.sql .. PREFIX-N-(N-1).sql: the stream divided among
# N ingestion clients by trace (trace number modulo N), each client's rows in
# stream order and in its own batches, as N ingestion workers would send it.
# With --tsv it also writes PREFIX-N-i.tsv: the same rows in the same order
# as tab-separated values for ClickHouse 18.16's traces_null of
# test/bench/clickhouse.sql (timestamps as epoch seconds with milliseconds,
# maps as key and value arrays, booleans as 1/0), which a client cuts into
# the same batches with --max_insert_block_size.
use strict;
use warnings;
use Getopt::Long;
use POSIX qw(floor strftime);
use Time::Local qw(timegm);

my ($events, $seed, $batch, $table, $raw, $max_payload, $split, $prefix, $shape, $tsv) =
    (10000, 42, 1000, 'traces_null', '', 1 << 20, '', '', 'heavy', 0);
my $now = 1_767_225_600;    # 2026-01-01 00:00:00 UTC: fixed, so the stream is reproducible
GetOptions('events=i' => \$events, 'seed=i' => \$seed, 'batch=i' => \$batch,
           'table=s' => \$table, 'raw=s' => \$raw, 'max-payload=i' => \$max_payload, 'now=i' => \$now,
           'split=s' => \$split, 'out=s' => \$prefix, 'shape=s' => \$shape, 'tsv' => \$tsv)
    or die "usage: $0 [--events N] [--seed S] [--batch B] [--table T] [--shape heavy|light] [--raw TABLE] [--split N,... --out PREFIX [--tsv]]\n";
die "--shape is heavy or light\n" unless $shape =~ /^(heavy|light)$/;
my $light = $shape eq 'light';
$max_payload = 256 * 1024 if $light && $max_payload > 256 * 1024;
die "--split needs --out\n" if $split && !$prefix;
die "--tsv needs --split\n" if $tsv && !$split;
die "--raw cannot be combined with --split\n" if $split && $raw;
srand($seed);

my @COLS = qw(project_id id start_time end_time name metadata user_id session_id environment
              tags version release bookmarked public observation_ids score_ids cost_details
              usage_details input output created_at updated_at event_ts);
# Zipf (exponent 1) over 1..n, by binary search in the cumulative weights.
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
sub pick { return $_[rand @_] }
sub ts { my ($t) = @_; return strftime('%Y-%m-%d %H:%M:%S', gmtime(int $t)) . sprintf('.%03d+00', ($t - int $t) * 1000) }

# Payloads are chat-like JSON: a list of messages whose contents are cut
# from one corpus of English-like text (pseudo-words with English letter
# frequencies, Zipf-distributed over a vocabulary of 3,000), and half of
# whose messages repeat an earlier one, as a conversation history does.
# zstd compresses such a payload about 5 times (2 times below 8 KB, 6 above
# 128 KB), pglz and lz4 about 2 times: pglz's history is 4 KB and lz4 has no
# entropy coding.  Cutting from a corpus makes a large payload cost copies
# rather than thousands of random draws; each payload is compressed on its
# own, so sharing the corpus gains nothing.
my @letters = split //, 'etaoinshrdlcumwfgypbvkjxqz';
my @letter_weights = (127, 91, 82, 75, 70, 67, 63, 61, 60, 43, 40, 28, 28, 24, 24, 22, 20, 20, 19, 15,
                      10, 8, 2, 2, 1, 1);
my @vocab;
{
    my (%seen, @cum);
    my $sum = 0;
    for (@letter_weights) { $sum += $_; push @cum, $sum }
    while (@vocab < 3000) {
        my $word = '';
        for (1 .. 2 + int(rand(8))) {
            my $u = rand($sum);
            my $i = 0;
            $i++ while $cum[$i] <= $u;
            $word .= $letters[$i];
        }
        push @vocab, $word unless $seen{$word}++;
    }
}
my $corpus = '';
while (length($corpus) < 2 * $max_payload + 65536) {
    my @s = map { $vocab[ zipf(3000) - 1 ] } 1 .. 4 + int(rand(20));
    $s[0] = ucfirst $s[0];
    $s[ int(rand(@s)) ] .= ',' if rand() < 0.4;
    push @s, int(rand(10000)) if rand() < 0.1;
    $corpus .= join(' ', @s) . (rand() < 0.1 ? '? ' : '. ');
    $corpus .= '\n\n' if rand() < 0.1;
}

sub corpus_text {
    my ($len) = @_;
    my $at = index($corpus, ' ', int(rand(length($corpus) - $len - 64))) + 1;
    return substr($corpus, $at, $len);
}

sub payload {
    my $r = rand();
    return '' if $r < 0.10;
    # Light: lognormal, median 600 bytes, sigma 1.1, so a mean of 1.1 KB.
    my $len = $light ? int(600 * exp(1.1 * sqrt(-2 * log(1 - rand())) * cos(6.283185307179586 * rand())))
            : $r < 0.80 ? int(exp(log(1200) + 0.8 * (rand() + rand() + rand() - 1.5) * 2))
            : $r < 0.98 ? 8192 + int(rand(120 * 1024))
            : 131072 + int(rand(900 * 1024));
    $len = $max_payload if $len > $max_payload;
    my (@messages, @history);
    my $left = $len - 16;
    while ($left > 40 || !@messages) {
        my $role = !@messages ? 'system' : @messages % 2 ? 'user' : 'assistant';
        my $room = $left - 32 > 1 ? $left - 32 : 1;
        my $content;
        if (@history && rand() < 0.5 && length($content = $history[rand @history]) <= $room) {
            # a message of the history, repeated
        } else {
            my $n = 200 + int(rand(2800));
            $content = corpus_text($n < $room ? $n : $room);
            push @history, $content;
        }
        push @messages, qq({"role":"$role","content":"$content"});
        $left -= length($messages[-1]) + 1;
    }
    return '{"messages":[' . join(',', @messages) . ']}';
}

sub copy_escape {
    my ($v) = @_;
    return '\N' unless defined $v;
    return $v unless $v =~ tr/\\\t\n\r//;
    $v =~ s/\\/\\\\/g; $v =~ s/\t/\\t/g; $v =~ s/\n/\\n/g; $v =~ s/\r/\\r/g;
    return $v;
}
# ClickHouse's tab-separated form of a row (see --tsv).
my %day_epoch;
sub ch_ts {
    my ($v) = @_;
    return '\N' unless defined $v;
    my ($day, $h, $m, $sec, $ms) = $v =~ /^(\d{4}-\d\d-\d\d) (\d\d):(\d\d):(\d\d)\.(\d{3})\+00$/ or die "bad timestamp $v\n";
    my $e = $day_epoch{$day} //= do {
        my ($y, $mo, $d) = split /-/, $day;
        timegm(0, 0, 0, $d, $mo - 1, $y);
    };
    return ($e + $h * 3600 + $m * 60 + $sec) . ".$ms";
}
sub ch_quote { my ($v) = @_; $v =~ s/([\\'])/\\$1/g; return "'$v'" }
sub ch_array { return '[' . join(',', map { ch_quote($_) } @_) . ']' }
sub ch_map {
    my ($json) = @_;
    my (@k, @v);
    while ($json =~ /"([^"]*)":(?:"([^"]*)"|([^,}]*))/g) {
        push @k, $1;
        push @v, defined $2 ? ch_quote($2) : $3;
    }
    return (ch_array(@k), '[' . join(',', @v) . ']');
}
my %COLNO = map { $COLS[$_] => $_ } 0 .. $#COLS;
sub tsv_row {
    my ($cells) = @_;
    my %c = map { $_ => $cells->[ $COLNO{$_} ] } @COLS;
    my $pgarray = sub { my ($a) = @_; $a =~ s/^\{|\}$//g; return ch_array(split /,/, $a) };
    my $bool = sub { my ($b) = @_; return !defined $b ? '\N' : $b eq 'true' ? 1 : 0 };
    return join("\t", (map { copy_escape($c{$_}) } qw(project_id id)), ch_ts($c{start_time}), ch_ts($c{end_time}),
                copy_escape($c{name}), ch_map($c{metadata}), (map { copy_escape($c{$_}) } qw(user_id session_id environment)),
                $pgarray->($c{tags}), copy_escape($c{version}), copy_escape($c{release}),
                $bool->($c{bookmarked}), $bool->($c{public}), $pgarray->($c{observation_ids}), $pgarray->($c{score_ids}),
                ch_map($c{cost_details}), ch_map($c{usage_details}), copy_escape($c{input}), copy_escape($c{output}),
                map { ch_ts($c{$_}) } qw(created_at updated_at event_ts)) . "\n";
}

sub sql_literal { my ($v) = @_; return 'NULL' unless defined $v; $v =~ s/'/''/g; return "'$v'" }

# Sessions: each project keeps up to 8 open ones; a session is closed once
# it has its drawn number of traces (mostly a few, 0.5% of them hundreds).
my %open_sessions;
my $session_seq = 0;
sub session_for {
    my ($p) = @_;
    my $slots = $open_sessions{$p} //= [];
    my $i = int(rand(8));
    my $s = $slots->[$i] //= [ sprintf('session-%d-%d', $p, ++$session_seq),
                               rand() < 0.005 ? 100 + int(rand(300)) : 1 + int(-4.2 * log(1 - rand())),
                               $now - 3600 - rand(35 * 86400 - 3600) ];
    $slots->[$i] = undef unless --$s->[1];
    return $s;
}

my $trace_seq = 0;
sub new_trace {
    my $p = zipf(20);
    my $t = { no => $trace_seq, project => "project-$p", id => sprintf('trace-%08d', ++$trace_seq),
              env => pick(('production') x 35, ('staging') x 10, ('development') x 4, 'qa') };
    $t->{name} = "trace-name-$p-" . zipf(20);
    $t->{user} = rand() < 0.7 ? "user-$p-" . zipf(5000) : undef;
    if (rand() < 0.5) {
        my $s = session_for($p);
        ($t->{session}, $t->{start}) = ($s->[0], $s->[2] + rand(3600));
    } else {
        $t->{start} = $now - rand(35 * 86400);
    }
    $t->{tags} = rand() < 0.3 ? [ map { "tag-$p-" . zipf(20) } 1 .. 1 + int(rand(3)) ] : [];
    ($t->{release}, $t->{version}) = rand() < 0.4 ? ("release-" . int(rand(5)), "v" . int(rand(9))) : (undef, undef);
    $t->{clock} = $t->{start};
    my $ntrace = 1 + int(rand($light ? 3 : 5));
    my $nobs = $light ? (rand() < 0.002 ? 50 + int(rand(100)) : int(-4 * log(1 - rand())))
             : rand() < 0.01 ? 100 + int(rand(300)) : int(-6.5 * log(1 - rand()));
    my @rows = (('trace') x ($ntrace - 1), ('obs') x $nobs, ('score') x int(rand($light ? 3 : 4)));
    push @rows, 'ui' if rand() < 0.005;
    # The first row creates the trace; the others come in random order.
    for (my $i = $#rows; $i > 0; $i--) { my $j = int(rand($i + 1)); @rows[$i, $j] = @rows[$j, $i] }
    $t->{todo} = [ 'create', @rows ];
    my @regions = qw(eu us ap);
    my $r = int(rand(3));
    $t->{region} = $regions[$r];
    $t->{region_update} = $ntrace > 1 && rand() < 0.1 ? $regions[($r + 1 + int(rand(2))) % 3] : $t->{region};
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
        $e{metadata} = sprintf('{"source":"sdk","region":"%s"}',
                               $kind eq 'create' ? $t->{region} : $t->{region_update});
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
    ($e{input}, $e{output}) = (payload(), payload()) if $light;
    return \%e;
}

# A sink is one output script: its pending rows and how many batches it
# wrote.  A row is formatted for COPY or for INSERT once, however many
# sinks take it.
sub new_sink { my ($fh, $tsv_fh) = @_; return { fh => $fh, tsv => $tsv_fh, out => [], nbatch => 0 } }
my @sinks;    # [ [N, [sink for trace mod N == 0, ...]], ... ]
if ($split) {
    for my $n (split /,/, $split) {
        die "bad --split count: $n\n" unless $n =~ /^[1-9][0-9]*$/;
        my @s;
        for my $i (0 .. $n - 1) {
            open(my $fh, '>', "$prefix-$n-$i.sql") or die "$prefix-$n-$i.sql: $!\n";
            my $tsv_fh;
            if ($tsv) { open($tsv_fh, '>', "$prefix-$n-$i.tsv") or die "$prefix-$n-$i.tsv: $!\n" }
            push @s, new_sink($fh, $tsv_fh);
        }
        push @sinks, [ $n, \@s ];
    }
} else {
    push @sinks, [ 1, [ new_sink(\*STDOUT) ] ];
}

my $seq = 0;
sub flush_sink {
    my ($sink) = @_;
    my $out = $sink->{out};
    return unless @$out;
    my $fh = $sink->{fh};
    my @cols = $raw ? ('seq', @COLS) : @COLS;
    my $dest = $raw || $table;
    if ($raw || $light || ++$sink->{nbatch} % 2) {
        print $fh "COPY $dest (", join(', ', @cols), ") FROM STDIN;\n";
        print $fh ($_->{copy} //= join("\t", map { copy_escape($_) } @{ $_->{cells} }) . "\n") for @$out;
        print $fh "\\.\n";
    } else {
        print $fh "INSERT INTO $dest (", join(', ', @cols), ") VALUES\n",
                  join(",\n", map { $_->{sql} //= '(' . join(', ', map { sql_literal($_) } @{ $_->{cells} }) . ')' } @$out),
                  ";\n";
    }
    $sink->{out} = [];
}
sub emit {
    my ($no, $cells) = @_;
    my $row = { cells => $raw ? [ ++$seq, @$cells ] : $cells };
    for my $split (@sinks) {
        my $sink = $split->[1][ $no % $split->[0] ];
        push @{ $sink->{out} }, $row;
        print { $sink->{tsv} } ($row->{tsv} //= tsv_row($cells)) if $sink->{tsv};
        flush_sink($sink) if @{ $sink->{out} } >= $batch;
    }
}

my (@active, @delayed);
for (my $n = 0; $n < $events; $n++) {
    push @active, new_trace() while @active < 300;
    my $i = int(rand(@active));
    my $t = $active[$i];
    my $kind = shift @{ $t->{todo} };
    my $e = event_for($t, $kind);
    my @row = map { $e->{$_} } @COLS;
    splice(@active, $i, 1) unless @{ $t->{todo} };
    if (rand() < 0.02) { push @delayed, [$n + 1 + int(rand(500)), $t->{no}, \@row] } else { emit($t->{no}, \@row) }
    if (($kind eq 'trace' || $kind eq 'create') && rand() < 0.05 && $n + 1 < $events) { emit($t->{no}, [@row]); $n++ }
    while (@delayed && $delayed[0][0] <= $n) { my $d = shift @delayed; emit($d->[1], $d->[2]) }
    @delayed = sort { $a->[0] <=> $b->[0] } @delayed;
}
emit($_->[1], $_->[2]) for @delayed;
for my $split (@sinks) {
    for my $sink (@{ $split->[1] }) {
        flush_sink($sink);
        close($sink->{fh}) or die "write failed: $!\n" unless $sink->{fh} == \*STDOUT;
        close($sink->{tsv}) or die "write failed: $!\n" if $sink->{tsv};
    }
}
