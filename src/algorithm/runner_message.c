/* Encoding and decoding the runner's messages (framing described in runner_internal.h). The header is
 * JSON because it is small and self-describing; payload bytes travel raw so that a large payload costs a
 * copy, not an encoding. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "algorithm/runner_internal.h"

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0 when it is not one. */
static size_t utf8_sequence(const unsigned char *p, size_t n)
{
    size_t len = p[0] < 0x80 ? 1 : (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3 : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (len == 0 || len > n || (len == 2 && p[0] < 0xc2))
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

void caf_runner_make_printable(char *text, size_t size)
{
    unsigned char *p = (unsigned char *)text;
    for (size_t i = 0; i < size;) {
        size_t len = p[i] ? utf8_sequence(p + i, size - i) : 0;
        if (len == 0) {
            p[i++] = '?';
            continue;
        }
        i += len;
    }
}

static bool write_all(int fd, const void *data, size_t size)
{
    const unsigned char *p = data;
    while (size > 0) {
        ssize_t n = write(fd, p, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        size -= (size_t)n;
    }
    return true;
}

static bool write_frame(int fd, const void *data, size_t size)
{
    unsigned char len[8];
    uint64_t v = size;
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)(v >> (8 * i));
    return write_all(fd, len, sizeof len) && write_all(fd, data, size);
}

static json_t *exprun_list(const caf_exprun *runs, size_t count)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < count; i++)
        json_array_append_new(list, json_pack("[ii]", runs[i].exp, runs[i].run));
    return list;
}

static json_t *iov_json(caf_iov iov)
{
    return json_pack("[iiii]", iov.exp_low, iov.run_low, iov.exp_high, iov.run_high);
}

bool caf_runner_send(int fd, const char *algorithm, const caf_algorithm *alg, caf_status status,
                     const caf_error *err, const caf_exprun *boundaries, size_t boundary_count)
{
    char error[CAF_ERROR_MESSAGE_MAX], message[CAF_ERROR_MESSAGE_MAX];
    snprintf(error, sizeof error, "%s", err ? err->message : "");
    snprintf(message, sizeof message, "%s", alg ? caf_algorithm_message(alg) : "");
    caf_runner_make_printable(error, strlen(error));
    caf_runner_make_printable(message, strlen(message));
    json_t *h = json_pack("{s:i, s:s, s:s}", "status", (int)status, "error", error, "algorithm",
                          algorithm ? algorithm : "");
    if (!h)
        return false;
    size_t payload_count = 0;
    const caf_algo_payload *payloads = NULL;
    if (alg) {
        size_t run_count;
        const caf_exprun *runs = caf_algorithm_runs(alg, &run_count);
        payloads = caf_algorithm_payloads(alg, &payload_count);
        json_t *list = json_array();
        for (size_t i = 0; list && i < payload_count; i++)
            json_array_append_new(list, json_pack("{s:s, s:s, s:o, s:I}", "name", payloads[i].name, "ext",
                                                  payloads[i].ext, "iov", iov_json(payloads[i].iov), "size",
                                                  (json_int_t)payloads[i].size));
        json_object_set_new(h, "result", json_integer(caf_algorithm_result(alg)));
        json_object_set_new(h, "message", json_string(message));
        json_object_set_new(h, "runs", exprun_list(runs, run_count));
        json_object_set_new(h, "iov", iov_json(caf_algorithm_iov(alg)));
        json_object_set_new(h, "payloads", list);
        json_object_set(h, "state", (json_t *)caf_algorithm_output_state(alg));
    }
    json_object_set_new(h, "boundaries", exprun_list(boundaries, boundary_count));
    char *text = json_dumps(h, JSON_COMPACT);
    json_decref(h);
    bool ok = text && write_frame(fd, text, strlen(text));
    free(text);
    for (size_t i = 0; ok && i < payload_count; i++)
        ok = write_frame(fd, payloads[i].data, payloads[i].size);
    return ok;
}

/* Reads the frame at *pos; false when the data end inside it. */
static bool next_frame(const unsigned char *data, size_t size, size_t *pos, const unsigned char **frame,
                       size_t *length)
{
    if (size - *pos < 8)
        return false;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)data[*pos + (size_t)i] << (8 * i);
    *pos += 8;
    if (v > size - *pos)
        return false;
    *frame = data + *pos;
    *length = (size_t)v;
    *pos += (size_t)v;
    return true;
}

