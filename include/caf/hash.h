/* Content hashes. MD5 comes from OpenSSL's libcrypto: the basf2 local database names payload revisions
 * after the MD5 of the payload file, so caf must compute the same digest. */
#ifndef CAF_HASH_H
#define CAF_HASH_H

#include <stddef.h>

#include "caf/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CAF_MD5_HEX_SIZE 33 /* 32 hex digits and the terminator */

/* Writes the lowercase hex MD5 of size bytes of data into hex. */
caf_status caf_md5_hex(const void *data, size_t size, char hex[CAF_MD5_HEX_SIZE], caf_error *err);

/* Writes the lowercase hex MD5 of the file at path into hex, reading it in blocks. */
caf_status caf_md5_file_hex(const char *path, char hex[CAF_MD5_HEX_SIZE], caf_error *err);

#ifdef __cplusplus
}
#endif
#endif
