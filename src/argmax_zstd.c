/*
 * argmax_zstd.c
 *		zstd compression of the values kept in argmax_text states.
 *
 * Each backend keeps one compression and one decompression context for its
 * whole life: creating a context costs far more than compressing a typical
 * trace input, and the process exit releases them.  Frames carry their
 * content size and a checksum, and decompression insists on both, so that a
 * damaged state is reported instead of yielding wrong text, and the declared
 * size is checked against the state's before any memory is set aside.
 */
#include "postgres.h"

#include <zstd.h>
#include <zstd_errors.h>

#include "argmax.h"
#include "trace_agg.h"

static ZSTD_CCtx *compress_cxt = NULL;
static ZSTD_DCtx *decompress_cxt = NULL;

static ZSTD_CCtx *
get_compress_cxt(void)
{
	if (compress_cxt == NULL)
	{
		ZSTD_CCtx  *cxt = ZSTD_createCCtx();

		if (cxt == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory"),
					 errdetail("Failed to create a zstd compression context.")));
		/* a checksum lets decompression tell a damaged frame from a good one */
		if (ZSTD_isError(ZSTD_CCtx_setParameter(cxt, ZSTD_c_checksumFlag, 1)))
		{
			ZSTD_freeCCtx(cxt);
			elog(ERROR, "could not enable zstd frame checksums");
		}
		compress_cxt = cxt;
	}
	return compress_cxt;
}

static ZSTD_DCtx *
get_decompress_cxt(void)
{
	if (decompress_cxt == NULL)
	{
		decompress_cxt = ZSTD_createDCtx();
		if (decompress_cxt == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory"),
					 errdetail("Failed to create a zstd decompression context.")));
	}
	return decompress_cxt;
}

/*
 * Compress src into dst at the level of trace_agg.zstd_level.  Returns the
 * frame's length, or 0 when the frame would not fit in dstcap: callers pass
 * a capacity below srclen, so 0 means that compressing does not pay.
 */
size_t
argmax_zstd_compress(const char *src, size_t srclen, char *dst, size_t dstcap)
{
	ZSTD_CCtx  *cxt = get_compress_cxt();
	size_t		rc;

	rc = ZSTD_CCtx_setParameter(cxt, ZSTD_c_compressionLevel,
								trace_agg_zstd_level);
	if (!ZSTD_isError(rc))
		rc = ZSTD_compress2(cxt, dst, dstcap, src, srclen);

	if (ZSTD_isError(rc))
	{
		if (ZSTD_getErrorCode(rc) == ZSTD_error_dstSize_tooSmall)
			return 0;
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("zstd compression failed: %s", ZSTD_getErrorName(rc))));
	}
	return rc;
}

/*
 * Check, from its header alone, that src (srclen bytes) is exactly one zstd
 * frame as argmax_zstd_compress writes it, whose value is rawlen bytes long:
 * a frame that declares its content size, and that size is rawlen, with a
 * checksum and no dictionary.  Callers run this before allocating anything
 * from rawlen, so a forged state (a few kilobytes whose frame would expand
 * to a gigabyte, or a small frame under a huge rawlen) costs nothing to
 * refuse.  An honest frame of a large value is accepted: argmax_state can
 * build the very same bytes from a value that long, so its size is the size
 * of that value, not an attack; decompression then writes into exactly
 * rawlen bytes and stops there.
 */
void
argmax_zstd_check_frame(const char *src, size_t srclen, size_t rawlen,
						int sqlerrcode)
{
	unsigned long long content_size;
	size_t		frame_len;

	/*
	 * A frame starts with the magic number, little-endian, and a descriptor
	 * byte whose bit 2 says that a checksum ends the frame (RFC 8878).
	 */
	if (srclen < 5 || (uint8) src[0] != 0x28 || (uint8) src[1] != 0xb5 ||
		(uint8) src[2] != 0x2f || (uint8) src[3] != 0xfd)
		ereport(ERROR,
				(errcode(sqlerrcode),
				 errmsg("corrupted compressed value in argmax_text state"),
				 errdetail("The %zu payload bytes do not start with a zstd frame.",
						   srclen)));
	content_size = ZSTD_getFrameContentSize(src, srclen);
	if (content_size == ZSTD_CONTENTSIZE_ERROR ||
		content_size == ZSTD_CONTENTSIZE_UNKNOWN)
		ereport(ERROR,
				(errcode(sqlerrcode),
				 errmsg("corrupted compressed value in argmax_text state"),
				 errdetail("The zstd frame header does not declare its content size.")));
	if (content_size != rawlen)
		ereport(ERROR,
				(errcode(sqlerrcode),
				 errmsg("corrupted compressed value in argmax_text state"),
				 errdetail("The zstd frame of %zu bytes declares a value of %llu bytes, but the state declares %zu.",
						   srclen, content_size, rawlen)));
	if (((uint8) src[4] & 0x04) == 0 || ZSTD_getDictID_fromFrame(src, srclen) != 0)
		ereport(ERROR,
				(errcode(sqlerrcode),
				 errmsg("corrupted compressed value in argmax_text state"),
				 errdetail("The zstd frame has no checksum or needs a dictionary.")));

	frame_len = ZSTD_findFrameCompressedSize(src, srclen);
	if (ZSTD_isError(frame_len) || frame_len != srclen)
		ereport(ERROR,
				(errcode(sqlerrcode),
				 errmsg("corrupted compressed value in argmax_text state"),
				 errdetail("The payload of %zu bytes is not exactly one zstd frame.",
						   srclen)));
}

/*
 * Decompress the single zstd frame src into dst, which has room for exactly
 * rawlen bytes, the length the state recorded.  The frame must pass
 * argmax_zstd_check_frame (callers that allocated dst from rawlen checked it
 * already), decompress to exactly rawlen bytes and pass its checksum.
 */
void
argmax_zstd_decompress(const char *src, size_t srclen, char *dst, size_t rawlen)
{
	size_t		rc;

	argmax_zstd_check_frame(src, srclen, rawlen, ERRCODE_DATA_CORRUPTED);
	rc = ZSTD_decompressDCtx(get_decompress_cxt(), dst, rawlen, src, srclen);
	if (ZSTD_isError(rc))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("corrupted compressed value in argmax_text state"),
				 errdetail("zstd reports: %s.", ZSTD_getErrorName(rc))));
	if (rc != rawlen)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("corrupted compressed value in argmax_text state"),
				 errdetail("The frame decompressed to %zu bytes, but the state records %zu.",
						   rc, rawlen)));
}
