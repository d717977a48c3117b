/*
 * Hardening programs for the C ABI (issue #8), run by scripts/hardening.sh.
 *
 *   stress stress MODEL SIDE THREADS TOTAL IMAGE...
 *       One classifier shared by THREADS threads doing TOTAL classifications (files, encoded
 *       bytes, and synthetic raw buffers in every pixel format and rotation; every 8th call a
 *       batch of two). Each result must equal, bit for bit, the serial run's result for the same
 *       input. Prints throughput and the number of divergent results.
 *   stress leak MODEL SIDE CYCLES IMAGE
 *       CYCLES x (options new, set up, classifier new, classify a file, bytes and a raw buffer,
 *       free everything). Prints the resident memory (VmRSS) after a warm-up, at the middle and
 *       at the end.
 *
 * Exit codes, one per outcome (scripts/hardening.sh tells them apart; 3 is left to valgrind's
 * --error-exitcode):
 *   0  passed
 *   2  usage error, or an input file that cannot be read
 *   4  a call that must succeed failed (load, classify), or a call that must fail succeeded
 *   5  stress: a result diverged from the serial run, or a concurrent call failed
 *   6  leak: the resident memory grew by more than 20 MB
 *
 * SIDE is the model's input size: preprocessing resizes the short side to SIDE + SIDE / 8 and
 * crops SIDE. Compiled with -std=c99 -Wall -Wextra -Werror -pedantic -pthread.
 */
#define _POSIX_C_SOURCE 200809L
#include "resnext.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define K 5
#define MAX_INPUTS 64

enum stress_exit { STRESS_PASSED = 0, STRESS_USAGE = 2, STRESS_FUNCTIONAL = 4, STRESS_DIVERGED = 5, STRESS_RSS_GREW = 6 };

static const float MEAN[3] = {0.485f, 0.456f, 0.406f};
static const float STD[3] = {0.229f, 0.224f, 0.225f};

static void die(const char *what) {
    fprintf(stderr, "stress: %s: %s\n", what, resnext_last_error_message());
    exit(STRESS_FUNCTIONAL);
}

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    unsigned char *data;
    long size;
    if (!f) {
        fprintf(stderr, "stress: cannot open %s\n", path);
        exit(STRESS_USAGE);
    }
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = (unsigned char *)malloc(size > 0 ? (size_t)size : 1);
    if (!data || fread(data, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "stress: cannot read %s\n", path);
        exit(STRESS_USAGE);
    }
    fclose(f);
    *len = (size_t)size;
    return data;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

static resnext_classifier *load(const char *model, unsigned side, int from_bytes) {
    resnext_options *o = resnext_options_new();
    resnext_classifier *c = NULL;
    unsigned char *bytes = NULL;
    size_t len = 0;
    if (!o) die("resnext_options_new");
    if (from_bytes) {
        bytes = read_file(model, &len);
        if (resnext_options_set_model_bytes(o, bytes, len) != RESNEXT_RESULT_OK) die("model bytes");
        free(bytes); /* copied by the library */
    } else if (resnext_options_set_model_path(o, model) != RESNEXT_RESULT_OK) {
        die("model path");
    }
    if (resnext_options_set_preprocess(o, side + side / 8, side, MEAN, STD) != RESNEXT_RESULT_OK ||
        resnext_options_set_threads(o, 1) != RESNEXT_RESULT_OK ||
        resnext_options_set_top_k(o, K) != RESNEXT_RESULT_OK ||
        resnext_options_set_no_labels(o) != RESNEXT_RESULT_OK)
        die("options");
    if (resnext_classifier_new(o, &c) != RESNEXT_RESULT_OK) die("resnext_classifier_new");
    resnext_options_free(o);
    return c;
}

/* A deterministic synthetic frame: a gradient with a few blocks, in any pixel format. */
static unsigned char *synthetic(unsigned h, uint32_t format, size_t stride, size_t *len,
                                unsigned seed) {
    size_t rows = format >= RESNEXT_PIXEL_FORMAT_NV21 ? h + h / 2 : h;
    unsigned char *p;
    size_t x, y;
    *len = stride * rows;
    p = (unsigned char *)malloc(*len);
    if (!p) die("malloc");
    for (y = 0; y < rows; y++)
        for (x = 0; x < stride; x++)
            p[y * stride + x] = (unsigned char)((x * 7 + y * 13 + seed * 31 + ((x / 16 + y / 16) % 2) * 90) & 0xff);
    return p;
}

