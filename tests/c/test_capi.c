/*
 * C ABI tests: every exported function, its normal use and its misuse.
 * Build and run: tests/c/run.sh (plain, ASan+UBSan, valgrind).
 * Usage: test_capi TESTDATA_DIR
 */
#define _POSIX_C_SOURCE 200809L /* open, lseek, close */
#include "resnext.h"

#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int passed = 0;
static int failed = 0;
static char dir[4096];

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (cond) {                                                                  \
            passed++;                                                                \
        } else {                                                                     \
            failed++;                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, \
                    __LINE__, #cond, resnext_last_error_message());                  \
        }                                                                            \
    } while (0)

#define CHECK_RC(call, expected)                                                         \
    do {                                                                                 \
        resnext_result rc_ = (call);                                                     \
        if (rc_ == (resnext_result)(expected)) {                                         \
            passed++;                                                                    \
        } else {                                                                         \
            failed++;                                                                    \
            fprintf(stderr, "%s:%d: %s returned %u (%s), expected %u; last error: %s\n", \
                    __FILE__, __LINE__, #call, (unsigned)rc_, resnext_result_message(rc_),  \
                    (unsigned)(expected), resnext_last_error_message());                 \
        }                                                                                \
    } while (0)

static const char *path_of(const char *relative) {
    static char buf[8192];
    snprintf(buf, sizeof buf, "%s/%s", dir, relative);
    return buf;
}

/* Sentinels: what an output holds before a call that must fail, and must still hold after it
 * (the header: outputs are written only on success). */
#define SENTINEL_HANDLE ((resnext_classifier *)(void *)0x1)
#define SENTINEL_COUNT ((size_t)77)
static void fill_sentinel(void *p, size_t size) { memset(p, 0xAB, size); }
static int is_sentinel(const void *p, size_t size) {
    const unsigned char *b = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < size; i++)
        if (b[i] != 0xAB) return 0;
    return 1;
}

static int thread_count(void);
static int thread_count_settled(int expected);

/* Whether RESNEXT_REQUIRE_CPU_KERNELS=1 (CI) makes the kernel family of the CPU flag `flag`
 * ("avx512_vnni", "amx_int8", "amx_bf16") mandatory: it does where Linux lists the flag in
 * /proc/cpuinfo, so a build or a detection that lost a family fails there, and a CPU without
 * the instructions skips it. */
static int cpu_kernel_required(const char *flag) {
    const char *env = getenv("RESNEXT_REQUIRE_CPU_KERNELS");
    static char line[16384];
    int listed = 0;
    FILE *f;
    if (env == NULL || strcmp(env, "1") != 0) return 0;
    f = fopen("/proc/cpuinfo", "r");
    if (f == NULL) return 0;
    while (!listed && fgets(line, sizeof line, f) != NULL) {
        char *tok;
        if (strncmp(line, "flags", 5) != 0) continue;
        for (tok = strtok(line, " \t\n"); tok != NULL && !listed; tok = strtok(NULL, " \t\n"))
            listed = strcmp(tok, flag) == 0;
    }
    fclose(f);
    return listed;
}

static unsigned char *read_file(const char *relative, size_t *len) {
    FILE *f = fopen(path_of(relative), "rb");
    unsigned char *data;
    long size;
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path_of(relative));
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = (unsigned char *)malloc((size_t)size);
    if (!data || fread(data, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "cannot read %s\n", relative);
        exit(2);
    }
    fclose(f);
    *len = (size_t)size;
    return data;
}

static resnext_classifier *make_classifier(const char *model, int tiny) {
    resnext_options *o = resnext_options_new();
    resnext_classifier *c = NULL;
    static const float mean[3] = {0.485f, 0.456f, 0.406f};
    static const float stdv[3] = {0.229f, 0.224f, 0.225f};
    CHECK(o != NULL);
    CHECK_RC(resnext_options_set_model_path(o, path_of(model)), RESNEXT_RESULT_OK);
    if (tiny) {
        CHECK_RC(resnext_options_set_preprocess(o, 73, 64, mean, stdv), RESNEXT_RESULT_OK);
        if (tiny == 2) {
            /* the ImageNet labels on a 10-class model: class i gets ImageNet label i */
            CHECK_RC(resnext_options_set_allow_label_mismatch(o, 1), RESNEXT_RESULT_OK);
        } else {
            CHECK_RC(resnext_options_set_no_labels(o), RESNEXT_RESULT_OK);
        }
    }
    CHECK_RC(resnext_options_set_threads(o, 1), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_classifier_new(o, &c), RESNEXT_RESULT_OK);
    resnext_options_free(o);
    return c;
}

/* The tiny 64 x 64 model's options, without labels chosen yet. */
static resnext_options *tiny_options(const char *model) {
    static const float mean[3] = {0.485f, 0.456f, 0.406f};
    static const float stdv[3] = {0.229f, 0.224f, 0.225f};
    resnext_options *o = resnext_options_new();
    CHECK(o != NULL);
    CHECK_RC(resnext_options_set_model_path(o, path_of(model)), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_preprocess(o, 73, 64, mean, stdv), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_threads(o, 1), RESNEXT_RESULT_OK);
    return o;
}

/* The ONNX Runtime backend on its CPU provider (ORT_DYLIB_PATH names the library, required): the same
 * top-5 as tract on a photograph; CUDA under the fail policy is PROVIDER_UNAVAILABLE; TensorRT
 * under the fallback policy runs on the CPU and says so. */
static void test_ort(void) {
    static const float mean[3] = {0.485f, 0.456f, 0.406f};
    static const float stdv[3] = {0.229f, 0.224f, 0.225f};
    const char *lib = getenv("ORT_DYLIB_PATH");
    resnext_options *o;
    resnext_classifier *ort = NULL, *tract = NULL, *c = (resnext_classifier *)(void *)0x1;
    resnext_model_info info;
    size_t i;
    /* as in the Rust and Java tests, a missing runtime is a failure, not a skip */
    CHECK(lib != NULL && *lib != '\0'); /* ORT_DYLIB_PATH names libonnxruntime.so */
    if (!lib || !*lib) return;
    o = resnext_options_new();
    CHECK_RC(resnext_options_set_model_path(o, path_of("models/tiny_torch.onnx")), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_preprocess(o, 73, 64, mean, stdv), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_no_labels(o), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_threads(o, 1), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_classifier_new(o, &tract), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_backend(o, RESNEXT_BACKEND_ORT), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_ort_library(o, lib), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_classifier_new(o, &ort), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_classifier_info(ort, &info), RESNEXT_RESULT_OK);
    CHECK(strcmp(info.backend, "ort") == 0);
    CHECK(strcmp(info.provider, "cpu") == 0);
    {
        resnext_prediction a[5], b[5];
        size_t na = 0, nb = 0;
        CHECK_RC(resnext_classify_file(tract, path_of("preprocess/chelsea.png"), a, 5, &na, NULL),
                 RESNEXT_RESULT_OK);
        CHECK_RC(resnext_classify_file(ort, path_of("preprocess/chelsea.png"), b, 5, &nb, NULL),
                 RESNEXT_RESULT_OK);
        CHECK(na == 5 && nb == 5);
        for (i = 0; i < na && i < nb; i++) {
            CHECK(a[i].class_id == b[i].class_id);
            CHECK(fabsf(a[i].score - b[i].score) < 1e-4f);
        }
    }
    /* a model that fails while running: ONNX Runtime refuses the Gather's index (INFERENCE) */
    {
        resnext_options *fo = tiny_options("models/fails_at_run.onnx");
        resnext_classifier *f = NULL;
        resnext_prediction p[5];
        size_t n = SENTINEL_COUNT;
        fill_sentinel(p, sizeof p);
        CHECK_RC(resnext_options_set_no_labels(fo), RESNEXT_RESULT_OK);
        CHECK_RC(resnext_options_set_backend(fo, RESNEXT_BACKEND_ORT), RESNEXT_RESULT_OK);
        CHECK_RC(resnext_options_set_ort_library(fo, lib), RESNEXT_RESULT_OK);
        CHECK_RC(resnext_classifier_new(fo, &f), RESNEXT_RESULT_OK);
        resnext_options_free(fo);
        if (f) {
            CHECK_RC(resnext_classify_file(f, path_of("preprocess/chelsea.png"), p, 5, &n, NULL),
                     RESNEXT_RESULT_INFERENCE);
            CHECK(strstr(resnext_last_error_message(), "Gather") != NULL);
            CHECK(n == SENTINEL_COUNT && is_sentinel(p, sizeof p));
            resnext_classifier_free(f);
        }
    }
    /* CUDA on a CPU-only runtime under the default (fail) policy */
    CHECK_RC(resnext_options_set_execution_provider(o, RESNEXT_PROVIDER_CUDA, 0), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_classifier_new(o, &c), RESNEXT_RESULT_PROVIDER_UNAVAILABLE);
    CHECK(strstr(resnext_last_error_message(), "CUDA") != NULL);
    CHECK(c == SENTINEL_HANDLE);
    /* TensorRT with the fallback policy: runs, on the CPU */
    CHECK_RC(resnext_options_set_execution_provider(o, RESNEXT_PROVIDER_TENSORRT, 0), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_tensorrt_precision(o, 1, 0, NULL), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_fallback(o, RESNEXT_FALLBACK_NEXT_PROVIDER), RESNEXT_RESULT_OK);
    c = NULL;
    CHECK_RC(resnext_classifier_new(o, &c), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_classifier_info(c, &info), RESNEXT_RESULT_OK);
    CHECK(strcmp(info.provider, "cpu") == 0);
    resnext_classifier_free(c);
    resnext_classifier_free(ort);
    resnext_classifier_free(tract);
    resnext_options_free(o);
}

