/* HDF5 helpers for the event layer. HDF5 prints its error stack to stderr by default; caf turns it off
 * and quotes the innermost HDF5 message (the most specific one, e.g. "truncated file: eof = ...") in its
 * own one-line error instead. */
#include "events/hdf5_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void caf_hdf5_silence(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

hid_t caf_h5_native_type(caf_column_type type)
{
    switch (type) {
    case CAF_COLUMN_INT8: return H5T_NATIVE_INT8;
    case CAF_COLUMN_UINT8: return H5T_NATIVE_UINT8;
    case CAF_COLUMN_INT16: return H5T_NATIVE_INT16;
    case CAF_COLUMN_UINT16: return H5T_NATIVE_UINT16;
    case CAF_COLUMN_INT32: return H5T_NATIVE_INT32;
    case CAF_COLUMN_UINT32: return H5T_NATIVE_UINT32;
    case CAF_COLUMN_INT64: return H5T_NATIVE_INT64;
    case CAF_COLUMN_UINT64: return H5T_NATIVE_UINT64;
    case CAF_COLUMN_FLOAT32: return H5T_NATIVE_FLOAT;
    case CAF_COLUMN_FLOAT64: return H5T_NATIVE_DOUBLE;
    }
    return H5T_NATIVE_INT8;
}

bool caf_h5_column_type_of(hid_t h5type, caf_column_type *out)
{
    size_t size = H5Tget_size(h5type);
    switch (H5Tget_class(h5type)) {
    case H5T_INTEGER: {
        bool is_signed = H5Tget_sign(h5type) == H5T_SGN_2;
        switch (size) {
        case 1: *out = is_signed ? CAF_COLUMN_INT8 : CAF_COLUMN_UINT8; return true;
        case 2: *out = is_signed ? CAF_COLUMN_INT16 : CAF_COLUMN_UINT16; return true;
        case 4: *out = is_signed ? CAF_COLUMN_INT32 : CAF_COLUMN_UINT32; return true;
        case 8: *out = is_signed ? CAF_COLUMN_INT64 : CAF_COLUMN_UINT64; return true;
        default: return false;
        }
    }
    case H5T_FLOAT:
        if (size == 4) {
            *out = CAF_COLUMN_FLOAT32;
            return true;
        }
        if (size == 8) {
            *out = CAF_COLUMN_FLOAT64;
            return true;
        }
        return false;
    default:
        return false;
    }
}

static herr_t take_innermost(unsigned n, const H5E_error2_t *e, void *data)
{
    char *buf = data;
    if (n == 0 && e->desc)
        snprintf(buf, 256, "%s", e->desc);
    return 0;
}

caf_status caf_h5_fail(caf_error *err, caf_status code, const char *path, const char *what)
{
    char detail[256] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_innermost, detail);
    H5Eclear2(H5E_DEFAULT);
    if (detail[0])
        return caf_error_set(err, code, "%s: %s: %s", path, what, detail);
    return caf_error_set(err, code, "%s: %s", path, what);
}

hid_t caf_h5_open_read(const char *path, caf_error *err)
{
    caf_hdf5_silence();
    if (caf_event_file_check_regular(path, err) != CAF_OK) /* HDF5 would wait forever on a named pipe */
        return -1;
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0) {
        H5Eclear2(H5E_DEFAULT);
        caf_error_set(err, CAF_ERR_FORMAT, "%s: not an HDF5 file", path);
        return -1;
    }
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        caf_h5_fail(err, CAF_ERR_FORMAT, path, "cannot open HDF5 file (truncated or damaged?)");
    return file;
}

bool caf_h5_exists(hid_t loc, const char *name)
{
    /* H5Lexists fails rather than answering false when an intermediate group is missing: walk the path. */
    char buf[512];
    snprintf(buf, sizeof buf, "%s", name);
    for (char *slash = strchr(buf, '/');; slash = strchr(slash + 1, '/')) {
        if (slash)
            *slash = '\0';
        htri_t ok = H5Lexists(loc, buf, H5P_DEFAULT);
        if (ok <= 0) {
            H5Eclear2(H5E_DEFAULT);
            return false;
        }
        if (!slash)
            return true;
        *slash = '/';
    }
}

static hid_t open_attr(hid_t obj, const char *attr, const char *path, const char *where, caf_error *err)
{
    htri_t ok = H5Aexists(obj, attr);
    if (ok <= 0) {
        H5Eclear2(H5E_DEFAULT);
        caf_error_set(err, CAF_ERR_FORMAT, "%s: missing metadata '%s' attribute '%s'", path, where, attr);
        return -1;
    }
    hid_t a = H5Aopen(obj, attr, H5P_DEFAULT);
    if (a < 0) {
        char what[300];
        snprintf(what, sizeof what, "cannot open attribute '%s' of '%s'", attr, where);
        caf_h5_fail(err, CAF_ERR_FORMAT, path, what);
    }
    return a;
}