struct input {
    resnext_image image;
    unsigned char *owned;
};

static struct input inputs[MAX_INPUTS];
static size_t n_inputs = 0;

static void add_input(resnext_image image, unsigned char *owned) {
    if (n_inputs == MAX_INPUTS) return;
    inputs[n_inputs].image = image;
    inputs[n_inputs].owned = owned;
    n_inputs++;
}

static void make_inputs(char **paths, int n_paths) {
    int i;
    uint32_t f;
    for (i = 0; i < n_paths; i++) {
        resnext_image file = {0};
        resnext_image enc = {0};
        size_t len;
        unsigned char *bytes = read_file(paths[i], &len);
        file.kind = RESNEXT_IMAGE_KIND_FILE;
        file.path = paths[i];
        add_input(file, NULL);
        enc.kind = RESNEXT_IMAGE_KIND_ENCODED;
        enc.data = bytes;
        enc.len = len;
        add_input(enc, bytes);
    }
    for (f = RESNEXT_PIXEL_FORMAT_RGB8; f <= RESNEXT_PIXEL_FORMAT_NV12; f++) {
        uint32_t rot;
        for (rot = 0; rot < 360; rot += 90) {
            resnext_image px = {0};
            unsigned w = 96, h = 80;
            size_t bpp = f <= RESNEXT_PIXEL_FORMAT_BGR8 ? 3 : f <= RESNEXT_PIXEL_FORMAT_BGRA8 ? 4 : 1;
            size_t stride = w * bpp + (rot / 90) * 4; /* padded rows */
            px.kind = RESNEXT_IMAGE_KIND_PIXELS;
            px.data = synthetic(h, f, stride, &px.len, f * 4 + rot / 90);
            px.width = w;
            px.height = h;
            px.row_stride = stride;
            px.pixel_format = f;
            px.rotation = rot;
            add_input(px, (unsigned char *)px.data);
        }
    }
}

static void free_inputs(void) {
    size_t i;
    for (i = 0; i < n_inputs; i++) free(inputs[i].owned);
    n_inputs = 0;
}

struct result {
    size_t count;
    resnext_prediction p[K];
};

static int same(const struct result *a, const struct result *b) {
    size_t i;
    if (a->count != b->count) return 0;
    for (i = 0; i < a->count; i++)
        if (a->p[i].class_id != b->p[i].class_id ||
            memcmp(&a->p[i].score, &b->p[i].score, sizeof(float)) != 0 ||
            a->p[i].label != b->p[i].label)
            return 0;
    return 1;
}

static const resnext_classifier *shared;
static struct result serial[MAX_INPUTS];
static struct result serial_batch[MAX_INPUTS][2];
static size_t per_thread;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static size_t divergent = 0, failures = 0, done = 0;

static int classify_pair(const resnext_classifier *c, size_t k, struct result out[2]) {
    resnext_image pair[2];
    resnext_prediction preds[2 * K];
    size_t counts[2];
    pair[0] = inputs[k].image;
    pair[1] = inputs[(k + 1) % n_inputs].image;
    if (resnext_classify_batch(c, pair, 2, preds, 2 * K, counts, NULL) != RESNEXT_RESULT_OK) return 0;
    out[0].count = counts[0];
    out[1].count = counts[1];
    memcpy(out[0].p, preds, sizeof(resnext_prediction) * K);
    memcpy(out[1].p, preds + K, sizeof(resnext_prediction) * K);
    return 1;
}

static void *worker(void *arg) {
    size_t t = (size_t)arg, i, bad = 0, fail = 0;
    for (i = 0; i < per_thread; i++) {
        size_t k = (t * 7 + i) % n_inputs;
        if (i % 8 == 7) {
            struct result r[2];
            if (!classify_pair(shared, k, r)) {
                fail++;
            } else {
                bad += !same(&r[0], &serial_batch[k][0]) + !same(&r[1], &serial_batch[k][1]);
            }
        } else {
            struct result r;
            if (resnext_classify(shared, &inputs[k].image, r.p, K, &r.count, NULL) != RESNEXT_RESULT_OK) {
                fail++;
                fprintf(stderr, "thread %zu input %zu: %s\n", t, k, resnext_last_error_message());
            } else {
                bad += !same(&r, &serial[k]);
            }
        }
    }
    pthread_mutex_lock(&lock);
    divergent += bad;
    failures += fail;
    done += per_thread;
    pthread_mutex_unlock(&lock);
    return NULL;
}

