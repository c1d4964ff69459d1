/*
 * hs_compare: runs guard-mask's built-in detector regexes (without validators) through
 * Hyperscan or Vectorscan over a corpus, for benches/scripts/mask-side-by-side.sh.
 *
 *   hs_compare PATTERNS.tsv CORPUS [REGIONS_OUT.tsv]
 *
 * PATTERNS.tsv: id<TAB>name<TAB>regex (written by guard-mask's gen_corpus example).
 * Prints "hyperscan_mb_per_s <X>" for one block-mode scan of the whole corpus with a
 * counting callback (patterns compiled without start-of-match, Hyperscan's fastest mode),
 * then "hyperscan_som_mb_per_s <Y>" for a scan with start-of-match tracking (what a masker
 * needs: where to start replacing) that writes each pattern's merged match regions as
 * start<TAB>end<TAB>name for the evaluator. Patterns Hyperscan refuses are reported and left
 * out of that database.
 */
#include <hs/hs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAXP 256

static char *names[MAXP];
static unsigned long long cur_s[MAXP], cur_e[MAXP];
static int have[MAXP];
static FILE *out;
static unsigned long long nmatch;

static int on_count(unsigned int id, unsigned long long from, unsigned long long to,
                    unsigned int flags, void *ctx) {
    (void)id; (void)from; (void)to; (void)flags; (void)ctx;
    nmatch++;
    return 0;
}

static int on_region(unsigned int id, unsigned long long from, unsigned long long to,
                     unsigned int flags, void *ctx) {
    (void)flags; (void)ctx;
    if (have[id] && from <= cur_e[id]) {
        if (to > cur_e[id]) cur_e[id] = to;
        if (from < cur_s[id]) cur_s[id] = from;
        return 0;
    }
    if (have[id]) fprintf(out, "%llu\t%llu\t%s\n", cur_s[id], cur_e[id], names[id]);
    have[id] = 1;
    cur_s[id] = from;
    cur_e[id] = to;
    return 0;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of this process: on a shared, oversubscribed machine wall time mostly measures
 * the other tenants. */
static double cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s PATTERNS.tsv CORPUS [REGIONS_OUT.tsv]\n", argv[0]);
        return 2;
    }
    FILE *pf = fopen(argv[1], "r");
    if (!pf) { perror(argv[1]); return 1; }
    char *exprs[MAXP], *sexprs[MAXP];
    unsigned ids[MAXP], flags[MAXP], sids[MAXP], sflags[MAXP];
    int n = 0, ns = 0;
    char line[8192];
    while (n < MAXP && fgets(line, sizeof line, pf)) {
        line[strcspn(line, "\n")] = 0;
        char *t1 = strchr(line, '\t');
        if (!t1) continue;
        char *t2 = strchr(t1 + 1, '\t');
        if (!t2) continue;
        *t1 = 0; *t2 = 0;
        int id = atoi(line);
        if (id < 0 || id >= MAXP) continue;
        names[id] = strdup(t1 + 1);
        char *re = strdup(t2 + 1);
        for (int som = 0; som < 2; som++) {
            unsigned f = som ? HS_FLAG_SOM_LEFTMOST : 0;
            hs_database_t *db1 = NULL;
            hs_compile_error_t *err = NULL;
            if (hs_compile(re, f, HS_MODE_BLOCK, NULL, &db1, &err) != HS_SUCCESS) {
                fprintf(stderr, "hs_compare: %s: %s%s\n", names[id], err ? err->message : "?",
                        som ? " (with start of match; left out of the accuracy scan)" : "");
                hs_free_compile_error(err);
                continue;
            }
            hs_free_database(db1);
            if (som) { sexprs[ns] = re; sids[ns] = (unsigned)id; sflags[ns] = f; ns++; }
            else { exprs[n] = re; ids[n] = (unsigned)id; flags[n] = f; n++; }
        }
    }
    fclose(pf);

    FILE *cf = fopen(argv[2], "rb");
    if (!cf) { perror(argv[2]); return 1; }
    fseek(cf, 0, SEEK_END);
    long len = ftell(cf);
    fseek(cf, 0, SEEK_SET);
    char *data = malloc((size_t)len);
    if (!data || fread(data, 1, (size_t)len, cf) != (size_t)len) { fprintf(stderr, "read failed\n"); return 1; }
    fclose(cf);

    hs_database_t *db = NULL;
    hs_compile_error_t *err = NULL;
    double c0 = now();
    if (hs_compile_multi((const char *const *)exprs, flags, ids, (unsigned)n, HS_MODE_BLOCK, NULL, &db, &err) != HS_SUCCESS) {
        fprintf(stderr, "hs_compile_multi: %s\n", err ? err->message : "?");
        return 1;
    }
    double c1 = now();
    hs_scratch_t *scratch = NULL;
    if (hs_alloc_scratch(db, &scratch) != HS_SUCCESS) { fprintf(stderr, "scratch\n"); return 1; }

    double t0 = now(), u0 = cpu();
    if (hs_scan(db, data, (unsigned)len, 0, scratch, on_count, NULL) != HS_SUCCESS) { fprintf(stderr, "scan\n"); return 1; }
    double t1 = now(), u1 = cpu();
    printf("hyperscan_version %s\n", hs_version());
    printf("hyperscan_patterns %d\n", n);
    printf("hyperscan_compile_s %.3f\n", c1 - c0);
    printf("hyperscan_matches %llu\n", nmatch);
    printf("hyperscan_seconds %.3f\n", t1 - t0);
    printf("hyperscan_mb_per_s %.1f\n", len / 1e6 / (t1 - t0));
    printf("hyperscan_cpu_mb_per_s %.1f\n", len / 1e6 / (u1 - u0));

    if (argc > 3) {
        hs_database_t *sdb = NULL;
        if (hs_compile_multi((const char *const *)sexprs, sflags, sids, (unsigned)ns, HS_MODE_BLOCK, NULL, &sdb, &err) != HS_SUCCESS) {
            fprintf(stderr, "hs_compile_multi (som): %s\n", err ? err->message : "?");
            return 1;
        }
        hs_scratch_t *ss = NULL;
        if (hs_alloc_scratch(sdb, &ss) != HS_SUCCESS) { fprintf(stderr, "scratch\n"); return 1; }
        out = fopen(argv[3], "w");
        if (!out) { perror(argv[3]); return 1; }
        double s0 = now();
        if (hs_scan(sdb, data, (unsigned)len, 0, ss, on_region, NULL) != HS_SUCCESS) { fprintf(stderr, "scan\n"); return 1; }
        double s1 = now();
        for (int i = 0; i < MAXP; i++)
            if (have[i]) fprintf(out, "%llu\t%llu\t%s\n", cur_s[i], cur_e[i], names[i]);
        fclose(out);
        printf("hyperscan_som_patterns %d\n", ns);
        printf("hyperscan_som_mb_per_s %.1f\n", len / 1e6 / (s1 - s0));
        hs_free_scratch(ss);
        hs_free_database(sdb);
    }
    hs_free_scratch(scratch);
    hs_free_database(db);
    return 0;
}