/* The CPU kernels for INT8 models: every family this CPU runs gives the same predictions (the
 * integer kernels are bit-identical), `info.compute` names the family, OFF is tract's float
 * path, and an unknown value is refused. */
static void test_cpu_kernels(void) {
    static const float mean[3] = {0.485f, 0.456f, 0.406f};
    static const float stdv[3] = {0.229f, 0.224f, 0.225f};
    static const struct { uint32_t kernels; const char *compute; const char *flag; } cases[] = {
        {RESNEXT_CPU_KERNELS_SCALAR, "int8 on scalar reference kernels: 17 of 17", NULL},
        {RESNEXT_CPU_KERNELS_AVX512_VNNI, "int8 on AVX512-VNNI: 17 of 17", "avx512_vnni"},
        {RESNEXT_CPU_KERNELS_AMX_INT8, "int8 on AMX: 17 of 17", "amx_int8"},
        {RESNEXT_CPU_KERNELS_AVX2, "int8 on AVX2: 17 of 17", "avx2"},
        /* AUTO: the best family here (AVX2 at least, on every x86_64 CPU CI runs on) */
        {RESNEXT_CPU_KERNELS_AUTO, "int8 on ", "avx2"},
        {RESNEXT_CPU_KERNELS_OFF, "f32 (QDQ graph", NULL},
    };
    resnext_prediction first[5], p[5];
    size_t first_n = 0, n = 0, i, k;
    resnext_options *o = resnext_options_new();
    CHECK_RC(resnext_options_set_cpu_kernels(o, 99), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_RC(resnext_options_set_cpu_kernels(NULL, RESNEXT_CPU_KERNELS_AUTO),
             RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_options_set_model_path(o, path_of("models/tiny_int8.onnx")), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_preprocess(o, 73, 64, mean, stdv), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_no_labels(o), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_threads(o, 2), RESNEXT_RESULT_OK);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        resnext_classifier *c = SENTINEL_HANDLE;
        resnext_model_info info;
        resnext_result rc;
        CHECK_RC(resnext_options_set_cpu_kernels(o, cases[i].kernels), RESNEXT_RESULT_OK);
        rc = resnext_classifier_new(o, &c);
        if (rc == RESNEXT_RESULT_BACKEND_UNAVAILABLE &&
            !(cases[i].flag != NULL && cpu_kernel_required(cases[i].flag))) {
            printf("CPU kernels %u not available here: %s\n", cases[i].kernels,
                   resnext_last_error_message());
            CHECK(c == SENTINEL_HANDLE);
            continue;
        }
        CHECK_RC(rc, RESNEXT_RESULT_OK);
        if (rc != RESNEXT_RESULT_OK) continue;
        CHECK_RC(resnext_classifier_info(c, &info), RESNEXT_RESULT_OK);
        CHECK_RC(resnext_classify_file(c, path_of("preprocess/coffee.png"), p, 5, &n, NULL),
                 RESNEXT_RESULT_OK);
        if (cases[i].kernels == RESNEXT_CPU_KERNELS_AUTO &&
            strncmp(info.compute, "f32 (QDQ graph", 14) == 0 && !cpu_kernel_required("avx2")) {
            /* a CPU without AVX2 (not one CI runs on): AUTO is tract's float path, as OFF */
            printf("AUTO runs tract's float path here: %s\n", info.compute);
            CHECK(n > 0 && p[0].class_id == first[0].class_id);
            resnext_classifier_free(c);
            continue;
        }
        CHECK(strncmp(info.compute, cases[i].compute, strlen(cases[i].compute)) == 0);
        if (cases[i].kernels == RESNEXT_CPU_KERNELS_SCALAR) {
            memcpy(first, p, sizeof p);
            first_n = n;
        } else if (cases[i].kernels != RESNEXT_CPU_KERNELS_OFF) {
            CHECK(n == first_n);
            for (k = 0; k < n && k < first_n; k++) {
                CHECK(p[k].class_id == first[k].class_id && p[k].score == first[k].score);
            }
        } else {
            CHECK(n > 0 && p[0].class_id == first[0].class_id);
        }
        resnext_classifier_free(c);
    }
    resnext_options_free(o);
}

/* The tract engine options reach the classifier: `info.compute` reports the effective bf16 and
 * float16 settings (the bf16 mode runs the float kernel layer's convolutions with whole
 * 32-channel groups on AMX, only on a CPU with AMX-BF16; elsewhere compute says it was asked
 * for and is not available, and RESNEXT_REQUIRE_CPU_KERNELS=1 makes that a failure where Linux
 * lists amx_bf16). */
static const char *engine_compute(const char *model, uint32_t bf16, uint32_t widen,
                                  char *out, size_t cap) {
    static const float mean[3] = {0.485f, 0.456f, 0.406f};
    static const float stdv[3] = {0.229f, 0.224f, 0.225f};
    resnext_options *o = resnext_options_new();
    resnext_classifier *c = NULL;
    resnext_model_info info;
    out[0] = '\0';
    CHECK_RC(resnext_options_set_model_path(o, path_of(model)), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_preprocess(o, 73, 64, mean, stdv), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_no_labels(o), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_threads(o, 2), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_bf16_matmul(o, bf16), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_widen_fp16(o, widen), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_classifier_new(o, &c), RESNEXT_RESULT_OK);
    if (c && resnext_classifier_info(c, &info) == RESNEXT_RESULT_OK) {
        snprintf(out, cap, "%s", info.compute);
    }
    resnext_classifier_free(c);
    resnext_options_free(o);
    return out;
}

/* Whether `compute` says the float kernel layer runs the model: on AVX-512 (where the CPU has
   AVX-512F) or AVX2 (AVX2 + FMA + F16C, no AVX-512). */
static int on_float_layer(const char *compute) {
    return strncmp(compute, "f32 on AVX-512: ", 16) == 0 || strncmp(compute, "f32 on AVX2: ", 13) == 0;
}

static void test_engine_options(void) {
    char compute[256];
    CHECK_RC(resnext_options_set_bf16_matmul(NULL, 1), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_options_set_widen_fp16(NULL, 1), RESNEXT_RESULT_NULL_ARGUMENT);
    /* FP32 on the float kernel layer where the CPU has AVX-512F or AVX2, else tract's kernels. */
    engine_compute("models/tiny_torch.onnx", 0, 1, compute, sizeof compute);
    CHECK(strcmp(compute, "f32") == 0 || on_float_layer(compute));
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx512f"))
        CHECK(strcmp(compute, "f32 on AVX-512: 15 of 17 convolutions, 4 residual additions fused, "
                              "1 max pool in NHWC") == 0);
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             __builtin_cpu_supports("f16c"))
        CHECK(strcmp(compute, "f32 on AVX2: 15 of 17 convolutions, 4 residual additions fused, "
                              "1 max pool in NHWC") == 0);
#endif
    engine_compute("models/tiny_torch.onnx", 1, 1, compute, sizeof compute);
    if (strncmp(compute, "bf16 on AMX: ", 13) == 0 || cpu_kernel_required("amx_bf16")) {
        CHECK(strcmp(compute, "bf16 on AMX: 11 of 17 convolutions, 4 f32 on AVX-512, 4 residual "
                              "additions fused, 1 max pool in NHWC") == 0);
    } else if (strstr(compute, "not available") == NULL || cpu_kernel_required("avx512_bf16")) {
        /* No AMX: the convolutions with whole 32-channel groups on AVX512-BF16. */
        CHECK(strcmp(compute, "bf16 on AVX512-BF16: 10 of 17 convolutions, 5 f32 on AVX-512, 4 "
                              "residual additions fused, 1 max pool in NHWC") == 0);
    } else {
        printf("bf16 products not available here: %s\n", compute);
    }
    /* FP16: the float kernel layer keeps the convolutions' float16 weights, widened in its
       kernel (AVX-512F or AVX2); without it every weight is widened at load. */
    engine_compute("models/tiny_fp16.onnx", 0, 1, compute, sizeof compute);
    CHECK(strncmp(compute, "f32", 3) == 0 &&
          (strstr(compute, "(float16 weights widened at load)") != NULL) == !on_float_layer(compute));
    CHECK(!on_float_layer(compute) ||
          strstr(compute, "(float16 weights kept as float16, widened in the kernel)") != NULL);
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx512f"))
        CHECK(strcmp(compute, "f32 on AVX-512: 15 of 17 convolutions, 4 residual additions fused, "
                              "1 max pool in NHWC (float16 weights kept as float16, widened in "
                              "the kernel)") == 0);
#endif
    CHECK(strcmp(engine_compute("models/tiny_fp16.onnx", 0, 0, compute, sizeof compute),
                 "f16") == 0);
}

static void test_version_and_messages(void) {
    char expected[64];
    snprintf(expected, sizeof expected, "%d.%d.%d", RESNEXT_VERSION_MAJOR, RESNEXT_VERSION_MINOR,
             RESNEXT_VERSION_PATCH);
    CHECK(strcmp(resnext_version(), expected) == 0);
    CHECK(strcmp(resnext_result_message(RESNEXT_RESULT_OK), "success") == 0);
    CHECK(strlen(resnext_result_message(RESNEXT_RESULT_MODEL_DECODE)) > 0);
    CHECK(strcmp(resnext_result_message(9999), "unknown result code") == 0);
    CHECK(resnext_last_error_message() != NULL);
}