static int run_stress(const char *model, unsigned side, size_t threads, size_t total, char **paths,
                      int n_paths) {
    pthread_t tids[256];
    size_t i, calls;
    double began, secs;
    resnext_classifier *c = load(model, side, 0);
    make_inputs(paths, n_paths);
    for (i = 0; i < n_inputs; i++) {
        if (resnext_classify(c, &inputs[i].image, serial[i].p, K, &serial[i].count, NULL) != RESNEXT_RESULT_OK)
            die("serial classify");
        if (!classify_pair(c, i, serial_batch[i])) die("serial batch");
    }
    if (threads < 1) threads = 1;
    if (threads > 256) threads = 256;
    per_thread = (total + threads - 1) / threads;
    shared = c;
    began = now();
    for (i = 0; i < threads; i++)
        if (pthread_create(&tids[i], NULL, worker, (void *)i) != 0) die("pthread_create");
    for (i = 0; i < threads; i++) pthread_join(tids[i], NULL);
    secs = now() - began;
    /* batches count as two classifications */
    calls = done + done / 8;
    printf("C stress: %zu threads x %zu calls = %zu calls (%zu classifications, %zu inputs) in "
           "%.2f s: %.0f classifications/s, %zu divergent from serial, %zu failed\n",
           threads, per_thread, done, calls, n_inputs, secs, (double)calls / secs, divergent, failures);
    resnext_classifier_free(c);
    free_inputs();
    return divergent == 0 && failures == 0 ? STRESS_PASSED : STRESS_DIVERGED;
}

static void cycle(const char *model, unsigned side, size_t i, const char *image) {
    resnext_classifier *c = load(model, side, (int)(i % 2));
    resnext_prediction p[K];
    size_t n = 0, len = 0, plen = 0;
    unsigned char *bytes = read_file(image, &len);
    unsigned char *px = synthetic(48, RESNEXT_PIXEL_FORMAT_NV21, 64, &plen, (unsigned)i);
    if (resnext_classify_file(c, image, p, K, &n, NULL) != RESNEXT_RESULT_OK) die("classify file");
    if (resnext_classify_encoded(c, bytes, len, p, K, &n, NULL) != RESNEXT_RESULT_OK) die("classify bytes");
    if (resnext_classify_pixels(c, px, plen, 64, 48, 0, RESNEXT_PIXEL_FORMAT_NV21, 90, p, K, &n, NULL) !=
        RESNEXT_RESULT_OK)
        die("classify pixels");
    /* and a failure, whose last-error string must not leak either */
    if (resnext_classify_encoded(c, bytes, len / 2, p, K, &n, NULL) == RESNEXT_RESULT_OK) die("truncated image accepted");
    free(px);
    free(bytes);
    resnext_classifier_free(c);
}

static int run_leak(const char *model, unsigned side, size_t cycles, const char *image) {
    size_t i, warmup = cycles < 50 ? cycles / 5 : 50;
    long before, middle = 0, after;
    double began;
    for (i = 0; i < warmup; i++) cycle(model, side, i, image);
    before = rss_kb();
    began = now();
    for (i = 0; i < cycles; i++) {
        cycle(model, side, i, image);
        if (i == cycles / 2) middle = rss_kb();
    }
    after = rss_kb();
    printf("C leak loop: %zu create/classify/free cycles in %.1f s; RSS after warm-up %.1f MB, "
           "after %zu cycles %.1f MB, after %zu cycles %.1f MB (growth %+ld kB)\n",
           cycles, now() - began, before / 1024.0, cycles / 2 + 1, middle / 1024.0, cycles,
           after / 1024.0, after - before);
    return after - before > 20 * 1024 ? STRESS_RSS_GREW : STRESS_PASSED;
}

int main(int argc, char **argv) {
    if (argc >= 7 && strcmp(argv[1], "stress") == 0)
        return run_stress(argv[2], (unsigned)atoi(argv[3]), (size_t)atol(argv[4]),
                          (size_t)atol(argv[5]), argv + 6, argc - 6);
    if (argc == 6 && strcmp(argv[1], "leak") == 0)
        return run_leak(argv[2], (unsigned)atoi(argv[3]), (size_t)atol(argv[4]), argv[5]);
    fprintf(stderr,
            "usage: %s stress MODEL SIDE THREADS TOTAL IMAGE...\n"
            "       %s leak MODEL SIDE CYCLES IMAGE\n",
            argv[0], argv[0]);
    return STRESS_USAGE;
}