static bool parse_exprun_list(json_t *list, caf_exprun **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    if (!json_is_array(list))
        return false;
    size_t n = json_array_size(list);
    if (n == 0)
        return true;
    *out = calloc(n, sizeof **out);
    if (!*out)
        return false;
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(list, i);
        if (json_unpack(item, "[ii]", &(*out)[i].exp, &(*out)[i].run) != 0)
            return false;
    }
    *count = n;
    return true;
}

static bool parse_iov(json_t *v, caf_iov *iov)
{
    return json_unpack(v, "[iiii]", &iov->exp_low, &iov->run_low, &iov->exp_high, &iov->run_high) == 0;
}

static bool decode_payloads(json_t *list, const unsigned char *data, size_t size, size_t *pos,
                            caf_algo_run_result *out)
{
    if (!list)
        return true;
    if (!json_is_array(list))
        return false;
    size_t n = json_array_size(list);
    if (n == 0)
        return true;
    out->payloads = calloc(n, sizeof *out->payloads);
    if (!out->payloads)
        return false;
    for (size_t i = 0; i < n; i++) {
        caf_algo_payload *p = &out->payloads[i];
        const char *name, *ext;
        json_int_t declared;
        json_t *iov;
        if (json_unpack(json_array_get(list, i), "{s:s, s:s, s:o, s:I}", "name", &name, "ext", &ext, "iov", &iov,
                        "size", &declared) != 0 ||
            !parse_iov(iov, &p->iov))
            return false;
        out->payload_count = i + 1;
        p->name = strdup(name);
        p->ext = strdup(ext);
        const unsigned char *frame;
        size_t length;
        if (!p->name || !p->ext || !next_frame(data, size, pos, &frame, &length) || (json_int_t)length != declared)
            return false;
        p->data = malloc(length ? length : 1);
        if (!p->data)
            return false;
        memcpy(p->data, frame, length);
        p->size = length;
    }
    return true;
}

caf_status caf_runner_decode(const unsigned char *data, size_t size, caf_algo_run_result *out, caf_error *err)
{
    size_t pos = 0;
    const unsigned char *frame;
    size_t length;
    if (!next_frame(data, size, &pos, &frame, &length))
        return caf_error_set(err, CAF_ERR_FORMAT, "the child's message is incomplete (%zu bytes)", size);
    json_error_t jerr;
    json_t *h = json_loadb((const char *)frame, length, 0, &jerr);
    if (!json_is_object(h)) {
        json_decref(h);
        return caf_error_set(err, CAF_ERR_FORMAT, "the child's message header is not a JSON object");
    }
    int status = 0, result = CAF_ALGO_FAILURE, iteration = 0;
    const char *error = "", *algorithm = "", *message = "";
    json_unpack(h, "{s?i, s?s, s?s, s?i, s?s, s?i}", "status", &status, "error", &error, "algorithm", &algorithm,
                "result", &result, "message", &message, "iteration", &iteration);
    free(out->algorithm);
    free(out->message);
    out->algorithm = strdup(algorithm);
    out->message = strdup(status == CAF_OK ? message : error);
    out->result = (unsigned)result <= CAF_ALGO_UNDEFINED ? (caf_algo_result)result : CAF_ALGO_FAILURE;
    bool ok = out->algorithm && out->message;
    json_t *runs = json_object_get(h, "runs");
    if (ok && runs)
        ok = parse_exprun_list(runs, &out->runs, &out->run_count);
    json_t *iov = json_object_get(h, "iov");
    if (ok && iov)
        ok = parse_iov(iov, &out->iov);
    if (ok)
        ok = parse_exprun_list(json_object_get(h, "boundaries"), &out->boundaries, &out->boundary_count);
    if (ok)
        ok = decode_payloads(json_object_get(h, "payloads"), data, size, &pos, out);
    json_t *state = json_object_get(h, "state");
    if (ok && json_is_object(state)) {
        json_decref(out->state);
        out->state = json_incref(state);
    }
    json_decref(h);
    if (!ok)
        return caf_error_set(err, CAF_ERR_FORMAT, "the child's message is malformed or incomplete");
    if (status != CAF_OK) {
        out->result = CAF_ALGO_FAILURE;
        return caf_error_set(err, (caf_status)status, "%s", out->message);
    }
    return CAF_OK;
}
