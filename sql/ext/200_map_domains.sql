-- ClickHouse Map columns as domains over jsonb.
--
-- A map is a JSON object: it casts to and from jsonb for free, prints as
-- JSON, and jsonb's GIN (jsonb_path_ops) and expression indexes serve key
-- lookups.  The CHECK functions raise their own errors, naming the key and
-- the value that do not fit, instead of a bare domain violation.

CREATE FUNCTION trace_agg.check_uint64_map(jsonb) RETURNS boolean
AS 'MODULE_PATHNAME', 'check_uint64_map'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION trace_agg.check_uint64_map(jsonb) IS
	'true if the jsonb is an object of integers from 0 to 2^64-1, else an error naming the bad key';

CREATE FUNCTION trace_agg.check_decimal_map(jsonb) RETURNS boolean
AS 'MODULE_PATHNAME', 'check_decimal_map'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION trace_agg.check_decimal_map(jsonb) IS
	'true if the jsonb is an object of numbers below 10^26 in absolute value, else an error naming the bad key';

CREATE FUNCTION trace_agg.check_text_map(jsonb) RETURNS boolean
AS 'MODULE_PATHNAME', 'check_text_map'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION trace_agg.check_text_map(jsonb) IS
	'true if the jsonb is an object of strings, else an error naming the bad key';

CREATE DOMAIN trace_agg.uint64_map AS jsonb
	CONSTRAINT uint64_map_check CHECK (trace_agg.check_uint64_map(VALUE));
COMMENT ON DOMAIN trace_agg.uint64_map IS
	'ClickHouse Map(String, UInt64): a JSON object of integers from 0 to 18446744073709551615';

CREATE DOMAIN trace_agg.decimal_map AS jsonb
	CONSTRAINT decimal_map_check CHECK (trace_agg.check_decimal_map(VALUE));
COMMENT ON DOMAIN trace_agg.decimal_map IS
	'ClickHouse Map(String, Decimal(38, 12)): a JSON object of numbers whose absolute value is below 10^26; sums round to 12 decimal places';

CREATE DOMAIN trace_agg.text_map AS jsonb
	CONSTRAINT text_map_check CHECK (trace_agg.check_text_map(VALUE));
COMMENT ON DOMAIN trace_agg.text_map IS
	'ClickHouse Map(String, String): a JSON object of strings';
