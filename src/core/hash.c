/* MD5 through OpenSSL's EVP interface (the low-level MD5_* calls are deprecated in OpenSSL 3). */
#include "caf/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <unistd.h>

static void to_hex(const unsigned char *digest, unsigned int len, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned int i = 0; i < len; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[2 * len] = '\0';
}

caf_status caf_md5_hex(const void *data, size_t size, char hex[CAF_MD5_HEX_SIZE], caf_error *err)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!EVP_Digest(data, size, digest, &len, EVP_md5(), NULL))
        return caf_error_set(err, CAF_ERR_EXTERNAL, "MD5 digest failed in libcrypto");
    to_hex(digest, len, hex);
    return CAF_OK;
}

caf_status caf_md5_file_hex(const char *path, char hex[CAF_MD5_HEX_SIZE], caf_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return caf_error_errno(err, errno, "%s", path);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_md5(), NULL)) {
        EVP_MD_CTX_free(ctx);
        close(fd);
        return caf_error_set(err, CAF_ERR_EXTERNAL, "%s: MD5 digest failed in libcrypto", path);
    }
    unsigned char buf[1 << 16];
    caf_status rc = CAF_OK;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = caf_error_errno(err, errno, "%s", path);
            break;
        }
        if (n == 0)
            break;
        EVP_DigestUpdate(ctx, buf, (size_t)n);
    }
    close(fd);
    if (rc == CAF_OK) {
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        EVP_DigestFinal_ex(ctx, digest, &len);
        to_hex(digest, len, hex);
    }
    EVP_MD_CTX_free(ctx);
    return rc;
}