caf_status caf_h5_attr_string(hid_t obj, const char *attr, char **out, const char *path, const char *where,
                              caf_error *err)
{
    *out = NULL;
    hid_t a = open_attr(obj, attr, path, where, err);
    if (a < 0)
        return err ? err->code : CAF_ERR_FORMAT;
    caf_status rc = CAF_OK;
    hid_t ftype = H5Aget_type(a);
    hid_t space = H5Aget_space(a);
    if (H5Tget_class(ftype) != H5T_STRING || H5Sget_simple_extent_npoints(space) != 1) {
        rc = caf_error_set(err, CAF_ERR_FORMAT, "%s: metadata '%s' attribute '%s' must be one string", path,
                           where, attr);
    } else if (H5Tis_variable_str(ftype) > 0) {
        hid_t mtype = H5Tcopy(H5T_C_S1);
        H5Tset_size(mtype, H5T_VARIABLE);
        H5Tset_cset(mtype, H5Tget_cset(ftype));
        char *value = NULL;
        if (H5Aread(a, mtype, &value) < 0) {
            rc = caf_h5_fail(err, CAF_ERR_FORMAT, path, "cannot read string attribute");
        } else {
            *out = strdup(value ? value : "");
            H5free_memory(value);
            if (!*out)
                rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        }
        H5Tclose(mtype);
    } else {
        size_t size = H5Tget_size(ftype);
        char *value = calloc(size + 1, 1);
        hid_t mtype = H5Tcopy(ftype);
        if (!value) {
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        } else if (H5Aread(a, mtype, value) < 0) {
            rc = caf_h5_fail(err, CAF_ERR_FORMAT, path, "cannot read string attribute");
            free(value);
        } else {
            *out = value;
        }
        H5Tclose(mtype);
    }
    H5Sclose(space);
    H5Tclose(ftype);
    H5Aclose(a);
    return rc;
}

caf_status caf_h5_attr_int_array(hid_t obj, const char *attr, int64_t *out, size_t n, const char *path,
                                 const char *where, caf_error *err)
{
    hid_t a = open_attr(obj, attr, path, where, err);
    if (a < 0)
        return err ? err->code : CAF_ERR_FORMAT;
    caf_status rc = CAF_OK;
    hid_t ftype = H5Aget_type(a);
    hid_t space = H5Aget_space(a);
    if (H5Tget_class(ftype) != H5T_INTEGER || H5Sget_simple_extent_npoints(space) != (hssize_t)n)
        rc = caf_error_set(err, CAF_ERR_FORMAT, "%s: metadata '%s' attribute '%s' must be %zu integer%s", path,
                           where, attr, n, n == 1 ? "" : "s");
    else if (H5Aread(a, H5T_NATIVE_INT64, out) < 0)
        rc = caf_h5_fail(err, CAF_ERR_FORMAT, path, "cannot read integer attribute");
    H5Sclose(space);
    H5Tclose(ftype);
    H5Aclose(a);
    return rc;
}

caf_status caf_h5_attr_int64(hid_t obj, const char *attr, int64_t *out, const char *path, const char *where,
                             caf_error *err)
{
    return caf_h5_attr_int_array(obj, attr, out, 1, path, where, err);
}

/* A variable-length UTF-8 string type, as h5py writes str (caller closes it). */
static hid_t vlen_utf8_type(void)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    return type;
}

caf_status caf_h5_write_attr_string(hid_t obj, const char *attr, const char *value, const char *path,
                                    caf_error *err)
{
    hid_t type = vlen_utf8_type();
    caf_status rc = caf_h5_write_attr(obj, attr, type, &value, 0, path, err);
    H5Tclose(type);
    return rc;
}

caf_status caf_h5_write_attr(hid_t obj, const char *attr, hid_t memtype, const void *value, size_t n,
                             const char *path, caf_error *err)
{
    hsize_t dim = n;
    hid_t space = n ? H5Screate_simple(1, &dim, NULL) : H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, attr, memtype, space, H5P_DEFAULT, H5P_DEFAULT);
    caf_status rc = CAF_OK;
    if (a < 0 || H5Awrite(a, memtype, value) < 0)
        rc = caf_h5_fail(err, CAF_ERR_IO, path, "cannot write attribute");
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(space);
    return rc;
}

caf_status caf_h5_dataset_length(hid_t loc, const char *name, hsize_t *len, const char *path, caf_error *err)
{
    if (!caf_h5_exists(loc, name))
        return caf_error_set(err, CAF_ERR_FORMAT, "%s: missing dataset '%s'", path, name);
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0)
        return caf_h5_fail(err, CAF_ERR_FORMAT, path, "cannot open dataset");
    hid_t space = H5Dget_space(d);
    caf_status rc = CAF_OK;
    if (H5Sget_simple_extent_ndims(space) != 1)
        rc = caf_error_set(err, CAF_ERR_FORMAT, "%s: dataset '%s' must be one-dimensional", path, name);
    else
        H5Sget_simple_extent_dims(space, len, NULL);
    H5Sclose(space);
    H5Dclose(d);
    return rc;
}