static void test_options_misuse(void) {
    resnext_options *o = resnext_options_new();
    resnext_classifier *c = (resnext_classifier *)(void *)0x1;
    float mean[3] = {0.5f, 0.5f, 0.5f};
    float zero_std[3] = {0.0f, 1.0f, 1.0f};
    unsigned char byte = 0;
    /* NULL everywhere */
    CHECK_RC(resnext_options_set_model_path(NULL, "x"), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_options_set_model_path(o, NULL), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_options_set_model_path(o, ""), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_options_set_model_bytes(NULL, &byte, 1), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_options_set_model_bytes(o, NULL, 10), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_options_set_preset(NULL, RESNEXT_PRESET_WSL224), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_options_set_preprocess(o, 256, 224, NULL, mean), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_options_set_preprocess(o, 256, 224, mean, NULL), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_options_set_top_k(NULL, 5), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_options_set_threads(NULL, 1), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_options_set_labels_file(NULL, NULL), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_options_set_no_labels(NULL), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_options_set_allow_label_mismatch(NULL, 1), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_options_set_backend(NULL, 0), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_options_set_max_pixels(NULL, 1), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_options_set_max_model_bytes(NULL, 1), RESNEXT_RESULT_NULL_ARGUMENT);
    /* strings that are not UTF-8 */
    CHECK_RC(resnext_options_set_model_path(o, "\xff\xfe.onnx"), RESNEXT_RESULT_UTF8);
    CHECK(strstr(resnext_last_error_message(), "UTF-8") != NULL);
    CHECK_RC(resnext_options_set_labels_file(o, "labels\xc3\x28.txt"), RESNEXT_RESULT_UTF8);
    CHECK_RC(resnext_options_set_ort_library(o, "\x80libonnxruntime.so"), RESNEXT_RESULT_UTF8);
    CHECK_RC(resnext_options_set_tensorrt_cache_dirs(o, "\xfe", NULL), RESNEXT_RESULT_UTF8);
    CHECK_RC(resnext_options_set_tensorrt_precision(o, 0, 1, "\xfe.cache"), RESNEXT_RESULT_UTF8);
    /* invalid values */
    CHECK_RC(resnext_options_set_preset(o, 7), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_RC(resnext_options_set_backend(o, 42), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_RC(resnext_options_set_preprocess(o, 100, 200, mean, mean), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_RC(resnext_options_set_preprocess(o, 256, 224, mean, zero_std), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_RC(resnext_options_set_top_k(o, 0), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_RC(resnext_options_set_threads(o, 100000), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_RC(resnext_options_set_max_pixels(o, 0), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_RC(resnext_options_set_max_model_bytes(o, 0), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK(strlen(resnext_last_error_message()) > 0);
    /* valid values */
    CHECK_RC(resnext_options_set_preset(o, RESNEXT_PRESET_FIX320), RESNEXT_RESULT_OK);
    CHECK(strlen(resnext_last_error_message()) == 0); /* success clears the last error */
    CHECK_RC(resnext_options_set_labels_file(o, NULL), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_allow_label_mismatch(o, 0), RESNEXT_RESULT_OK);
    /* no model set */
    CHECK_RC(resnext_classifier_new(o, &c), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK(c == SENTINEL_HANDLE); /* output untouched on failure */
    CHECK_RC(resnext_classifier_new(NULL, &c), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK(c == SENTINEL_HANDLE);
    CHECK_RC(resnext_options_set_model_path(o, path_of("models/tiny_torch.onnx")), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_classifier_new(o, NULL), RESNEXT_RESULT_NULL_ARGUMENT);
    /* ONNX Runtime settings: bad values are refused, outputs untouched */
    CHECK_RC(resnext_options_set_execution_provider(o, 7, 0), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_RC(resnext_options_set_fallback(o, 2), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_RC(resnext_options_set_tensorrt_dla_core(o, -2), RESNEXT_RESULT_INVALID_ARGUMENT);
    /* as the header says: DLA cores 0 and 1, or -1 for the GPU */
    CHECK_RC(resnext_options_set_tensorrt_dla_core(o, 2), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK(strstr(resnext_last_error_message(), "DLA core 2") != NULL);
    CHECK_RC(resnext_options_set_tensorrt_dla_core(o, 1000), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_RC(resnext_options_set_tensorrt_dla_core(o, 1), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_tensorrt_dla_core(o, 0), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_tensorrt_dla_core(o, -1), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_tensorrt_batch_profile(o, 0, 1, 1), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_RC(resnext_options_set_tensorrt_batch_profile(o, 4, 2, 8), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_RC(resnext_options_set_execution_provider(NULL, 0, 0), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_options_set_tensorrt_precision(o, 1, 0, NULL), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_tensorrt_cache_dirs(o, NULL, ""), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_tensorrt_workspace(o, 0), RESNEXT_RESULT_OK);
    /* the ONNX Runtime backend with a library that does not exist */
    CHECK_RC(resnext_options_set_backend(o, RESNEXT_BACKEND_ORT), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_ort_library(o, "/nonexistent/libonnxruntime.so"), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_classifier_new(o, &c), RESNEXT_RESULT_BACKEND_UNAVAILABLE);
    CHECK(strstr(resnext_last_error_message(), "/nonexistent/libonnxruntime.so") != NULL);
    CHECK(c == SENTINEL_HANDLE);
    resnext_options_free(o);
    resnext_options_free(NULL);
    resnext_classifier_free(NULL);
}

static void expect_load_error(const char *model, resnext_result expected) {
    resnext_options *o = resnext_options_new();
    resnext_classifier *c = SENTINEL_HANDLE;
    static const float mean[3] = {0.485f, 0.456f, 0.406f};
    static const float stdv[3] = {0.229f, 0.224f, 0.225f};
    CHECK_RC(resnext_options_set_model_path(o, path_of(model)), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_preprocess(o, 73, 64, mean, stdv), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_classifier_new(o, &c), expected);
    CHECK(c == SENTINEL_HANDLE);
    resnext_options_free(o);
}

static void test_bad_models(void) {
    resnext_options *o = resnext_options_new();
    resnext_classifier *c = SENTINEL_HANDLE;
    size_t len;
    unsigned char *bytes;
    expect_load_error("models/no_such_model.onnx", RESNEXT_RESULT_IO);
    expect_load_error("models/truncated.onnx", RESNEXT_RESULT_MODEL_DECODE);
    expect_load_error("models/random.onnx", RESNEXT_RESULT_MODEL_DECODE);
    expect_load_error("models/not_classifier.onnx", RESNEXT_RESULT_MODEL_UNSUPPORTED);
    expect_load_error("models/bad_input_rank.onnx", RESNEXT_RESULT_MODEL_UNSUPPORTED);
    expect_load_error("models/unsupported_op.onnx", RESNEXT_RESULT_MODEL_UNSUPPORTED);
    /* label mismatch: a 10-class model with the 1000 ImageNet labels */
    expect_load_error("models/tiny_torch.onnx", RESNEXT_RESULT_LABELS);
    /* from bytes: random bytes, then a size limit */
    bytes = read_file("models/random.onnx", &len);
    CHECK_RC(resnext_options_set_model_bytes(o, bytes, len), RESNEXT_RESULT_OK);
    free(bytes); /* the options copied them */
    CHECK_RC(resnext_classifier_new(o, &c), RESNEXT_RESULT_MODEL_DECODE);
    CHECK(c == SENTINEL_HANDLE);
    CHECK_RC(resnext_options_set_model_path(o, path_of("models/tiny_torch.onnx")), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_max_model_bytes(o, 1000), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_classifier_new(o, &c), RESNEXT_RESULT_LIMIT_EXCEEDED);
    CHECK(c == SENTINEL_HANDLE);
    resnext_options_free(o);
}

/* The full-size ResNeXt50_32x4d: a photograph classified with ImageNet labels. */
static void test_real_model(void) {
    resnext_classifier *c = make_classifier("models/r50_paddle.onnx", 0);
    resnext_model_info info;
    resnext_prediction preds[5];
    size_t count = 0;
    CHECK(c != NULL);
    if (!c) return;
    CHECK_RC(resnext_classifier_info(c, &info), RESNEXT_RESULT_OK);
    CHECK(info.height == 224 && info.width == 224 && info.classes == 1000);
    CHECK(info.output_kind == RESNEXT_OUTPUT_KIND_PROBABILITIES);
    CHECK(strcmp(info.input_name, "x") == 0);
    CHECK(info.parameters > 24000000u);
    CHECK_RC(resnext_classify_file(c, path_of("preprocess/chelsea.png"), preds, 5, &count, NULL),
             RESNEXT_RESULT_OK);
    CHECK(count == 5 && strlen(preds[0].label) > 0 && preds[0].score > 0.5f);
    resnext_classifier_free(c);
}

static void test_classify(resnext_classifier *c) {
    resnext_prediction preds[10];
    resnext_timings t;
    resnext_model_info info;
    size_t count = 0, len, i;
    unsigned char *png = read_file("preprocess/chelsea.png", &len);
    CHECK_RC(resnext_classifier_info(c, &info), RESNEXT_RESULT_OK);
    CHECK(info.height == 64 && info.width == 64 && info.classes == 10);
    CHECK(info.precision == RESNEXT_PRECISION_FP32);
    CHECK(info.output_kind == RESNEXT_OUTPUT_KIND_LOGITS);
    CHECK(strcmp(info.input_name, "input") == 0);
    CHECK(strcmp(info.backend, "tract") == 0);
    CHECK(info.top_k == 5 && resnext_classifier_top_k(c) == 5);
    CHECK(info.parameters > 1000u);
    CHECK_RC(resnext_classify_file(c, path_of("preprocess/chelsea.png"), preds, 10, &count, &t),
             RESNEXT_RESULT_OK);
    CHECK(count == 5);
    for (i = 0; i < count; i++) {
        CHECK(preds[i].score >= 0.0f && preds[i].score <= 1.0f);
        CHECK(preds[i].label != NULL && strlen(preds[i].label) > 0);
        CHECK(preds[i].class_id < 10);
        if (i > 0) CHECK(preds[i].score <= preds[i - 1].score);
    }
    CHECK(t.inference_ms > 0.0 && t.decode_ms >= 0.0);
    {
        resnext_prediction same[5];
        size_t n = 0;
        CHECK_RC(resnext_classify_encoded(c, png, len, same, 5, &n, NULL), RESNEXT_RESULT_OK);
        CHECK(n == 5 && same[0].class_id == preds[0].class_id &&
              fabsf(same[0].score - preds[0].score) < 1e-6f);
        /* smaller capacity: the top entries only */
        CHECK_RC(resnext_classify_encoded(c, png, len, same, 2, &n, NULL), RESNEXT_RESULT_OK);
        CHECK(n == 2 && same[1].class_id == preds[1].class_id);
    }
    free(png);
}

static void test_classify_misuse(resnext_classifier *c) {
    resnext_prediction preds[5];
    size_t count = SENTINEL_COUNT, len;
    unsigned char *png = read_file("preprocess/chelsea.png", &len);
    static unsigned char pixels[64 * 64 * 3];
    resnext_image image;
    resnext_model_info info;
    resnext_timings timings;
    memset(pixels, 128, sizeof pixels);
    fill_sentinel(preds, sizeof preds);
    /* NULL arguments */
    CHECK_RC(resnext_classify_file(NULL, "x.png", preds, 5, &count, NULL), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_classify_file(c, NULL, preds, 5, &count, NULL), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_classify_file(c, path_of("preprocess/chelsea.png"), NULL, 5, &count, NULL),
             RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_classify_file(c, path_of("preprocess/chelsea.png"), preds, 5, NULL, NULL),
             RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_classify_file(c, path_of("preprocess/chelsea.png"), preds, 0, &count, NULL),
             RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_RC(resnext_classify_encoded(c, NULL, 10, preds, 5, &count, NULL), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_classify(c, NULL, preds, 5, &count, NULL), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_classifier_info(NULL, NULL), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_classifier_info(c, NULL), RESNEXT_RESULT_NULL_ARGUMENT);
    fill_sentinel(&info, sizeof info);
    CHECK_RC(resnext_classifier_info(NULL, &info), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK(is_sentinel(&info, sizeof info));
    CHECK(resnext_classifier_top_k(NULL) == 0);
    /* timings: untouched by a failing call too */
    fill_sentinel(&timings, sizeof timings);
    CHECK_RC(resnext_classify_encoded(c, png, len / 3, preds, 5, &count, &timings), RESNEXT_RESULT_IMAGE_DECODE);
    CHECK(is_sentinel(&timings, sizeof timings));
    /* a path that is not UTF-8 */
    CHECK_RC(resnext_classify_file(c, "\xff\xfe.png", preds, 5, &count, &timings), RESNEXT_RESULT_UTF8);
    CHECK(strstr(resnext_last_error_message(), "UTF-8") != NULL);
    CHECK(is_sentinel(&timings, sizeof timings));
    /* bad files and bytes */
    CHECK_RC(resnext_classify_file(c, path_of("no/such.png"), preds, 5, &count, NULL), RESNEXT_RESULT_IO);
    CHECK_RC(resnext_classify_file(c, path_of("models/random.onnx"), preds, 5, &count, NULL),
             RESNEXT_RESULT_IMAGE_DECODE);
    CHECK_RC(resnext_classify_encoded(c, png, len / 3, preds, 5, &count, NULL), RESNEXT_RESULT_IMAGE_DECODE);
    CHECK_RC(resnext_classify_encoded(c, png, 0, preds, 5, &count, NULL), RESNEXT_RESULT_IMAGE_DECODE);
    /* pixel buffers: wrong length, bad stride, bad format, bad rotation, zero size, odd NV21 */
    CHECK_RC(resnext_classify_pixels(c, pixels, sizeof pixels - 1, 64, 64, 0, RESNEXT_PIXEL_FORMAT_RGB8, 0,
                                     preds, 5, &count, NULL), RESNEXT_RESULT_BUFFER_SIZE);
    CHECK_RC(resnext_classify_pixels(c, pixels, sizeof pixels, 64, 64, 10, RESNEXT_PIXEL_FORMAT_RGB8, 0,
                                     preds, 5, &count, NULL), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_RC(resnext_classify_pixels(c, pixels, sizeof pixels, 64, 64, 0, 99, 0, preds, 5, &count, NULL),
             RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_RC(resnext_classify_pixels(c, pixels, sizeof pixels, 64, 64, 0, RESNEXT_PIXEL_FORMAT_RGB8, 45,
                                     preds, 5, &count, NULL), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_RC(resnext_classify_pixels(c, pixels, sizeof pixels, 0, 64, 0, RESNEXT_PIXEL_FORMAT_RGB8, 0,
                                     preds, 5, &count, NULL), RESNEXT_RESULT_IMAGE_SIZE);
    CHECK_RC(resnext_classify_pixels(c, pixels, sizeof pixels, 63, 64, 0, RESNEXT_PIXEL_FORMAT_NV21, 0,
                                     preds, 5, &count, NULL), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_RC(resnext_classify_pixels(c, pixels, sizeof pixels, 100000, 100000, 0, RESNEXT_PIXEL_FORMAT_RGB8, 0,
                                     preds, 5, &count, NULL), RESNEXT_RESULT_LIMIT_EXCEEDED);
    CHECK_RC(resnext_classify_pixels(c, NULL, 0, 64, 64, 0, RESNEXT_PIXEL_FORMAT_RGB8, 0, preds, 5, &count, NULL),
             RESNEXT_RESULT_NULL_ARGUMENT);
    memset(&image, 0, sizeof image);
    image.kind = 17;
    CHECK_RC(resnext_classify(c, &image, preds, 5, &count, NULL), RESNEXT_RESULT_INVALID_ARGUMENT);
    /* outputs untouched by all those failures */
    CHECK(count == SENTINEL_COUNT);
    CHECK(is_sentinel(preds, sizeof preds));
    /* valid pixel buffers of every format and rotation */
    {
        unsigned char rgba[48 * 32 * 4];
        unsigned char nv[48 * 32 * 3 / 2];
        unsigned fmt, rot;
        memset(rgba, 90, sizeof rgba);
        memset(nv, 128, sizeof nv);
        for (fmt = RESNEXT_PIXEL_FORMAT_RGB8; fmt <= RESNEXT_PIXEL_FORMAT_NV12; fmt++) {
            for (rot = 0; rot < 360; rot += 90) {
                const unsigned char *data = fmt >= RESNEXT_PIXEL_FORMAT_NV21 ? nv : rgba;
                size_t size = fmt >= RESNEXT_PIXEL_FORMAT_NV21 ? sizeof nv : sizeof rgba;
                CHECK_RC(resnext_classify_pixels(c, data, size, 48, 32, 0, fmt, rot, preds, 5, &count, NULL),
                         RESNEXT_RESULT_OK);
            }
        }
    }
    free(png);
}

static void test_batch(resnext_classifier *c) {
    resnext_image images[3];
    resnext_prediction preds[15], single[5];
    resnext_timings t[3];
    size_t counts[3] = {0, 0, 0}, n, len, i;
    unsigned char *png = read_file("preprocess/coffee.png", &len);
    unsigned char pixels[80 * 60 * 3];
    memset(images, 0, sizeof images);
    memset(pixels, 200, sizeof pixels);
    images[0].kind = RESNEXT_IMAGE_KIND_FILE;
    images[0].path = "";
    images[0].path = path_of("preprocess/chelsea.png");
    {
        /* path_of uses one static buffer: keep a copy */
        static char chelsea[8192];
        snprintf(chelsea, sizeof chelsea, "%s", images[0].path);
        images[0].path = chelsea;
    }
    images[1].kind = RESNEXT_IMAGE_KIND_ENCODED;
    images[1].data = png;
    images[1].len = len;
    images[2].kind = RESNEXT_IMAGE_KIND_PIXELS;
    images[2].data = pixels;
    images[2].len = sizeof pixels;
    images[2].width = 80;
    images[2].height = 60;
    images[2].pixel_format = RESNEXT_PIXEL_FORMAT_BGR8;
    images[2].rotation = 90;
    CHECK_RC(resnext_classify_batch(c, images, 3, preds, 15, counts, t), RESNEXT_RESULT_OK);
    CHECK(counts[0] == 5 && counts[1] == 5 && counts[2] == 5);
    for (i = 0; i < 3; i++) {
        CHECK_RC(resnext_classify(c, &images[i], single, 5, &n, NULL), RESNEXT_RESULT_OK);
        CHECK(single[0].class_id == preds[i * 5].class_id);
        CHECK(fabsf(single[0].score - preds[i * 5].score) < 1e-4f);
        CHECK(t[i].inference_ms > 0.0);
    }
    /* misuse: every failure leaves the predictions, counts and timings as they were */
    fill_sentinel(preds, sizeof preds);
    fill_sentinel(counts, sizeof counts);
    fill_sentinel(t, sizeof t);
    CHECK_RC(resnext_classify_batch(c, images, 3, preds, 14, counts, t), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_RC(resnext_classify_batch(c, images, 0, preds, 15, counts, t), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_RC(resnext_classify_batch(c, NULL, 3, preds, 15, counts, t), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_classify_batch(c, images, 3, NULL, 15, counts, t), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_classify_batch(c, images, 3, preds, 15, NULL, t), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_classify_batch(NULL, images, 3, preds, 15, counts, t), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_classify_batch(c, images, 100000, preds, 15, counts, t), RESNEXT_RESULT_LIMIT_EXCEEDED);
    images[1].len = 10; /* a corrupt image fails the batch and names it */
    CHECK_RC(resnext_classify_batch(c, images, 3, preds, 15, counts, t), RESNEXT_RESULT_IMAGE_DECODE);
    CHECK(strstr(resnext_last_error_message(), "image 1") != NULL);
    images[1].len = len;
    images[0].path = "\xff\xfe.png"; /* not UTF-8 */
    CHECK_RC(resnext_classify_batch(c, images, 3, preds, 15, counts, t), RESNEXT_RESULT_UTF8);
    CHECK(is_sentinel(preds, sizeof preds));
    CHECK(is_sentinel(counts, sizeof counts));
    CHECK(is_sentinel(t, sizeof t));
    free(png);
}

/* Prefixes of real photographs (the first 3,000 bytes, half, all but 2 bytes) fail with
 * IMAGE_DECODE and a message saying "truncated", from bytes and from a file; with
 * resnext_options_set_allow_truncated_images the cuts past the headers classify. */
static void test_truncated(resnext_classifier *strict) {
    static const char *photos[] = {"preprocess/rocket.jpg", "preprocess/coffee.png"};
    resnext_prediction preds[5];
    size_t count, len, i, j;
    resnext_options *o = resnext_options_new();
    resnext_classifier *lenient = NULL;
    static const float mean[3] = {0.485f, 0.456f, 0.406f};
    static const float stdv[3] = {0.229f, 0.224f, 0.225f};
    char file[8192];
    CHECK_RC(resnext_options_set_allow_truncated_images(NULL, 1), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_options_set_model_path(o, path_of("models/tiny_torch.onnx")), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_preprocess(o, 73, 64, mean, stdv), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_no_labels(o), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_threads(o, 1), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_allow_truncated_images(o, 1), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_classifier_new(o, &lenient), RESNEXT_RESULT_OK);
    resnext_options_free(o);
    for (i = 0; i < sizeof photos / sizeof photos[0]; i++) {
        unsigned char *data = read_file(photos[i], &len);
        size_t cuts[3];
        cuts[0] = 3000;
        cuts[1] = len / 2;
        cuts[2] = len - 2;
        CHECK_RC(resnext_classify_encoded(strict, data, len, preds, 5, &count, NULL), RESNEXT_RESULT_OK);
        for (j = 0; j < 3; j++) {
            FILE *f;
            count = SENTINEL_COUNT;
            fill_sentinel(preds, sizeof preds);
            CHECK_RC(resnext_classify_encoded(strict, data, cuts[j], preds, 5, &count, NULL),
                     RESNEXT_RESULT_IMAGE_DECODE);
            CHECK(strstr(resnext_last_error_message(), "truncated") != NULL);
            CHECK(count == SENTINEL_COUNT && is_sentinel(preds, sizeof preds));
            snprintf(file, sizeof file, "%s/c-truncated-%u", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
                     (unsigned)j);
            f = fopen(file, "wb");
            CHECK(f != NULL);
            if (f) {
                CHECK(fwrite(data, 1, cuts[j], f) == cuts[j]);
                fclose(f);
                CHECK_RC(resnext_classify_file(strict, file, preds, 5, &count, NULL), RESNEXT_RESULT_IMAGE_DECODE);
                CHECK(strstr(resnext_last_error_message(), "truncated") != NULL);
                CHECK(count == SENTINEL_COUNT && is_sentinel(preds, sizeof preds));
                CHECK_RC(resnext_classify_file(lenient, file, preds, 5, &count, NULL), RESNEXT_RESULT_OK);
                CHECK(count == 5);
                remove(file);
            }
            CHECK_RC(resnext_classify_encoded(lenient, data, cuts[j], preds, 5, &count, NULL), RESNEXT_RESULT_OK);
        }
        free(data);
    }
    resnext_classifier_free(lenient);
}

/* resnext_options_set_labels_file: a 10-line file names the tiny model's classes (each
 * prediction's label is its class's line); a 9-line file is LABELS; NULL restores the ImageNet
 * labels (1000 for 10 classes: LABELS again). */
static void test_labels_file(void) {
    char file[8192], short_file[8192];
    resnext_options *o = tiny_options("models/tiny_torch.onnx");
    resnext_classifier *c = NULL, *bad = SENTINEL_HANDLE;
    resnext_prediction preds[5];
    size_t count = 0, i;
    FILE *f;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(file, sizeof file, "%s/c-labels-10.txt", tmp);
    snprintf(short_file, sizeof short_file, "%s/c-labels-9.txt", tmp);
    f = fopen(file, "w");
    CHECK(f != NULL);
    if (!f) return;
    for (i = 0; i < 10; i++) fprintf(f, "class number %u\n", (unsigned)i);
    fclose(f);
    f = fopen(short_file, "w");
    CHECK(f != NULL);
    if (!f) return;
    for (i = 0; i < 9; i++) fprintf(f, "class number %u\n", (unsigned)i);
    fclose(f);
    CHECK_RC(resnext_options_set_labels_file(o, file), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_classifier_new(o, &c), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_classify_file(c, path_of("preprocess/chelsea.png"), preds, 5, &count, NULL),
             RESNEXT_RESULT_OK);
    CHECK(count == 5);
    for (i = 0; i < count; i++) {
        char expected[64];
        snprintf(expected, sizeof expected, "class number %u", preds[i].class_id);
        CHECK(strcmp(preds[i].label, expected) == 0);
    }
    resnext_classifier_free(c);
    CHECK_RC(resnext_options_set_labels_file(o, short_file), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_classifier_new(o, &bad), RESNEXT_RESULT_LABELS);
    CHECK(strstr(resnext_last_error_message(), "9") != NULL);
    CHECK(bad == SENTINEL_HANDLE);
    CHECK_RC(resnext_options_set_labels_file(o, NULL), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_classifier_new(o, &bad), RESNEXT_RESULT_LABELS);
    CHECK(strstr(resnext_last_error_message(), "1000") != NULL);
    CHECK(bad == SENTINEL_HANDLE);
    remove(file);
    remove(short_file);
    resnext_options_free(o);
}

/* resnext_options_set_max_pixels: an image of exactly the limit classifies, one row more is
 * LIMIT_EXCEEDED (raw pixels and an encoded photograph), outputs untouched. */
static void test_max_pixels(void) {
    static unsigned char pixels[48 * 34 * 3];
    resnext_options *o = tiny_options("models/tiny_torch.onnx");
    resnext_classifier *c = NULL;
    resnext_prediction preds[5];
    size_t count = 0;
    memset(pixels, 100, sizeof pixels);
    CHECK_RC(resnext_options_set_no_labels(o), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_max_pixels(o, 48 * 32), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_classifier_new(o, &c), RESNEXT_RESULT_OK);
    resnext_options_free(o);
    if (!c) return;
    CHECK_RC(resnext_classify_pixels(c, pixels, 48 * 32 * 3, 48, 32, 0, RESNEXT_PIXEL_FORMAT_RGB8, 0, preds,
                                     5, &count, NULL), RESNEXT_RESULT_OK);
    CHECK(count == 5);
    count = SENTINEL_COUNT;
    fill_sentinel(preds, sizeof preds);
    CHECK_RC(resnext_classify_pixels(c, pixels, sizeof pixels, 48, 33, 0, RESNEXT_PIXEL_FORMAT_RGB8, 0, preds,
                                     5, &count, NULL), RESNEXT_RESULT_LIMIT_EXCEEDED);
    CHECK_RC(resnext_classify_file(c, path_of("preprocess/chelsea.png"), preds, 5, &count, NULL),
             RESNEXT_RESULT_LIMIT_EXCEEDED);
    CHECK(count == SENTINEL_COUNT && is_sentinel(preds, sizeof preds));
    resnext_classifier_free(c);
}

/* A model that loads and then panics inside tract while running (fails_at_run.onnx: a Gather
 * out of range): the call returns PANIC with the outputs untouched, again on the next call and
 * in a batch, and the process and other classifiers carry on. */
static void test_panic(void) {
    resnext_options *o = tiny_options("models/fails_at_run.onnx");
    resnext_classifier *c = NULL;
    resnext_prediction preds[10];
    resnext_timings t[2];
    resnext_image images[2];
    size_t count = SENTINEL_COUNT, counts[2], i;
    CHECK_RC(resnext_options_set_no_labels(o), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_classifier_new(o, &c), RESNEXT_RESULT_OK);
    resnext_options_free(o);
    if (!c) return;
    fill_sentinel(preds, sizeof preds);
    fill_sentinel(t, sizeof t);
    fill_sentinel(counts, sizeof counts);
    for (i = 0; i < 2; i++) {
        CHECK_RC(resnext_classify_file(c, path_of("preprocess/chelsea.png"), preds, 5, &count, t),
                 RESNEXT_RESULT_PANIC);
        CHECK(strstr(resnext_last_error_message(), "panic") != NULL);
    }
    memset(images, 0, sizeof images);
    images[0].kind = images[1].kind = RESNEXT_IMAGE_KIND_FILE;
    images[0].path = images[1].path = path_of("preprocess/chelsea.png");
    CHECK_RC(resnext_classify_batch(c, images, 2, preds, 10, counts, t), RESNEXT_RESULT_PANIC);
    CHECK(count == SENTINEL_COUNT && is_sentinel(preds, sizeof preds));
    CHECK(is_sentinel(t, sizeof t) && is_sentinel(counts, sizeof counts));
    resnext_classifier_free(c);
    /* with a pool of 3 worker threads: a panic does not keep the pool alive, free joins it */
    {
        int before = thread_count(), after;
        o = tiny_options("models/fails_at_run.onnx");
        c = NULL;
        CHECK_RC(resnext_options_set_no_labels(o), RESNEXT_RESULT_OK);
        CHECK_RC(resnext_options_set_threads(o, 3), RESNEXT_RESULT_OK);
        CHECK_RC(resnext_classifier_new(o, &c), RESNEXT_RESULT_OK);
        resnext_options_free(o);
        for (i = 0; i < 3; i++) {
            CHECK_RC(resnext_classify_file(c, path_of("preprocess/chelsea.png"), preds, 5, &count, NULL),
                     RESNEXT_RESULT_PANIC);
        }
        resnext_classifier_free(c);
        after = thread_count_settled(before);
        if (after != before) fprintf(stderr, "%d threads before, %d after\n", before, after);
        CHECK(after == before);
    }
}

struct thread_arg {
    resnext_classifier *classifier;
    const unsigned char *png;
    size_t len;
    unsigned expected_class;
    int failures;
};

static void *classify_loop(void *p) {
    struct thread_arg *arg = (struct thread_arg *)p;
    resnext_prediction preds[5];
    size_t n;
    int i;
    for (i = 0; i < 6; i++) {
        if (resnext_classify_encoded(arg->classifier, arg->png, arg->len, preds, 5, &n, NULL) !=
                RESNEXT_RESULT_OK ||
            n != 5 || preds[0].class_id != arg->expected_class) {
            arg->failures++;
        }
        /* errors on one thread do not disturb the others (nor write the outputs) */
        n = SENTINEL_COUNT;
        fill_sentinel(preds, sizeof preds);
        if (resnext_classify_encoded(arg->classifier, arg->png, 8, preds, 5, &n, NULL) !=
                RESNEXT_RESULT_IMAGE_DECODE ||
            n != SENTINEL_COUNT || !is_sentinel(preds, sizeof preds)) {
            arg->failures++;
        }
    }
    return NULL;
}

static void test_threads(void) {
    resnext_classifier *c = make_classifier("models/tiny_paddle.onnx", 1);
    pthread_t threads[4];
    struct thread_arg args[4];
    resnext_prediction preds[5];
    size_t n, len;
    int i;
    unsigned char *png = read_file("preprocess/astronaut.png", &len);
    CHECK_RC(resnext_classify_encoded(c, png, len, preds, 5, &n, NULL), RESNEXT_RESULT_OK);
    for (i = 0; i < 4; i++) {
        args[i].classifier = c;
        args[i].png = png;
        args[i].len = len;
        args[i].expected_class = preds[0].class_id;
        args[i].failures = 0;
        CHECK(pthread_create(&threads[i], NULL, classify_loop, &args[i]) == 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        CHECK(args[i].failures == 0);
    }
    /* a tiny model without labels gives "" labels */
    CHECK(preds[0].label != NULL && preds[0].label[0] == '\0');
    free(png);
    resnext_classifier_free(c);
}

/* The process's thread count (Linux: /proc/self/status), or -1 when unknown. */
static int thread_count(void) {
    char line[256];
    int n = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "Threads:", 8) == 0) {
            n = atoi(line + 8);
            break;
        }
    }
    fclose(f);
    return n;
}

/* The thread count once it reaches `expected`, waiting at most 2 s for it. pthread_join returns
 * once a worker has signalled its exit (the kernel clears its tid in exit_mm), shortly before
 * Linux drops it from /proc/self/status's count (in exit_notify): this allows that short lag
 * (seen under valgrind and on a loaded machine), not a thread left running. */
static int thread_count_settled(int expected) {
    int wait, n = thread_count();
    for (wait = 0; wait < 2000 && n != expected; wait++) {
        const struct timespec one_ms = {0, 1000000L};
        nanosleep(&one_ms, NULL);
        n = thread_count();
    }
    return n;
}

/* resnext_classifier_free joins the classifier's worker threads: after each of 20
 * create/classify/free cycles with 3 threads, the process has the threads it had before. */
static void test_free_joins_threads(int before) {
    resnext_prediction preds[5];
    size_t count;
    int cycle, after = before;
    static const float mean[3] = {0.485f, 0.456f, 0.406f};
    static const float stdv[3] = {0.229f, 0.224f, 0.225f};
    if (before < 0) {
        printf("thread count unknown (no /proc/self/status): skipping the free-joins-threads test\n");
        return;
    }
    for (cycle = 0; cycle < 20 && after == before; cycle++) {
        resnext_options *o = resnext_options_new();
        resnext_classifier *c = NULL;
        CHECK_RC(resnext_options_set_model_path(o, path_of("models/tiny_torch.onnx")), RESNEXT_RESULT_OK);
        CHECK_RC(resnext_options_set_preprocess(o, 73, 64, mean, stdv), RESNEXT_RESULT_OK);
        CHECK_RC(resnext_options_set_no_labels(o), RESNEXT_RESULT_OK);
        CHECK_RC(resnext_options_set_threads(o, 3), RESNEXT_RESULT_OK);
        CHECK_RC(resnext_classifier_new(o, &c), RESNEXT_RESULT_OK);
        resnext_options_free(o);
        CHECK(thread_count() > before); /* the pool is running */
        CHECK_RC(resnext_classify_file(c, path_of("preprocess/chelsea.png"), preds, 5, &count, NULL),
                 RESNEXT_RESULT_OK);
        resnext_classifier_free(c);
        after = thread_count_settled(before);
    }
    if (after != before) fprintf(stderr, "cycle %d: %d threads after free, %d before\n", cycle, after, before);
    CHECK(after == before);
}

/* Records received, by level (index 0: out-of-range levels). */
static int log_records[RESNEXT_LOG_LEVEL_TRACE + 1];
static void on_log(void *user_data, uint32_t level, const char *message) {
    int *records = (int *)user_data;
    (void)message;
    records[level >= RESNEXT_LOG_LEVEL_ERROR && level <= RESNEXT_LOG_LEVEL_TRACE ? level : 0]++;
}

/* Loads the tiny model with the callback at `max_level`, with log_records zeroed first. */
static void load_logging(uint32_t max_level) {
    resnext_classifier *c;
    memset(log_records, 0, sizeof log_records);
    CHECK_RC(resnext_set_log_callback(on_log, log_records, max_level), RESNEXT_RESULT_OK);
    c = make_classifier("models/tiny_torch.onnx", 1);
    resnext_classifier_free(c);
}

/* The level filter: loading logs at debug level; at INFO the same load delivers no DEBUG or
 * TRACE record (and the INFO-and-above ones still arrive); OFF and a removed callback deliver
 * nothing. */
static void test_log_callback(void) {
    int at_debug[RESNEXT_LOG_LEVEL_TRACE + 1];
    int level;
    CHECK_RC(resnext_set_log_callback(on_log, log_records, 99), RESNEXT_RESULT_INVALID_ARGUMENT);
    load_logging(RESNEXT_LOG_LEVEL_DEBUG);
    memcpy(at_debug, log_records, sizeof at_debug);
    CHECK(at_debug[RESNEXT_LOG_LEVEL_DEBUG] > 0); /* loading logs at debug level */
    CHECK(at_debug[RESNEXT_LOG_LEVEL_TRACE] == 0 && at_debug[0] == 0);
    load_logging(RESNEXT_LOG_LEVEL_INFO);
    CHECK(log_records[RESNEXT_LOG_LEVEL_DEBUG] == 0 && log_records[RESNEXT_LOG_LEVEL_TRACE] == 0);
    for (level = RESNEXT_LOG_LEVEL_ERROR; level <= RESNEXT_LOG_LEVEL_INFO; level++) {
        CHECK(log_records[level] == at_debug[level]);
    }
    load_logging(RESNEXT_LOG_LEVEL_TRACE);
    CHECK(log_records[RESNEXT_LOG_LEVEL_DEBUG] == at_debug[RESNEXT_LOG_LEVEL_DEBUG]);
    load_logging(RESNEXT_LOG_LEVEL_OFF);
    for (level = 0; level <= RESNEXT_LOG_LEVEL_TRACE; level++) CHECK(log_records[level] == 0);
    CHECK_RC(resnext_set_log_callback(NULL, NULL, RESNEXT_LOG_LEVEL_DEBUG), RESNEXT_RESULT_OK);
    memset(log_records, 0, sizeof log_records);
    resnext_classifier_free(make_classifier("models/tiny_torch.onnx", 1));
    for (level = 0; level <= RESNEXT_LOG_LEVEL_TRACE; level++) CHECK(log_records[level] == 0);
    CHECK_RC(resnext_set_log_callback(NULL, NULL, RESNEXT_LOG_LEVEL_OFF), RESNEXT_RESULT_OK);
}

/* resnext_options_set_model_fd: the tiny model stored after 100 other bytes of a file (as an
 * asset inside an APK) loads and classifies exactly as from its path; the descriptor's offset is
 * unchanged and it stays open; bad descriptors, offsets and lengths are refused, the options
 * keep their model; the size limit applies to the range. */
static void test_model_fd(void) {
    char packed[8192];
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    size_t len = 0, n_path = 0, n_fd = 0, i;
    unsigned char *model = read_file("models/tiny_torch.onnx", &len);
    unsigned char head[100];
    resnext_options *o = tiny_options("models/tiny_torch.onnx");
    resnext_classifier *by_path = NULL, *by_fd = NULL, *bad = SENTINEL_HANDLE;
    resnext_prediction a[5], b[5];
    int64_t n = (int64_t)len;
    FILE *f;
    int fd;
    memset(head, 0x5a, sizeof head);
    snprintf(packed, sizeof packed, "%s/c-packed-model.bin", tmp);
    f = fopen(packed, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(head, 1, sizeof head, f) == sizeof head);
    CHECK(fwrite(model, 1, len, f) == len);
    fclose(f);
    fd = open(packed, O_RDONLY);
    CHECK(fd >= 0);
    remove(packed);
    CHECK_RC(resnext_options_set_no_labels(o), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_classifier_new(o, &by_path), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_options_set_model_fd(o, fd, 100, n), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_classifier_new(o, &by_fd), RESNEXT_RESULT_OK);
    CHECK(lseek(fd, 0, SEEK_CUR) == 0);
    CHECK_RC(resnext_classify_file(by_path, path_of("preprocess/chelsea.png"), a, 5, &n_path, NULL),
             RESNEXT_RESULT_OK);
    CHECK_RC(resnext_classify_file(by_fd, path_of("preprocess/chelsea.png"), b, 5, &n_fd, NULL),
             RESNEXT_RESULT_OK);
    CHECK(n_path == 5 && n_fd == 5);
    for (i = 0; i < n_path && i < n_fd; i++) CHECK(a[i].class_id == b[i].class_id && a[i].score == b[i].score);
    /* bad arguments: the options keep the fd model set above */
    CHECK_RC(resnext_options_set_model_fd(NULL, fd, 100, n), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_options_set_model_fd(o, -1, 100, n), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_RC(resnext_options_set_model_fd(o, fd, -1, n), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK(strstr(resnext_last_error_message(), "negative") != NULL);
    CHECK_RC(resnext_options_set_model_fd(o, fd, 100, -5), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_RC(resnext_options_set_model_fd(o, fd, 100, 0), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_RC(resnext_options_set_model_fd(o, fd, 100, n + 1), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK(strstr(resnext_last_error_message(), "past the end") != NULL);
    CHECK_RC(resnext_options_set_model_fd(o, fd, 101 + n, 1), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_RC(resnext_options_set_model_fd(o, fd, INT64_MAX, INT64_MAX), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_RC(resnext_options_set_model_fd(o, 1000000, 0, 1), RESNEXT_RESULT_INVALID_ARGUMENT);
    /* the size limit applies to the range's length */
    CHECK_RC(resnext_options_set_max_model_bytes(o, len - 1), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_classifier_new(o, &bad), RESNEXT_RESULT_LIMIT_EXCEEDED);
    CHECK(bad == SENTINEL_HANDLE);
    CHECK_RC(resnext_options_set_max_model_bytes(o, len), RESNEXT_RESULT_OK);
    /* one byte of the header in front: not an ONNX model */
    CHECK_RC(resnext_options_set_model_fd(o, fd, 99, n), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_classifier_new(o, &bad), RESNEXT_RESULT_MODEL_DECODE);
    CHECK(bad == SENTINEL_HANDLE);
    resnext_options_free(o);
    /* the library closed its duplicate only: the caller's descriptor is still open */
    CHECK(close(fd) == 0);
    resnext_classifier_free(by_path);
    resnext_classifier_free(by_fd);
    free(model);
}

/* resnext_options_set_score_threshold: predictions below it are dropped (fewer than top-k, or
 * none, with count set accordingly); resnext_classifier_label: the label of a class id. */
static void test_threshold_and_label(void) {
    resnext_options *o = tiny_options("models/tiny_torch.onnx");
    resnext_classifier *all = NULL, *cut = NULL, *none = NULL;
    resnext_prediction p[5], q[5], batch_preds[10];
    resnext_image images[2];
    size_t n = 0, m = SENTINEL_COUNT, counts[2] = {SENTINEL_COUNT, SENTINEL_COUNT}, i;
    float threshold;
    const char *label = (const char *)SENTINEL_HANDLE;
    CHECK_RC(resnext_options_set_allow_label_mismatch(o, 1), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_classifier_new(o, &all), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_classify_file(all, path_of("preprocess/chelsea.png"), p, 5, &n, NULL), RESNEXT_RESULT_OK);
    CHECK(n == 5);
    if (n != 5) return;
    threshold = (p[1].score + p[2].score) / 2;
    CHECK(p[1].score > p[2].score && p[0].score < 1.0f);
    CHECK_RC(resnext_options_set_score_threshold(o, threshold), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_classifier_new(o, &cut), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_classify_file(cut, path_of("preprocess/chelsea.png"), q, 5, &m, NULL), RESNEXT_RESULT_OK);
    CHECK(m == 2);
    for (i = 0; i < 2 && i < m; i++) CHECK(q[i].class_id == p[i].class_id && q[i].score == p[i].score);
    /* 1.0: no softmax score of 10 classes reaches it: every result is empty, batches too */
    CHECK_RC(resnext_options_set_score_threshold(o, 1.0f), RESNEXT_RESULT_OK);
    CHECK_RC(resnext_classifier_new(o, &none), RESNEXT_RESULT_OK);
    memset(images, 0, sizeof images);
    images[0].kind = images[1].kind = RESNEXT_IMAGE_KIND_FILE;
    images[0].path = path_of("preprocess/chelsea.png");
    images[1].path = images[0].path;
    CHECK_RC(resnext_classify_batch(none, images, 2, batch_preds, 10, counts, NULL), RESNEXT_RESULT_OK);
    CHECK(counts[0] == 0 && counts[1] == 0);
    /* bad thresholds are refused and leave the last good one */
    CHECK_RC(resnext_options_set_score_threshold(o, -0.01f), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_RC(resnext_options_set_score_threshold(o, 1.01f), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_RC(resnext_options_set_score_threshold(o, (float)NAN), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK_RC(resnext_options_set_score_threshold(NULL, 0.5f), RESNEXT_RESULT_NULL_ARGUMENT);
    /* labels by class id: the prediction's own pointer, "" without labels, out of range refused */
    CHECK_RC(resnext_classifier_label(all, p[0].class_id, &label), RESNEXT_RESULT_OK);
    CHECK(label == p[0].label);
    CHECK_RC(resnext_classifier_label(all, 0, &label), RESNEXT_RESULT_OK);
    CHECK(strcmp(label, "tench, Tinca tinca") == 0);
    label = (const char *)SENTINEL_HANDLE;
    CHECK_RC(resnext_classifier_label(all, 10, &label), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK(strstr(resnext_last_error_message(), "10 classes") != NULL);
    CHECK(label == (const char *)SENTINEL_HANDLE);
    CHECK_RC(resnext_classifier_label(all, 0, NULL), RESNEXT_RESULT_NULL_ARGUMENT);
    CHECK_RC(resnext_classifier_label(NULL, 0, &label), RESNEXT_RESULT_NULL_ARGUMENT);
    resnext_classifier_free(none);
    none = make_classifier("models/tiny_torch.onnx", 1);
    CHECK_RC(resnext_classifier_label(none, 9, &label), RESNEXT_RESULT_OK);
    CHECK(label != NULL && strcmp(label, "") == 0);
    resnext_classifier_free(none);
    resnext_classifier_free(cut);
    resnext_classifier_free(all);
    resnext_options_free(o);
}

/* Classifies `image` into `out` (5 predictions); returns the result code. */
static resnext_result classify5(resnext_classifier *c, const resnext_image *image,
                                resnext_prediction out[5]) {
    size_t n = 0;
    resnext_result rc = resnext_classify(c, image, out, 5, &n, NULL);
    CHECK(rc != RESNEXT_RESULT_OK || n == 5);
    return rc;
}

/* Identical predictions (ids and scores bit for bit): what identical tensors give. */
static int same5(const resnext_prediction *a, const resnext_prediction *b) {
    int i;
    for (i = 0; i < 5; i++) {
        if (a[i].class_id != b[i].class_id || memcmp(&a[i].score, &b[i].score, sizeof(float)) != 0)
            return 0;
    }
    return 1;
}

enum { FW = 96, FH = 80, FCW = FW / 2, FCH = FH / 2 };

/* Planar YUV 4:2:0 frames (RESNEXT_IMAGE_KIND_YUV420) give NV21's results for pixel strides 1
 * and 2 and padded rows; regions of interest give the cropped image's results; bad strides,
 * short planes and bad regions are refused without writing the outputs. */
static void test_yuv420_and_roi(resnext_classifier *c) {
    static unsigned char y[FW * FH], u[FCW * FCH], v[FCW * FCH], nv21[FW * FH * 3 / 2];
    static unsigned char py[(FW + 32) * FH], pu[(FCW + 16) * FCH], pv[(FCW + 16) * FCH];
    static unsigned char vu[(FW + 16) * FCH], sy[(FW + 16) * FH];
    static unsigned char rgb[FW * FH * 3], crop_rgb[64 * 70 * 3];
    static unsigned char cy[64 * 70], cu[32 * 35], cv[32 * 35], crop_nv21[64 * 70 * 3 / 2];
    resnext_prediction expected[5], got[5];
    resnext_image img, nv;
    unsigned seed = 19;
    int i, r, rot;
    size_t n;
    for (i = 0; i < FW * FH; i++) y[i] = (unsigned char)((seed = seed * 1103515245u + 12345u) >> 24);
    for (i = 0; i < FCW * FCH; i++) {
        u[i] = (unsigned char)((seed = seed * 1103515245u + 12345u) >> 24);
        v[i] = (unsigned char)((seed = seed * 1103515245u + 12345u) >> 24);
    }
    memcpy(nv21, y, sizeof y);
    for (i = 0; i < FCW * FCH; i++) {
        nv21[FW * FH + 2 * i] = v[i];
        nv21[FW * FH + 2 * i + 1] = u[i];
    }
    for (r = 0; r < FH; r++) {
        memcpy(py + r * (FW + 32), y + r * FW, FW);
        memcpy(sy + r * (FW + 16), y + r * FW, FW);
    }
    for (r = 0; r < FCH; r++) {
        memcpy(pu + r * (FCW + 16), u + r * FCW, FCW);
        memcpy(pv + r * (FCW + 16), v + r * FCW, FCW);
        memcpy(vu + r * (FW + 16), nv21 + FW * FH + r * FW, FW);
    }
    for (rot = 0; rot <= 90; rot += 90) {
        memset(&nv, 0, sizeof nv);
        nv.kind = RESNEXT_IMAGE_KIND_PIXELS;
        nv.data = nv21;
        nv.len = sizeof nv21;
        nv.width = FW;
        nv.height = FH;
        nv.pixel_format = RESNEXT_PIXEL_FORMAT_NV21;
        nv.rotation = (uint32_t)rot;
        CHECK_RC(classify5(c, &nv, expected), RESNEXT_RESULT_OK);
        /* pixel stride 1, tight (0 strides mean tight) */
        memset(&img, 0, sizeof img);
        img.kind = RESNEXT_IMAGE_KIND_YUV420;
        img.data = y;
        img.len = sizeof y;
        img.u_data = u;
        img.u_len = sizeof u;
        img.v_data = v;
        img.v_len = sizeof v;
        img.width = FW;
        img.height = FH;
        img.uv_pixel_stride = 1;
        img.rotation = (uint32_t)rot;
        CHECK_RC(classify5(c, &img, got), RESNEXT_RESULT_OK);
        CHECK(same5(expected, got));
        /* pixel stride 1, padded rows */
        img.data = py;
        img.len = sizeof py;
        img.row_stride = FW + 32;
        img.u_data = pu;
        img.u_len = sizeof pu;
        img.v_data = pv;
        img.v_len = sizeof pv;
        img.uv_row_stride = FCW + 16;
        CHECK_RC(classify5(c, &img, got), RESNEXT_RESULT_OK);
        CHECK(same5(expected, got));
        /* pixel stride 2 over one V/U plane (NV21 memory), planes ending at the last sample */
        img.data = sy;
        img.len = (FW + 16) * (FH - 1) + FW;
        img.row_stride = FW + 16;
        img.v_data = vu;
        img.u_data = vu + 1;
        img.v_len = img.u_len = (FW + 16) * (FCH - 1) + FW - 1;
        img.uv_row_stride = FW + 16;
        img.uv_pixel_stride = 2;
        CHECK_RC(classify5(c, &img, got), RESNEXT_RESULT_OK);
        CHECK(same5(expected, got));
        /* one byte short, and a bad pixel stride: refused, outputs untouched */
        img.u_len -= 1;
        fill_sentinel(got, sizeof got);
        n = SENTINEL_COUNT;
        CHECK_RC(resnext_classify(c, &img, got, 5, &n, NULL), RESNEXT_RESULT_BUFFER_SIZE);
        CHECK(strstr(resnext_last_error_message(), "U plane") != NULL);
        CHECK(n == SENTINEL_COUNT && is_sentinel(got, sizeof got));
        img.u_len += 1;
        img.uv_pixel_stride = 3;
        CHECK_RC(resnext_classify(c, &img, got, 5, &n, NULL), RESNEXT_RESULT_INVALID_ARGUMENT);
        img.uv_pixel_stride = 2;
        img.uv_row_stride = FW - 2; /* narrower than 48 samples at stride 2 */
        CHECK_RC(resnext_classify(c, &img, got, 5, &n, NULL), RESNEXT_RESULT_INVALID_ARGUMENT);
        img.uv_row_stride = FW + 16;
        img.v_data = NULL;
        CHECK_RC(resnext_classify(c, &img, got, 5, &n, NULL), RESNEXT_RESULT_NULL_ARGUMENT);
        CHECK(n == SENTINEL_COUNT && is_sentinel(got, sizeof got));
    }
    /* regions of interest: packed RGB/BGR, NV21 and planar frames equal their crops */
    for (i = 0; i < (int)sizeof rgb; i++) rgb[i] = (unsigned char)((seed = seed * 1103515245u + 12345u) >> 24);
    for (r = 0; r < 70; r++) memcpy(crop_rgb + r * 64 * 3, rgb + ((6 + r) * FW + 10) * 3, 64 * 3);
    for (i = 0; i < 2; i++) {
        memset(&nv, 0, sizeof nv);
        nv.kind = RESNEXT_IMAGE_KIND_PIXELS;
        nv.data = crop_rgb;
        nv.len = sizeof crop_rgb;
        nv.width = 64;
        nv.height = 70;
        nv.pixel_format = i ? RESNEXT_PIXEL_FORMAT_BGR8 : RESNEXT_PIXEL_FORMAT_RGB8;
        nv.rotation = 270;
        CHECK_RC(classify5(c, &nv, expected), RESNEXT_RESULT_OK);
        nv.data = rgb;
        nv.len = sizeof rgb;
        nv.width = FW;
        nv.height = FH;
        nv.roi_x = 10;
        nv.roi_y = 6;
        nv.roi_width = 64;
        nv.roi_height = 70;
        CHECK_RC(classify5(c, &nv, got), RESNEXT_RESULT_OK);
        CHECK(same5(expected, got));
    }
    for (r = 0; r < 70; r++) memcpy(cy + r * 64, y + (6 + r) * FW + 10, 64);
    for (r = 0; r < 35; r++) {
        memcpy(cu + r * 32, u + (3 + r) * FCW + 5, 32);
        memcpy(cv + r * 32, v + (3 + r) * FCW + 5, 32);
    }
    memcpy(crop_nv21, cy, sizeof cy);
    for (i = 0; i < 32 * 35; i++) {
        crop_nv21[64 * 70 + 2 * i] = cv[i];
        crop_nv21[64 * 70 + 2 * i + 1] = cu[i];
    }
    memset(&nv, 0, sizeof nv);
    nv.kind = RESNEXT_IMAGE_KIND_PIXELS;
    nv.data = crop_nv21;
    nv.len = sizeof crop_nv21;
    nv.width = 64;
    nv.height = 70;
    nv.pixel_format = RESNEXT_PIXEL_FORMAT_NV21;
    nv.rotation = 90;
    CHECK_RC(classify5(c, &nv, expected), RESNEXT_RESULT_OK);
    nv.data = nv21;
    nv.len = sizeof nv21;
    nv.width = FW;
    nv.height = FH;
    nv.roi_x = 10;
    nv.roi_y = 6;
    nv.roi_width = 64;
    nv.roi_height = 70;
    CHECK_RC(classify5(c, &nv, got), RESNEXT_RESULT_OK);
    CHECK(same5(expected, got));
    memset(&img, 0, sizeof img);
    img.kind = RESNEXT_IMAGE_KIND_YUV420;
    img.data = y;
    img.len = sizeof y;
    img.u_data = u;
    img.u_len = sizeof u;
    img.v_data = v;
    img.v_len = sizeof v;
    img.width = FW;
    img.height = FH;
    img.uv_pixel_stride = 1;
    img.rotation = 90;
    img.roi_x = 10;
    img.roi_y = 6;
    img.roi_width = 64;
    img.roi_height = 70;
    CHECK_RC(classify5(c, &img, got), RESNEXT_RESULT_OK);
    CHECK(same5(expected, got));
    /* bad regions: odd x on YUV, empty, outside */
    img.roi_x = 11;
    CHECK_RC(resnext_classify(c, &img, got, 5, &n, NULL), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK(strstr(resnext_last_error_message(), "even") != NULL);
    img.roi_x = 10;
    img.roi_width = 0;
    CHECK_RC(resnext_classify(c, &img, got, 5, &n, NULL), RESNEXT_RESULT_INVALID_ARGUMENT);
    img.roi_width = 90;
    CHECK_RC(resnext_classify(c, &img, got, 5, &n, NULL), RESNEXT_RESULT_INVALID_ARGUMENT);
    CHECK(strstr(resnext_last_error_message(), "not inside") != NULL);
    nv.roi_x = 0xFFFFFFFFu; /* no overflow past the edge */
    CHECK_RC(resnext_classify(c, &nv, got, 5, &n, NULL), RESNEXT_RESULT_INVALID_ARGUMENT);
}

int main(int argc, char **argv) {
    resnext_classifier *c;
    int quick = argc > 2 && strcmp(argv[2], "quick") == 0; /* valgrind: skip the 100 MB model */
    int threads_at_start = thread_count();
    snprintf(dir, sizeof dir, "%s", argc > 1 ? argv[1] : "testdata");
    test_version_and_messages();
    test_options_misuse();
    test_bad_models();
    if (!quick) test_real_model();
    c = make_classifier("models/tiny_torch.onnx", 2);
    CHECK(c != NULL);
    if (c) {
        test_classify(c);
        test_classify_misuse(c);
        test_batch(c);
        test_yuv420_and_roi(c);
        test_truncated(c);
        resnext_classifier_free(c);
    }
    test_labels_file();
    test_model_fd();
    test_threshold_and_label();
    test_max_pixels();
    test_panic();
    test_threads();
    test_cpu_kernels();
    test_engine_options();
    test_free_joins_threads(threads_at_start);
    if (!quick) test_ort();
    test_log_callback();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
