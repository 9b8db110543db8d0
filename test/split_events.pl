#!/usr/bin/perl
# test/split_events.pl: cut the event stream of gen_events.pl --raw into
# batches of random size for concurrent clients.
#
# Reads gen_events.pl --raw output (COPY blocks whose first column is the
# event's number) on stdin, drops the numbers, and cuts the events, in
# order, into batches of MIN to MAX rows (log-uniform, so that small batches
# are common and large ones occur), dealt round-robin to the clients: the
# batches that clients send at the same time are consecutive parts of the
# stream and share its live traces.  Even batches are written as COPY, odd
# ones as a multi-row INSERT, each a single statement into TABLE.
#
# Output in DIR: client-C.sql with all batches of client C, or with
# --per-batch one file per batch, client-C/NNNN.sql, beside NNNN.rows (its
# row count).  --poison N also writes, for every Nth batch, NNNN.poison.sql:
# the same statement with usage_details {"poison": 1} on every row and one
# more row of project "poison", which must never reach a target.
#
# Usage: split_events.pl --clients C --seed S --dir DIR [--min 100]
#                        [--max 10000] [--table traces_null] [--per-batch]
#                        [--poison N]
use strict;
use warnings;
use Getopt::Long;

my ($clients, $seed, $dir, $min, $max, $table, $per_batch, $poison) = (8, 1, '', 100, 10000, 'traces_null', 0, 0);
GetOptions('clients=i' => \$clients, 'seed=i' => \$seed, 'dir=s' => \$dir, 'min=i' => \$min,
           'max=i' => \$max, 'table=s' => \$table, 'per-batch' => \$per_batch, 'poison=i' => \$poison)
    && $dir ne '' && $clients > 0 && $min > 0 && $max >= $min
    or die "usage: $0 --clients C --seed S --dir DIR [--min N] [--max N] [--table T] [--per-batch] [--poison N]\n";
srand($seed);

my (@cols, @rows, @client_fh, @client_batches);
my $nbatch = 0;

sub sql_literal {
    my ($v) = @_;
    return 'NULL' if $v eq '\N';
    $v =~ s/\\(.)/$1 eq 't' ? "\t" : $1 eq 'n' ? "\n" : $1 eq 'r' ? "\r" : $1/ge;
    $v =~ s/'/''/g;
    return "'$v'";
}

sub statement {
    my ($as_copy, @batch) = @_;
    return "COPY $table (" . join(', ', @cols) . ") FROM STDIN;\n" . join('', map { "$_\n" } @batch) . "\\.\n"
        if $as_copy;
    return "INSERT INTO $table (" . join(', ', @cols) . ") VALUES\n"
        . join(",\n", map { '(' . join(', ', map { sql_literal($_) } split /\t/, $_, -1) . ')' } @batch) . ";\n";
}

sub poisoned {
    my @batch = @_;
    my ($usage) = grep { $cols[$_] eq 'usage_details' } 0 .. $#cols;
    my @out;
    for my $row (@batch) {
        my @f = split /\t/, $row, -1;
        $f[$usage] = '{"poison": 1}';
        push @out, join("\t", @f);
    }
    my @extra = split /\t/, $batch[0], -1;
    ($extra[0], $extra[1]) = ('poison', "poison-$nbatch");
    push @out, join("\t", @extra);
    return @out;
}

sub write_file {
    my ($path, $text) = @_;
    open(my $fh, '>', $path) or die "$path: $!\n";
    print $fh $text;
    close($fh) or die "$path: $!\n";
}

sub flush_batch {
    my ($n) = @_;
    my @batch = splice(@rows, 0, $n);
    my $client = $nbatch % $clients;
    my $as_copy = $nbatch % 2 == 0;
    if ($per_batch) {
        my $name = sprintf('%s/client-%d/%04d', $dir, $client, $client_batches[$client]++);
        write_file("$name.sql", statement($as_copy, @batch));
        write_file("$name.rows", scalar(@batch) . "\n");
        write_file("$name.poison.sql", statement($as_copy, poisoned(@batch)))
            if $poison && $client_batches[$client] % $poison == 0;
    } else {
        print { $client_fh[$client] } statement($as_copy, @batch);
    }
    $nbatch++;
}

for my $c (0 .. $clients - 1) {
    if ($per_batch) {
        mkdir("$dir/client-$c") or die "$dir/client-$c: $!\n";
    } else {
        open($client_fh[$c], '>', "$dir/client-$c.sql") or die "$dir/client-$c.sql: $!\n";
    }
}

my $want = int(exp(log($min) + rand() * (log($max) - log($min))));
while (my $line = <STDIN>) {
    chomp $line;
    if ($line =~ /^COPY \S+ \(seq, (.*)\) FROM STDIN;$/) {
        @cols = split /, /, $1;
        next;
    }
    next if $line eq '\.';
    $line =~ s/^\d+\t//;
    push @rows, $line;
    if (@rows >= $want) {
        flush_batch($want);
        $want = int(exp(log($min) + rand() * (log($max) - log($min))));
    }
}
flush_batch(scalar @rows) if @rows;
for my $fh (@client_fh) {
    close($fh) or die "$dir: $!\n";
}
print STDERR "split into $nbatch batches\n";