caf_status caf_h5_read_whole(hid_t loc, const char *name, hid_t memtype, size_t elem_size, void **out, size_t *n,
                             const char *path, caf_error *err)
{
    *out = NULL;
    *n = 0;
    hsize_t len;
    caf_status rc = caf_h5_dataset_length(loc, name, &len, path, err);
    if (rc)
        return rc;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    hid_t ftype = H5Dget_type(d);
    H5T_class_t want = H5Tget_class(memtype);
    if (H5Tget_class(ftype) != want) {
        rc = caf_error_set(err, CAF_ERR_FORMAT, "%s: dataset '%s' must hold %s", path, name,
                           want == H5T_INTEGER ? "integers" : "numbers");
    } else {
        void *buf = malloc((len ? len : 1) * elem_size);
        if (!buf)
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        else if (len && H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
            char what[300];
            snprintf(what, sizeof what, "cannot read dataset '%s'", name);
            rc = caf_h5_fail(err, CAF_ERR_FORMAT, path, what);
            free(buf);
        } else {
            *out = buf;
            *n = len;
        }
    }
    H5Tclose(ftype);
    H5Dclose(d);
    return rc;
}

void caf_h5_free_strings(char **strings, size_t n)
{
    if (!strings)
        return;
    for (size_t i = 0; i < n; i++)
        free(strings[i]);
    free(strings);
}

caf_status caf_h5_read_strings(hid_t loc, const char *name, char ***out, size_t *n, const char *path,
                               caf_error *err)
{
    *out = NULL;
    *n = 0;
    hsize_t len;
    caf_status rc = caf_h5_dataset_length(loc, name, &len, path, err);
    if (rc)
        return rc;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    hid_t ftype = H5Dget_type(d);
    char **strings = calloc(len ? len : 1, sizeof *strings);
    if (!strings) {
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    } else if (H5Tget_class(ftype) != H5T_STRING) {
        rc = caf_error_set(err, CAF_ERR_FORMAT, "%s: dataset '%s' must hold strings", path, name);
    } else if (len == 0) {
        /* nothing to read */
    } else if (H5Tis_variable_str(ftype) > 0) {
        hid_t mtype = H5Tcopy(H5T_C_S1);
        H5Tset_size(mtype, H5T_VARIABLE);
        H5Tset_cset(mtype, H5Tget_cset(ftype));
        char **raw = calloc(len, sizeof *raw);
        if (!raw || H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0) {
            rc = raw ? caf_h5_fail(err, CAF_ERR_FORMAT, path, "cannot read string dataset")
                     : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        } else {
            for (hsize_t i = 0; i < len; i++) {
                strings[i] = strdup(raw[i] ? raw[i] : "");
                H5free_memory(raw[i]);
                if (!strings[i])
                    rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
            }
        }
        free(raw);
        H5Tclose(mtype);
    } else {
        size_t size = H5Tget_size(ftype);
        char *raw = calloc(len, size);
        if (!raw || H5Dread(d, ftype, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0) {
            rc = raw ? caf_h5_fail(err, CAF_ERR_FORMAT, path, "cannot read string dataset")
                     : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        } else {
            for (hsize_t i = 0; i < len && !rc; i++) {
                strings[i] = strndup(raw + i * size, size);
                if (!strings[i])
                    rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
            }
        }
        free(raw);
    }
    H5Tclose(ftype);
    H5Dclose(d);
    if (rc) {
        caf_h5_free_strings(strings, len);
        return rc;
    }
    *out = strings;
    *n = len;
    return CAF_OK;
}

caf_status caf_h5_write_strings(hid_t loc, const char *name, const char *const *values, size_t n,
                                const char *path, caf_error *err)
{
    hid_t type = vlen_utf8_type();
    caf_status rc = caf_h5_write_array(loc, name, type, values, n, path, err);
    H5Tclose(type);
    return rc;
}

caf_status caf_h5_write_array(hid_t loc, const char *name, hid_t memtype, const void *values, size_t n,
                              const char *path, caf_error *err)
{
    hsize_t dim = n;
    hid_t space = H5Screate_simple(1, &dim, NULL);
    hid_t dcpl = caf_h5_untimed_dcpl();
    hid_t d = H5Dcreate2(loc, name, memtype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    caf_status rc = CAF_OK;
    if (d < 0 || (n && H5Dwrite(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) < 0))
        rc = caf_h5_fail(err, CAF_ERR_IO, path, "cannot write dataset");
    if (d >= 0)
        H5Dclose(d);
    H5Sclose(space);
    return rc;
}

hid_t caf_h5_create_group(hid_t loc, const char *name)
{
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    H5Pset_obj_track_times(gcpl, false);
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
    H5Pclose(gcpl);
    return g;
}

hid_t caf_h5_untimed_dcpl(void)
{
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(dcpl, false);
    return dcpl;
}
